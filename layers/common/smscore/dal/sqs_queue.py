"""SQS implementation of the DeliveryQueue port: SendMessageBatch, ten entries a call, failed entries retried.

Every record carries MessageGroupId = its tenant, which makes the standard delivery queue an SQS fair queue: SQS
returns a quiet tenant's records ahead of a noisy tenant's backlog, so a 10-message campaign is not queued behind
another tenant's 1,000,000 (issue 20, item 7; docs/delivery.md, "Fairness between tenants"). The group orders
nothing on a standard queue and limits no concurrency; delays per message still apply.

`QueueBatchModel` is the one definition of a delivery-queue body (also the dead-letter and deferred queues'):
written here, read by the deliver function through Powertools' parser (smscore.dal.delivery_records).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from smscore.domain.backoff import Backoff
from smscore.domain.model import QueueBatch

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_BATCH_LIMIT = 10
# Entries SQS reports failed in a successful SendMessageBatch reply: botocore does not retry those.
SEND_BACKOFF = Backoff(base_seconds=0.1, cap_seconds=2.0)


class QueueBatchModel(BaseModel):
    """`{"tenantId", "queueId", "messageIds"}`: which messages of which campaign one queue message names; a record
    of messages waiting for their reserved send slots also has `"slots": {message id: epoch seconds}`."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_alias=True, validate_by_name=False, serialize_by_alias=True
    )

    tenant_id: str = Field(min_length=1)
    queue_id: str = Field(min_length=1)
    message_ids: list[str]
    slots: dict[str, float] | None = None

    def to_batch(self) -> QueueBatch:
        return QueueBatch(
            tenant_id=self.tenant_id,
            queue_id=self.queue_id,
            message_ids=list(self.message_ids),
            slots=dict(self.slots or {}),
        )


def encode_batch(batch: QueueBatch) -> str:
    # Built without validation: the batch comes from our own code, and the send path encodes thousands of them.
    body = QueueBatchModel.model_construct(
        tenant_id=batch.tenant_id, queue_id=batch.queue_id, message_ids=batch.message_ids, slots=batch.slots or None
    )
    return body.model_dump_json(exclude_none=True)


class LazySqsSender:
    """Sends single delivery-queue bodies to one queue; the SQS client is created on the first send, since most
    invocations never send one."""

    def __init__(self, region: str, queue_url: str, client: SQSClient | None = None) -> None:
        self._region = region
        self._queue_url = queue_url
        self._client = client

    def _sqs(self) -> SQSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs", region_name=self._region)
        return self._client

    def _send_batch(self, batch: QueueBatch, **options: Any) -> None:
        """One SendMessage of `batch` as the delivery queue's body, with SendMessage's other `options`."""
        options.setdefault("MessageGroupId", batch.tenant_id)  # its tenant's fair-queue group (SqsDeliveryQueue)
        self._sqs().send_message(QueueUrl=self._queue_url, MessageBody=encode_batch(batch), **options)


class SqsDeliveryQueue:
    def __init__(self, client: SQSClient, queue_url: str, attempts: int = 4, workers: int = 8) -> None:
        self._client = client
        self._queue_url = queue_url
        self._attempts = attempts
        self._workers = workers

    def _send_group(self, group: Sequence[QueueBatch]) -> list[QueueBatch]:
        pending = {str(i): batch for i, batch in enumerate(group)}
        for _attempt in SEND_BACKOFF.attempts(self._attempts):
            try:
                response = self._client.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {"Id": key, "MessageBody": encode_batch(batch), "MessageGroupId": batch.tenant_id}
                        for key, batch in pending.items()
                    ],
                )
            except (ClientError, BotoCoreError):
                continue
            failed_ids = {entry["Id"] for entry in response.get("Failed", [])}
            pending = {key: batch for key, batch in pending.items() if key in failed_ids}
            if not pending:
                return []
        return list(pending.values())

    def enqueue(self, batches: Sequence[QueueBatch]) -> list[QueueBatch]:
        groups = [batches[i : i + SQS_BATCH_LIMIT] for i in range(0, len(batches), SQS_BATCH_LIMIT)]
        if len(groups) <= 1:
            return [b for group in groups for b in self._send_group(group)]
        with ThreadPoolExecutor(max_workers=min(self._workers, len(groups))) as pool:
            return [b for failed in pool.map(self._send_group, groups) for b in failed]
