"""POST /api/messages/sms/test on moto: a member sees the message on their own phones before a campaign. It is
rendered with a chosen contact, charged, marked test, kept out of the campaign list, and capped per member a day."""

from __future__ import annotations

from typing import Any

import pytest

from smscore.dal.tables import DispatchRecord, MessageRecord
from smscore.dal.test_send_allowance import DynamoTestSendAllowance
from smsdev.admin_store import DynamoAdminStore
from tests.conftest import Stack
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.test_contacts_api import Client
from tests.integration.test_preview_and_resend import call, queue_status, send

TEST = "/api/messages/sms/test"
MINE = ["3001112233", "+57 310 444 5566"]


def test_send(campaign: Campaign, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return call(campaign, TEST, body)


test_send.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def client(contacts_stack: Stack, campaign: Campaign) -> Client:
    return Client(campaign)


def test_a_test_send_renders_the_chosen_contact_is_charged_and_is_no_campaign(client: Client) -> None:
    campaign = client.campaign
    # Given a contact Ana in Cali, and a campaign already sent
    assert client.call("PUT", "/api/contacts/fields", {"fields": [{"name": "ciudad"}]}).status == 200
    ana = client.call("POST", "/api/contacts", {"phone": "3001234567", "name": "Ana", "fields": {"ciudad": "Cali"}})
    campaign.tags["vip"] = client.create_tag("vip")
    client.item("PATCH", "/api/contacts", ana.body["id"], {"addTagIds": [campaign.tags["vip"]]})
    _, real = send(campaign, {"message": "Hola", "tagIds": [campaign.tags["vip"]]})
    # When the member test-sends a message with merge fields to two own numbers, rendered as Ana
    status, sent = test_send(
        campaign,
        {"message": "Hola {nombre|cliente}, te esperamos en {ciudad}", "to": MINE, "contactId": ana.body["id"]},
    )
    # Then both numbers get Ana's text now, and the two messages are charged
    assert status == 201, sent
    assert sorted(m["recipient"] for m in sent["messages"]) == ["+573001112233", "+573104445566"]
    bodies = {MessageRecord.get(m["id"]).body for m in sent["messages"]}
    assert bodies == {"Hola Ana, te esperamos en Cali"}
    assert {MessageRecord.get(m["id"]).status for m in sent["messages"]} == {"QUEUED"}
    assert campaign.balance() == 1000 - 1 - 2
    # And it is marked test and is no campaign: the list shows only the real one
    assert queue_status(campaign, sent["queueId"])["test"] is True
    assert DispatchRecord.get(sent["queueId"]).test is True
    listed = client.call("GET", "/api/messages/queues").body["items"]
    assert [c["queueId"] for c in listed] == [real["queueId"]]


def test_without_a_contact_the_fallbacks_render_and_a_field_without_one_is_refused(client: Client) -> None:
    campaign = client.campaign
    status, sent = test_send(campaign, {"message": "Hola {nombre|cliente}", "to": MINE[:1]})
    assert status == 201
    assert MessageRecord.get(sent["messages"][0]["id"]).body == "Hola cliente"
    status, error = test_send(campaign, {"message": "Hola {nombre}", "to": MINE[:1]})
    assert (status, error["code"]) == (400, "MERGE_FIELD_MISSING")
    assert campaign.balance() == 999


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"message": "Hola", "to": [f"300111223{n}" for n in range(6)]}, 400, "VALIDATION_ERROR"),
        ({"message": "Hola", "to": []}, 400, "VALIDATION_ERROR"),
        ({"message": "Hola"}, 400, "VALIDATION_ERROR"),
        ({"message": "Hola", "to": MINE, "contactId": "7d5f0a52-2b1c-4c55-9a39-0c7a3c1f1e11"}, 404, "NOT_FOUND"),
        ({"message": "Hola {zona|x}", "to": MINE}, 400, "UNKNOWN_MERGE_FIELD"),
    ],
    ids=["six numbers", "no number", "no to", "unknown contact", "unknown field"],
)
def test_refused_test_sends_charge_and_count_nothing(
    client: Client, body: dict[str, Any], status: int, code: str
) -> None:
    answered, error = test_send(client.campaign, body)
    assert (answered, error["code"]) == (status, code)
    assert client.campaign.balance() == 1000
    assert list(DispatchRecord.scan()) == []
    # nothing was counted against the member's allowance either: 20 messages still go through today
    for _ in range(4):
        assert test_send(client.campaign, {"message": "Hola", "to": [f"30011122{n}0" for n in range(5)]})[0] == 201


def test_each_member_has_a_daily_cap_of_test_messages(client: Client, admin: DynamoAdminStore) -> None:
    campaign = client.campaign
    five = {"message": "Hola", "to": [f"30011122{n}0" for n in range(5)]}
    # Given a member who test-sent 20 messages today
    for _ in range(4):
        assert test_send(campaign, five)[0] == 201
    # When they test-send one more
    status, error = test_send(campaign, {"message": "Hola", "to": MINE[:1]})
    # Then it is 429 TEST_SEND_LIMIT, and nothing is charged
    assert (status, error["code"], error["limit"]) == (429, "TEST_SEND_LIMIT", 20)
    assert campaign.balance() == 1000 - 20
    # And another member of the same tenant still may
    other = admin.create_member(campaign.tenant_id, "second@acme.test", accept_terms=True)
    colleague = Campaign(admin, campaign.tenant_id, other.member_id, other.token.token, campaign.tags)
    assert test_send(colleague, {"message": "Hola", "to": MINE[:1]})[0] == 201


def test_a_refused_send_gives_the_allowance_back(stack: Stack, admin: DynamoAdminStore) -> None:
    # Given a tenant with 3 credits: a test send to 5 numbers is 402
    poor = make_campaign(admin, credits=3)
    five = {"message": "Hola", "to": [f"30011122{n}0" for n in range(5)]}
    for _ in range(5):
        assert test_send(poor, five)[0] == 402
    # Then none of those 25 messages counted: 3 still go through
    assert test_send(poor, {"message": "Hola", "to": [f"30011122{n}0" for n in range(3)]})[0] == 201


def test_the_allowance_starts_again_each_day(stack: Stack, campaign: Campaign) -> None:
    allowance = DynamoTestSendAllowance()
    assert allowance.take(campaign.member_id, "2026-12-06", 15, 20)
    assert not allowance.take(campaign.member_id, "2026-12-06", 6, 20)
    assert allowance.take(campaign.member_id, "2026-12-06", 5, 20)
    assert not allowance.take(campaign.member_id, "2026-12-06", 1, 20)
    assert allowance.take(campaign.member_id, "2026-12-07", 20, 20)
    allowance.give_back(campaign.member_id, "2026-12-06", 5)  # a day that is over: nothing changes
    assert not allowance.take(campaign.member_id, "2026-12-07", 1, 20)
