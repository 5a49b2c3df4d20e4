"""The scheduler's reads and writes: the sparse, sharded due index of SCHEDULED messages, and their release."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import islice

from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.tables import MessageRecord, due_shard_keys
from smscore.domain.scheduler import DueMessage


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
