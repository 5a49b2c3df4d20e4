"""Releasing SCHEDULED messages when they are due: the sweep a scheduled function runs every minute.

SQS delays stop at 15 minutes, so a message that waits for its sendAt or its send window is persisted SCHEDULED
with its due time in a sparse, sharded index (smscore.dal.tables.MessageByDue) instead of being enqueued. Each
sweep queries the due ones (never a Scan), then for each campaign:

1. enqueues them while they are still SCHEDULED (and still in the index). A sweep that dies here leaves them
   in the index: the next sweep enqueues them again, and a duplicate record is harmless (delivery claims
   conditionally). A failed enqueue changes nothing: the next sweep retries.
2. releases them: SCHEDULED and due -> QUEUED, out of the index, conditionally (a message cancelled, claimed or
   rescheduled meanwhile is left alone). Delivery may get the record before this write: it claims a due
   SCHEDULED message directly (smscore.dal.message_store.claim), so the order never strands a message.

No money moves here: the messages were paid at accept.

Runs are fenced: a run first takes the scheduler's lease (`RunLease`, one conditional write, held longer than the
function's timeout) and a run that finds it held does nothing. Overlapping runs (a slow run still going when the
next one starts, or a retried invocation) would otherwise both read the same due entries before either released
them, and enqueue each message twice. Only a run that dies between its enqueue and its release leaves entries for
the next run to enqueue again (harmless: delivery claims conditionally).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
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
    def due(self, now: datetime, limit: int) -> list[DueMessage]:
        """SCHEDULED messages due at or before `now`, earliest first, at most `limit`."""
        ...

    def release_all(self, messages: Sequence[DueMessage], now: datetime) -> list[str]:
        """Each one SCHEDULED and due -> QUEUED (conditional); the ids released."""
        ...


class RunLease(Protocol):
    def acquire(self, owner: str, now: datetime, until: datetime) -> bool:
        """Hold the lease until `until` if nobody holds it at `now` (one conditional write); False otherwise."""
        ...

    def release(self, owner: str) -> None:
        """Give it back, if `owner` still holds it."""
        ...


@dataclass(frozen=True)
class SweepResult:
    due: int
    enqueued: int
    released: int
    not_enqueued: int  # left SCHEDULED for the next sweep
    fenced: bool = False  # another run held the lease: this one did nothing


class Scheduler:
    def __init__(
        self,
        store: SchedulerStore,
        queue: DeliveryQueue,
        recipients_per_queue_message: int,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: RunLease | None = None,
        lease_seconds: int = 180,
    ) -> None:
        self._store = store
        self._queue = queue
        self._per_queue_message = recipients_per_queue_message
        self._now = now
        self._lease = lease
        self._lease_seconds = lease_seconds

    def sweep(self, max_messages: int) -> SweepResult:
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
        due = self._store.due(now, max_messages)
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
        result = SweepResult(due=len(due), enqueued=len(enqueued), released=len(released), not_enqueued=len(failed))
        if due:
            log.info(
                "Scheduled messages released",
                extra={"due": result.due, "released": result.released, "not_enqueued": result.not_enqueued},
            )
        return result
