"""The deliver handler on moto: campaigns sent through the real send-by-tags handler, then delivered.

Providers are the real sandbox (writing the moto Outbox table) wrapped to count every call, so "sent once"
is asserted at the provider, not inferred from statuses.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.deliver import app as deliver_app
from functions.send_by_tags import app as send_app
from smscore import wiring
from smscore.dal.dispatch_counts import load_dispatch
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.outbox_store import DynamoOutbox
from smscore.dal.tables import LedgerRecord, MessageRecord, OutboxRecord
from smscore.domain.model import MessageStatus
from smscore.domain.ports import Accepted, SmsProvider, SmsRequest, TransientFailure
from smscore.providers.registry import ProviderRegistry
from smscore.providers.sandbox import (
    PERMANENT_INVALID_NUMBER,
    PERMANENT_OPTED_OUT_NUMBER,
    TIMEOUT_NUMBER,
    TRANSIENT_THROTTLED_NUMBER,
    SandboxProvider,
)
from smscore.wiring import DeliverDeps
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack, api_event, load_event
from tests.integration.conftest import Campaign


class Counting(SmsProvider):
    """A real provider, with every call counted per message id."""

    character_limit = 1600

    def __init__(self, inner: SmsProvider, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name  # type: ignore[misc]
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def send(self, request: SmsRequest) -> Accepted:
        with self._lock:
            self.calls[request.message_id] += 1
        return self.inner.send(request)


class AlwaysThrottled(SmsProvider):
    name = "twilio"
    character_limit = 1600

    def __init__(self) -> None:
        self.calls = 0

    def send(self, request: SmsRequest) -> Accepted:
        self.calls += 1
        raise TransientFailure("20429", "Too Many Requests")


@dataclass
class Delivery:
    stack: Stack
    sandbox: Counting
    extra_providers: dict[str, SmsProvider] = field(default_factory=dict)
    counted: bool = True  # False: the production provider registry, as the deployed function builds it

    def deps(self) -> DeliverDeps | None:
        """The deliver function's dependencies with the counted providers; None for the production ones."""
        if not self.counted:
            return None
        providers: dict[str, SmsProvider] = {"sandbox": self.sandbox, **self.extra_providers}
        registry = ProviderRegistry({name: (lambda p=p: p) for name, p in providers.items()})
        return wiring.build_deliver_deps(wiring.bound_settings(), registry)

    def dlq_url(self) -> str:
        return self.stack.queue_urls["DeliveryDeadLetterQueue"]

    def send_campaign(self, campaign: Campaign, *numbers: str, message: str = "Hola") -> tuple[str, dict[str, str]]:
        """POST through the real handler; returns the queue id and message id by recipient."""
        tag = f"t{uuid.uuid4().hex[:6]}"
        for number in numbers:
            campaign.add(number, tag)
        event = api_event(
            {"message": message, "tagIds": [campaign.tags[tag]]},
            tenant_id=campaign.tenant_id,
            member_id=campaign.member_id,
            token=campaign.token,
        )
        event["requestContext"]["authorizer"]["memberId"] = campaign.member_id
        response = send_app.lambda_handler(event, LambdaContextStub())
        body = json.loads(response["body"])
        assert response["statusCode"] == 201, body
        return body["queueId"], {m["recipient"]: m["id"] for m in body["messages"]}

    def sqs_bodies(self) -> list[dict[str, Any]]:
        return self.stack.drain_delivery_queue()

    def deliver(self, *bodies: dict[str, Any], receive_count: int = 1, remaining_ms: int = 55_000) -> dict[str, Any]:
        """Invoke the deliver handler with one SQS record per body, as the event source would."""
        template = load_event("sqs_delivery_batch.json")["Records"][0]
        records = []
        for body in bodies:
            record = copy.deepcopy(template)
            record["messageId"] = str(uuid.uuid4())
            record["body"] = json.dumps(body)
            record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
            records.append(record)
        context = LambdaContextStub(remaining_ms=remaining_ms)
        result: dict[str, Any] = deliver_app.lambda_handler({"Records": records}, context, deps=self.deps())
        return result

    def dead_letters(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=self.stack.names.region)
        got = sqs.receive_message(QueueUrl=self.dlq_url(), MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


@pytest.fixture
def atomic_moto() -> Iterator[None]:
    """One moto request at a time, as DynamoDB's conditional writes, ADDs and transactions are atomic."""
    with serialised_moto():
        yield


@pytest.fixture
def delivery(stack: Stack, atomic_moto: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Delivery]:
    for key, value in function_environment(stack.names, "DeliverFunction").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DELIVERY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("DELIVERY_BACKOFF_BASE_MS", "0")
    monkeypatch.setenv("SANDBOX_TIMEOUT_SECONDS", "0")
    wiring.reset()
    yield Delivery(stack=stack, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    wiring.reset()


def statuses(ids: dict[str, str]) -> dict[str, str]:
    return {number: MessageRecord.get(mid, consistent_read=True).status for number, mid in ids.items()}


def refunds(tenant_id: str) -> list[tuple[int, list[str]]]:
    return sorted(
        (int(e.amount), list(e.message_ids or [])) for e in LedgerRecord.query(tenant_id) if e.kind == "REFUND"
    )


NUMBERS = [f"+5730012300{n:02d}" for n in range(12)]


def test_duplicate_sqs_delivery_sends_each_message_once(delivery: Delivery, campaign: Campaign) -> None:
    # Given a campaign of 12 messages on the delivery queue
    queue_id, ids = delivery.send_campaign(campaign, *NUMBERS)
    bodies = delivery.sqs_bodies()
    # When SQS delivers the record twice in one batch and once more later
    first = delivery.deliver(*bodies, *bodies)
    second = delivery.deliver(*bodies)
    # Then the provider got each message exactly once, and the outbox holds one request each
    assert first == {"batchItemFailures": []}
    assert second == {"batchItemFailures": []}
    assert dict(delivery.sandbox.calls) == dict.fromkeys(ids.values(), 1)
    assert {o.message_id: int(o.send_count) for o in OutboxRecord.scan()} == dict.fromkeys(ids.values(), 1)
    # And every message is SENT with its provider metadata, counted once on the dispatch
    for record in (MessageRecord.get(mid) for mid in ids.values()):
        assert record.status == "SENT"
        assert record.provider == "sandbox"
        assert record.provider_message_id.startswith("sandbox-")
        assert record.provider_price == "0.0000"
        assert record.sent_at is not None
        assert record.attempts == 1
        assert [h.status for h in record.history] == ["QUEUED", "SENDING", "SENT"]
    dispatch = load_dispatch(queue_id)
    assert (dispatch.count_queued, dispatch.count_sending, dispatch.count_sent) == (0, 0, 12)
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 12


def test_crash_between_claim_and_send_is_taken_over_after_the_lease(
    delivery: Delivery, campaign: Campaign, stack: Stack
) -> None:
    # Given a message claimed by an invocation that then died (its lease ran out a second ago)
    queue_id, ids = delivery.send_campaign(campaign, NUMBERS[0])
    store = DynamoMessageStore(region=stack.names.region)
    (message,) = store.load(list(ids.values())).values()
    past = datetime.now(UTC) - timedelta(minutes=5)
    assert store.claim(message, past, past + timedelta(minutes=3)) is not None
    # When SQS brings the record back
    result = delivery.deliver(*delivery.sqs_bodies(), receive_count=2)
    # Then the message is sent once, as the second attempt, and the dispatch counters are right
    assert result == {"batchItemFailures": []}
    record = MessageRecord.get(message.message_id)
    assert record.status == "SENT"
    assert record.attempts == 2
    assert "lease takeover" in (record.history[-2].detail or "")
    assert delivery.sandbox.calls[message.message_id] == 1
    dispatch = load_dispatch(queue_id)
    assert (dispatch.count_queued, dispatch.count_sending, dispatch.count_sent) == (0, 0, 1)


def test_a_live_claim_is_left_to_its_owner_and_the_record_retried_later(
    delivery: Delivery, campaign: Campaign, stack: Stack
) -> None:
    # Given a message another invocation claimed a moment ago
    _, ids = delivery.send_campaign(campaign, NUMBERS[0])
    store = DynamoMessageStore(region=stack.names.region)
    (message,) = store.load(list(ids.values())).values()
    now = datetime.now(UTC)
    assert store.claim(message, now, now + timedelta(minutes=3)) is not None
    # When a duplicate of its record arrives
    event_bodies = delivery.sqs_bodies()
    result = delivery.deliver(*event_bodies)
    # Then nothing is sent and the record is reported failed so SQS brings it back later
    assert len(result["batchItemFailures"]) == 1
    assert delivery.sandbox.calls == Counter()
    assert MessageRecord.get(message.message_id).status == "SENDING"


def test_crash_after_the_provider_accepted_does_not_deliver_twice_on_an_idempotent_provider(
    delivery: Delivery, campaign: Campaign, stack: Stack
) -> None:
    # Given an invocation that claimed a message, had it accepted by the sandbox, and died before writing SENT
    _, ids = delivery.send_campaign(campaign, NUMBERS[0])
    store = DynamoMessageStore(region=stack.names.region)
    (message,) = store.load(list(ids.values())).values()
    past = datetime.now(UTC) - timedelta(minutes=5)
    claimed = store.claim(message, past, past + timedelta(minutes=3))
    assert claimed is not None
    first = SandboxProvider(DynamoOutbox()).send(
        SmsRequest(message.message_id, message.tenant_id, message.recipient, message.body, message.segments)
    )
    assert MessageRecord.get(message.message_id).status == "SENDING"  # the window: accepted, not recorded
    # When the record comes back after the lease expired
    result = delivery.deliver(*delivery.sqs_bodies(), receive_count=2)
    # Then the takeover asked the provider again (the window), which recognised the message id:
    # one provider id, one SENT, one charge
    assert result == {"batchItemFailures": []}
    record = MessageRecord.get(message.message_id)
    assert record.status == "SENT"
    assert record.provider_message_id == first.provider_message_id
    outbox = OutboxRecord.get(message.message_id)
    assert outbox.provider_message_id == first.provider_message_id
    assert outbox.send_count == 2  # two requests reached the sandbox, deduplicated by message id
    assert refunds(campaign.tenant_id) == []
    assert campaign.balance() == campaign.ledger_sum() == 999


def test_permanent_and_transient_failures_are_refunded_with_ledger_entries(
    delivery: Delivery, campaign: Campaign
) -> None:
    # Given a campaign to two good numbers and every sandbox test number
    tests = [PERMANENT_INVALID_NUMBER, TRANSIENT_THROTTLED_NUMBER, TIMEOUT_NUMBER, PERMANENT_OPTED_OUT_NUMBER]
    queue_id, ids = delivery.send_campaign(campaign, NUMBERS[0], NUMBERS[1], *tests)
    assert campaign.balance() == 1000 - 6
    # When delivered
    result = delivery.deliver(*delivery.sqs_bodies())
    # Then the good numbers are SENT and the test numbers end as documented
    assert result == {"batchItemFailures": []}
    assert statuses(ids) == {
        NUMBERS[0]: "SENT",
        NUMBERS[1]: "SENT",
        PERMANENT_INVALID_NUMBER: "FAILED",
        TRANSIENT_THROTTLED_NUMBER: "FAILED",
        TIMEOUT_NUMBER: "FAILED",
        PERMANENT_OPTED_OUT_NUMBER: "FAILED",
    }
    invalid = MessageRecord.get(ids[PERMANENT_INVALID_NUMBER])
    assert (invalid.provider_error_code, invalid.permanent_failure, invalid.attempts) == ("SANDBOX_21211", True, 1)
    assert MessageRecord.get(ids[PERMANENT_OPTED_OUT_NUMBER]).provider_error_code == "SANDBOX_21610"
    throttled = MessageRecord.get(ids[TRANSIENT_THROTTLED_NUMBER])
    assert (throttled.provider_error_code, throttled.permanent_failure, throttled.attempts) == ("SANDBOX_429", False, 3)
    assert MessageRecord.get(ids[TIMEOUT_NUMBER]).provider_error_code == "SANDBOX_TIMEOUT"
    assert delivery.sandbox.calls[ids[TRANSIENT_THROTTLED_NUMBER]] == 3
    # And the failed messages got their credits back with one REFUND entry for the record naming each of them
    # once (issue 12: one balance update per record, not one per message); balance == sum of ledger
    entries = refunds(campaign.tenant_id)
    assert [(amount, sorted(mids)) for amount, mids in entries] == [(4, sorted(ids[n] for n in tests))]
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 2
    dispatch = load_dispatch(queue_id)
    assert (dispatch.count_sent, dispatch.count_failed, dispatch.credits_refunded) == (2, 4, 4)
    assert (dispatch.count_queued, dispatch.count_sending) == (0, 0)


def test_retry_exhaustion_sends_the_record_to_the_dlq_and_a_replay_sends_nothing(
    delivery: Delivery, campaign: Campaign
) -> None:
    # Given a campaign where one number keeps failing transiently
    queue_id, ids = delivery.send_campaign(campaign, NUMBERS[0], TRANSIENT_THROTTLED_NUMBER)
    bodies = delivery.sqs_bodies()
    # When delivered
    delivery.deliver(*bodies)
    # Then the exhausted message's id is on the dead-letter queue, in the delivery queue's shape
    (dead,) = delivery.dead_letters()
    assert dead == {
        "tenantId": campaign.tenant_id,
        "queueId": queue_id,
        "messageIds": [ids[TRANSIENT_THROTTLED_NUMBER]],
    }
    calls_before = dict(delivery.sandbox.calls)
    # When the dead letter and the original record are replayed (smsctl dlq replay)
    result = delivery.deliver(dead, *bodies, receive_count=1)
    # Then nothing is sent again and nothing is refunded twice
    assert result == {"batchItemFailures": []}
    assert dict(delivery.sandbox.calls) == calls_before
    assert refunds(campaign.tenant_id) == [(1, [ids[TRANSIENT_THROTTLED_NUMBER]])]
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 1


def test_short_on_time_the_message_waits_on_the_queue_and_is_sent_from_there(
    delivery: Delivery, campaign: Campaign
) -> None:
    # Given an invocation with almost no time left
    _, ids = delivery.send_campaign(campaign, NUMBERS[0])
    bodies = delivery.sqs_bodies()
    result = delivery.deliver(*bodies, remaining_ms=1_000)
    # Then nothing was claimed; the record is done, its message back on the queue with a short delay (a re-send,
    # so waiting never adds to the record's receive count)
    assert result == {"batchItemFailures": []}
    assert statuses(ids) == {NUMBERS[0]: "QUEUED"}
    sqs = boto3.client("sqs", region_name=delivery.stack.names.region)
    got = sqs.receive_message(QueueUrl=delivery.stack.delivery_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5)
    resent = [json.loads(m["Body"]) for m in got.get("Messages", [])]
    assert [body["messageIds"] for body in resent] == [[ids[NUMBERS[0]]]]
    # When that record is delivered
    assert delivery.deliver(*resent) == {"batchItemFailures": []}
    assert statuses(ids) == {NUMBERS[0]: "SENT"}


def test_failover_sends_through_the_secondary_after_a_transient_failure(
    delivery: Delivery, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a tenant on Twilio, Twilio throttling everything, and the sandbox as failover
    twilio = AlwaysThrottled()
    delivery.extra_providers["twilio"] = twilio
    monkeypatch.setenv("FAILOVER_PROVIDER", "sandbox")
    wiring.reset()
    from smscore.dal.tables import TenantRecord

    TenantRecord(campaign.tenant_id).update(actions=[TenantRecord.provider.set("twilio")])
    _, ids = delivery.send_campaign(campaign, NUMBERS[0])
    assert MessageRecord.get(ids[NUMBERS[0]]).provider == "twilio"
    # When delivered
    assert delivery.deliver(*delivery.sqs_bodies()) == {"batchItemFailures": []}
    # Then Twilio was tried once and the sandbox sent it on the next attempt
    record = MessageRecord.get(ids[NUMBERS[0]])
    assert twilio.calls == 1
    assert record.status == "SENT"
    assert record.provider == "sandbox"
    assert record.attempts == 2
    assert [h.status for h in record.history] == ["QUEUED", "SENDING", "QUEUED", "SENDING", "SENT"]
    assert record.history[2].code == "20429"
    assert refunds(campaign.tenant_id) == []


def test_a_malformed_record_is_dropped_without_touching_anything(delivery: Delivery) -> None:
    # A retry cannot fix a body: it is logged and counted once (tests/integration/test_unparseable_inputs.py)
    # instead of coming back maxReceiveCount times into the dead-letter queue with nothing saying why.
    template = load_event("sqs_delivery_batch.json")
    event = copy.deepcopy(template)
    event["Records"][0]["body"] = "not json"
    result = deliver_app.lambda_handler(event, LambdaContextStub(), deps=delivery.deps())
    assert result == {"batchItemFailures": []}
    assert delivery.sandbox.calls == Counter()
    assert delivery.dead_letters() == []


def test_status_transition_refuses_a_move_from_the_wrong_status(
    delivery: Delivery, campaign: Campaign, stack: Stack
) -> None:
    # The generic transition (reused by delivery receipts) only applies from the status the caller read
    from smscore.dal.message_store import StatusTransition

    queue_id, ids = delivery.send_campaign(campaign, NUMBERS[0])
    delivery.deliver(*delivery.sqs_bodies())
    store = DynamoMessageStore(region=stack.names.region)
    move = StatusTransition(
        message_id=ids[NUMBERS[0]],
        tenant_id=campaign.tenant_id,
        queue_id=queue_id,
        expected=MessageStatus.SENT,
        to=MessageStatus.DELIVERED,
        at=datetime.now(UTC),
        code="delivered",
    )
    assert store.apply_transition(move)
    assert not store.apply_transition(move)  # already DELIVERED: nothing written twice
    record = MessageRecord.get(ids[NUMBERS[0]])
    assert record.status == "DELIVERED"
    dispatch = load_dispatch(queue_id)
    assert (dispatch.count_sent, dispatch.count_delivered) == (0, 1)


def test_twilio_through_the_handler_with_credentials_from_ssm(
    stack: Stack, atomic_moto: None, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production wiring end to end (registry, SSM credentials, HTTP), against the fake Twilio server."""
    from smscore.dal.tables import TenantRecord
    from smsdev.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID, FakeTwilio

    # Given the Twilio credentials in SSM and the deliver function pointed at a fake Twilio
    env = function_environment(stack.names, "DeliverFunction")
    boto3.client("ssm", region_name=stack.names.region).put_parameter(
        Name=env["TWILIO_CREDENTIALS_PARAMETER"],
        Type="SecureString",
        Value=json.dumps({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}),
    )
    with FakeTwilio() as fake:
        for key, value in {
            **env,
            "TWILIO_API_BASE_URL": fake.url,
            "TWILIO_MESSAGING_SERVICE_SID": MESSAGING_SERVICE_SID,
        }.items():
            monkeypatch.setenv(key, value)
        wiring.reset()
        TenantRecord(campaign.tenant_id).update(actions=[TenantRecord.provider.set("twilio")])
        delivery = Delivery(stack=stack, sandbox=Counting(SandboxProvider(DynamoOutbox())), counted=False)
        _, ids = delivery.send_campaign(campaign, NUMBERS[0], NUMBERS[1])
        # When delivered
        try:
            result = delivery.deliver(*delivery.sqs_bodies())
        finally:
            wiring.reset()
        # Then each number reached Twilio once and the message records carry Twilio's sid
        assert result == {"batchItemFailures": []}
        assert sorted(r.form["To"] for r in fake.requests) == [NUMBERS[0], NUMBERS[1]]
        for number, message_id in ids.items():
            record = MessageRecord.get(message_id)
            assert record.status == "SENT"
            assert record.provider == "twilio"
            assert (record.sent_provider_id() or "").startswith("SM")
            # and, as its callbacks name our id (the template's StatusCallback URL), no provider-id index entry
            assert record.provider_message_id is None
            assert list(MessageRecord.by_provider_message_id.query(record.sent_provider_id())) == []
            # marketing to CO: the sender's name first, the opt-out last (docs/compliance-co.md)
            assert fake.sends_to(number)[0].form["Body"] == "Acme: Hola\nResponde SALIR para no recibir mas"
