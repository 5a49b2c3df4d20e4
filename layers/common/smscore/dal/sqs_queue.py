"""SQS implementation of the DeliveryQueue port: SendMessageBatch, ten entries a call, failed entries retried."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from smscore.domain.model import QueueBatch

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_BATCH_LIMIT = 10


def encode_batch(batch: QueueBatch) -> str:
    return json.dumps({"tenantId": batch.tenant_id, "queueId": batch.queue_id, "messageIds": batch.message_ids})


def decode_batch(body: str) -> QueueBatch:
    data: dict[str, Any] = json.loads(body)
    return QueueBatch(tenant_id=data["tenantId"], queue_id=data["queueId"], message_ids=list(data["messageIds"]))


class SqsDeliveryQueue:
    def __init__(self, client: SQSClient, queue_url: str, attempts: int = 4, workers: int = 8) -> None:
        self._client = client
        self._queue_url = queue_url
        self._attempts = attempts
        self._workers = workers

    def _send_group(self, group: Sequence[QueueBatch]) -> list[QueueBatch]:
        pending = {str(i): batch for i, batch in enumerate(group)}
        for attempt in range(self._attempts):
            if attempt:
                time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))
            try:
                response = self._client.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[{"Id": key, "MessageBody": encode_batch(batch)} for key, batch in pending.items()],
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
