"""SQS implementation of delivery's DeadLetters: exhausted messages are parked for inspection.

The body has the delivery queue's shape, so `smsctl dlq replay` can move it back unchanged; replaying it
is harmless because its messages are already FAILED (terminal) and are skipped.
"""

from __future__ import annotations

from smscore.dal.sqs_queue import LazySqsSender
from smscore.domain.model import QueueBatch


class SqsDeadLetters(LazySqsSender):
    """The SQS client is created on the first dead letter: most invocations never need one."""

    def send(self, batch: QueueBatch, reason: str) -> None:
        self._send_batch(batch, MessageAttributes={"reason": {"DataType": "String", "StringValue": reason}})
