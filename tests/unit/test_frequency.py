"""The marketing frequency cap: which counts a cap allows, and a campaign's skips on in-memory ports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import pytest

from smscore.domain.campaign import CampaignLimits, CampaignRequest, send_campaign
from smscore.domain.compliance import CompliancePolicy
from smscore.domain.exclusions import load_snapshot
from smscore.domain.frequency import Count, capped, week_of
from smscore.domain.model import ComplianceSettings, MarketingFrequency, Purpose, TagRecipient
from smscore.domain.windows import sendat_only
from tests.fakes import InMemoryCampaignStore, InMemoryExclusionList, InMemoryQueue


@pytest.mark.parametrize(
    ("cap", "count", "allowed"),
    [
        (MarketingFrequency(1, 0), Count(day=0, week=5), True),  # no weekly cap
        (MarketingFrequency(1, 0), Count(day=1, week=1), False),
        (MarketingFrequency(2, 0), Count(day=1, week=1), True),
        (MarketingFrequency(0, 3), Count(day=2, week=2), True),  # no daily cap
        (MarketingFrequency(0, 3), Count(day=0, week=3), False),
        (MarketingFrequency(1, 3), Count(day=0, week=3), False),  # either cap stops it
        (MarketingFrequency(0, 0), Count(day=9, week=40), True),  # both off
    ],
)
def test_a_cap_allows_a_number_below_both_limits(cap: MarketingFrequency, count: Count, allowed: bool) -> None:
    assert count.allows(cap) is allowed
    assert capped(cap, {"+573001234567": count}) == (set() if allowed else {"+573001234567"})


@pytest.mark.parametrize(
    ("day", "week"), [(date(2026, 12, 6), "2026-W49"), (date(2026, 12, 7), "2026-W50"), (date(2027, 1, 1), "2026-W53")]
)
def test_weeks_are_iso_weeks_monday_to_sunday(day: date, week: str) -> None:
    assert week_of(day) == week


@dataclass
class InMemoryCounters:
    items: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)  # (tenant, number, week) -> days

    def counts(self, tenant_id: str, numbers: Sequence[str], day: date) -> dict[str, Count]:
        found = {}
        for number in numbers:
            days = self.items.get((tenant_id, number, week_of(day)))
            if days is not None:
                found[number] = Count(day=days.get(day.isoformat(), 0), week=sum(days.values()), days=dict(days))
        return found

    def record(self, tenant_id: str, counts: dict[str, Count], day: date, expires_at: datetime) -> None:
        for number, count in counts.items():
            self.items[(tenant_id, number, week_of(day))] = {**count.days, day.isoformat(): count.day + 1}


NOW = datetime(2026, 12, 9, 15, tzinfo=UTC)


def send(store: InMemoryCampaignStore, counters: InMemoryCounters, day: date, **request: object):  # type: ignore[no-untyped-def]
    exclusions = InMemoryExclusionList()
    load_snapshot([], date(2026, 12, 9), exclusions, now=NOW)
    limits = CampaignLimits(
        max_recipients=100,
        recipients_per_queue_message=10,
        default_provider="sandbox",
        character_limits={"sandbox": 1600},
        compliance=CompliancePolicy(exclusions, today=lambda: day, frequency=counters),  # type: ignore[arg-type]
    )
    body = CampaignRequest("t", "m", "Hola", ["all"], country="CO", **request)  # type: ignore[arg-type]
    return send_campaign(body, store=store, queue=InMemoryQueue(), limits=limits, opening=sendat_only)


@pytest.fixture
def store() -> InMemoryCampaignStore:
    store = InMemoryCampaignStore()
    store.add_tenant("t", credits=100)
    store.tag("t", "all", TagRecipient("c1", "3001234567"), TagRecipient("c2", "3007654321"))
    return store


def test_the_second_campaign_of_the_day_skips_numbers_at_the_cap_and_charges_nothing_for_them(
    store: InMemoryCampaignStore,
) -> None:
    counters = InMemoryCounters()
    first = send(store, counters, date(2026, 12, 9))
    assert (len(first.messages), first.audience.skipped_frequency) == (2, 0)
    second = send(store, counters, date(2026, 12, 9))
    assert (len(second.messages), second.audience.skipped_frequency, second.credits_debited) == (0, 2, 0)
    assert store.balance("t") == 98
    # The next day the daily cap (the default, 1) lets them through again
    third = send(store, counters, date(2026, 12, 10))
    assert len(third.messages) == 2


def test_a_weekly_cap_counts_the_whole_week(store: InMemoryCampaignStore) -> None:
    store.tenants["t"] = replace(
        store.tenants["t"],
        compliance=ComplianceSettings(sender_name="Acme", frequency=MarketingFrequency(max_per_day=0, max_per_week=2)),
    )
    counters = InMemoryCounters()
    assert len(send(store, counters, date(2026, 12, 8)).messages) == 2  # Tuesday
    assert len(send(store, counters, date(2026, 12, 9)).messages) == 2  # Wednesday
    assert send(store, counters, date(2026, 12, 10)).audience.skipped_frequency == 2  # Thursday: 2 this week
    assert len(send(store, counters, date(2026, 12, 14)).messages) == 2  # next Monday: a new week


def test_transactional_sends_are_not_capped(store: InMemoryCampaignStore) -> None:
    counters = InMemoryCounters()
    send(store, counters, date(2026, 12, 9))
    assert len(send(store, counters, date(2026, 12, 9), purpose=Purpose.TRANSACTIONAL).messages) == 2
