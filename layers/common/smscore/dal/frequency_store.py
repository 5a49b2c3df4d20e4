"""DynamoDB implementation of the marketing frequency counters (smscore.domain.frequency): the Frequency table, one
item per (tenant#number, ISO week), holding the week's total and each day's count.

Reads are BatchGetItem by key (100 a call, a few in parallel); writes are BatchWriteItem puts of the counts read
plus one (a small item: one write unit per message). Two campaigns of one tenant planned at the same instant may both
read the count before either writes it: each then sends, and the cap is exceeded by the overlap (stated in
docs/compliance-co.md).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any

from smscore.dal.tables import FrequencyRecord
from smscore.domain.frequency import Count, week_of

BATCH_GET_KEYS = 100
BATCH_WRITE = 25
UNPROCESSED_ATTEMPTS = 8


def _key(tenant_id: str, number: str) -> str:
    return f"{tenant_id}#{number}"


class DynamoFrequencyCounters:
    def __init__(self, workers: int = 8) -> None:
        self._workers = workers

    def counts(self, tenant_id: str, numbers: Sequence[str], day: date) -> dict[str, Count]:
        week = week_of(day)
        unique = sorted(set(numbers))
        chunks = [unique[i : i + BATCH_GET_KEYS] for i in range(0, len(unique), BATCH_GET_KEYS)]

        def read(chunk: Sequence[str]) -> dict[str, Count]:
            found = {}
            for item in FrequencyRecord.batch_get([(_key(tenant_id, n), week) for n in chunk]):
                days = {k: int(v) for k, v in (item.days.as_dict() if item.days else {}).items()}
                number = item.key.split("#", 1)[1]
                found[number] = Count(day=days.get(day.isoformat(), 0), week=int(item.total), days=days)
            return found

        result: dict[str, Count] = {}
        if not chunks:
            return result
        with ThreadPoolExecutor(max_workers=min(self._workers, len(chunks))) as pool:
            for part in pool.map(read, chunks):
                result.update(part)
        return result

    def record(self, tenant_id: str, counts: dict[str, Count], day: date, expires_at: datetime) -> None:
        week, today = week_of(day), day.isoformat()
        expires = str(int(expires_at.timestamp()))
        items = []
        for number, count in counts.items():
            days = {**count.days, today: count.day + 1}
            items.append(
                {
                    "key": {"S": _key(tenant_id, number)},
                    "week": {"S": week},
                    "total": {"N": str(count.week + 1)},
                    "days": {"M": {d: {"N": str(n)} for d, n in days.items()}},
                    "expires_at": {"N": expires},
                }
            )
        batches = [items[i : i + BATCH_WRITE] for i in range(0, len(items), BATCH_WRITE)]
        if not batches:
            return
        with ThreadPoolExecutor(max_workers=min(self._workers, len(batches))) as pool:
            list(pool.map(self._write, batches))

    @staticmethod
    def _write(items: list[dict[str, Any]]) -> None:
        connection = FrequencyRecord._get_connection()
        pending = items
        for attempt in range(UNPROCESSED_ATTEMPTS):
            response = connection.batch_write_item(put_items=pending)
            unprocessed = response.get("UnprocessedItems", {}).get(FrequencyRecord.Meta.table_name, [])
            if not unprocessed:
                return
            pending = [entry["PutRequest"]["Item"] for entry in unprocessed]
            time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))
        raise RuntimeError(f"{len(pending)} frequency counters stayed unprocessed (throttled)")
