"""Refunds settled once per deliver invocation (issue 20, item 3), through the deliver handler on moto.

The balance item takes one transaction per tenant and campaign per invocation instead of one per record; the
refunds still add up, message by message, to what failed; and a crash between trying and settling is decided
again after the lease, refunded once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smscore import wiring
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.outbox_store import DynamoOutbox
from smscore.dal.tables import LedgerRecord, MessageRecord
from smscore.providers.sandbox import (
    PERMANENT_INVALID_NUMBER,
    PERMANENT_OPTED_OUT_NUMBER,
    TIMEOUT_NUMBER,
    TRANSIENT_THROTTLED_NUMBER,
    SandboxProvider,
)
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import Stack
from tests.integration.conftest import Campaign
from tests.integration.test_deliver import Counting, Delivery

FAILING = [PERMANENT_INVALID_NUMBER, TRANSIENT_THROTTLED_NUMBER, TIMEOUT_NUMBER, PERMANENT_OPTED_OUT_NUMBER]


@pytest.fixture
def delivery(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Delivery]:
    """The deliver function's environment on moto, as tests/integration/test_deliver.py sets it up."""
    for key, value in function_environment(stack.names, "DeliverFunction").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DELIVERY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("DELIVERY_BACKOFF_BASE_MS", "0")
    monkeypatch.setenv("SANDBOX_TIMEOUT_SECONDS", "0")
    wiring.reset()
    with serialised_moto():  # one moto request at a time, as DynamoDB's transactions are atomic
        yield Delivery(stack=stack, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    wiring.reset()


@pytest.fixture
def small_records(delivery: Delivery, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two messages per SQS record, so one campaign's failures span several records."""
    monkeypatch.setenv("RECIPIENTS_PER_QUEUE_MESSAGE", "2")
    wiring.reset()


def refund_entries(tenant_id: str) -> list[LedgerRecord]:
    return [e for e in LedgerRecord.query(tenant_id, consistent_read=True) if e.kind == "REFUND"]


def records_naming(bodies: list[dict[str, Any]], message_ids: set[str]) -> int:
    return sum(1 for body in bodies if message_ids & set(body["messageIds"]))


@pytest.mark.usefixtures("small_records")
def test_refunds_settled_per_invocation_add_up_to_each_failed_message(delivery: Delivery, campaign: Campaign) -> None:
    # Given three campaigns of one tenant, each to two good numbers and the four sandbox failures (6 messages,
    # 3 records of 2), so that every campaign has failures in at least two records
    sent: dict[str, dict[str, str]] = {}
    for n in range(3):
        good = [f"+573005550{n}{k:02d}" for k in range(2)]
        queue_id, ids = delivery.send_campaign(campaign, *good, *FAILING, message=f"Oferta {n}")
        sent[queue_id] = ids
    assert campaign.balance() == 1000 - 18
    bodies = delivery.sqs_bodies()
    assert len(bodies) == 9
    all_ids = {mid for ids in sent.values() for mid in ids.values()}
    failing_ids = {ids[number] for ids in sent.values() for number in FAILING}

    # When one invocation delivers all nine records
    result = delivery.deliver(*bodies)

    # Then the failing messages are FAILED and the good ones SENT
    assert result == {"batchItemFailures": []}
    stored = {mid: MessageRecord.get(mid, consistent_read=True) for mid in all_ids}
    assert {mid for mid, r in stored.items() if r.status == "FAILED"} == failing_ids
    assert {mid for mid, r in stored.items() if r.status == "SENT"} == all_ids - failing_ids
    # And the balance item took one refund per campaign, fewer than the records that had failures
    entries = refund_entries(campaign.tenant_id)
    assert sorted(e.queue_id for e in entries) == sorted(sent)
    assert len(entries) < records_naming(bodies, failing_ids)
    # And, message by message, the refunds are exactly the failed messages' credits, each refunded once
    named = [mid for e in entries for mid in e.message_ids or []]
    assert sorted(named) == sorted(failing_ids)
    assert sum(int(e.amount) for e in entries) == sum(int(stored[mid].credits) for mid in failing_ids)
    for entry in entries:
        assert int(entry.amount) == sum(int(stored[mid].credits) for mid in entry.message_ids or [])
    # And the balance equals the ledger: the opening credits less the good messages only
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 6


def test_a_crash_before_settling_is_decided_again_and_refunded_once(
    delivery: Delivery, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign to one good number and two permanent failures
    _, ids = delivery.send_campaign(campaign, "+573005550000", PERMANENT_INVALID_NUMBER, PERMANENT_OPTED_OUT_NUMBER)
    bodies = delivery.sqs_bodies()
    failing = {ids[PERMANENT_INVALID_NUMBER], ids[PERMANENT_OPTED_OUT_NUMBER]}

    # When the invocation's settlement is throttled by DynamoDB (the function fails: no record is deleted)
    original = DynamoMessageStore.fail_all

    def throttled(self: DynamoMessageStore, *args: Any, **kwargs: Any) -> list[str]:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "TransactWriteItems")

    monkeypatch.setattr(DynamoMessageStore, "fail_all", throttled)
    with pytest.raises(ClientError):
        delivery.deliver(*bodies)
    monkeypatch.setattr(DynamoMessageStore, "fail_all", original)

    # Then nothing was refunded yet, the failed messages are still SENDING under their lease, the good one SENT
    assert refund_entries(campaign.tenant_id) == []
    assert {MessageRecord.get(mid).status for mid in failing} == {"SENDING"}
    assert MessageRecord.get(ids["+573005550000"]).status == "SENT"
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 3

    # When their lease has run out and SQS brings the records back
    expired = datetime.now(UTC) - timedelta(minutes=5)  # a Given: the lease's end, moved into the past
    for mid in failing:
        MessageRecord(mid).update(actions=[MessageRecord.lease_until.set(expired)])
    result = delivery.deliver(*bodies, receive_count=2)

    # Then they are taken over, FAILED and refunded once, and the good message is not sent again
    assert result == {"batchItemFailures": []}
    assert {MessageRecord.get(mid).status for mid in failing} == {"FAILED"}
    (entry,) = refund_entries(campaign.tenant_id)
    assert sorted(entry.message_ids or []) == sorted(failing)
    assert delivery.sandbox.calls[ids["+573005550000"]] == 1
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 1
