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
    """The SQS client is created on the first dead letter: most invocations never need one."""

    def __init__(self, region: str, queue_url: str, client: SQSClient | None = None) -> None:
        self._region = region
        self._queue_url = queue_url
        self._client = client

    def _sqs(self) -> SQSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs", region_name=self._region)
        return self._client

    def send(self, batch: QueueBatch, reason: str) -> None:
        self._sqs().send_message(
            QueueUrl=self._queue_url,
            MessageBody=encode_batch(batch),
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason}},
        )
