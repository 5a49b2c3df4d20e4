"""A campaign's status counters: the Dispatch item's own counts plus its COUNTER_SHARDS counter items.

Writers (delivery, receipts) ADD to the counter shard of the message they move, so no single item takes every
status change of a campaign (README, "Capacity"). Readers add the shards to the Dispatch item: one
BatchGetItem of every shard per page of campaigns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from smscore.dal.tables import COUNTER_SHARDS, DispatchCounterRecord, DispatchRecord

COUNTED_ATTRIBUTES = (
    "count_scheduled",
    "count_queued",
    "count_sending",
    "count_sent",
    "count_delivered",
    "count_undelivered",
    "count_failed",
    "count_cancelled",
    "credits_refunded",
    "count_clicked",
)


def add_to_shard(queue_id: str, message_id: str, deltas: dict[str, int]) -> None:
    """One atomic ADD on the message's counter shard (created by the first ADD)."""
    actions: list[Any] = [getattr(DispatchCounterRecord, name).add(delta) for name, delta in deltas.items() if delta]
    if actions:
        key = DispatchCounterRecord.key_for(queue_id, DispatchCounterRecord.shard_of(message_id))
        DispatchCounterRecord(key).update(actions=actions)


def shard_totals(queue_ids: Iterable[str], consistent_read: bool = True) -> dict[str, dict[str, int]]:
    """Each campaign's counter shards added up, by queue id (campaigns with no shard yet: absent)."""
    owners = {
        DispatchCounterRecord.key_for(queue_id, shard): queue_id
        for queue_id in queue_ids
        for shard in range(COUNTER_SHARDS)
    }
    totals: dict[str, dict[str, int]] = {}
    if not owners:
        return totals
    for shard in DispatchCounterRecord.batch_get(list(owners), consistent_read=consistent_read):
        total = totals.setdefault(owners[shard.queue_id], dict.fromkeys(COUNTED_ATTRIBUTES, 0))
        for name in COUNTED_ATTRIBUTES:
            total[name] += int(getattr(shard, name) or 0)
    return totals


def with_shards(records: Sequence[DispatchRecord], consistent_read: bool = True) -> list[DispatchRecord]:
    """The Dispatch records with their counter shards added to their counts (in place, and returned)."""
    totals = shard_totals([r.queue_id for r in records], consistent_read=consistent_read)
    for record in records:
        for name, delta in totals.get(record.queue_id, {}).items():
            setattr(record, name, int(getattr(record, name) or 0) + delta)
    return list(records)


def load_dispatch(queue_id: str) -> DispatchRecord | None:
    """A campaign with its complete counts (consistent reads), or None."""
    try:
        record = DispatchRecord.get(queue_id, consistent_read=True)
    except DispatchRecord.DoesNotExist:
        return None
    return with_shards([record])[0]
