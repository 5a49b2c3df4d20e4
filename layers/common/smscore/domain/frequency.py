"""How often one tenant may send marketing to one number (Ley 2300 de 2023, art. 3, extended to advertising by art.
5, as secondary sources read it: at most one contact a day; Klaviyo-style "smart sending" caps anyway).

Counters are per (tenant, number, ISO week in America/Bogota), one item holding the week's count and each day's: a
campaign reads its recipients' items (by key) before pricing, skips the numbers at their cap (`skipped_frequency`,
never charged), and once debited writes the new counts, one small item per message (one write unit). Items expire
(TTL) two weeks after their week.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from smscore.domain.model import MarketingFrequency

BOGOTA = ZoneInfo("America/Bogota")
COUNTER_LIFETIME = timedelta(days=21)


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def bogota_day(at: datetime) -> date:
    return at.astimezone(BOGOTA).date()


@dataclass(frozen=True)
class Count:
    """One number's marketing messages from one tenant: on a day, and in that day's week."""

    day: int = 0
    week: int = 0
    days: dict[str, int] = field(default_factory=dict)  # the week's counts by ISO date, as stored

    def allows(self, cap: MarketingFrequency) -> bool:
        if cap.max_per_day and self.day >= cap.max_per_day:
            return False
        return not (cap.max_per_week and self.week >= cap.max_per_week)


class FrequencyCounters(Protocol):
    def counts(self, tenant_id: str, numbers: Sequence[str], day: date) -> dict[str, Count]:
        """The counts of `numbers` (absent: none yet) on `day` and its week."""
        ...

    def record(self, tenant_id: str, counts: dict[str, Count], day: date, expires_at: datetime) -> None:
        """Store each number's counts plus one message on `day` (one write per number)."""
        ...


def capped(cap: MarketingFrequency, counts: dict[str, Count]) -> set[str]:
    """The numbers already at their daily or weekly cap."""
    if not cap.max_per_day and not cap.max_per_week:
        return set()
    return {number for number, count in counts.items() if not count.allows(cap)}
