"""SQS implementation of delivery's DeadLetters: exhausted messages are parked for inspection.

The body has the delivery queue's shape, so `smsctl dlq replay` can move it back unchanged; replaying it
is harmless because its messages are already FAILED (terminal) and are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smscore.dal.sqs_queue import encode_batch
from smscore.domain.model import QueueBatch

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsDeadLetters:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, batch: QueueBatch, reason: str) -> None:
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=encode_batch(batch),
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason}},
        )
