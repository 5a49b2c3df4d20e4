"""Cancelling a campaign: every message delivery has not claimed (SCHEDULED or QUEUED) becomes CANCELLED and its
credits go back, with ledger entries.

Race-safe against delivery without a lock: delivery's claim is a conditional write on the status as read
(QUEUED, or SCHEDULED and due), and each cancel write is conditional on the status as read too, so DynamoDB
serialises the two and exactly one wins. A message is therefore either claimed (then sent or refunded by
delivery) or cancelled (refunded here), never both, never neither. The refund is in the same transaction as
the CANCELLED writes, so a cancel that dies midway leaves every message either cancelled and refunded or
untouched; a second cancel finishes the rest and cancels nothing twice (idempotent).

A campaign whose fan-out is still open (the send request is running, or the reconciler has not finished it) is
refused with 409 REQUEST_IN_PROGRESS: its messages are still being written, and the fan-out's own compensation
may overwrite messages it did not hand over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from smscore.domain.campaign import DispatchState, message_id_for
from smscore.domain.errors import QueueNotFound, RequestInProgress
from smscore.domain.model import MessageStatus

log = logging.getLogger(__name__)

CANCELLABLE = frozenset({MessageStatus.SCHEDULED, MessageStatus.QUEUED})
CANCEL_REASON = "CANCELLED"
# Rounds of re-reading messages whose status changed under the cancel (released by the scheduler, say).
MAX_CANCEL_ROUNDS = 5


@dataclass(frozen=True)
class PendingMessage:
    """A message delivery has not claimed, as read."""

    message_id: str
    status: MessageStatus
    credits: int


class CancelStore(Protocol):
    def find_dispatch(self, queue_id: str) -> DispatchState | None: ...

    def pending_messages(self, message_ids: Sequence[str]) -> list[PendingMessage]:
        """The messages among `message_ids` that are SCHEDULED or QUEUED now (strongly consistent reads)."""
        ...

    def cancel_messages(
        self, tenant_id: str, queue_id: str, messages: Sequence[PendingMessage], now: datetime
    ) -> list[str]:
        """Each message, if still in the status read, -> CANCELLED, with its credits refunded (REFUND ledger entries,
        reason CANCELLED) and the campaign's counters moved in the same transactions. Returns the ids cancelled; a
        message whose status changed meanwhile is left out."""
        ...

    def record_cancel(self, queue_id: str, member_id: str, at: datetime) -> None:
        """The campaign's cancelledAt / cancelledBy, written by the first cancel that cancelled something (a later
        one keeps them)."""
        ...


@dataclass(frozen=True)
class CancelResult:
    queue_id: str
    cancelled: int
    refunded_credits: int


def cancel_campaign(
    tenant_id: str,
    queue_id: str,
    store: CancelStore,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    member_id: str | None = None,
) -> CancelResult:
    """Cancel what delivery has not claimed; QueueNotFound for an unknown queue or another tenant's. `member_id`:
    who asked, recorded with the time when this cancel cancelled something."""
    dispatch = store.find_dispatch(queue_id)
    if dispatch is None or dispatch.tenant_id != tenant_id:
        raise QueueNotFound("No queue with this id")
    if not dispatch.finished:
        raise RequestInProgress("The campaign is still being enqueued; retry the cancel in a moment")
    ids = [message_id_for(queue_id, ordinal) for ordinal in range(dispatch.total_messages)]
    cancelled: list[str] = []
    credits = 0
    for _ in range(MAX_CANCEL_ROUNDS):
        pending = store.pending_messages(ids)
        if not pending:
            break
        done = set(store.cancel_messages(tenant_id, queue_id, pending, now()))
        cancelled += [m.message_id for m in pending if m.message_id in done]
        credits += sum(m.credits for m in pending if m.message_id in done)
        # The ones that moved meanwhile: claimed (delivery's now), or released/rescheduled (cancellable still).
        ids = [m.message_id for m in pending if m.message_id not in done]
    if cancelled and member_id is not None:
        store.record_cancel(queue_id, member_id, now())
    log.info("Campaign cancelled", extra={"queue_id": queue_id, "cancelled": len(cancelled), "credits": credits})
    return CancelResult(queue_id=queue_id, cancelled=len(cancelled), refunded_credits=credits)
