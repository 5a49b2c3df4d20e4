"""DynamoDB implementation of the RNE exclusion list (smscore.domain.exclusions): the Exclusions table, one item per
(number, snapshot), and the current snapshot's pointer in the Settings table (`setting = "exclusions"`).

The pointer is one item: publishing a snapshot is one PutItem, so every send sees either the old snapshot or the new
one. Reads are by key (BatchGetItem, 100 keys a call, a few calls in parallel for a large audience); a load writes
with BatchWriteItem from several threads, retrying what DynamoDB leaves unprocessed.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

from smscore.dal.raw_reads import batch_get_items
from smscore.dal.tables import ExclusionRecord, SettingRecord
from smscore.domain.exclusions import WRITE_BATCH, ExclusionSnapshot

POINTER = "exclusions"
BATCH_GET_KEYS = 100
UNPROCESSED_ATTEMPTS = 8


def _chunks[T](items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def snapshot_json(snapshot: ExclusionSnapshot) -> str:
    return json.dumps(
        {
            "snapshotId": snapshot.snapshot_id,
            "snapshotDate": snapshot.snapshot_date.isoformat(),
            "count": snapshot.count,
            "loadedAt": snapshot.loaded_at.astimezone(UTC).isoformat(),
        }
    )


def parse_snapshot(value: str) -> ExclusionSnapshot:
    raw: dict[str, Any] = json.loads(value)
    return ExclusionSnapshot(
        snapshot_id=str(raw["snapshotId"]),
        snapshot_date=date.fromisoformat(raw["snapshotDate"]),
        count=int(raw["count"]),
        loaded_at=datetime.fromisoformat(raw["loadedAt"]),
    )


class DynamoExclusionList:
    """ExclusionList and ExclusionWriter on DynamoDB."""

    def __init__(self, workers: int = 8) -> None:
        self._workers = workers

    def current(self) -> ExclusionSnapshot | None:
        try:
            record = SettingRecord.get(POINTER, consistent_read=True)
        except SettingRecord.DoesNotExist:
            return None
        return parse_snapshot(record.value)

    def listed(self, snapshot: ExclusionSnapshot, numbers: Sequence[str]) -> set[str]:
        unique = sorted(set(numbers))
        if not unique:
            return set()

        def read(chunk: Sequence[str]) -> set[str]:
            keys = [{"number": {"S": number}, "snapshot": {"S": snapshot.snapshot_id}} for number in chunk]
            return {item["number"]["S"] for item in batch_get_items(ExclusionRecord, keys, ["number"])}

        chunks = _chunks(unique, BATCH_GET_KEYS)
        if len(chunks) == 1:
            return read(chunks[0])
        found: set[str] = set()
        with ThreadPoolExecutor(max_workers=min(self._workers, len(chunks))) as pool:
            for part in pool.map(read, chunks):
                found |= part
        return found

    def write_numbers(self, snapshot_id: str, numbers: Sequence[str], expires_at: datetime) -> None:
        expires = int(expires_at.timestamp())
        batches = [
            [
                {"number": {"S": number}, "snapshot": {"S": snapshot_id}, "expires_at": {"N": str(expires)}}
                for number in chunk
            ]
            for chunk in _chunks(numbers, WRITE_BATCH)
        ]
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            list(pool.map(self._write_batch, batches))  # re-raises the first failure

    @staticmethod
    def _write_batch(items: list[dict[str, Any]]) -> None:
        connection = ExclusionRecord._get_connection()
        pending = items
        for attempt in range(UNPROCESSED_ATTEMPTS):
            response = connection.batch_write_item(put_items=pending)
            unprocessed = response.get("UnprocessedItems", {}).get(ExclusionRecord.Meta.table_name, [])
            if not unprocessed:
                return
            pending = [entry["PutRequest"]["Item"] for entry in unprocessed]
            time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))
        raise RuntimeError(f"{len(pending)} exclusion items stayed unprocessed (throttled)")

    def publish(self, snapshot: ExclusionSnapshot) -> None:
        SettingRecord(POINTER, value=snapshot_json(snapshot), updated_at=snapshot.loaded_at).save()
