"""The instants the clock guard replays the clock-sensitive tests at: outside, on and inside Colombia's send window.

A test that sends must name its send-window rule and, where the rule depends on it, its instant; the guard proves
it by running the tests marked `clock_sensitive` again with the process clock frozen (and ticking) at each of
these instants. Holidays come from the `holidays` package, the zone from `zoneinfo`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BOGOTA = ZoneInfo("America/Bogota")
ANCHOR = date(2026, 12, 6)  # the Sunday CI first failed at night; every instant below is derived from it


def _next_weekday(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def _next_weekday_holiday(start: date) -> date:
    """The first Colombian public holiday from `start` that falls Monday to Friday (so only the holiday closes it)."""
    import holidays

    colombia = holidays.country_holidays("CO", years=range(start.year, start.year + 2))
    return min(day for day in colombia if day >= start and day.weekday() < 5)


def frozen_instants() -> dict[str, datetime]:
    """Test id -> instant: Sunday 03:00, a weekday holiday at 10:00 and Wednesday 12:00, all in Bogota."""
    return {
        "sunday-0300-bogota": datetime.combine(_next_weekday(ANCHOR, 6), time(3), BOGOTA),
        "holiday-1000-bogota": datetime.combine(_next_weekday_holiday(ANCHOR), time(10), BOGOTA),
        "wednesday-1200-bogota": datetime.combine(_next_weekday(ANCHOR, 2), time(12), BOGOTA),
    }
