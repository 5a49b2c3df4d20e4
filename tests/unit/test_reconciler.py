"""The fan-out deadline and the reconciler's decisions, on in-memory ports."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from smscore.domain.campaign import (
    CampaignLimits,
    CampaignRequest,
    DispatchState,
    FanoutBudget,
    FanoutState,
    message_id_for,
    send_campaign,
)
from smscore.domain.errors import EnqueueFailure
from smscore.domain.model import MessageStatus, TagRecipient
from smscore.domain.reconciler import PaidMessage, Reconciler
from smscore.domain.windows import sendat_only
from tests.fakes import InMemoryCampaignStore, InMemoryQueue

pytestmark = pytest.mark.clock_sensitive  # sends through the send-window seams: also run at the guard's frozen instants

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LIMITS = CampaignLimits(100, 2, "sandbox", {"sandbox": 1600})


# -- the deadline -----------------------------------------------------------------------------------------------


def test_a_step_starts_only_while_the_time_left_covers_the_reserve_for_what_is_left() -> None:
    # Given 4 s left, a 3 s reserve and 1 ms more per message still to handle
    budget = FanoutBudget(remaining_seconds=lambda: 4.0, reserve_seconds=3.0, reserve_per_message_seconds=0.001)
    # Then 999 messages left may go on, 1,000 may not
    assert budget.may_continue(999)
    assert not budget.may_continue(1_000)


def test_the_deadline_is_the_hard_stop_plus_the_grace() -> None:
    budget = FanoutBudget(remaining_seconds=lambda: 20.0, grace_seconds=30.0)
    assert budget.deadline(T0) == T0 + timedelta(seconds=50)


def test_a_send_out_of_time_before_enqueueing_refunds_everything_and_closes_the_fanout() -> None:
    # Given 3 recipients and an invocation whose time runs out once the messages are persisted
    store = InMemoryCampaignStore()
    store.add_tenant("t-1", credits=10)
    store.tag("t-1", "vip", *(TagRecipient(f"c{n}", f"+57300123000{n}") for n in range(3)))
    left = [10.0]

    @contextlib.contextmanager
    def phase(name: str) -> Iterator[None]:
        if name == "enqueue":
            left[0] = 0.5
        yield

    queue = InMemoryQueue()
    budget = FanoutBudget(remaining_seconds=lambda: left[0], reserve_seconds=1.0)
    # When it sends
    with pytest.raises(EnqueueFailure) as failure:
        send_campaign(
            CampaignRequest("t-1", "m-1", "Hola", ["vip"]),
            store=store,
            queue=queue,
            limits=LIMITS,
            budget=budget,
            phase=phase,
            opening=sendat_only,
        )
    # Then nothing was enqueued, every message is FAILED and refunded, and the fan-out is closed by the sender
    assert (failure.value.enqueued, failure.value.refunded_credits) == (0, 3)
    assert queue.batches == []
    assert set(store.failed) == set(store.messages)
    assert store.balance("t-1") == 10
    (state,) = store.fanouts.values()
    assert (state.fanout, state.fanout_enqueued, state.fanout_refunded) == (FanoutState.COMPLETE, 0, 3)


# -- the reconciler ---------------------------------------------------------------------------------------------


@dataclass
class InMemoryReconcilerStore:
    dispatches: dict[str, DispatchState] = field(default_factory=dict)
    messages: dict[str, PaidMessage] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    settled: list[tuple[str, int, int, int]] = field(default_factory=list)  # queue, enqueued, refunded, credits

    def due(self, now: datetime, limit: int) -> list[str]:
        open_ = [d for d in self.dispatches.values() if d.fanout is not None and not d.finished]
        overdue = sorted(
            (d for d in open_ if d.fanout_deadline and d.fanout_deadline <= now), key=lambda d: d.fanout_deadline or now
        )
        return [d.queue_id for d in overdue][:limit]

    def claim(self, queue_id: str, owner: str, now: datetime, lease_until: datetime) -> DispatchState | None:
        found = self.dispatches.get(queue_id)
        if found is None or found.finished or found.fanout_deadline is None or found.fanout_deadline > now:
            return None
        self.dispatches[queue_id] = replace(found, fanout=FanoutState.RECONCILING, fanout_deadline=lease_until)
        self.owners[queue_id] = owner
        return self.dispatches[queue_id]

    def paid_messages(self, message_ids: Sequence[str]) -> dict[str, PaidMessage]:
        return {mid: self.messages[mid] for mid in message_ids if mid in self.messages}

    def fail_if_queued(self, tenant_id: str, message_ids: Sequence[str], reason: str) -> set[str]:
        moved = {mid for mid in message_ids if self.messages[mid].status is MessageStatus.QUEUED}
        for mid in moved:
            self.messages[mid] = replace(self.messages[mid], status=MessageStatus.FAILED)
        return moved

    def settle(
        self, dispatch: DispatchState, owner: str, *, enqueued: int, refunded_messages: int, refund_credits: int
    ) -> bool:
        if self.owners.get(dispatch.queue_id) != owner:
            return False
        self.dispatches[dispatch.queue_id] = replace(dispatch, fanout=FanoutState.RECONCILED)
        self.settled.append((dispatch.queue_id, enqueued, refunded_messages, refund_credits))
        return True


def open_campaign(store: InMemoryReconcilerStore, total: int, deadline: datetime = T0) -> str:
    store.dispatches["q-1"] = DispatchState(
        queue_id="q-1",
        tenant_id="t-1",
        total_messages=total,
        segments_per_message=2,
        credits_debited=2 * total,
        fanout=FanoutState.PENDING,
        fanout_deadline=deadline,
    )
    return "q-1"


def given(store: InMemoryReconcilerStore, ordinal: int, status: MessageStatus, attempts: int = 0) -> str:
    mid = message_id_for("q-1", ordinal)
    store.messages[mid] = PaidMessage(mid, status, attempts)
    return mid


def test_the_reconciler_enqueues_the_paid_and_refunds_what_never_reached_the_queue() -> None:
    # Given a campaign of 6 paid messages past its deadline: 2 QUEUED, 1 marked FAILED by the sender, 1 in delivery,
    # 1 failed by delivery (refunded there), 1 never persisted
    store = InMemoryReconcilerStore()
    open_campaign(store, total=6)
    queued = [given(store, 0, MessageStatus.QUEUED), given(store, 1, MessageStatus.QUEUED)]
    given(store, 2, MessageStatus.FAILED)
    given(store, 3, MessageStatus.SENT, attempts=1)
    given(store, 4, MessageStatus.FAILED, attempts=3)
    queue = InMemoryQueue()
    # When the reconciler runs after the deadline
    (done,) = Reconciler(store, queue, 2, lease_seconds=600, now=lambda: T0 + timedelta(seconds=1)).run(10)
    # Then the 2 QUEUED are enqueued, the sender's FAILED one and the unpersisted one refunded (2 credits each)
    assert sorted(queue.message_ids) == sorted(queued)
    assert (done.enqueued, done.reenqueued, done.refunded_messages, done.refunded_credits, done.settled) == (
        4,
        2,
        2,
        4,
        True,
    )
    assert store.settled == [("q-1", 4, 2, 4)]
    assert store.dispatches["q-1"].fanout is FanoutState.RECONCILED


def test_a_message_the_queue_refuses_is_failed_and_refunded_by_the_reconciler() -> None:
    store = InMemoryReconcilerStore()
    open_campaign(store, total=3)
    for n in range(3):
        given(store, n, MessageStatus.QUEUED)
    queue = InMemoryQueue(reject_after=1)  # takes the first batch (2 messages) only
    (done,) = Reconciler(store, queue, 2, lease_seconds=600, now=lambda: T0 + timedelta(seconds=1)).run(10)
    assert (done.enqueued, done.refunded_messages, done.refunded_credits) == (2, 1, 2)
    assert store.messages[message_id_for("q-1", 2)].status is MessageStatus.FAILED


def test_messages_charged_differently_are_refunded_exactly_what_each_was_charged() -> None:
    # Given a campaign with merge fields: 5 messages charged 1, 3, 2, 1 and 4 credits (11 debited, the dispatch's
    # segmentsPerMessage is the largest, 4); one QUEUED (3), one marked FAILED by the sender (2), one in delivery (1)
    # and two never persisted (1 + 4 = the 5 credits of the debit no persisted message accounts for)
    store = InMemoryReconcilerStore()
    store.dispatches["q-1"] = DispatchState(
        queue_id="q-1",
        tenant_id="t-1",
        total_messages=5,
        segments_per_message=4,
        credits_debited=11,
        fanout=FanoutState.PENDING,
        fanout_deadline=T0,
    )
    for ordinal, status, attempts, credits in ((1, "QUEUED", 0, 3), (2, "FAILED", 0, 2), (3, "SENT", 1, 1)):
        mid = message_id_for("q-1", ordinal)
        store.messages[mid] = PaidMessage(mid, MessageStatus(status), attempts, credits)
    queue = InMemoryQueue(reject_after=0)  # the queue takes nothing: the QUEUED one is failed too
    # When the reconciler runs after the deadline
    (done,) = Reconciler(store, queue, 2, lease_seconds=600, now=lambda: T0 + timedelta(seconds=1)).run(10)
    # Then it refunds 5 (never persisted) + 2 (the sender's FAILED) + 3 (the one the queue refused) = 10, not 4 x 4
    assert (done.refunded_messages, done.refunded_credits) == (4, 10)
    assert store.settled == [("q-1", 1, 4, 10)]


def test_nothing_happens_before_the_deadline() -> None:
    store = InMemoryReconcilerStore()
    open_campaign(store, total=1, deadline=T0)
    given(store, 0, MessageStatus.QUEUED)
    queue = InMemoryQueue()
    assert Reconciler(store, queue, 2, lease_seconds=600, now=lambda: T0 - timedelta(seconds=1)).run(10) == []
    assert queue.batches == []
    assert store.dispatches["q-1"].fanout is FanoutState.PENDING


def test_a_run_that_lost_its_claim_settles_nothing() -> None:
    # Given a store where another run takes the claim over between this run's claim and its settle
    store = InMemoryReconcilerStore()
    open_campaign(store, total=1)
    given(store, 0, MessageStatus.QUEUED)

    class Overtaken(InMemoryQueue):
        def enqueue(self, batches):  # type: ignore[no-untyped-def]
            store.owners["q-1"] = "another run"
            return super().enqueue(batches)

    done = Reconciler(store, Overtaken(), 2, lease_seconds=600, now=lambda: T0 + timedelta(seconds=1)).reconcile("q-1")
    assert done is not None
    assert done.settled is False
    assert store.settled == []


def test_scheduled_messages_are_the_schedulers_never_enqueued_nor_refunded_by_the_reconciler() -> None:
    # Given a campaign past its deadline whose 3 persisted messages wait SCHEDULED (sendAt, send window)
    # and whose 4th was never persisted
    store = InMemoryReconcilerStore()
    open_campaign(store, total=4)
    for n in range(3):
        given(store, n, MessageStatus.SCHEDULED)
    queue = InMemoryQueue()
    # When the reconciler runs
    (done,) = Reconciler(store, queue, 2, lease_seconds=600, now=lambda: T0 + timedelta(seconds=1)).run(10)
    # Then nothing reaches the delivery queue (the scheduler releases them when due) and only the unpersisted one
    # is refunded; the SCHEDULED ones stay SCHEDULED and paid
    assert queue.message_ids == []
    assert (done.enqueued, done.reenqueued, done.refunded_messages, done.refunded_credits) == (3, 0, 1, 2)
    assert {store.messages[message_id_for("q-1", n)].status for n in range(3)} == {MessageStatus.SCHEDULED}
