"""Releasing SCHEDULED messages when they are due: the sweep a scheduled function runs every minute.

SQS delays stop at 15 minutes, so a message that waits for its sendAt or its send window is persisted SCHEDULED
with its due time in a sparse index (smscore.dal.tables.MessageByDue) instead of being enqueued. Its key there is
"due#<bucket>#<tenant>#<shard>": the minute it is due in, its tenant and one of DUE_SHARDS shards; a small bucket
index (DueBucketRecord) says which tenants have due work in which minute (issue 20, item 6).

Each run (every minute) is a coordinator: it lists the keys holding due messages (the bucket index up to now,
then one single-item Query per key; never a Scan) and hands each key to a release worker as one task on the
release queue, so the keys of one 07:00 opening drain in parallel, each by its own invocation. A worker reads its
key once, page by page (due_at <= now), and for each page:

1. enqueues the page's messages while they are still SCHEDULED (and still in the index). A worker that dies here
   leaves them in the index: the next run enqueues them again, and a duplicate record is harmless (delivery
   claims conditionally). A failed enqueue changes nothing: the next run retries.
2. releases them: SCHEDULED and due -> QUEUED, out of the index, conditionally (a message cancelled, claimed or
   rescheduled meanwhile is left alone). Delivery may get the record before this write: it claims a due
   SCHEDULED message directly (smscore.dal.message_store.claim), so the order never strands a message.

No money moves here: the messages were paid at accept.

Runs are fenced twice. A run first takes the scheduler's lease (`RunLease`, one conditional write, held longer than
the function's timeout) and a run that finds it held does nothing; each key's worker takes that key's own lease,
so a task delivered twice, or a key handed out again by the next run while its worker still releases it, is
fenced too. Overlapping readers of one key would otherwise both read the same due entries before either released
them, and enqueue each message twice. A key's lease is kept a few seconds after its worker ends
(KEY_SETTLE_SECONDS), longer than the index takes to drop what it released.

Without a release queue (unit tests, a stack without one) the run releases every key itself, in turn.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from smscore.domain.model import QueueBatch
from smscore.domain.ports import DeliveryQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueMessage:
    message_id: str
    tenant_id: str
    queue_id: str


class SchedulerStore(Protocol):
    def due_keys(self, now: datetime) -> list[str]:
        """The index keys holding messages due at or before `now` (the bucket index's buckets up to now, then one
        single-item Query per key); drops from the bucket index the buckets it found drained."""
        ...

    def due_pages(self, key: str, now: datetime, page_size: int) -> Iterator[list[DueMessage]]:
        """One read of `key`: its messages due at or before `now`, earliest first, a page at a time."""
        ...

    def release_all(self, messages: Sequence[DueMessage], now: datetime) -> list[str]:
        """Each one SCHEDULED and due -> QUEUED (conditional); the ids released."""
        ...


class RunLease(Protocol):
    def acquire(self, owner: str, now: datetime, until: datetime) -> bool:
        """Hold the lease until `until` if nobody holds it at `now` (one conditional write); False otherwise."""
        ...

    def release(self, owner: str, keep_until: datetime | None = None) -> None:
        """Give it back, if `owner` still holds it (or, with `keep_until`, shorten it to then)."""
        ...


class ReleaseTasks(Protocol):
    def dispatch(self, keys: Sequence[str]) -> list[str]:
        """One release task per key on the release queue; the keys that could not be queued."""
        ...


KEY_SETTLE_SECONDS = 5  # a key's lease outlives its worker by this: the index has dropped what it released


@dataclass(frozen=True)
class SweepResult:
    due: int
    enqueued: int
    released: int
    not_enqueued: int  # left SCHEDULED for the next sweep
    fenced: bool = False  # another run held the lease: this one did nothing
    dispatched: int = 0  # keys handed to release workers (a run with a release queue)


class Scheduler:
    def __init__(
        self,
        store: SchedulerStore,
        queue: DeliveryQueue,
        recipients_per_queue_message: int,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: RunLease | None = None,
        lease_seconds: int = 180,
        tasks: ReleaseTasks | None = None,
        key_lease: Callable[[str], RunLease] | None = None,
        page_size: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._queue = queue
        self._per_queue_message = recipients_per_queue_message
        self._now = now
        self._lease = lease
        self._lease_seconds = lease_seconds
        self._tasks = tasks
        self._key_lease = key_lease
        self._page_size = page_size
        self._clock = clock

    def sweep(self, max_messages: int) -> SweepResult:
        """The scheduled run: hand every key with due work to a worker (or, without a release queue, release it)."""
        now = self._now()
        if self._lease is None:
            return self._sweep(now, max_messages)
        owner = str(uuid.uuid4())
        if not self._lease.acquire(owner, now, now + timedelta(seconds=self._lease_seconds)):
            log.info("Scheduler run fenced: another run holds the lease")
            return SweepResult(due=0, enqueued=0, released=0, not_enqueued=0, fenced=True)
        try:
            return self._sweep(now, max_messages)
        finally:
            self._lease.release(owner)

    def _sweep(self, now: datetime, max_messages: int) -> SweepResult:
        keys = self._store.due_keys(now)
        if self._tasks is not None:
            not_queued = self._tasks.dispatch(keys) if keys else []
            if keys:
                log.info("Due keys handed to release workers", extra={"keys": len(keys), "not_queued": len(not_queued)})
            return SweepResult(due=0, enqueued=0, released=0, not_enqueued=0, dispatched=len(keys) - len(not_queued))
        total = SweepResult(due=0, enqueued=0, released=0, not_enqueued=0)
        for key in keys:
            left = max_messages - total.due
            if left <= 0:
                break
            total = _add(total, self._release_key(key, now, left, deadline=None))
        return total

    def release(self, key: str, max_messages: int, seconds: float | None = None) -> SweepResult:
        """A release worker's task: one key's due messages, at most `max_messages` and `seconds` (the rest: the
        next run), fenced by the key's own lease."""
        now = self._now()
        deadline = None if seconds is None else self._clock() + seconds
        if self._key_lease is None:
            return self._release_key(key, now, max_messages, deadline)
        lease = self._key_lease(key)
        owner = str(uuid.uuid4())
        if not lease.acquire(owner, now, now + timedelta(seconds=self._lease_seconds)):
            log.info("Release of a due key fenced: another worker holds it")
            return SweepResult(due=0, enqueued=0, released=0, not_enqueued=0, fenced=True)
        try:
            return self._release_key(key, now, max_messages, deadline)
        finally:
            lease.release(owner, keep_until=self._now() + timedelta(seconds=KEY_SETTLE_SECONDS))

    def _release_key(self, key: str, now: datetime, max_messages: int, deadline: float | None) -> SweepResult:
        total = SweepResult(due=0, enqueued=0, released=0, not_enqueued=0)
        for page in self._store.due_pages(key, now, min(self._page_size, max_messages)):
            page = page[: max_messages - total.due]
            total = _add(total, self._release_page(page, now))
            if total.not_enqueued or total.due >= max_messages:
                break  # the queue refuses (the next run retries), or this run's share is done
            if deadline is not None and self._clock() >= deadline:
                break
        if total.due:
            log.info(
                "Scheduled messages released",
                extra={"due": total.due, "released": total.released, "not_enqueued": total.not_enqueued},
            )
        return total

    def _release_page(self, due: list[DueMessage], now: datetime) -> SweepResult:
        by_campaign: dict[tuple[str, str], list[DueMessage]] = {}
        for message in due:
            by_campaign.setdefault((message.tenant_id, message.queue_id), []).append(message)
        batches = [
            QueueBatch(tenant_id, queue_id, [m.message_id for m in messages[i : i + self._per_queue_message]])
            for (tenant_id, queue_id), messages in by_campaign.items()
            for i in range(0, len(messages), self._per_queue_message)
        ]
        failed = {mid for batch in (self._queue.enqueue(batches) if batches else []) for mid in batch.message_ids}
        enqueued = [m for m in due if m.message_id not in failed]
        released = self._store.release_all(enqueued, now) if enqueued else []
        return SweepResult(due=len(due), enqueued=len(enqueued), released=len(released), not_enqueued=len(failed))


def _add(a: SweepResult, b: SweepResult) -> SweepResult:
    return SweepResult(
        due=a.due + b.due,
        enqueued=a.enqueued + b.enqueued,
        released=a.released + b.released,
        not_enqueued=a.not_enqueued + b.not_enqueued,
    )
