"""campaign.completed: once, when no message of a campaign is left in our hands (no I/O here).

A campaign is complete when none of its messages is SCHEDULED, QUEUED or SENDING: each was handed to the carrier
(SENT, and later DELIVERED or UNDELIVERED by its receipt) or finished without it (FAILED, CANCELLED). A receipt that
arrives afterwards is its own message.delivered / message.undelivered event; waiting for receipts would leave the
campaigns of carriers that send none (the sandbox, many routes) incomplete for ever.

Finding "the last message" must not cost a hot item: the campaign's counts are sharded (smscore.dal.dispatch_counts)
and no single write knows the total. So completion is checked, not counted:
1. the first time a process sees one of a campaign's messages leave the pending states (the emitting message store,
   smscore.domain.events), it starts the campaign's check chain: one conditional put of the campaign's watch item
   (the first process wins, so there is one chain per campaign) and one delayed `{"kind": "completion"}` message on
   the webhook queue. Only tenants with an endpoint that wants campaign.completed start one;
2. the webhook deliver function handles that message: one consistent read of the campaign's counts (its Dispatch
   item and counter shards, one BatchGetItem). Messages still pending: the same message goes back on the queue,
   delayed by the time the remaining ones should take at the pace measured since the last check (10 s to 5 min;
   15 min while only scheduled messages wait), for at most 40 days. None pending: the completion is recorded
   (put-if-absent: its time is the event's `createdAt`) and the event is fanned out to the endpoints; a fan-out
   makes each endpoint's delivery once (a conditional put keyed by the event), so a check that runs twice, or a
   retry after a crash, delivers nothing twice.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from smscore.domain.events import Event, iso, new_event
from smscore.domain.model import MessageStatus
from smscore.domain.webhooks import EventType

log = logging.getLogger(__name__)

PENDING = (MessageStatus.SCHEDULED, MessageStatus.QUEUED, MessageStatus.SENDING)
FIRST_CHECK_SECONDS = 10
MIN_CHECK_SECONDS = 10
MAX_CHECK_SECONDS = 300
SCHEDULED_CHECK_SECONDS = 900  # SQS's longest delay: only messages waiting for their sendAt or window are left
CHECKS_GIVE_UP_AFTER = timedelta(days=40)  # a sendAt may be 35 days ahead
COMPLETION_KIND = "completion"


@dataclass(frozen=True)
class CampaignCounts:
    """A campaign's counts as the status API shows them (Dispatch item + counter shards)."""

    tenant_id: str
    total_messages: int
    counts: Mapping[MessageStatus, int]
    credits_debited: int
    credits_refunded: int

    @property
    def pending(self) -> int:
        return sum(max(0, self.counts.get(status, 0)) for status in PENDING)

    @property
    def only_scheduled(self) -> bool:
        return self.pending == max(0, self.counts.get(MessageStatus.SCHEDULED, 0))


def completed_event(queue_id: str, counts: CampaignCounts, at: datetime) -> Event:
    """The event's id derives from the campaign alone: however often completion is found, it is one event."""
    data = {
        "queueId": queue_id,
        "totalMessages": counts.total_messages,
        "counts": {status.value: int(counts.counts.get(status, 0)) for status in MessageStatus},
        "creditsDebited": counts.credits_debited,
        "creditsRefunded": counts.credits_refunded,
        "completedAt": iso(at),
    }
    return new_event(EventType.CAMPAIGN_COMPLETED, counts.tenant_id, queue_id, at, data)


def check_message(tenant_id: str, queue_id: str, started_at: datetime, pending: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "kind": COMPLETION_KIND,
        "tenantId": tenant_id,
        "queueId": queue_id,
        "startedAt": iso(started_at),
    }
    if pending is not None:
        message["pending"] = pending
    return message


def next_check_seconds(counts: CampaignCounts, before: int | None, elapsed_seconds: float) -> int:
    """When to look again: when the pending messages should be done at the pace seen since the last look."""
    if counts.only_scheduled:
        return SCHEDULED_CHECK_SECONDS
    progressed = (before or 0) - counts.pending
    if before is None or progressed <= 0 or elapsed_seconds <= 0:
        return MAX_CHECK_SECONDS if before is not None else MIN_CHECK_SECONDS
    eta = counts.pending * elapsed_seconds / progressed
    return max(MIN_CHECK_SECONDS, min(MAX_CHECK_SECONDS, math.ceil(eta)))


class CompletionStore(Protocol):
    def counts(self, queue_id: str) -> CampaignCounts | None:
        """The campaign's counts, read consistently; None for an unknown campaign."""
        ...

    def watch(self, tenant_id: str, queue_id: str, at: datetime) -> bool | None:
        """Put the campaign's watch item if absent: True for the one caller that starts the check chain, False when
        it exists, None when the table could not be reached (logged; a later message tries again)."""
        ...

    def complete(self, tenant_id: str, queue_id: str, at: datetime) -> datetime:
        """Record the completion if not recorded yet; the recorded time (the first caller's `at`)."""
        ...


class CheckQueue(Protocol):
    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None: ...


class CompletionChecks:
    """Step 2 of the module docstring: one check of one campaign (the webhook deliver function)."""

    def __init__(
        self,
        store: CompletionStore,
        queue: CheckQueue,
        fan_out: Callable[[Event], object],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._queue = queue
        self._fan_out = fan_out
        self._now = now

    def check(self, message: Mapping[str, Any]) -> Event | None:
        """The campaign.completed event when the campaign is complete (fanned out), else None (checked again
        later, or given up on after CHECKS_GIVE_UP_AFTER)."""
        tenant_id, queue_id = str(message["tenantId"]), str(message["queueId"])
        started = datetime.fromisoformat(str(message["startedAt"]))
        now = self._now()
        counts = self._store.counts(queue_id)
        if counts is None or counts.tenant_id != tenant_id:
            log.warning("completion check of an unknown campaign", extra={"queue_id": queue_id})
            return None
        if counts.pending > 0:
            if now - started > CHECKS_GIVE_UP_AFTER:
                log.error("campaign never completed, checks stopped", extra={"queue_id": queue_id})
                return None
            before = message.get("pending")
            checked_at = message.get("checkedAt")
            elapsed = (now - datetime.fromisoformat(str(checked_at))).total_seconds() if checked_at else 0.0
            delay = next_check_seconds(counts, int(before) if before is not None else None, elapsed)
            follow = {**check_message(tenant_id, queue_id, started, counts.pending), "checkedAt": iso(now)}
            self._queue.send(follow, delay_seconds=delay)
            return None
        at = self._store.complete(tenant_id, queue_id, now)
        event = completed_event(queue_id, counts, at)
        self._fan_out(event)
        return event


class SubscribedEvents(Protocol):
    def __call__(self, tenant_id: str) -> frozenset[str]: ...


class CompletionWatcher:
    """Step 1 of the module docstring: starts a campaign's check chain once. Called by the emitting message store
    for each message that left the pending states; costs nothing for tenants without a campaign.completed
    endpoint, and one conditional put per campaign per process for the others."""

    def __init__(
        self,
        store: CompletionStore,
        queue: CheckQueue,
        subscribed: SubscribedEvents,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        remember: int = 10_000,
    ) -> None:
        self._store = store
        self._queue = queue
        self._subscribed = subscribed
        self._now = now
        self._remember = remember
        self._seen: dict[str, None] = {}
        self._lock = threading.Lock()  # delivery's worker threads share the store

    def touched(self, tenant_id: str, queue_id: str) -> None:
        with self._lock:
            if queue_id in self._seen:
                return
        if EventType.CAMPAIGN_COMPLETED.value not in self._subscribed(tenant_id):
            return
        with self._lock:
            if queue_id in self._seen:
                return
            if len(self._seen) >= self._remember:
                self._seen.pop(next(iter(self._seen)))
            self._seen[queue_id] = None
        now = self._now()
        started = self._store.watch(tenant_id, queue_id, now)
        if started is None:
            with self._lock:
                self._seen.pop(queue_id, None)
        elif started:
            self._queue.send(check_message(tenant_id, queue_id, now), delay_seconds=FIRST_CHECK_SECONDS)
