"""SQS implementation of delivery's DeferredDelivery: waiting messages go back to the delivery queue with a delay.

A new message (not a visibility change of the received one) so that waiting never adds to the record's
receive count, which would otherwise carry a patient message to the dead-letter queue.
"""

from __future__ import annotations

from smscore.dal.sqs_queue import LazySqsSender
from smscore.domain.model import QueueBatch

MAX_DELAY_SECONDS = 900


class SqsDeferredDelivery(LazySqsSender):
    """The SQS client is created on the first deferral: most invocations never wait."""

    def send_later(self, batch: QueueBatch, delay_seconds: int) -> None:
        self._send_batch(batch, DelaySeconds=max(0, min(MAX_DELAY_SECONDS, delay_seconds)))
