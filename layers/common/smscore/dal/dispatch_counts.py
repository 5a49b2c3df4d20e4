"""A campaign's status counters: the Dispatch item's own counts plus its COUNTER_SHARDS counter items.

Writers (delivery, receipts) ADD to the counter shard of the message they move, so no single item takes every
status change of a campaign (README, "Capacity"). Readers add the shards to the Dispatch item: one
BatchGetItem of every shard per page of campaigns.

The deliver and receipts consumers move hundreds of messages per invocation: inside `batched()` their moves are
added up in memory and written as one ADD per campaign when the block ends (on a shard picked at random, so
concurrent invocations still spread over the campaign's shards). That is one counter write per campaign and
invocation instead of one per status change (issue 20, item 9: about 3 write units per delivered message less).
The price: a process killed inside the block (a Lambda timeout) leaves that invocation's moves uncounted, as a
crash between a message write and its ADD always left one move uncounted; statuses, balances and the ledger stay
exact regardless, and the block flushes on any exception.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
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


log = logging.getLogger(__name__)


class _Pending:
    """The moves added up inside `batched()` blocks (process-wide: a Lambda runs one invocation at a time, and
    the deliver function's worker threads must add to the same buffer)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.deltas: dict[str, Counter[str]] = {}


_pending = _Pending()


def add_to_shard(queue_id: str, message_id: str, deltas: dict[str, int]) -> None:
    """One atomic ADD on the message's counter shard (created by the first ADD), or, inside `batched()`, the deltas
    kept for the block's one write per campaign."""
    with _pending.lock:
        if _pending.depth:
            _pending.deltas.setdefault(queue_id, Counter()).update(deltas)
            return
    _write(queue_id, DispatchCounterRecord.shard_of(message_id), deltas)


def _write(queue_id: str, shard: int, deltas: dict[str, int]) -> None:
    actions: list[Any] = [getattr(DispatchCounterRecord, name).add(delta) for name, delta in deltas.items() if delta]
    if actions:
        DispatchCounterRecord(DispatchCounterRecord.key_for(queue_id, shard)).update(actions=actions)


@contextmanager
def batched() -> Iterator[None]:
    """Counter moves inside the block are written when it ends: one ADD per campaign (see the module docstring)."""
    with _pending.lock:
        _pending.depth += 1
    try:
        yield
    finally:
        with _pending.lock:
            _pending.depth -= 1
            due = _pending.deltas if not _pending.depth else {}
            if not _pending.depth:
                _pending.deltas = {}
        flush(due)


def flush(due: dict[str, Counter[str]]) -> None:
    from pynamodb.exceptions import UpdateError

    for queue_id, deltas in due.items():
        try:
            _write(queue_id, random.randrange(COUNTER_SHARDS), dict(deltas))  # spreading, not secrecy
        except UpdateError:
            # The status writes stand; only the campaign's counts are now short by these moves.
            log.exception("dispatch counters not updated", extra={"queue_id": queue_id, "deltas": dict(deltas)})


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
