"""The fan-out workers: each takes one chunk of a large campaign's plan (smscore.domain.plan), writes its message
items and enqueues them for delivery. The send request only plans, debits and hands the chunks over.

A chunk moves PLANNED -> WRITTEN -> ENQUEUED, each step by whoever holds its lease:

1. claim: one transaction, conditional on the campaign's fan-out still being PENDING with a deadline later than
   the lease's end, and on the chunk not being ENQUEUED nor leased to a live worker. The lease outlives the
   worker's Timeout, so a worker that holds one is dead (killed at its Timeout) before anyone else may take the
   chunk, and before the campaign's deadline, after which only the reconciler touches it;
2. PLANNED: write the chunk's message items (unconditional puts: nothing of this chunk is enqueued yet, so no
   delivery can have claimed one) and its recipients' marketing frequency counts (puts of the counts the request
   read plus one, with a TTL: written again unchanged by a retry), then mark it WRITTEN;
3. enqueue its QUEUED messages (SCHEDULED ones are the scheduler's, released when due); a copy enqueued twice
   (a retried chunk) is harmless, since delivery claims each message conditionally;
4. mark it ENQUEUED and count it on the campaign, in one transaction; the worker that counts the last chunk
   closes the fan-out COMPLETE (nothing refunded).

A worker that dies anywhere leaves the chunk to the queue's next delivery of its task (after the lease) or, past
the campaign's deadline, to the reconciler (smscore.domain.reconciler), which enqueues what was written and
refunds the rest.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from smscore.domain.frequency import COUNTER_LIFETIME, FrequencyCounters
from smscore.domain.model import MessageStatus, OutgoingMessage, QueueBatch
from smscore.domain.plan import ChunkState, PlanChunk
from smscore.domain.ports import DeliveryQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkTask:
    """What one fan-out queue message asks: fan out this chunk of this campaign's plan."""

    tenant_id: str
    queue_id: str
    prefix: str
    chunk: int


@dataclass(frozen=True)
class FanoutProgress:
    """A campaign's fan-out after a chunk was counted."""

    chunks_done: int
    chunks: int
    total_messages: int

    @property
    def complete(self) -> bool:
        return self.chunks_done >= self.chunks


class FanoutStore(Protocol):
    def claim_chunk(self, task: ChunkTask, owner: str, now: datetime, lease_until: datetime) -> PlanChunk | None:
        """The chunk, leased to `owner` until `lease_until`; None when it is ENQUEUED, leased to someone else, or
        its campaign's fan-out is no longer PENDING or ends before the lease would."""
        ...

    def save_messages(self, messages: Sequence[OutgoingMessage]) -> None:
        """Put the message items (BatchWriteItem)."""
        ...

    def mark_written(self, task: ChunkTask, owner: str) -> None:
        """PLANNED -> WRITTEN, conditional on `owner` still holding the lease."""
        ...

    def mark_enqueued(self, task: ChunkTask, owner: str) -> FanoutProgress | None:
        """-> ENQUEUED and one more chunk counted on the campaign, in one transaction conditional on the lease; the
        progress after it (None when the lease was lost: nothing changed)."""
        ...

    def close_fanout(
        self,
        queue_id: str,
        tenant_id: str,
        *,
        enqueued: int,
        refunded_messages: int,
        refund_credits: int,
        refunded_scheduled: int = 0,
    ) -> bool: ...


class ChunkTasks(Protocol):
    """The fan-out queue."""

    def submit(self, tasks: Sequence[ChunkTask]) -> list[ChunkTask]:
        """Send the tasks; the ones the queue did not take."""
        ...


class ChunkOutcome(StrEnum):
    DONE = "DONE"  # enqueued now
    SKIPPED = "SKIPPED"  # already enqueued, leased to a live worker, or the campaign is the reconciler's


class FanoutWorker:
    def __init__(
        self,
        store: FanoutStore,
        queue: DeliveryQueue,
        recipients_per_queue_message: int,
        lease_seconds: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_owner: Callable[[], str] = lambda: str(uuid.uuid4()),
        counters: FrequencyCounters | None = None,
    ) -> None:
        self._counters = counters
        self._store = store
        self._queue = queue
        self._per_queue_message = recipients_per_queue_message
        self._lease = timedelta(seconds=lease_seconds)
        self._now = now
        self._new_owner = new_owner

    def run(self, task: ChunkTask) -> ChunkOutcome:
        """Fan out one chunk. Raises when a step fails: the task is then retried by the queue."""
        owner, now = self._new_owner(), self._now()
        chunk = self._store.claim_chunk(task, owner, now, now + self._lease)
        if chunk is None:
            log.info("Chunk not claimable", extra={"queue_id": task.queue_id, "chunk": task.chunk})
            return ChunkOutcome.SKIPPED
        if chunk.state is ChunkState.PLANNED:
            self._store.save_messages(chunk.messages)
            self._count(task, chunk)
            self._store.mark_written(task, owner)
        queued = [m.message_id for m in chunk.messages if m.status is MessageStatus.QUEUED]
        batches = [
            QueueBatch(task.tenant_id, task.queue_id, queued[i : i + self._per_queue_message])
            for i in range(0, len(queued), self._per_queue_message)
        ]
        failed = self._queue.enqueue(batches) if batches else []
        if failed:
            raise ChunkNotEnqueued(f"{len(failed)} delivery batches of chunk {task.chunk} not taken by the queue")
        progress = self._store.mark_enqueued(task, owner)
        if progress is None:
            log.warning("Chunk lease lost before it was counted", extra={"queue_id": task.queue_id})
            return ChunkOutcome.SKIPPED
        if progress.complete:
            closed = self._store.close_fanout(
                task.queue_id, task.tenant_id, enqueued=progress.total_messages, refunded_messages=0, refund_credits=0
            )
            log.info("Fan-out complete" if closed else "Fan-out already closed", extra={"queue_id": task.queue_id})
        return ChunkOutcome.DONE

    def _count(self, task: ChunkTask, chunk: PlanChunk) -> None:
        """The chunk's marketing frequency counts, plus one, with their TTL (one small put per recipient: 1 write
        unit). Written before the chunk is WRITTEN, so a worker that dies after them writes the same values again."""
        if chunk.frequency is None or not chunk.messages:
            return
        if self._counters is None:
            raise ChunkNotEnqueued(f"chunk {task.chunk} carries frequency counts and no counters are wired")
        expires_at = chunk.messages[0].created_at + COUNTER_LIFETIME
        self._counters.record(task.tenant_id, chunk.frequency.counts, chunk.frequency.day, expires_at)


class ChunkNotEnqueued(Exception):
    """The delivery queue kept refusing some of a chunk's batches: the task is retried."""
