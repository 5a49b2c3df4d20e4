"""Finishing the fan-outs that their sending invocation never closed: no paid message is ever stranded.

A campaign's fan-out is PENDING from its debit until the sending invocation closes it (smscore.domain.campaign).
An invocation that was killed (Lambda Timeout, out of memory), crashed, or whose closing write kept failing
leaves it open. Past the campaign's deadline (the sender's hard stop plus a grace: the sender is dead by then),
a scheduled reconciler run:

1. finds it in the sparse `by_fanout_due` index (a Query, never a Scan);
2. claims it with one conditional write (`PENDING`, or `RECONCILING` whose lease ran out -> `RECONCILING`, owner =
   this run, deadline = now + lease). Only one run holds a campaign; the sender's own close is conditional on
   `PENDING`, so it can no longer close (or refund) what the reconciler claimed;
3. reads every paid message by key, strongly consistent (the ids derive from the queue id and the position,
   `message_id_for`, up to the dispatch's `total_messages`), and sorts them:
   - `QUEUED`, never claimed by delivery: enqueued (a copy already on the queue is harmless: delivery claims a
     message conditionally, so it is sent once); one that cannot be enqueued is moved to `FAILED` conditionally;
   - `FAILED` and never claimed by delivery: the sender marked it but did not get to refund it;
   - not found: paid and never persisted;
   - anything else is in delivery's hands (delivery refunds its own failures), or the scheduler's: a SCHEDULED
     message waits for its sendAt or send window, is never enqueued nor refunded here, and is released when due
     (smscore.domain.scheduler);
4. settles in one transaction, conditional on still owning the claim: refund (credits + REFUND ledger entry) of
   everything not enqueued, the counts, `RECONCILED`, out of the index.

A planned campaign (smscore.domain.plan: its messages are written by the fan-out workers) is settled the same way,
chunk by chunk: an ENQUEUED chunk's messages are in delivery's hands; the messages of any other chunk are read by
key and sorted as above, and those never written get a FAILED item from the plan (so reading them no longer shows
the plan's QUEUED) before they are refunded. No worker can still be writing: a worker claims a chunk only while
the campaign is PENDING with a deadline beyond its lease, which outlives the worker's Timeout.

A campaign accepted above MaxSyncRecipients and still PLANNING past its deadline (its planners died or the
planning task was lost; smscore.domain.planning) was never debited: it ends FAILED with PLANNING_NOT_FINISHED.
One its planner debited is PENDING, a planned campaign like any other.

A run that dies midway leaves the claim to expire; the next run redoes steps 3-4, and the conditional settle
makes the refund happen exactly once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from smscore.domain.campaign import NOT_ENQUEUED, DispatchState, message_id_for
from smscore.domain.model import MessageStatus, OutgoingMessage, QueueBatch
from smscore.domain.plan import ChunkState, PlanChunk
from smscore.domain.ports import DeliveryQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaidMessage:
    """What the reconciler needs of a persisted message."""

    message_id: str
    status: MessageStatus
    attempts: int  # 0: delivery never claimed it
    credits: int | None = None  # what it was charged (merge fields make messages differ); None: the dispatch's rate

    @property
    def never_delivered(self) -> bool:
        return self.attempts == 0


class ReconcilerStore(Protocol):
    def due(self, now: datetime, limit: int) -> list[str]:
        """Queue ids of open fan-outs whose deadline is at or before `now` (oldest first, at most `limit`)."""
        ...

    def claim(self, queue_id: str, owner: str, now: datetime, lease_until: datetime) -> DispatchState | None:
        """Open fan-out past its deadline -> RECONCILING by `owner` until `lease_until`; None if not claimable."""
        ...

    def paid_messages(self, message_ids: Sequence[str]) -> dict[str, PaidMessage]:
        """The messages that exist among `message_ids`, read strongly consistent."""
        ...

    def fail_if_queued(self, tenant_id: str, message_ids: Sequence[str], reason: str) -> set[str]:
        """QUEUED (never claimed) -> FAILED, each conditionally; the ids that moved."""
        ...

    def plan_chunks(self, prefix: str, count: int) -> list[PlanChunk]:
        """A planned campaign's chunks, read strongly consistent."""
        ...

    def record_failed(self, messages: Sequence[OutgoingMessage], reason: str) -> None:
        """FAILED items for planned messages that were never written."""
        ...

    def settle(
        self, dispatch: DispatchState, owner: str, *, enqueued: int, refunded_messages: int, refund_credits: int
    ) -> bool:
        """RECONCILING by `owner` -> RECONCILED with the counts, refunding `refund_credits` with a ledger entry, in
        one transaction; False, changing nothing, when `owner` no longer holds the claim."""
        ...


class PlanningReaper(Protocol):
    def abandon(self, queue_id: str, now: datetime) -> bool:
        """A campaign still PLANNING (smscore.domain.planning) past its deadline -> FAILED; False for any other."""
        ...


@dataclass(frozen=True)
class Reconciled:
    """What one campaign's reconciliation did."""

    queue_id: str
    enqueued: int  # messages in delivery's hands after it (already there or enqueued now)
    reenqueued: int  # of which enqueued by this run
    refunded_messages: int
    refunded_credits: int
    settled: bool  # False: the claim was lost to another run before settling (it settles instead)


class Reconciler:
    def __init__(
        self,
        store: ReconcilerStore,
        queue: DeliveryQueue,
        recipients_per_queue_message: int,
        lease_seconds: int,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_owner: Callable[[], str] = lambda: str(uuid.uuid4()),
        planning: PlanningReaper | None = None,
    ) -> None:
        self._planning = planning
        self._store = store
        self._queue = queue
        self._per_queue_message = recipients_per_queue_message
        self._lease = timedelta(seconds=lease_seconds)
        self._now = now
        self._new_owner = new_owner

    def run(self, max_campaigns: int) -> list[Reconciled]:
        """Reconcile up to `max_campaigns` fan-outs that are past their deadline."""
        done = []
        for queue_id in self._store.due(self._now(), max_campaigns):
            result = self.reconcile(queue_id)
            if result is not None:
                done.append(result)
        return done

    def reconcile(self, queue_id: str) -> Reconciled | None:
        """Claim one campaign and finish its fan-out; None when it is not (or no longer) claimable."""
        owner, now = self._new_owner(), self._now()
        if self._planning is not None and self._planning.abandon(queue_id, now):
            # Still PLANNING past its deadline (smscore.domain.planning): nothing was debited, nothing sent.
            log.warning("Planning not finished: campaign FAILED, nothing charged", extra={"queue_id": queue_id})
            return Reconciled(queue_id, 0, 0, 0, 0, True)
        dispatch = self._store.claim(queue_id, owner, now, now + self._lease)
        if dispatch is None:
            return None
        planned: dict[str, OutgoingMessage] = {}
        if dispatch.plan_prefix:
            chunks = self._store.plan_chunks(dispatch.plan_prefix, dispatch.plan_chunks)
            planned = {m.message_id: m for c in chunks if c.state is not ChunkState.ENQUEUED for m in c.messages}
            ids = list(planned)
        else:
            ids = [message_id_for(queue_id, ordinal) for ordinal in range(dispatch.total_messages)]
        found = self._store.paid_messages(ids)
        never_persisted = [mid for mid in ids if mid not in found]
        if planned and never_persisted:
            self._store.record_failed([planned[mid] for mid in never_persisted], NOT_ENQUEUED)
        to_enqueue = [
            mid
            for mid in ids
            if mid in found and found[mid].status is MessageStatus.QUEUED and found[mid].never_delivered
        ]
        failed_unrefunded = [
            mid
            for mid in ids
            if mid in found and found[mid].status is MessageStatus.FAILED and found[mid].never_delivered
        ]
        not_enqueued = self._enqueue(dispatch, to_enqueue)
        moved = self._store.fail_if_queued(dispatch.tenant_id, not_enqueued, NOT_ENQUEUED) if not_enqueued else set()
        refunded = len(never_persisted) + len(failed_unrefunded) + len(moved)
        credits = _refund_credits(dispatch, found, never_persisted, [*failed_unrefunded, *moved], planned)
        enqueued = dispatch.total_messages - refunded
        settled = self._store.settle(
            dispatch, owner, enqueued=enqueued, refunded_messages=refunded, refund_credits=credits
        )
        result = Reconciled(queue_id, enqueued, len(to_enqueue) - len(not_enqueued), refunded, credits, settled)
        log.info(
            "Fan-out reconciled" if settled else "Fan-out claim lost before settling",
            extra={
                "queue_id": queue_id,
                "never_persisted": len(never_persisted),
                "failed_unrefunded": len(failed_unrefunded),
                "reenqueued": result.reenqueued,
                "refunded_messages": refunded,
                "refunded_credits": credits,
            },
        )
        return result

    def _enqueue(self, dispatch: DispatchState, message_ids: list[str]) -> list[str]:
        """Enqueue the messages; the ids the queue did not take."""
        batches = [
            QueueBatch(dispatch.tenant_id, dispatch.queue_id, message_ids[i : i + self._per_queue_message])
            for i in range(0, len(message_ids), self._per_queue_message)
        ]
        failed = self._queue.enqueue(batches) if batches else []
        return [mid for batch in failed for mid in batch.message_ids]


def _refund_credits(
    dispatch: DispatchState,
    found: dict[str, PaidMessage],
    never_persisted: list[str],
    refunded_found: list[str],
    planned: dict[str, OutgoingMessage] | None = None,
) -> int:
    """Exactly what the refunded messages were charged. Messages of one campaign may differ (merge fields): a
    persisted one says its credits; the ones never persisted were charged the rest of the debit, or, in a planned
    campaign, what their plan says."""

    def charged(message: PaidMessage) -> int:
        return message.credits if message.credits is not None else dispatch.segments_per_message

    unpersisted = 0
    if planned:
        unpersisted = sum(planned[mid].credits for mid in never_persisted)
    elif never_persisted:
        unpersisted = max(0, dispatch.credits_debited - sum(charged(message) for message in found.values()))
    return unpersisted + sum(charged(found[mid]) for mid in refunded_found)
