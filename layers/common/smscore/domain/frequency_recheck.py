"""The frequency cap re-checked at delivery, for scheduled marketing messages (issue 22, item 3).

A scheduled campaign is screened and counted when it is accepted, for the day of its `sendAt` (else the day it was
accepted). By the time delivery releases a message, the recipient may have gone over the tenant's cap: the tenant
lowered it, the window moved the message to another day, or campaigns sent meanwhile. So just before a record's sends
start, delivery reads the counters of its released (SCHEDULED, due) marketing messages to Colombian numbers for the
Bogota day it is sending on (one BatchGetItem per tenant) and leaves out those over the cap: FAILED with code
`FREQUENCY_CAPPED`, refunded with one ledger entry like any failure (smscore.domain.delivery).

The message's own count is in the counters already when it was counted for today (its week: when counted this
week), so it is over the cap when the *other* messages counted today reach the cap. A message sent on another day
than it was counted for is not counted again (no extra write per message). Transactional messages are exempt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from smscore.domain.compliance import is_colombian
from smscore.domain.frequency import Count, FrequencyCounters, bogota_day, week_of
from smscore.domain.model import MarketingFrequency, MessageStatus, Purpose, StoredMessage

FREQUENCY_CAPPED = "FREQUENCY_CAPPED"  # failure code (and history code) of a message left out by the re-check


def over_cap(cap: MarketingFrequency, count: Count, counted_on: date | None, today: date) -> bool:
    """Would one more message today exceed the cap, not counting the message itself (counted on `counted_on`)?"""
    own_day = 1 if counted_on == today else 0
    own_week = 1 if counted_on is not None and week_of(counted_on) == week_of(today) else 0
    if cap.max_per_day and count.day - own_day >= cap.max_per_day:
        return True
    return bool(cap.max_per_week and count.week - own_week >= cap.max_per_week)


def _released(message: StoredMessage, now: datetime) -> bool:
    """It waited SCHEDULED and is going now: released by the scheduler (QUEUED), or due and claimed from SCHEDULED."""
    if message.status is MessageStatus.SCHEDULED:
        return message.due_at is not None and message.due_at <= now
    return message.status is MessageStatus.QUEUED and message.released


@dataclass(frozen=True)
class FrequencyRecheck:
    """Delivery's re-check: the counters, each tenant's cap (its settings with the platform default), and when a
    campaign's messages were counted for (its sendAt, else when it was accepted: the day the send path counted)."""

    counters: FrequencyCounters
    cap_of: Callable[[str], MarketingFrequency]  # tenant id -> its cap (cached by the caller's adapter)
    counted_at_of: Callable[[str], datetime | None]  # queue id -> the campaign's sendAt, else when it was accepted

    def capped(self, tenant_id: str, messages: Sequence[StoredMessage], now: datetime) -> set[str]:
        """Ids of the released marketing messages to CO among `messages` (one tenant's) that are over the cap."""
        due = [
            m
            for m in messages
            if _released(m, now)
            and m.attempts == 0
            and m.purpose is Purpose.MARKETING
            and m.tenant_id == tenant_id
            and is_colombian(m.recipient)
        ]
        if not due:
            return set()
        cap = self.cap_of(tenant_id)
        if not (cap.max_per_day or cap.max_per_week):
            return set()
        today = bogota_day(now)
        counts = self.counters.counts(tenant_id, sorted({m.recipient for m in due}), today)
        counted_on: dict[str, date | None] = {}
        over: set[str] = set()
        for message in due:
            if message.queue_id not in counted_on:
                counted_at = self.counted_at_of(message.queue_id)
                counted_on[message.queue_id] = bogota_day(counted_at) if counted_at is not None else None
            if over_cap(cap, counts.get(message.recipient, Count()), counted_on[message.queue_id], today):
                over.add(message.message_id)
        return over
