"""POST /api/messages/sms/tags through the real handler on moto: responses, persistence, queue and money."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

import boto3
import pytest

from functions.send_by_tags import app as handler
from smscore.api.campaigns import Caller, CampaignService
from smscore.api.models import SmsTagsMessagePayload
from smscore.dal.tables import DispatchRecord, LedgerRecord, MessageRecord
from smscore.domain.model import QueueBatch
from smscore.wiring import (
    SendDeps,
    bound_settings,
    campaign_limits,
    campaign_store,
    delivery_queue,
    idempotency_store,
    opening_rule,
    send_deps,
)
from tests.conftest import LambdaContextStub, Stack, api_event, reset_process_caches
from tests.integration.conftest import Campaign, make_campaign

OTHER_TAG = "7d5f0a52-2b1c-4c55-9a39-0c7a3c1f1e11"


def post(
    campaign: Campaign, body: Any, headers: dict[str, str] | None = None, deps: SendDeps | None = None
) -> tuple[int, dict[str, Any]]:
    event = api_event(
        body, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token, headers=headers
    )
    response = handler.lambda_handler(event, LambdaContextStub(), deps=deps)
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    return response["statusCode"], json.loads(response["body"])


def persisted_messages() -> list[MessageRecord]:
    return list(MessageRecord.scan())


def assert_nothing_happened(stack: Stack, campaign: Campaign, balance: int = 1000) -> None:
    assert persisted_messages() == []
    assert stack.drain_delivery_queue() == []
    assert campaign.balance() == balance
    assert campaign.ledger_sum() == balance
    assert list(DispatchRecord.scan()) == []


def test_sends_one_message_per_distinct_valid_number_and_debits_its_segments(stack: Stack, audience: Campaign) -> None:
    # When the seed's example is sent to both tags
    status, body = post(
        audience,
        {
            "message": "Exclusive offer for VIP customers! 30% off your next purchase.",
            "tagIds": [audience.tags["vip"], audience.tags["buyers"]],
            "type": "SMS",
            "country": "CO",
        },
    )
    # Then each distinct valid number gets one message, in a stable (recipient) order
    assert status == 201
    assert body["channel"] == "sms"
    assert [m["recipient"] for m in body["messages"]] == ["+573001234567", "+573009876543", "+573115550101"]
    # And every message is persisted QUEUED with its cost and provider, under the returned queueId
    stored = {m.message_id: m for m in persisted_messages()}
    assert set(stored) == {m["id"] for m in body["messages"]}
    for message in stored.values():
        assert (message.status, message.queue_id, message.tenant_id) == ("QUEUED", body["queueId"], audience.tenant_id)
        assert (message.segments, message.encoding, message.credits, message.provider) == (1, "GSM-7", 1, "sandbox")
        # marketing to CO: the sender's name (the tenant's, by default) first, the opt-out last (docs/compliance-co.md)
        assert message.body == (
            "Acme: Exclusive offer for VIP customers! 30% off your next purchase.\nResponde SALIR para no recibir mas"
        )
    # And the queue carries exactly those ids, tagged with the queueId
    queued = stack.drain_delivery_queue()
    assert {q["queueId"] for q in queued} == {body["queueId"]}
    assert sorted(mid for q in queued for mid in q["messageIds"]) == sorted(stored)
    # And 3 credits were taken, with a ledger entry, and the dispatch records the campaign
    assert audience.balance() == 997
    assert audience.ledger_sum() == 997
    dispatch = DispatchRecord.get(body["queueId"])
    assert (dispatch.total_messages, dispatch.credits_debited, dispatch.count_queued) == (3, 3, 3)
    assert dispatch.tag_ids == [audience.tags["vip"], audience.tags["buyers"]]


def test_multi_segment_unicode_message_costs_every_segment(stack: Stack, audience: Campaign) -> None:
    # Given a 71-character message with an accent (UCS-2: 2 segments)
    message = "Bogotá " + "x" * 64
    status, body = post(audience, {"message": message, "tagIds": [audience.tags["vip"]]})
    assert status == 201
    assert len(body["messages"]) == 3
    assert audience.balance() == 1000 - 2 * 3
    assert {(m.segments, m.encoding, m.credits) for m in persisted_messages()} == {(2, "UCS-2", 2)}


def test_tenant_default_country_applies_when_the_request_has_none(stack: Stack, audience: Campaign) -> None:
    status, body = post(audience, {"message": "Hi", "tagIds": [audience.tags["vip"]], "surprise": "ignored"})
    assert status == 201
    assert len(body["messages"]) == 3


def test_without_any_country_only_international_numbers_are_valid(stack: Stack, admin: Any) -> None:
    campaign = make_campaign(admin, country=None)
    campaign.add("3001234567", "walk-ins")
    campaign.add("+57 300 765 4321", "walk-ins")
    status, body = post(campaign, {"message": "Hi", "tagIds": [campaign.tags["walk-ins"]]})
    assert status == 201
    assert [m["recipient"] for m in body["messages"]] == ["+573007654321"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "body"),
        ({"tagIds": [OTHER_TAG]}, "message"),
        ({"message": "   ", "tagIds": [OTHER_TAG]}, "message"),
        ({"message": 42, "tagIds": [OTHER_TAG]}, "message"),
        ({"message": "Hi"}, "tagIds"),
        ({"message": "Hi", "tagIds": []}, "tagIds"),
        ({"message": "Hi", "tagIds": "not-a-list"}, "tagIds"),
        ({"message": "Hi", "tagIds": ["tag-uuid-1"]}, "tagIds.0"),
        ({"message": "Hi", "tagIds": [OTHER_TAG] * 101}, "tagIds"),
        ({"message": "Hi", "tagIds": [OTHER_TAG], "type": "MMS"}, "type"),
        ({"message": "Hi", "tagIds": [OTHER_TAG], "type": "sms"}, "type"),
        ({"message": "Hi", "tagIds": [OTHER_TAG], "country": "XX"}, "country"),
        ({"message": "Hi", "tagIds": [OTHER_TAG], "country": "COL"}, "country"),
        ({"message": "Hi", "tagIds": [OTHER_TAG], "country": 57}, "country"),
        ([1, 2, 3], "body"),
    ],
)
def test_invalid_bodies_get_400_with_the_offending_field_and_change_nothing(
    stack: Stack, audience: Campaign, body: Any, field: str
) -> None:
    status, error = post(audience, body)
    assert status == 400
    assert error["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in error["details"]], error
    assert error["message"]
    assert_nothing_happened(stack, audience)


def test_message_over_the_provider_limit_is_a_validation_error(stack: Stack, audience: Campaign) -> None:
    status, error = post(audience, {"message": "x" * 1601, "tagIds": [audience.tags["vip"]]})
    assert (status, error["code"]) == (400, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "message", "message": "at most 1600 characters"}]
    assert_nothing_happened(stack, audience)


def test_oversized_body_is_413(stack: Stack, audience: Campaign) -> None:
    status, error = post(audience, {"message": "x" * 70_000, "tagIds": [audience.tags["vip"]]})
    assert (status, error["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert_nothing_happened(stack, audience)


@pytest.mark.parametrize("content_type", ["multipart/form-data", "application/x-www-form-urlencoded", "text/plain"])
def test_a_body_that_is_not_json_is_415(stack: Stack, audience: Campaign, content_type: str) -> None:
    body = {"message": "Hi", "tagIds": [audience.tags["vip"]]}
    status, error = post(audience, body, headers={"Content-Type": content_type})
    assert (status, error["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert_nothing_happened(stack, audience)


def test_json_with_a_charset_is_accepted(stack: Stack, audience: Campaign) -> None:
    body = {"message": "Hi", "tagIds": [audience.tags["vip"]]}
    assert post(audience, body, headers={"Content-Type": "application/json; charset=utf-8"})[0] == 201


def test_lowercase_country_and_duplicate_tag_ids_are_accepted(stack: Stack, audience: Campaign) -> None:
    vip = audience.tags["vip"]
    status, body = post(audience, {"message": "Hi", "tagIds": [vip, vip.upper()], "country": "co"})
    assert status == 201
    assert len(body["messages"]) == 3
    assert DispatchRecord.get(body["queueId"]).country == "CO"


@pytest.mark.parametrize("case", ["unknown-tag", "all-invalid", "all-opted-out", "tag-without-contacts"])
def test_no_valid_recipient_is_200_with_an_empty_result_and_no_debit(
    stack: Stack, audience: Campaign, case: str
) -> None:
    # Given tags that reach nobody who can receive an SMS
    if case == "all-invalid":
        audience.add("12345", "broken")
        audience.add("+57 601 234 5678", "broken")  # a landline
    elif case == "all-opted-out":
        audience.add("3001112233", "broken", opted_out=True)
    elif case == "tag-without-contacts":
        audience.tags["broken"] = audience.admin.ensure_tag(audience.tenant_id, "broken")
    tag = audience.tags.get("broken", OTHER_TAG)
    # When sending to them
    status, body = post(audience, {"message": "Hi", "tagIds": [tag]})
    # Then the contract's empty answer, and nothing else
    assert (status, body) == (200, {"queueId": "", "channel": "sms", "messages": []})
    assert_nothing_happened(stack, audience)


def test_another_tenants_tag_behaves_like_an_unknown_tag(stack: Stack, audience: Campaign, admin: Any) -> None:
    # Given another tenant with contacts under its own tag
    other = make_campaign(admin)
    other.add("3001234567", "vip")
    # When our tenant sends to the other tenant's tag id
    status, body = post(audience, {"message": "Hi", "tagIds": [other.tags["vip"]]})
    # Then it reaches no one and reveals nothing
    assert (status, body) == (200, {"queueId": "", "channel": "sms", "messages": []})
    assert other.balance() == 1000
    assert_nothing_happened(stack, audience)


def test_insufficient_credits_is_402_with_required_and_available(stack: Stack, admin: Any) -> None:
    # Given 2 credits and 3 recipients
    campaign = make_campaign(admin, credits=2)
    for number in ("3001234567", "3007654321", "3110000001"):
        campaign.add(number, "vip")
    status, error = post(campaign, {"message": "Hi", "tagIds": [campaign.tags["vip"]]})
    assert status == 402
    assert (error["code"], error["required"], error["available"]) == ("INSUFFICIENT_CREDITS", 3, 2)
    assert_nothing_happened(stack, campaign, balance=2)


def test_more_recipients_than_the_maximum_is_422_before_any_debit(
    stack: Stack, audience: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_RECIPIENTS", "2")
    reset_process_caches()
    status, error = post(audience, {"message": "Hi", "tagIds": [audience.tags["vip"]]})
    assert (status, error["code"], error["recipients"], error["limit"]) == (422, "TOO_MANY_RECIPIENTS", 3, 2)
    assert_nothing_happened(stack, audience)


def test_queue_failure_after_the_debit_refunds_and_fails_the_messages(stack: Stack, audience: Campaign) -> None:
    # Given the delivery queue is gone (SendMessageBatch fails every time)
    boto3.client("sqs", region_name=stack.names.region).delete_queue(QueueUrl=stack.delivery_queue_url)
    # When a campaign is sent
    status, error = post(audience, {"message": "Hi", "tagIds": [audience.tags["vip"]]})
    # Then a 5xx JSON error names the queueId, every message is FAILED, and the credits came back
    assert (status, error["code"], error["enqueued"], error["refundedCredits"]) == (503, "ENQUEUE_FAILED", 0, 3)
    messages = persisted_messages()
    assert len(messages) == 3
    assert {(m.status, m.queue_id, m.failure_reason) for m in messages} == {
        ("FAILED", error["queueId"], "not enqueued")
    }
    assert audience.balance() == 1000
    kinds = [(e.kind, int(e.amount)) for e in LedgerRecord.query(audience.tenant_id)]
    assert sorted(kinds) == sorted([("TOPUP", 1000), ("DEBIT", -3), ("REFUND", 3)])
    dispatch = DispatchRecord.get(error["queueId"])
    assert (dispatch.credits_debited, dispatch.credits_refunded, dispatch.count_failed, dispatch.count_queued) == (
        3,
        3,
        3,
        0,
    )


@pytest.mark.clock_sensitive
class TestIdempotency:
    def test_a_retry_with_the_same_key_returns_the_first_response_and_charges_once(
        self, stack: Stack, audience: Campaign
    ) -> None:
        body = {"message": "Hi", "tagIds": [audience.tags["vip"]]}
        first = post(audience, body, headers={"Idempotency-Key": "order-42"})
        again = post(audience, body, headers={"Idempotency-Key": "order-42"})
        assert first[0] == again[0] == 201
        assert again[1] == first[1]
        assert audience.balance() == 997
        assert len(persisted_messages()) == 3
        assert sum(len(q["messageIds"]) for q in stack.drain_delivery_queue()) == 3

    def test_a_replay_waits_for_the_index_instead_of_answering_short(self, stack: Stack, audience: Campaign) -> None:
        # Given a messages index that lags behind the first response (DynamoDB GSIs are eventually consistent)
        real_store = campaign_store()

        class LaggingStore:
            def __init__(self) -> None:
                self.reads = 0

            def __getattr__(self, name: str) -> Any:
                return getattr(real_store, name)

            def queue_messages(self, queue_id: str) -> list[tuple[str, str]]:
                self.reads += 1
                found = real_store.queue_messages(queue_id)
                return found[:1] if self.reads < 3 else found

        lagging = LaggingStore()
        service = CampaignService(
            store=lagging,  # type: ignore[arg-type]
            queue=delivery_queue(),
            limits=campaign_limits(bound_settings()),
            idempotency_store=idempotency_store,
            idempotency_ttl_seconds=60,
            sleep=lambda _: None,
            opening=opening_rule(bound_settings()),
        )
        payload = SmsTagsMessagePayload.model_validate({"message": "Hi", "tagIds": [audience.tags["vip"]]})
        caller = Caller(audience.tenant_id, audience.member_id)
        first = service.send(caller, payload, "order-7")
        # When the client retries at once
        again = service.send(caller, payload, "order-7")
        # Then the replay waited for the whole list, and nothing was charged twice
        assert lagging.reads == 3
        assert again.body == first.body
        assert len(again.body.messages) == 3
        assert audience.balance() == 997

    def test_the_same_key_with_another_body_is_409(self, stack: Stack, audience: Campaign) -> None:
        post(audience, {"message": "Hi", "tagIds": [audience.tags["vip"]]}, headers={"Idempotency-Key": "k1"})
        status, error = post(
            audience, {"message": "Hello", "tagIds": [audience.tags["vip"]]}, headers={"Idempotency-Key": "k1"}
        )
        assert (status, error["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
        assert audience.balance() == 997

    def test_keys_are_scoped_by_tenant(self, stack: Stack, audience: Campaign, admin: Any) -> None:
        other = make_campaign(admin)
        other.add("3001234567", "vip")
        post(audience, {"message": "Hi", "tagIds": [audience.tags["vip"]]}, headers={"Idempotency-Key": "same"})
        status, body = post(
            other, {"message": "Hi", "tagIds": [other.tags["vip"]]}, headers={"Idempotency-Key": "same"}
        )
        assert status == 201
        assert [m["recipient"] for m in body["messages"]] == ["+573001234567"]
        assert other.balance() == 999

    def test_a_refused_request_is_not_remembered(self, stack: Stack, admin: Any) -> None:
        # Given a tenant too poor for the campaign, retrying with the same key after a top-up
        campaign = make_campaign(admin, credits=0)
        campaign.add("3001234567", "vip")
        body = {"message": "Hi", "tagIds": [campaign.tags["vip"]]}
        assert post(campaign, body, headers={"Idempotency-Key": "k"})[0] == 402
        admin.add_credits(campaign.tenant_id, 5)
        assert post(campaign, body, headers={"Idempotency-Key": "k"})[0] == 201
        assert campaign.balance() == 4

    def test_a_retry_while_the_first_is_running_is_409_in_progress(self, stack: Stack, audience: Campaign) -> None:
        # Given a first request held inside its enqueue step
        entered, release = threading.Event(), threading.Event()
        real_queue = delivery_queue()

        class HeldQueue:
            def enqueue(self, batches: list[QueueBatch]) -> list[QueueBatch]:
                entered.set()
                release.wait(10)
                return real_queue.enqueue(batches)

        settings = bound_settings()
        service = CampaignService(
            store=campaign_store(),
            queue=HeldQueue(),
            limits=campaign_limits(settings),
            idempotency_store=idempotency_store,
            idempotency_ttl_seconds=60,
            opening=opening_rule(settings),
        )
        held = dataclasses.replace(send_deps(), campaigns=service)
        body = {"message": "Hi", "tagIds": [audience.tags["vip"]]}
        results: list[tuple[int, dict[str, Any]]] = []
        first = threading.Thread(
            target=lambda: results.append(post(audience, body, {"Idempotency-Key": "slow"}, deps=held))
        )
        first.start()
        assert entered.wait(10)
        # When the client retries meanwhile
        status, error = post(audience, body, headers={"Idempotency-Key": "slow"}, deps=held)
        release.set()
        first.join(10)
        # Then the retry is told to wait, and only the first request was charged
        assert (status, error["code"]) == (409, "REQUEST_IN_PROGRESS")
        assert results[0][0] == 201
        assert audience.balance() == 997
