"""campaign.completed's check schedule and one chain per campaign, credits.low's once-per-crossing rule, on fakes
(smscore.domain.completion, smscore.domain.credits_low). The same on moto: tests/integration/test_webhooks_out.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smscore.domain.completion import (
    MAX_CHECK_SECONDS,
    MIN_CHECK_SECONDS,
    SCHEDULED_CHECK_SECONDS,
    CampaignCounts,
    CompletionChecks,
    CompletionWatcher,
    check_message,
    next_check_seconds,
)
from smscore.domain.credits_low import Balance, CreditsLowWatch
from smscore.domain.events import Event
from smscore.domain.model import MessageStatus, Tenant

T0 = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


def counts(**by_status: int) -> CampaignCounts:
    statuses = {MessageStatus(name.upper()): n for name, n in by_status.items()}
    return CampaignCounts("t1", sum(statuses.values()), statuses, credits_debited=10, credits_refunded=0)


@pytest.mark.parametrize(
    ("now", "before", "elapsed", "expected"),
    [
        (counts(queued=100, sent=900), None, 0.0, MIN_CHECK_SECONDS),  # the first look: soon
        (counts(queued=100, sent=900), 200, 10.0, 10),  # 100 done in 10 s: 100 more take 10 s
        (counts(queued=1_000, sent=100), 1_050, 30.0, MAX_CHECK_SECONDS),  # slow: at most 5 min
        (counts(sending=1, sent=999), 1_000, 1.0, MIN_CHECK_SECONDS),  # nearly done: not sooner than 10 s
        (counts(queued=5, sent=5), 5, 60.0, MAX_CHECK_SECONDS),  # no progress: 5 min
        (counts(scheduled=50, sent=5), 50, 60.0, SCHEDULED_CHECK_SECONDS),  # only waiting for their time
    ],
)
def test_the_next_check_comes_when_the_pending_messages_should_be_done(
    now: CampaignCounts, before: int | None, elapsed: float, expected: int
) -> None:
    assert next_check_seconds(now, before, elapsed) == expected


def test_pending_counts_scheduled_queued_and_sending_only() -> None:
    assert counts(scheduled=1, queued=2, sending=3, sent=4, delivered=5, failed=6, cancelled=7).pending == 6
    assert counts(sent=1, delivered=1, undelivered=1, failed=1, cancelled=1).pending == 0


@dataclass
class FakeCompletion:
    now_counts: CampaignCounts
    watched: set[str] = field(default_factory=set)
    completed: dict[str, datetime] = field(default_factory=dict)

    def counts(self, queue_id: str) -> CampaignCounts | None:
        return self.now_counts

    def watch(self, tenant_id: str, queue_id: str, at: datetime) -> bool | None:
        if queue_id in self.watched:
            return False
        self.watched.add(queue_id)
        return True

    def complete(self, tenant_id: str, queue_id: str, at: datetime) -> datetime:
        return self.completed.setdefault(queue_id, at)


@dataclass
class Queue:
    sent: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        self.sent.append((message, delay_seconds))


def test_a_check_chain_starts_once_per_campaign_and_only_for_subscribed_tenants() -> None:
    store, queue = FakeCompletion(counts(queued=2)), Queue()
    wanted = {"t1": frozenset({"campaign.completed"}), "t2": frozenset({"message.sent"})}
    watcher = CompletionWatcher(store, queue, lambda tenant: wanted[tenant], now=lambda: T0)
    for _ in range(3):
        watcher.touched("t1", "q1")
    watcher.touched("t2", "q2")
    # A second process (its own memory) finds the watch item and starts nothing
    CompletionWatcher(store, queue, lambda tenant: wanted[tenant], now=lambda: T0).touched("t1", "q1")
    assert [(m["queueId"], delay) for m, delay in queue.sent] == [("q1", 10)]


def test_a_check_reschedules_until_complete_then_emits_one_event_with_the_first_completion_time() -> None:
    store, queue, emitted = FakeCompletion(counts(queued=2, sent=8)), Queue(), []
    clock = [T0]
    checks = CompletionChecks(store, queue, emitted.append, now=lambda: clock[0])
    assert checks.check(check_message("t1", "q1", T0)) is None
    assert [(m["pending"], d) for m, d in queue.sent] == [(2, MIN_CHECK_SECONDS)]
    store.now_counts = counts(sent=9, failed=1)
    clock[0] = T0 + timedelta(seconds=10)
    first = checks.check(queue.sent[-1][0])
    clock[0] = T0 + timedelta(seconds=99)
    second = checks.check(queue.sent[-1][0])  # the same message again (SQS at-least-once)
    assert first is not None
    assert second is not None
    assert (first.event_id, first.created_at) == (second.event_id, second.created_at)
    assert first.data["counts"]["SENT"] == 9
    assert first.data["counts"]["FAILED"] == 1
    assert len(queue.sent) == 1  # nothing re-queued once complete


def test_a_check_of_another_tenants_campaign_emits_nothing() -> None:
    store, queue, emitted = FakeCompletion(counts(sent=1)), Queue(), []
    assert CompletionChecks(store, queue, emitted.append).check(check_message("t9", "q1", T0)) is None
    assert (emitted, queue.sent) == ([], [])


# ---------------------------------------------------------------------------------------------- credits.low


@dataclass
class Tenants:
    """The campaign store and the credits.low store over one fake tenant."""

    balance_now: int
    threshold: int | None
    low_at: datetime | None = None
    writes: int = 0

    def get_tenant(self, tenant_id: str) -> Tenant:
        return Tenant(
            tenant_id, "Acme", self.balance_now, credits_low_threshold=self.threshold, credits_low_at=self.low_at
        )

    def open_fanout(self, dispatch: Any, deadline: datetime, request_hash: str | None) -> None:
        self.balance_now -= dispatch.credits_debited

    def balance(self, tenant_id: str) -> Balance:
        return Balance(self.balance_now, self.threshold, self.low_at)

    def mark_low(self, tenant_id: str, threshold: int, at: datetime) -> bool:
        self.writes += 1
        if self.balance_now < threshold and self.low_at is None and self.threshold == threshold:
            self.low_at = at
            return True
        return False

    def rearm(self, tenant_id: str, threshold: int) -> bool:
        self.writes += 1
        if self.balance_now >= threshold and self.low_at is not None:
            self.low_at = None
            return True
        return False


@dataclass
class Sink:
    events: list[Event] = field(default_factory=list)

    def publish(self, events: Any) -> None:
        self.events.extend(events)


@dataclass(frozen=True)
class Debit:
    tenant_id: str
    queue_id: str
    credits_debited: int


def send(watch: CreditsLowWatch, cost: int, queue_id: str = "q") -> None:
    watch.get_tenant("t1")  # every send reads its tenant before the debit
    watch.open_fanout(Debit("t1", queue_id, cost), deadline=T0, request_hash=None)


def test_credits_low_once_per_crossing_and_again_after_a_top_up() -> None:
    tenants, sink = Tenants(balance_now=120, threshold=100), Sink()
    watch = CreditsLowWatch(tenants, tenants, sink, now=lambda: T0)
    send(watch, 20)  # 100: at the threshold, not under
    assert sink.events == []
    send(watch, 1, "crossing")  # 99: under
    send(watch, 50)  # 49: still under, told already
    assert [(e.event_type, e.data["balance"], e.data["queueId"]) for e in sink.events] == [
        ("credits.low", 99, "crossing")
    ]
    tenants.balance_now += 1_000  # a top-up (1,049), then one debit straight under again
    send(watch, 1_000, "again")
    assert [(e.data["balance"], e.data["queueId"]) for e in sink.events] == [(99, "crossing"), (49, "again")]


def test_without_a_threshold_a_debit_writes_nothing_more() -> None:
    tenants, sink = Tenants(balance_now=10, threshold=None), Sink()
    watch = CreditsLowWatch(tenants, tenants, sink, now=lambda: T0)
    send(watch, 9)
    assert (sink.events, tenants.writes) == ([], 0)


def test_debits_above_the_threshold_write_nothing_more() -> None:
    tenants, sink = Tenants(balance_now=1_000, threshold=100), Sink()
    watch = CreditsLowWatch(tenants, tenants, sink, now=lambda: T0)
    for _ in range(5):
        send(watch, 10)
    assert (sink.events, tenants.writes, tenants.balance_now) == ([], 0, 950)
