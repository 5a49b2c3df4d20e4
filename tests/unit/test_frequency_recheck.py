"""The frequency cap re-checked at delivery for scheduled marketing (issue 22, item 3): the rule, then the deliverer
failing and refunding a released message whose recipient went over the cap meanwhile."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from smscore.domain.delivery import Deliverer, Outcome, RetryPolicy
from smscore.domain.frequency import Count
from smscore.domain.frequency_recheck import FrequencyRecheck, over_cap
from smscore.domain.model import MarketingFrequency, MessageStatus, Purpose, QueueBatch, StoredMessage
from tests.delivery_fakes import InMemoryMessageStore, ListDeadLetters, Providers, ScriptedProvider
from tests.unit.test_frequency import InMemoryCounters

WED = date(2026, 12, 9)
TUE = date(2026, 12, 8)
ONE_A_DAY = MarketingFrequency(max_per_day=1, max_per_week=0)


@pytest.mark.parametrize(
    ("cap", "count", "counted_on", "over"),
    [
        (ONE_A_DAY, Count(day=1, week=1), WED, False),  # the only count today is its own
        (ONE_A_DAY, Count(day=2, week=2), WED, True),  # another campaign reached the number today
        (ONE_A_DAY, Count(day=1, week=2), TUE, True),  # counted yesterday, moved to today, where one went already
        (ONE_A_DAY, Count(day=0, week=1), TUE, False),  # counted yesterday, nothing today
        (MarketingFrequency(0, 2), Count(day=1, week=2), WED, False),  # weekly: its own is one of the two
        (MarketingFrequency(0, 2), Count(day=0, week=3), TUE, True),  # weekly, same ISO week, two others
        (MarketingFrequency(0, 2), Count(day=0, week=2), date(2026, 12, 6), True),  # last week's: not in this one
        (MarketingFrequency(0, 0), Count(day=9, week=9), WED, False),  # no cap
    ],
)
def test_over_the_cap_counts_the_others_not_the_message_itself(
    cap: MarketingFrequency, count: Count, counted_on: date, over: bool
) -> None:
    assert over_cap(cap, count, counted_on, WED) is over


NOW = datetime(2026, 12, 9, 15, tzinfo=UTC)  # Wednesday 10:00 in Bogota
NUMBER = "+573001234567"


def scheduled(message_id: str, **changes: object) -> StoredMessage:
    base = StoredMessage(
        message_id=message_id,
        tenant_id="t-1",
        queue_id="q-1",
        recipient=NUMBER,
        body="Tienda: hola",
        segments=1,
        credits=1,
        status=MessageStatus.QUEUED,  # released by the scheduler
        provider="sandbox",
        created_at=NOW - timedelta(minutes=1),  # as the store reads it: validity from its release
        released=True,
    )
    return StoredMessage(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def deliver(store: InMemoryMessageStore, counters: InMemoryCounters, *ids: str, counted_at: datetime):  # type: ignore[no-untyped-def]
    provider = ScriptedProvider("sandbox")
    worker = Deliverer(
        store,
        Providers({"sandbox": provider}),
        ListDeadLetters(),
        RetryPolicy(),
        now=lambda: NOW,
        rng=random.Random(3),
        frequency=FrequencyRecheck(counters, lambda tenant: ONE_A_DAY, lambda queue: counted_at),  # type: ignore[arg-type]
    )
    return worker.deliver(QueueBatch(tenant_id="t-1", queue_id="q-1", message_ids=list(ids))), provider


def test_a_released_message_whose_recipient_went_over_the_cap_is_failed_and_refunded() -> None:
    # Given a campaign scheduled for today (counted today) and another one that reached the number today too
    store = InMemoryMessageStore()
    store.add(scheduled("m-1"))
    counters = InMemoryCounters({("t-1", NUMBER, "2026-W50"): {"2026-12-09": 2}})
    # When delivery releases it
    report, provider = deliver(store, counters, "m-1", counted_at=NOW - timedelta(minutes=1))
    # Then it is not sent: FAILED FREQUENCY_CAPPED, its credit back with a ledger entry
    assert report.outcomes == {"m-1": Outcome.FREQUENCY_CAPPED}
    assert provider.calls == []
    assert store.messages["m-1"].status == MessageStatus.FAILED
    assert store.details["m-1"]["code"] == "FREQUENCY_CAPPED"
    assert [e for e in store.ledger if e[2] == "REFUND"] == [("t-1", 1, "REFUND", ["m-1"])]
    assert store.ledger_sum("t-1") == 0


def test_a_released_message_under_the_cap_and_transactional_or_queued_ones_are_sent() -> None:
    # Given the number's only count today is the scheduled message's own, plus a transactional and a queued one
    store = InMemoryMessageStore()
    store.add(scheduled("m-1"))
    store.add(scheduled("m-2", recipient="+573009999999", purpose=Purpose.TRANSACTIONAL))
    store.add(scheduled("m-3", recipient="+573008888888", released=False))
    counters = InMemoryCounters(
        {
            ("t-1", NUMBER, "2026-W50"): {"2026-12-09": 1},
            ("t-1", "+573009999999", "2026-W50"): {"2026-12-09": 5},
            ("t-1", "+573008888888", "2026-W50"): {"2026-12-09": 5},
        }
    )
    # When delivered (the campaign was scheduled for today)
    report, provider = deliver(store, counters, "m-1", "m-2", "m-3", counted_at=NOW - timedelta(minutes=1))
    # Then all three go: the cap is not re-checked for transactional messages or messages that never waited
    assert report.outcomes == {"m-1": Outcome.SENT, "m-2": Outcome.SENT, "m-3": Outcome.SENT}
    assert sorted(c.message_id for c in provider.calls) == ["m-1", "m-2", "m-3"]


def test_a_message_counted_yesterday_and_released_today_is_capped_by_todays_other_count() -> None:
    # Given a campaign accepted yesterday without sendAt (counted yesterday) that the window moved to today
    store = InMemoryMessageStore()
    store.add(scheduled("m-1"))
    counters = InMemoryCounters({("t-1", NUMBER, "2026-W50"): {"2026-12-08": 1, "2026-12-09": 1}})
    # When released today, after another campaign reached the number today
    report, _ = deliver(store, counters, "m-1", counted_at=NOW - timedelta(days=1))
    # Then it is over the cap of one a day
    assert report.outcomes == {"m-1": Outcome.FREQUENCY_CAPPED}
