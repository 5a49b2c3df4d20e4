"""The DeliveryQueue: what the send path enqueues is what the deliver function receives, in the fake and in SQS."""

from __future__ import annotations

from smscore.domain.model import QueueBatch
from tests.contract.sides import DeliveryQueueSide, as_enqueued


def batches(count: int, queue_id: str = "q-1") -> list[QueueBatch]:
    return [QueueBatch("t-1", queue_id, [f"m-{n}-a", f"m-{n}-b"]) for n in range(count)]


def test_every_batch_is_enqueued_once_and_nothing_is_reported_failed(delivery_queue: DeliveryQueueSide) -> None:
    # Given 23 batches (three SendMessageBatch calls' worth)
    sent = batches(23)
    # When they are enqueued
    failed = delivery_queue.queue.enqueue(sent)
    # Then none failed, and the queue holds each batch exactly once with its tenant, campaign and message ids
    assert failed == []
    assert delivery_queue.drain() == sorted(as_enqueued(b) for b in sent)


def test_enqueueing_nothing_puts_nothing_on_the_queue(delivery_queue: DeliveryQueueSide) -> None:
    # Given no batch / When enqueued / Then nothing failed and the queue is empty
    assert delivery_queue.queue.enqueue([]) == []
    assert delivery_queue.drain() == []
