"""Pacing, waiting, the sender circuit breaker and batched refunds through the deliver handler on moto.

Campaigns go through the real send handler; the deliver handler runs with the production wiring (DynamoDB sender
gate in the template's Senders table, delayed re-sends on the delivery queue) and a scripted provider in place of
the sandbox, so what the provider answers is chosen by the test.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from smscore import wiring
from smscore.dal.dispatch_counts import load_dispatch
from smscore.dal.outbox_store import DynamoOutbox
from smscore.dal.sender_gate import DynamoSenderGate
from smscore.dal.tables import LedgerRecord, MessageRecord
from smscore.domain.pacing import Go, Pacer, Sender
from smscore.domain.ports import PermanentFailure, SenderUnavailable, Throttled
from smscore.providers.sandbox import SandboxProvider
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import Stack
from tests.delivery_fakes import ScriptedProvider
from tests.integration.conftest import Campaign
from tests.integration.test_deliver import Counting, Delivery

NUMBERS = [f"+5730045600{n:02d}" for n in range(6)]


@pytest.fixture
def atomic_moto() -> Iterator[None]:
    """One moto request at a time, as DynamoDB's conditional writes are atomic."""
    with serialised_moto():
        yield


@pytest.fixture
def delivery(stack: Stack, atomic_moto: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Delivery]:
    """The deliver function's environment from the template (Senders table included), 3 attempts, no backoff."""
    for key, value in function_environment(stack.names, "DeliverFunction").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DELIVERY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("DELIVERY_BACKOFF_BASE_MS", "0")
    wiring.reset()
    yield Delivery(stack=stack, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    wiring.reset()


def senders_table(stack: Stack) -> str:
    return stack.environment("DeliverFunction")["SENDERS_TABLE"]


def refunds(tenant_id: str) -> list[tuple[int, list[str]]]:
    return sorted(
        (int(e.amount), sorted(e.message_ids or [])) for e in LedgerRecord.query(tenant_id) if e.kind == "REFUND"
    )


def delayed_records(stack: Stack, wait_seconds: int) -> list[dict[str, Any]]:
    """The records put back on the delivery queue with a delay, once they are visible (long poll)."""
    sqs = boto3.client("sqs", region_name=stack.names.region)
    url = stack.delivery_queue_url
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
    for message in got.get("Messages", []):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def delayed_count(stack: Stack) -> int:
    sqs = boto3.client("sqs", region_name=stack.names.region)
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.delivery_queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesDelayed"])


def scripted(delivery: Delivery) -> ScriptedProvider:
    provider = ScriptedProvider("sandbox")
    delivery.extra_providers["sandbox"] = provider
    return provider


# -- the limiter ----------------------------------------------------------------------------------------------


def test_the_fleet_wide_limiter_never_hands_out_more_than_the_rate_under_threads(
    stack: Stack, atomic_moto: None
) -> None:
    # Given a sender at 20 messages/second (a fairness window of 60 s: the 240 slots reach 12 s ahead), and 6
    # invocations (each its own Pacer) with 40 messages each
    gate = DynamoSenderGate(boto3.client("dynamodb", region_name=stack.names.region), senders_table(stack))
    sender = Sender("twilio:+15550001111", rate=20, validity_seconds=3600, fairness_window_seconds=60)
    start = datetime.now(UTC).timestamp()
    slots: list[float] = []
    lock = threading.Lock()

    def invocation(_: int) -> None:
        pacer = Pacer(gate, Counter({(sender.key, ""): 40}), clock=lambda: start)
        for _ in range(40):
            grant = pacer.acquire(sender, horizon=60)
            assert isinstance(grant, Go)
            with lock:
                slots.append(grant.at)

    # When they all take their slots at once, 8 threads each
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(invocation, range(6)))
    # Then the 240 slots are distinct and 1/20 s apart from the start: no 1-second window holds more than 20 + 1
    ordered = sorted(slots)
    assert len(set(round(s, 4) for s in ordered)) == 240
    assert ordered == pytest.approx([start + i / 20 for i in range(240)], abs=1e-3)
    assert max(sum(1 for s in ordered if w <= s < w + 1) for w in ordered) <= 21
    # And the bucket was taken a slice (20 slots) at a time, not one write per message
    assert gate.writes <= 240 / 20 + 6


# -- throttling is waiting ------------------------------------------------------------------------------------


def test_a_throttled_message_is_deferred_without_using_an_attempt(
    delivery: Delivery, campaign: Campaign, stack: Stack
) -> None:
    # Given a provider that throttles one number 3 times (DELIVERY_MAX_ATTEMPTS is 3 here), then accepts it
    provider = scripted(delivery)
    provider.fail(NUMBERS[0], *[Throttled("20429", "Too Many Requests", retry_after=1)] * 3)
    _, ids = delivery.send_campaign(campaign, NUMBERS[0], NUMBERS[1])
    bodies = delivery.sqs_bodies()
    # When its record is delivered, and each re-sent record after its delay
    result = delivery.deliver(*bodies)
    rounds = 0
    while delayed_count(stack) or rounds == 0:
        rounds += 1
        assert rounds <= 4
        again = delayed_records(stack, wait_seconds=3)
        assert [body["messageIds"] for body in again] == [[ids[NUMBERS[0]]]]
        assert delivery.deliver(*again) == {"batchItemFailures": []}
    # Then the first record completed (nothing left for SQS to redeliver), the other number went at once
    assert result == {"batchItemFailures": []}
    assert rounds == 3
    # And the throttled message is SENT after 4 provider calls: 3 deferrals and 1 attempt, nothing refunded
    record = MessageRecord.get(ids[NUMBERS[0]], consistent_read=True)
    assert record.status == "SENT"
    assert (int(record.attempts), int(record.deferrals)) == (4, 3)
    assert provider.calls_for(ids[NUMBERS[0]]) == 4
    assert [h.code for h in record.history if h.status == "QUEUED"][1:] == ["20429"] * 3
    assert refunds(campaign.tenant_id) == []
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 2


def test_a_message_waiting_past_its_validity_is_failed_expired_and_refunded_once(
    delivery: Delivery, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a validity of one minute and a message created two minutes ago that is still queued
    monkeypatch.setenv("MESSAGE_VALIDITY_SECONDS", "60")
    wiring.reset()
    provider = scripted(delivery)
    _, ids = delivery.send_campaign(campaign, NUMBERS[2])
    message_id = ids[NUMBERS[2]]
    MessageRecord(message_id).update(actions=[MessageRecord.created_at.set(datetime.now(UTC) - timedelta(minutes=2))])
    bodies = delivery.sqs_bodies()
    # When its record is delivered, and delivered again
    first = delivery.deliver(*bodies)
    second = delivery.deliver(*bodies)
    # Then it was never sent; it is FAILED with EXPIRED, refunded exactly once
    assert first == second == {"batchItemFailures": []}
    assert provider.calls == []
    record = MessageRecord.get(message_id, consistent_read=True)
    assert (record.status, record.provider_error_code, record.permanent_failure) == ("FAILED", "EXPIRED", True)
    assert refunds(campaign.tenant_id) == [(1, [message_id])]
    assert campaign.balance() == campaign.ledger_sum() == 1000


# -- the circuit breaker --------------------------------------------------------------------------------------


def test_a_sender_configuration_error_pauses_the_sender_until_a_probe_resumes_it(
    delivery: Delivery, campaign: Campaign, stack: Stack
) -> None:
    # Given a sender whose next send fails with Twilio 21606 (this From number cannot send)
    provider = scripted(delivery)
    provider.fail(NUMBERS[3], SenderUnavailable("21606", "The From phone number is not a valid SMS-capable number"))
    _, ids = delivery.send_campaign(campaign, NUMBERS[3])
    bodies = delivery.sqs_bodies()
    # When its record is delivered
    assert delivery.deliver(*bodies) == {"batchItemFailures": []}
    # Then the sender is paused for the fleet, the message waits (QUEUED, no attempt used), nothing is refunded
    item = boto3.client("dynamodb", region_name=stack.names.region).get_item(
        TableName=senders_table(stack), Key={"sender": {"S": "sandbox"}}, ConsistentRead=True
    )["Item"]
    assert item["pause_code"] == {"S": "21606"}
    record = MessageRecord.get(ids[NUMBERS[3]], consistent_read=True)
    assert (record.status, int(record.attempts) - int(record.deferrals or 0)) == ("QUEUED", 0)
    assert refunds(campaign.tenant_id) == []
    assert delayed_count(stack) == 1
    # And while the cool-down lasts, a delivery of another campaign's message sends nothing
    _, later = delivery.send_campaign(campaign, NUMBERS[4])
    assert delivery.deliver(*delivery.sqs_bodies()) == {"batchItemFailures": []}
    assert provider.calls_for(later[NUMBERS[4]]) == 0
    # When the cool-down has passed (rewound here) and the record comes back: one probe goes, is accepted
    boto3.client("dynamodb", region_name=stack.names.region).update_item(
        TableName=senders_table(stack),
        Key={"sender": {"S": "sandbox"}},
        UpdateExpression="SET paused_until = :past",
        ExpressionAttributeValues={":past": {"N": str(datetime.now(UTC).timestamp() - 1)}},
    )
    assert delivery.deliver(*bodies) == {"batchItemFailures": []}
    # Then the breaker is closed and the message is SENT; the other one goes on its next delivery
    assert MessageRecord.get(ids[NUMBERS[3]], consistent_read=True).status == "SENT"
    item = boto3.client("dynamodb", region_name=stack.names.region).get_item(
        TableName=senders_table(stack), Key={"sender": {"S": "sandbox"}}, ConsistentRead=True
    )["Item"]
    assert "paused_until" not in item
    assert provider.calls_for(ids[NUMBERS[3]]) == 2
    # And the other message waited without an attempt or a refund: both are still paid for
    waiting = MessageRecord.get(later[NUMBERS[4]], consistent_read=True)
    assert (waiting.status, int(waiting.attempts or 0)) == ("QUEUED", 0)
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 2


# -- batched refunds ------------------------------------------------------------------------------------------


def test_a_records_failures_are_refunded_together_exactly_once_per_message(
    delivery: Delivery, campaign: Campaign
) -> None:
    # Given a campaign of 6 numbers, 4 of which the provider refuses for good (invalid, unsubscribed)
    provider = scripted(delivery)
    failing = NUMBERS[:4]
    for number in failing:
        provider.always_fail(number, PermanentFailure("21211", "The 'To' number is not a valid phone number"))
    queue_id, ids = delivery.send_campaign(campaign, *NUMBERS)
    bodies = delivery.sqs_bodies()
    # When two consumers deliver the same record at the same time (a duplicate SQS delivery), then once more
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: delivery.deliver(*bodies), range(2)))
    later = delivery.deliver(*bodies)
    # Then every record completed or was left to the other consumer's lease
    assert later == {"batchItemFailures": []}
    assert all(set(r) == {"batchItemFailures"} for r in results)
    # And the 4 are FAILED, each named by exactly one REFUND entry, refunded once; the other 2 SENT once
    failed_ids = sorted(ids[n] for n in failing)
    assert [MessageRecord.get(ids[n], consistent_read=True).status for n in failing] == ["FAILED"] * 4
    named = sorted(m for _, mids in refunds(campaign.tenant_id) for m in mids)
    assert named == failed_ids
    assert sum(amount for amount, _ in refunds(campaign.tenant_id)) == 4
    assert all(provider.calls_for(ids[n]) == 1 for n in NUMBERS[4:])
    # And the balance is the ledger: 6 debited, 4 refunded
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 2
    dispatch = load_dispatch(queue_id)
    assert (dispatch.count_sent, dispatch.count_failed, dispatch.credits_refunded) == (2, 4, 4)
