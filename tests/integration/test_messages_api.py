"""GET /api/messages/queues/{queueId}, /api/messages/{id} and /api/messages through the real handlers on moto."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest

from functions.messages import app as messages_app
from functions.send_by_tags import app as send_app
from smscore.dal.tables import DispatchRecord, MessageRecord, message_shard
from smsdev.admin_store import DynamoAdminStore
from tests.conftest import LambdaContextStub, Stack, api_event, load_event
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.receipts_helpers import deliver_as_sent, receive


def get(campaign: Campaign, path: str, query: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """GET as the campaign's member, through API Gateway's proxy event shape."""
    event = copy.deepcopy(load_event("apigw_list_messages.json"))
    event["path"] = path
    event["requestContext"]["path"] = f"/dev{path}"
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["requestContext"]["authorizer"].update(
        tenantId=campaign.tenant_id, memberId=campaign.member_id, principalId=campaign.member_id
    )
    response = messages_app.lambda_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def send(campaign: Campaign, *tags: str, message: str = "Hello from Acme") -> dict[str, Any]:
    body = {"message": message, "tagIds": [campaign.tags[t] for t in tags]}
    event = api_event(body, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token)
    response = send_app.lambda_handler(event, LambdaContextStub())
    assert response["statusCode"] == 201, response["body"]
    result: dict[str, Any] = json.loads(response["body"])
    return result


def listed(campaign: Campaign, **query: str) -> list[dict[str, Any]]:
    status, body = get(campaign, "/api/messages", query)
    assert status == 200, body
    items: list[dict[str, Any]] = body["items"]
    return items


@pytest.fixture
def other(admin: DynamoAdminStore) -> Campaign:
    return make_campaign(admin, country="CO")


class TestQueueStatus:
    def test_counts_by_status_come_from_the_dispatch_counters(self, stack: Stack, campaign: Campaign) -> None:
        # Given a campaign of three messages, one DELIVERED and one UNDELIVERED by receipts
        for phone in ("3001234567", "3009876543", "3005550000"):
            campaign.add(phone, "vip")
        sent = send(campaign, "vip", message="VIP sale")
        first, second, _ = (m["id"] for m in sent["messages"])
        deliver_as_sent(first, second)
        assert receive(first, "delivered") == 200
        assert receive(second, "undelivered", error_code="30003") == 200
        # When its queue is read
        status, body = get(campaign, f"/api/messages/queues/{sent['queueId']}")
        # Then it shows the campaign and its counts
        assert status == 200, body
        assert body["queueId"] == sent["queueId"]
        assert body["message"] == "VIP sale"
        assert body["tagIds"] == [campaign.tags["vip"]]
        assert body["totalMessages"] == 3
        assert body["counts"] == {
            "SCHEDULED": 0,
            "QUEUED": 1,
            "SENDING": 0,
            "SENT": 0,
            "DELIVERED": 1,
            "UNDELIVERED": 1,
            "FAILED": 0,
            "CANCELLED": 0,
        }
        assert (body["creditsDebited"], body["creditsRefunded"]) == (3, 0)
        assert body["createdAt"].startswith(str(DispatchRecord.get(sent["queueId"]).created_at.date()))

    def test_another_tenants_queue_is_the_same_404_as_a_missing_one(
        self, stack: Stack, campaign: Campaign, other: Campaign
    ) -> None:
        # Given a queue of another tenant
        other.add("3001234567", "vip")
        theirs = send(other, "vip")["queueId"]
        # When this tenant asks for it, and for a queue that does not exist
        foreign = get(campaign, f"/api/messages/queues/{theirs}")
        missing = get(campaign, "/api/messages/queues/00000000-0000-0000-0000-000000000000")
        # Then both are the same 404
        assert foreign == missing
        assert foreign[0] == 404
        assert foreign[1]["code"] == "NOT_FOUND"


class TestOneMessage:
    def test_shows_provider_metadata_and_the_status_history(self, stack: Stack, campaign: Campaign) -> None:
        # Given a message that was sent and then reported undelivered
        campaign.add("3001234567", "vip")
        message_id = send(campaign, "vip")["messages"][0]["id"]
        deliver_as_sent(message_id)
        receive(message_id, "undelivered", error_code="30005")
        # When it is read
        status, body = get(campaign, f"/api/messages/{message_id}")
        # Then every transition is there, with its time and the provider's code
        assert status == 200, body
        assert body["status"] == "UNDELIVERED"
        assert body["recipient"] == "+573001234567"
        assert body["provider"] == "twilio"
        assert body["providerMessageId"] == f"SM{message_id.replace('-', '')}"
        assert body["providerErrorCode"] == "30005"
        assert [h["status"] for h in body["history"]] == ["QUEUED", "SENDING", "SENT", "UNDELIVERED"]
        assert body["history"][-1]["code"] == "30005"
        assert all(h["at"] for h in body["history"])

    def test_another_tenants_message_is_the_same_404_as_a_missing_one(
        self, stack: Stack, campaign: Campaign, other: Campaign
    ) -> None:
        other.add("3001234567", "vip")
        theirs = send(other, "vip")["messages"][0]["id"]
        foreign = get(campaign, f"/api/messages/{theirs}")
        missing = get(campaign, "/api/messages/00000000-0000-0000-0000-000000000000")
        assert foreign == missing
        assert foreign[0] == 404


class TestFilters:
    @pytest.fixture
    def two_campaigns(self, stack: Stack, campaign: Campaign) -> tuple[dict[str, Any], dict[str, Any]]:
        campaign.add("3001234567", "vip")
        campaign.add("3009876543", "vip", "buyers")
        campaign.add("3005550000", "buyers")
        older = send(campaign, "vip", message="first")
        newer = send(campaign, "buyers", message="second")
        return older, newer

    def test_no_filter_lists_every_message_newest_first(
        self, campaign: Campaign, two_campaigns: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        older, newer = two_campaigns
        items = listed(campaign)
        assert [i["queueId"] for i in items] == [newer["queueId"]] * 2 + [older["queueId"]] * 2
        assert all(i["status"] == "QUEUED" and i["channel"] == "sms" for i in items)

    def test_queue_filter(self, campaign: Campaign, two_campaigns: tuple[dict[str, Any], dict[str, Any]]) -> None:
        older, _ = two_campaigns
        items = listed(campaign, queueId=older["queueId"])
        assert sorted(i["id"] for i in items) == sorted(m["id"] for m in older["messages"])

    def test_recipient_filter_accepts_the_number_as_typed(
        self, campaign: Campaign, two_campaigns: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        # Given +573009876543 got both campaigns / When filtered as typed, national and E.164
        as_typed = listed(campaign, recipient="(300) 987-6543")
        e164 = listed(campaign, recipient="+573009876543")
        # Then both find the same two messages, newest first
        assert as_typed == e164
        assert [i["recipient"] for i in as_typed] == ["+573009876543"] * 2
        assert [i["queueId"] for i in as_typed] == [two_campaigns[1]["queueId"], two_campaigns[0]["queueId"]]

    def test_status_filter_and_its_combinations(
        self, campaign: Campaign, two_campaigns: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        older, newer = two_campaigns
        delivered = older["messages"][0]["id"]
        deliver_as_sent(delivered)
        receive(delivered, "delivered")
        recipient = older["messages"][0]["recipient"]
        assert [i["id"] for i in listed(campaign, status="DELIVERED")] == [delivered]
        assert [i["id"] for i in listed(campaign, status="DELIVERED", queueId=older["queueId"])] == [delivered]
        assert listed(campaign, status="DELIVERED", queueId=newer["queueId"]) == []
        assert [i["id"] for i in listed(campaign, status="DELIVERED", recipient=recipient)] == [delivered]
        assert len(listed(campaign, status="QUEUED")) == 3
        assert len(listed(campaign, status="QUEUED", channel="sms")) == 3

    def test_created_time_range(self, campaign: Campaign, two_campaigns: tuple[dict[str, Any], dict[str, Any]]) -> None:
        older, newer = two_campaigns
        older_at = DispatchRecord.get(older["queueId"]).created_at
        newer_at = DispatchRecord.get(newer["queueId"]).created_at
        just_after_older = (older_at + timedelta(microseconds=1)).isoformat()
        # from is inclusive, to is inclusive
        assert {i["queueId"] for i in listed(campaign, **{"from": older_at.isoformat()})} == {
            older["queueId"],
            newer["queueId"],
        }
        assert {i["queueId"] for i in listed(campaign, **{"from": just_after_older})} == {newer["queueId"]}
        assert {i["queueId"] for i in listed(campaign, to=older_at.isoformat())} == {older["queueId"]}
        both = {"from": older_at.isoformat(), "to": newer_at.isoformat()}
        assert len(listed(campaign, **both)) == 4
        # combined with the other indexes
        assert len(listed(campaign, status="QUEUED", **{"from": just_after_older})) == 2
        assert len(listed(campaign, recipient="+573009876543", to=older_at.isoformat())) == 1
        assert listed(campaign, queueId=older["queueId"], **{"from": just_after_older}) == []

    def test_another_tenants_messages_never_appear(
        self, campaign: Campaign, other: Campaign, two_campaigns: tuple[dict[str, Any], dict[str, Any]]
    ) -> None:
        # Given another tenant messaged the same number
        other.add("3009876543", "vip")
        theirs = send(other, "vip")
        # Then none of this tenant's filters ever return it
        mine = {i["id"] for i in listed(campaign)} | {i["id"] for i in listed(campaign, recipient="+573009876543")}
        assert theirs["messages"][0]["id"] not in mine
        assert listed(campaign, queueId=theirs["queueId"]) == []


class TestPagination:
    def test_pages_cover_every_message_once_in_order(self, stack: Stack, campaign: Campaign) -> None:
        # Given seven messages
        for n in range(7):
            campaign.add(f"300123450{n}", "vip")
        sent = send(campaign, "vip")
        # When read three at a time
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            query = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
            status, body = get(campaign, "/api/messages", query)
            assert status == 200, body
            seen += [i["id"] for i in body["items"]]
            pages += 1
            cursor = body.get("nextCursor")
            if not cursor:
                break
        # Then three pages hold each message exactly once, in the order one big page gives
        assert pages == 3
        assert sorted(seen) == sorted(m["id"] for m in sent["messages"])
        assert seen == [i["id"] for i in listed(campaign, limit="100")]

    def test_a_page_ending_at_the_last_message_has_no_cursor(self, stack: Stack, campaign: Campaign) -> None:
        for n in range(3):
            campaign.add(f"300123450{n}", "vip")
        send(campaign, "vip")
        status, body = get(campaign, "/api/messages", {"limit": "3"})
        assert status == 200
        assert len(body["items"]) == 3
        assert body.get("nextCursor") is None

    def test_a_cursor_of_another_tenant_is_refused(self, stack: Stack, campaign: Campaign, other: Campaign) -> None:
        # Given a cursor issued to another tenant
        for n in range(3):
            other.add(f"300123450{n}", "vip")
        send(other, "vip")
        _, theirs = get(other, "/api/messages", {"limit": "1"})
        assert theirs["nextCursor"]
        # When this tenant uses it / Then it is refused, and reveals nothing
        status, body = get(campaign, "/api/messages", {"limit": "1", "cursor": theirs["nextCursor"]})
        assert status == 400
        assert body["code"] == "VALIDATION_ERROR"
        assert body["details"][0]["field"] == "cursor"

    @pytest.mark.parametrize("cursor", ["garbage", "eyJ2IjoxfQ", "%%%", "e30"])
    def test_a_malformed_cursor_is_400(self, stack: Stack, campaign: Campaign, cursor: str) -> None:
        status, body = get(campaign, "/api/messages", {"cursor": cursor})
        assert (status, body["code"]) == (400, "VALIDATION_ERROR")

    def test_a_cursor_for_other_filters_is_refused(self, stack: Stack, campaign: Campaign) -> None:
        for n in range(3):
            campaign.add(f"300123450{n}", "vip")
        send(campaign, "vip")
        _, page = get(campaign, "/api/messages", {"limit": "1"})
        status, _ = get(campaign, "/api/messages", {"limit": "1", "status": "QUEUED", "cursor": page["nextCursor"]})
        assert status == 400


class TestValidation:
    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"limit": "101"}, "limit"),
            ({"limit": "0"}, "limit"),
            ({"limit": "ten"}, "limit"),
            ({"status": "LOST"}, "status"),
            ({"from": "yesterday"}, "from"),
            ({"to": "0.5"}, "to"),
            ({"from": "1795705200"}, "from"),
            ({"channel": "email"}, "channel"),
            ({"recipient": "12345"}, "recipient"),
            ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
            # Issue 9 item 3: instants UTC cannot hold (the years 0 and 10000) were a 502 (OverflowError)
            ({"from": "0001-01-01T00:00:00+01:00"}, "from"),
            ({"to": "9999-12-31T23:59:59-01:00"}, "to"),
            ({"from": "0001-01-01T00:00:00+01:00", "to": "9999-12-31T23:59:59-01:00"}, "from"),
        ],
    )
    def test_bad_parameters_are_400_with_the_field(
        self, stack: Stack, campaign: Campaign, query: dict[str, str], field: str
    ) -> None:
        status, body = get(campaign, "/api/messages", query)
        assert status == 400, body
        assert body["code"] == "VALIDATION_ERROR"
        assert any(field in d["field"] for d in body["details"]), body

    def test_the_extreme_instants_utc_can_hold_are_accepted(self, stack: Stack, campaign: Campaign) -> None:
        query = {"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59.999999Z"}
        assert get(campaign, "/api/messages", query) == (200, {"items": [], "nextCursor": None})

    def test_limit_100_is_allowed(self, stack: Stack, campaign: Campaign) -> None:
        status, body = get(campaign, "/api/messages", {"limit": "100"})
        assert (status, body) == (200, {"items": [], "nextCursor": None})


def test_index_keys_are_fixed_at_creation_and_the_status_filter_follows_every_transition(
    stack: Stack, campaign: Campaign
) -> None:
    # Given a message moved QUEUED -> SENT -> DELIVERED by the helpers the real writers use
    campaign.add("3001234567", "vip")
    message_id = send(campaign, "vip")["messages"][0]["id"]
    deliver_as_sent(message_id)
    receive(message_id, "delivered")
    # Then its index keys are the ones it was created with (a status change writes no index) ...
    record = MessageRecord.get(message_id)
    assert record.created_key.endswith(f"#{message_id}")
    assert record.queue_shard == f"{record.queue_id}#{message_shard(message_id)}"
    assert record.tenant_shard == f"{campaign.tenant_id}#{message_shard(message_id)}"
    # ... and the status filter finds it in its latest status only
    assert [m["id"] for m in listed(campaign, status="DELIVERED")] == [message_id]
    assert listed(campaign, status="SENT") == []
