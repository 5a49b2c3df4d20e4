"""Scheduling on in-memory ports: which messages of a campaign wait (sendAt, the send window, quiet hours), what the
campaign answers as scheduledFor, what is (not) enqueued, and the scheduler's enqueue-then-release sweep."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from smscore.domain.campaign import CampaignLimits, CampaignRequest, send_campaign
from smscore.domain.errors import EnqueueFailure
from smscore.domain.model import MessageStatus, Purpose, QuietHours, TagRecipient
from smscore.domain.scheduler import DueMessage, Scheduler
from smscore.domain.windows import next_opening, sendat_only
from tests.fakes import InMemoryCampaignStore, InMemoryQueue

pytestmark = pytest.mark.clock_sensitive  # sends through the send-window seams: also run at the guard's frozen instants

LIMITS = CampaignLimits(
    max_recipients=100, recipients_per_queue_message=2, default_provider="sandbox", character_limits={"sandbox": 1600}
)
TENANT = "tenant-1"
BOGOTA = timezone(timedelta(hours=-5))
SUNDAY_NOON = datetime(2026, 11, 29, 12, tzinfo=BOGOTA)
MONDAY_7 = datetime(2026, 11, 30, 7, tzinfo=BOGOTA).astimezone(UTC)
TUESDAY_10 = datetime(2026, 11, 24, 10, tzinfo=BOGOTA)


@pytest.fixture
def store() -> InMemoryCampaignStore:
    store = InMemoryCampaignStore()
    store.add_tenant(TENANT, credits=100)
    store.tag(TENANT, "co", TagRecipient("c1", "3001234567"), TagRecipient("c2", "3115550001"))
    store.tag(TENANT, "us", TagRecipient("c3", "+14155550100"))
    return store


def send(
    store: InMemoryCampaignStore,
    queue: InMemoryQueue,
    now: datetime,
    tags: Sequence[str] = ("co",),
    **fields: object,
) -> tuple[list[MessageStatus], datetime | None, int]:
    request = CampaignRequest(tenant_id=TENANT, member_id="m", message="Hola", tag_ids=list(tags), **fields)  # type: ignore[arg-type]
    result = send_campaign(
        request, store=store, queue=queue, limits=LIMITS, now=lambda: now.astimezone(UTC), opening=next_opening
    )
    return [store.messages[m.message_id].status for m in result.messages], result.scheduled_for, result.credits_debited


def test_marketing_on_a_sunday_waits_scheduled_paid_and_not_enqueued(store: InMemoryCampaignStore) -> None:
    queue = InMemoryQueue()
    # When a marketing campaign to Colombian numbers is sent on a Sunday
    statuses, scheduled_for, debited = send(store, queue, SUNDAY_NOON)
    # Then every message waits SCHEDULED until Monday 07:00 Bogota, nothing is enqueued, and it is paid now
    assert statuses == [MessageStatus.SCHEDULED, MessageStatus.SCHEDULED]
    assert scheduled_for == MONDAY_7
    assert {m.scheduled_for for m in store.messages.values()} == {MONDAY_7}
    assert queue.message_ids == []
    assert debited == 2
    assert store.balance(TENANT) == 98
    # And the debit recorded the split the counters start from
    (dispatch,) = store.dispatches.values()
    assert (dispatch.scheduled_messages, dispatch.scheduled_for) == (2, MONDAY_7)


def test_transactional_on_a_sunday_goes_now(store: InMemoryCampaignStore) -> None:
    queue = InMemoryQueue()
    statuses, scheduled_for, _ = send(store, queue, SUNDAY_NOON, purpose=Purpose.TRANSACTIONAL)
    assert statuses == [MessageStatus.QUEUED, MessageStatus.QUEUED]
    assert scheduled_for is None
    assert len(queue.message_ids) == 2


def test_a_number_without_a_window_goes_now_while_colombia_waits(store: InMemoryCampaignStore) -> None:
    queue = InMemoryQueue()
    # Given Colombian numbers and a US one (no built-in window), on a Sunday
    _, scheduled_for, _ = send(store, queue, SUNDAY_NOON, tags=("co", "us"))
    # Then the US one is enqueued now, the Colombian ones wait; the campaign as a whole does not wait
    by_recipient = {m.recipient: m.status for m in store.messages.values()}
    assert by_recipient == {
        "+573001234567": MessageStatus.SCHEDULED,
        "+573115550001": MessageStatus.SCHEDULED,
        "+14155550100": MessageStatus.QUEUED,
    }
    assert [store.messages[mid].recipient for mid in queue.message_ids] == ["+14155550100"]
    assert scheduled_for is None


def test_send_at_inside_the_window_waits_until_send_at_only(store: InMemoryCampaignStore) -> None:
    queue = InMemoryQueue()
    send_at = TUESDAY_10 + timedelta(hours=2)
    statuses, scheduled_for, _ = send(store, queue, TUESDAY_10, send_at=send_at)
    assert statuses == [MessageStatus.SCHEDULED, MessageStatus.SCHEDULED]
    assert scheduled_for == send_at.astimezone(UTC)
    assert queue.message_ids == []


def test_send_at_on_a_sunday_waits_for_the_next_opening(store: InMemoryCampaignStore) -> None:
    queue = InMemoryQueue()
    _, scheduled_for, _ = send(store, queue, TUESDAY_10, send_at=SUNDAY_NOON)
    assert scheduled_for == MONDAY_7


def test_tenant_quiet_hours_defer_marketing_inside_the_legal_window(store: InMemoryCampaignStore) -> None:
    store.tenants[TENANT] = replace(store.tenants[TENANT], quiet_hours=QuietHours(time(9), time(11), "America/Bogota"))
    queue = InMemoryQueue()
    _, scheduled_for, _ = send(store, queue, TUESDAY_10)
    assert scheduled_for == datetime(2026, 11, 24, 11, tzinfo=BOGOTA).astimezone(UTC)


def test_inside_the_window_it_goes_now_as_before(store: InMemoryCampaignStore) -> None:
    queue = InMemoryQueue()
    statuses, scheduled_for, _ = send(store, queue, TUESDAY_10)
    assert statuses == [MessageStatus.QUEUED, MessageStatus.QUEUED]
    assert scheduled_for is None
    assert len(queue.message_ids) == 2


def test_with_windows_off_only_send_at_delays(store: InMemoryCampaignStore) -> None:
    request = CampaignRequest(tenant_id=TENANT, member_id="m", message="Hola", tag_ids=["co"])
    queue = InMemoryQueue()
    result = send_campaign(
        request, store=store, queue=queue, limits=LIMITS, now=lambda: SUNDAY_NOON.astimezone(UTC), opening=sendat_only
    )
    assert result.scheduled_for is None
    assert len(queue.message_ids) == 2


def test_a_scheduled_campaign_whose_persist_fails_is_refunded(
    store: InMemoryCampaignStore,
) -> None:
    # Given the messages cannot be persisted
    store.fail_saving = True
    with pytest.raises(EnqueueFailure) as failure:
        send(store, InMemoryQueue(), SUNDAY_NOON)
    # Then both are refunded, and the fan-out is closed
    assert failure.value.refunded_credits == 2
    assert store.balance(TENANT) == 100
    (state,) = store.fanouts.values()
    assert (state.fanout_enqueued, state.fanout_refunded) == (0, 2)


# -- the scheduler's sweep ----------------------------------------------------------------------------------------


@dataclass
class InMemorySchedulerStore:
    due_at: dict[str, datetime] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)

    def due_keys(self, now: datetime) -> list[str]:
        return ["due#k"] if any(at <= now for at in self.due_at.values()) else []

    def due_pages(self, key: str, now: datetime, page_size: int) -> Iterator[list[DueMessage]]:
        ready = [DueMessage(mid, TENANT, "q-1") for at, mid in sorted((at, m) for m, at in self.due_at.items())]
        ready = [m for m in ready if self.due_at[m.message_id] <= now]
        for start in range(0, len(ready), page_size):
            yield ready[start : start + page_size]

    def release_all(self, messages: Sequence[DueMessage], now: datetime) -> list[str]:
        for message in messages:
            del self.due_at[message.message_id]
            self.released.append(message.message_id)
        return [m.message_id for m in messages]


def test_the_sweep_enqueues_then_releases_only_the_due_ones() -> None:
    store = InMemorySchedulerStore({"a": MONDAY_7, "b": MONDAY_7, "c": MONDAY_7 + timedelta(days=1)})
    queue = InMemoryQueue()
    result = Scheduler(store, queue, 2, now=lambda: MONDAY_7 + timedelta(seconds=30)).sweep(100)
    assert sorted(queue.message_ids) == ["a", "b"]
    assert sorted(store.released) == ["a", "b"]
    assert (result.due, result.enqueued, result.released, result.not_enqueued) == (2, 2, 2, 0)
    # And a second sweep finds nothing more to do before "c" is due
    assert Scheduler(store, queue, 2, now=lambda: MONDAY_7 + timedelta(minutes=1)).sweep(100).due == 0


def test_a_sweep_whose_enqueue_fails_releases_nothing_and_the_next_one_retries() -> None:
    store = InMemorySchedulerStore({"a": MONDAY_7, "b": MONDAY_7, "c": MONDAY_7})
    failing = InMemoryQueue(reject_after=1)  # takes the first batch (a, b) only
    result = Scheduler(store, failing, 2, now=lambda: MONDAY_7).sweep(100)
    assert (result.enqueued, result.released, result.not_enqueued) == (2, 2, 1)
    assert list(store.due_at) == ["c"]  # still SCHEDULED and due: the next sweep takes it
    working = InMemoryQueue()
    assert Scheduler(store, working, 2, now=lambda: MONDAY_7).sweep(100).released == 1
    assert working.message_ids == ["c"]


def test_a_sweep_takes_at_most_its_limit_oldest_first() -> None:
    store = InMemorySchedulerStore({f"m{n}": MONDAY_7 + timedelta(seconds=n) for n in range(5)})
    queue = InMemoryQueue()
    Scheduler(store, queue, 10, now=lambda: MONDAY_7 + timedelta(minutes=1)).sweep(3)
    assert queue.message_ids == ["m0", "m1", "m2"]
