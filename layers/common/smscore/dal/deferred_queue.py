"""SQS implementation of delivery's DeferredDelivery: waiting messages go back to the delivery queue with a delay.

A new message (not a visibility change of the received one) so that waiting never adds to the record's
receive count, which would otherwise carry a patient message to the dead-letter queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smscore.dal.sqs_queue import encode_batch
from smscore.domain.model import QueueBatch

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_DELAY_SECONDS = 900


class SqsDeferredDelivery:
    """The SQS client is created on the first deferral: most invocations never wait."""

    def __init__(self, region: str, queue_url: str, client: SQSClient | None = None) -> None:
        self._region = region
        self._queue_url = queue_url
        self._client = client

    def _sqs(self) -> SQSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs", region_name=self._region)
        return self._client

    def send_later(self, batch: QueueBatch, delay_seconds: int) -> None:
        self._sqs().send_message(
            QueueUrl=self._queue_url,
            MessageBody=encode_batch(batch),
            DelaySeconds=max(0, min(MAX_DELAY_SECONDS, delay_seconds)),
        )
