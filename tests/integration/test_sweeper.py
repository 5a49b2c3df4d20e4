"""Issue 20, item 5: paid messages delivery gave up on are re-enqueued once by the sweeper, or refunded.

A delivery record fails on every receive for a reason that is not the provider's (the Messages table throttles the
deliver function's reads), so SQS moves it to the dead-letter queue with its messages QUEUED and paid. The sweeper
(the real SweeperFunction handler over the moto queues) re-enqueues them once; if delivery fails again it refunds
them. Either way every message ends SENT once or FAILED and refunded, and the balance equals the ledger.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import GetError

from functions.deliver import app as deliver_app
from functions.sweeper import app as sweeper_app
from smscore import wiring
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.outbox_store import DynamoOutbox
from smscore.dal.tables import LedgerRecord, MessageRecord, TenantRecord
from smscore.domain.sweeper import STRANDED_CODE, Sweeper, Verdict
from smscore.providers.sandbox import SandboxProvider
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack, load_event
from tests.integration.conftest import Campaign
from tests.integration.test_deliver import Counting, Delivery

NUMBERS = [f"+5730045600{n:02d}" for n in range(6)]


class Throttle:
    """The Messages table throttling the deliver function's reads while `on` (BatchGetItem answered
    ProvisionedThroughputExceededException, as DynamoDB does once botocore's retries are spent)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on = True
        real_load = DynamoMessageStore.load

        def load(store: DynamoMessageStore, message_ids: Any) -> Any:
            if self.on:
                error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}}
                raise GetError("Failed to batch get items", ClientError(error, "BatchGetItem"))
            return real_load(store, message_ids)

        monkeypatch.setattr(DynamoMessageStore, "load", load)


@pytest.fixture
def delivery(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Delivery]:
    """The deliver and sweeper functions' template environment on one moto stack, one moto request at a time."""
    with serialised_moto():
        for function_id in ("DeliverFunction", "SweeperFunction"):
            for key, value in function_environment(stack.names, function_id).items():
                monkeypatch.setenv(key, value)
        wiring.reset()
        yield Delivery(stack=stack, sandbox=Counting(SandboxProvider(DynamoOutbox())))
        wiring.reset()


def sqs() -> Any:
    return boto3.client("sqs", region_name=wiring.bound_settings().aws_region)


def run_delivery_queue(delivery: Delivery) -> list[dict[str, Any]]:
    """The deliver function's event source over the moto delivery queue until it is empty: each receive makes the
    record visible again at once (the visibility timeout, not waited); SQS itself dead-letters a record on its
    maxReceiveCount-th receive. Returns each invocation's answer."""
    url = delivery.stack.delivery_queue_url
    template = load_event("sqs_delivery_batch.json")["Records"][0]
    answers = []
    while (
        messages := sqs()
        .receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"]
        )
        .get("Messages", [])
    ):
        records = []
        for message in messages:
            record = copy.deepcopy(template)
            record.update(messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"], body=message["Body"])
            record["attributes"]["ApproximateReceiveCount"] = message["Attributes"]["ApproximateReceiveCount"]
            records.append(record)
        answer = deliver_app.lambda_handler({"Records": records}, LambdaContextStub(55_000), deps=delivery.deps())
        answers.append(answer)
        failed = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return answers


def visible(url: str) -> int:
    attributes = sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def sweep() -> dict[str, Any]:
    result: dict[str, Any] = sweeper_app.lambda_handler({}, LambdaContextStub())
    return result


def balance_and_ledger(tenant_id: str) -> tuple[int, int]:
    credits = int(TenantRecord.get(tenant_id, consistent_read=True).credits)
    return credits, sum(int(entry.amount) for entry in LedgerRecord.query(tenant_id, consistent_read=True))


def states(ids: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    records = {mid: MessageRecord.get(mid, consistent_read=True) for mid in ids.values()}
    return {number: (records[mid].status, records[mid].provider_error_code) for number, mid in ids.items()}


def dead_lettered_campaign(
    delivery: Delivery, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, str], Throttle, int]:
    """A campaign whose record failed every receive on a throttled table and was dead-lettered, paid."""
    before = balance_and_ledger(campaign.tenant_id)[0]
    _, ids = delivery.send_campaign(campaign, *NUMBERS)
    throttle = Throttle(monkeypatch)
    answers = run_delivery_queue(delivery)
    receive_count = wiring.bound_settings().delivery_max_receive_count
    assert len(answers) == receive_count  # failed on each of its 5 receives, then SQS dead-lettered it
    assert all(answer["batchItemFailures"] for answer in answers)
    assert visible(delivery.dlq_url()) == 1
    throttle.on = False
    assert set(states(ids).values()) == {("QUEUED", None)}
    assert balance_and_ledger(campaign.tenant_id)[0] == before - len(NUMBERS)  # paid, not sent
    return ids, throttle, before


def test_a_batch_failing_five_times_on_a_throttle_is_sent_once_after_the_sweeper(
    delivery: Delivery, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign's record dead-lettered after 5 receives that all hit a DynamoDB throttle
    ids, _, before = dead_lettered_campaign(delivery, campaign, monkeypatch)
    # When the sweeper runs, and the throttle has cleared when delivery takes the record again
    assert sweep() == {"records": 1, "deleted": 1, "redriven": len(NUMBERS)}
    assert visible(delivery.dlq_url()) == 0
    assert run_delivery_queue(delivery) == [{"batchItemFailures": []}]
    # Then every message was sent exactly once (counted at the provider), kept its charge, and balance = ledger
    assert dict(delivery.sandbox.calls) == dict.fromkeys(ids.values(), 1)
    assert set(states(ids).values()) == {("SENT", None)}
    balance, ledger = balance_and_ledger(campaign.tenant_id)
    assert (balance, ledger) == (before - len(NUMBERS), before - len(NUMBERS))
    # And a second sweep finds nothing to do
    assert sweep() == {"records": 0, "deleted": 0}


def test_a_batch_that_keeps_failing_after_its_redrive_is_refunded_by_the_next_sweep_past_the_bound(
    delivery: Delivery, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a dead-lettered campaign redriven once by the sweeper, and the throttle back on: dead-lettered again
    ids, throttle, before = dead_lettered_campaign(delivery, campaign, monkeypatch)
    assert sweep()["redriven"] == len(NUMBERS)
    throttle.on = True
    run_delivery_queue(delivery)
    throttle.on = False
    assert visible(delivery.dlq_url()) == 1
    # (the dead-letter queue's visibility timeout is not waited for: a record a run leaves is visible at once)
    sqs().set_queue_attributes(QueueUrl=delivery.dlq_url(), Attributes={"VisibilityTimeout": "0"})
    # When the sweeper runs again within one bound of the redrive / Then it waits (the record stays)
    assert sweep() == {"records": 1, "deleted": 0, "live": len(NUMBERS)}
    # When it runs past the bound (lease + visibility timeout x maxReceiveCount after the redrive)
    later = datetime.now(UTC) + timedelta(seconds=wiring.bound_settings().delivery_bound_seconds + 1)
    monkeypatch.setattr(wiring.sweeper_deps().sweeper, "_now", lambda: later)
    assert sweep() == {"records": 1, "deleted": 1, "refunded": len(NUMBERS)}
    # Then none was sent, each is FAILED (STRANDED), refunded once, and balance = ledger = what it was before
    assert dict(delivery.sandbox.calls) == {}
    assert set(states(ids).values()) == {("FAILED", STRANDED_CODE)}
    assert balance_and_ledger(campaign.tenant_id) == (before, before)
    refunds = [e for e in LedgerRecord.query(campaign.tenant_id) if e.kind == "REFUND"]
    assert sorted(mid for e in refunds for mid in (e.message_ids or [])) == sorted(ids.values())
    # And the refunded messages are never sent: a stray copy of their record delivers nothing
    assert sweep() == {"records": 0, "deleted": 0}
    assert run_delivery_queue(delivery) == []


def test_overlapping_sweeps_redrive_each_message_once(
    delivery: Delivery, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a dead-lettered campaign, and a second copy of its record in the dead-letter queue (SQS delivers at
    # least once, and a record comes back if a run dies before deleting it)
    ids, _, before = dead_lettered_campaign(delivery, campaign, monkeypatch)
    (letter,) = sqs().receive_message(QueueUrl=delivery.dlq_url(), VisibilityTimeout=0)["Messages"]
    sqs().send_message(QueueUrl=delivery.dlq_url(), MessageBody=letter["Body"])
    # When two sweeps take one copy each (an overlapping run)
    first: Sweeper = wiring.sweeper_deps().sweeper
    reports = [first.sweep(1), first.sweep(1)]
    # Then the messages were re-enqueued once: the second run found them redriven (within one bound) and waited
    assert reports[0].verdicts == {Verdict.REDRIVEN: len(NUMBERS)}
    assert reports[1].verdicts == {Verdict.LIVE: len(NUMBERS)}
    assert len(delivery.stack.drain_delivery_queue()) == 1
    assert {int(MessageRecord.get(mid).redrives) for mid in ids.values()} == {1}
    assert balance_and_ledger(campaign.tenant_id)[0] == before - len(NUMBERS)
