"""What reports read and the failure tally they count on (smscore.domain.reports)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from smscore.dal.dispatch_counts import with_shards
from smscore.dal.lazy_dynamodb import LazyDynamoTable
from smscore.dal.message_queries import dispatch_view
from smscore.dal.tables import DispatchRecord, LedgerRecord
from smscore.domain.model import LedgerKind
from smscore.domain.reports import LedgerMovement
from smscore.domain.views import DispatchView

TALLY_SHARDS = 8  # a campaign's failures spread over 8 items: no single item takes every failure of a campaign
CODE_PREFIX = "code:"


def _tally_key(queue_id: str, shard: int) -> str:
    return f"failures#{queue_id}#{shard}"


class DynamoFailureTally(LazyDynamoTable):
    """ADD on `code:<code>` of one of the campaign's tally items in the Webhooks table (the tenant's partition):
    one UpdateItem per failure, none per success."""

    def count(self, tenant_id: str, queue_id: str, message_id: str, code: str) -> None:
        shard = zlib.crc32(message_id.encode()) % TALLY_SHARDS
        self._dynamodb().update_item(
            TableName=self._table,
            Key={"tenant_id": {"S": tenant_id}, "item_key": {"S": _tally_key(queue_id, shard)}},
            UpdateExpression="ADD #code :one",
            ExpressionAttributeNames={"#code": CODE_PREFIX + code[:64]},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def codes(self, tenant_id: str, queue_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        keys = [
            {"tenant_id": {"S": tenant_id}, "item_key": {"S": _tally_key(q, shard)}}
            for q in dict.fromkeys(queue_ids)
            for shard in range(TALLY_SHARDS)
        ]
        found: dict[str, dict[str, int]] = {}
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {self._table: {"Keys": keys[start : start + 100]}}
            while pending:
                answer = self._dynamodb().batch_get_item(RequestItems=pending)
                for item in answer.get("Responses", {}).get(self._table, []):
                    queue_id = item["item_key"]["S"].split("#")[1]
                    codes = found.setdefault(queue_id, {})
                    for name, value in item.items():
                        if name.startswith(CODE_PREFIX):
                            code = name.removeprefix(CODE_PREFIX)
                            codes[code] = codes.get(code, 0) + int(value["N"])
                pending = answer.get("UnprocessedKeys") or {}
        return found


class DynamoUsageSource:
    def campaigns(self, tenant_id: str, start: datetime, end: datetime) -> list[DispatchView]:
        records = list(
            DispatchRecord.by_tenant_created.query(
                tenant_id, DispatchRecord.created_at.between(start, end), scan_index_forward=True
            )
        )
        records = [r for r in records if r.created_at < end]
        return [dispatch_view(r) for r in with_shards(records)] if records else []

    def ledger(self, tenant_id: str, start: datetime, end: datetime) -> list[LedgerMovement]:
        low, high = start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()  # entry ids begin so
        entries = LedgerRecord.query(tenant_id, LedgerRecord.entry_id.between(low, high))
        return [
            LedgerMovement(at=e.created_at, kind=LedgerKind(e.kind), amount=int(e.amount))
            for e in entries
            if start <= e.created_at < end and e.kind in LedgerKind._value2member_map_
        ]
