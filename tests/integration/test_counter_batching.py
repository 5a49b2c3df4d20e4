"""Campaign counters written once per campaign and invocation (issue 20, item 9), through the real handlers on moto.

The deliver and receipts consumers add up their status moves and write one ADD per campaign when the invocation
ends (smscore.dal.dispatch_counts.batched), instead of one per status change: the campaign's counts stay exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.receipts import app as receipts_app
from smscore import wiring
from smscore.dal import dispatch_counts
from smscore.dal.dispatch_counts import load_dispatch, shard_totals
from smscore.dal.outbox_store import DynamoOutbox
from smscore.providers.sandbox import SandboxProvider
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack
from tests.integration.conftest import Campaign
from tests.integration.receipts_helpers import deliver_as_sent, receipt_record
from tests.integration.test_deliver import Counting, Delivery
from tests.integration.test_webhooks import sms_event

NUMBERS = [f"+5730055510{n:02d}" for n in range(6)]


class CountingWrites:
    """The real counter write, counted (how many ADDs reached the Dispatches table)."""

    def __init__(self) -> None:
        self.calls = 0
        self._real = dispatch_counts._write

    def __call__(self, queue_id: str, shard: int, deltas: dict[str, int]) -> None:
        self.calls += 1
        self._real(queue_id, shard, deltas)


@pytest.fixture
def delivery(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Delivery]:
    for function in ("DeliverFunction", "ReceiptsFunction"):
        for key, value in function_environment(stack.names, function).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("RECIPIENTS_PER_QUEUE_MESSAGE", "2")  # three records: the counts span records
    wiring.reset()
    with serialised_moto():
        yield Delivery(stack=stack, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    wiring.reset()


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> CountingWrites:
    counting = CountingWrites()
    monkeypatch.setattr(dispatch_counts, "_write", counting)
    return counting


def counts(queue_id: str) -> dict[str, int]:
    dispatch = load_dispatch(queue_id)
    assert dispatch is not None
    return {
        name: int(getattr(dispatch, f"count_{name}"))
        for name in ("queued", "sending", "sent", "delivered", "undelivered", "failed")
    }


def test_one_deliver_invocation_moves_a_campaigns_counts_in_one_write(
    delivery: Delivery, campaign: Campaign, writes: CountingWrites
) -> None:
    # Given a campaign of six messages in three delivery records
    queue_id, ids = delivery.send_campaign(campaign, *NUMBERS)
    bodies = delivery.sqs_bodies()
    assert len(bodies) == 3
    assert counts(queue_id)["queued"] == 6

    # When one deliver invocation sends them all (each message claimed, then SENT)
    result = delivery.deliver(*bodies)

    # Then every message is SENT once and the campaign's counts say so
    assert result == {"batchItemFailures": []}
    assert sorted(delivery.sandbox.calls[mid] for mid in ids.values()) == [1] * 6
    assert counts(queue_id) == {"queued": 0, "sending": 0, "sent": 6, "delivered": 0, "undelivered": 0, "failed": 0}
    # And the twelve moves reached the counters as one write, not twelve
    assert writes.calls == 1


def test_one_receipts_batch_moves_each_campaigns_counts_in_one_write(
    delivery: Delivery, campaign: Campaign, writes: CountingWrites
) -> None:
    # Given two campaigns whose messages AWS SMS accepted (SENT), and a delivered event for each on the receipts queue
    first, first_ids = delivery.send_campaign(campaign, *NUMBERS[:4])
    second, second_ids = delivery.send_campaign(campaign, *NUMBERS[4:])
    message_ids = [*first_ids.values(), *second_ids.values()]
    deliver_as_sent(*message_ids, provider="aws_sms")
    writes.calls = 0
    sqs = boto3.client("sqs", region_name=delivery.stack.names.region)
    url = wiring.bound_settings().receipts_queue_url
    for message_id in message_ids:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(sms_event(message_id)))
    taken: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages"):
        taken.extend(got)

    # When one consumer invocation applies the six receipts
    result = receipts_app.lambda_handler(
        {"Records": [receipt_record(m) for m in taken]}, LambdaContextStub(), deps=wiring.receipts_deps()
    )

    # Then every message is DELIVERED and each campaign's counts say so
    assert result == {"batchItemFailures": []}
    assert (counts(first)["delivered"], counts(first)["sent"]) == (4, 0)
    assert (counts(second)["delivered"], counts(second)["sent"]) == (2, 0)
    # And the counters took one write per campaign
    assert writes.calls == 2


@pytest.mark.usefixtures("delivery")
def test_moves_inside_a_failing_block_are_still_written() -> None:
    # Given moves of two campaigns added inside a batched block
    # When the block ends with an error
    def handler_failing_after_its_writes() -> None:
        with dispatch_counts.batched():
            dispatch_counts.add_to_shard("q-one", "m1", {"count_queued": -1, "count_sent": 1})
            dispatch_counts.add_to_shard("q-one", "m2", {"count_queued": -1, "count_sent": 1})
            dispatch_counts.add_to_shard("q-two", "m3", {"count_sent": -1, "count_delivered": 1})
            raise RuntimeError("the handler failed after its writes")

    with pytest.raises(RuntimeError):
        handler_failing_after_its_writes()

    # Then both campaigns' counters carry the moves, added up
    totals = shard_totals(["q-one", "q-two"])
    assert (totals["q-one"]["count_queued"], totals["q-one"]["count_sent"]) == (-2, 2)
    assert (totals["q-two"]["count_sent"], totals["q-two"]["count_delivered"]) == (-1, 1)


@pytest.mark.usefixtures("delivery")
def test_outside_a_batched_block_each_move_is_written_at_once(writes: CountingWrites) -> None:
    # Given no batched block (the API's cancel, the sweeper)
    # When two moves are made
    dispatch_counts.add_to_shard("q-three", "m1", {"count_queued": -1, "count_cancelled": 1})
    dispatch_counts.add_to_shard("q-three", "m2", {"count_queued": -1, "count_cancelled": 1})

    # Then each is written (and readable) at once
    assert writes.calls == 2
    assert shard_totals(["q-three"])["q-three"]["count_cancelled"] == 2
