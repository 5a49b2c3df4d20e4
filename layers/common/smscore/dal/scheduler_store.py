"""The scheduler's reads and writes: the sparse, sharded due index of SCHEDULED messages, and their release."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.tables import MessageRecord, due_shard_keys
from smscore.domain.scheduler import DueMessage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoSchedulerStore:
    def __init__(self, messages: DynamoMessageStore, workers: int = 16) -> None:
        self._messages = messages
        self._workers = workers

    def due(self, now: datetime, limit: int) -> list[DueMessage]:
        """One Query per shard (`due_at <= now`, oldest first, at most `limit` each), merged by due time."""

        def shard(key: str) -> list[tuple[datetime, DueMessage]]:
            return [
                (record.due_at, DueMessage(record.message_id, record.tenant_id, record.queue_id))
                for record in MessageRecord.by_due.query(key, MessageRecord.due_at <= now, limit=limit)
            ]

        keys = due_shard_keys()
        with ThreadPoolExecutor(max_workers=min(self._workers, len(keys))) as pool:
            shards = list(pool.map(shard, keys))
        merged = heapq.merge(*shards, key=lambda pair: pair[0])
        return [message for _, message in islice(merged, limit)]

    def release_all(self, messages: Sequence[DueMessage], now: datetime) -> list[str]:
        def release(message: DueMessage) -> str | None:
            applied = self._messages.release(message.message_id, message.tenant_id, message.queue_id, now)
            return message.message_id if applied else None

        if not messages:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(self._workers, len(messages)))) as pool:
            return [mid for mid in pool.map(release, messages) if mid is not None]


class DynamoRunLease:
    """The scheduler's run lease: one item of the Senders table (the table of fleet-wide coordination items),
    `lease#scheduler`, holding its owner and `lease_until` (epoch seconds)."""

    KEY = "lease#scheduler"

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def acquire(self, owner: str, now: datetime, until: datetime) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"sender": {"S": self.KEY}},
                UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":until": {"N": f"{until.timestamp():.3f}"},
                    ":now": {"N": f"{now.timestamp():.3f}"},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, owner: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"sender": {"S": self.KEY}},
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # Someone took it over after our lease ran out: theirs now.
