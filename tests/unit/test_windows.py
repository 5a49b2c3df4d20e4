"""The send-window calculator, table-driven: Colombia's Ley 2300 de 2023 window (America/Bogota, UTC-5 all year),
its holidays from the `holidays` package, tenant quiet hours, sendAt, and transactional messages ignoring it all.

Times are written in Bogota local time (UTC-5) so each row reads like the law."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from smscore.domain.model import Purpose, QuietHours
from smscore.domain.windows import country_of, is_allowed, next_opening, parse_quiet_hours, quiet_hours_json

BOGOTA = timezone(timedelta(hours=-5))


def bogota(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BOGOTA)


# 2026-11-23 is a Monday. November 2026 holidays in Colombia: Mon 2 (All Saints, moved from Sun 1 by Ley Emiliani)
# and Mon 16 (Independence of Cartagena, moved from Wed 11).
WINDOW_ROWS = [
    # (case, at, expected opening)
    ("weekday before opening", bogota(2026, 11, 23, 6, 59), bogota(2026, 11, 23, 7)),
    ("weekday at opening", bogota(2026, 11, 23, 7), bogota(2026, 11, 23, 7)),
    ("weekday inside", bogota(2026, 11, 24, 12, 30), bogota(2026, 11, 24, 12, 30)),
    ("weekday last minute", bogota(2026, 11, 25, 18, 59), bogota(2026, 11, 25, 18, 59)),
    ("weekday at closing", bogota(2026, 11, 25, 19), bogota(2026, 11, 26, 7)),
    ("weekday night", bogota(2026, 11, 26, 23, 30), bogota(2026, 11, 27, 7)),
    ("Friday at closing goes to Saturday 08:00", bogota(2026, 11, 27, 19), bogota(2026, 11, 28, 8)),
    ("Saturday before opening", bogota(2026, 11, 28, 7, 30), bogota(2026, 11, 28, 8)),
    ("Saturday inside", bogota(2026, 11, 28, 14, 59), bogota(2026, 11, 28, 14, 59)),
    ("Saturday 15:00 is closed", bogota(2026, 11, 28, 15), bogota(2026, 11, 30, 7)),
    ("Sunday", bogota(2026, 11, 29, 10), bogota(2026, 11, 30, 7)),
    ("All Saints moved to Monday (Ley Emiliani)", bogota(2026, 11, 2, 9), bogota(2026, 11, 3, 7)),
    ("Epiphany observed Monday Jan 12 (Ley Emiliani)", bogota(2026, 1, 12, 10), bogota(2026, 1, 13, 7)),
    ("Jan 6 itself is a working Tuesday", bogota(2026, 1, 6, 10), bogota(2026, 1, 6, 10)),
    ("Sunday before a Monday holiday", bogota(2026, 11, 15, 12), bogota(2026, 11, 17, 7)),
    ("Christmas", bogota(2026, 12, 25, 10), bogota(2026, 12, 26, 8)),
    ("New Year's Day, then the weekend", bogota(2027, 1, 1, 10), bogota(2027, 1, 2, 8)),
    ("Independence Day", bogota(2026, 7, 20, 8), bogota(2026, 7, 21, 7)),
    ("Holy Thursday and Good Friday", bogota(2026, 4, 2, 10), bogota(2026, 4, 4, 8)),
]


@pytest.mark.parametrize(("case", "at", "expected"), WINDOW_ROWS, ids=[row[0] for row in WINDOW_ROWS])
def test_marketing_to_colombia_waits_for_the_legal_window(case: str, at: datetime, expected: datetime) -> None:
    # Given a marketing message to a Colombian number at `at` / When the next opening is asked
    opening = next_opening(at, "CO", Purpose.MARKETING, None)
    # Then it is `expected`, in UTC, and it is allowed exactly when it equals `at`
    assert opening == expected.astimezone(UTC)
    assert opening.tzinfo == UTC
    assert is_allowed(at, "CO", Purpose.MARKETING, None) is (expected == at)


@pytest.mark.parametrize("at", [row[1] for row in WINDOW_ROWS], ids=[row[0] for row in WINDOW_ROWS])
def test_transactional_messages_ignore_the_marketing_window(at: datetime) -> None:
    # Given a transactional message at any of the rows' times / Then it goes at once
    assert next_opening(at, "CO", Purpose.TRANSACTIONAL, None) == at.astimezone(UTC)


def test_a_country_without_a_built_in_window_goes_at_once() -> None:
    at = bogota(2026, 11, 29, 3)  # Sunday night in Bogota
    assert next_opening(at, "US", Purpose.MARKETING, None) == at.astimezone(UTC)
    assert next_opening(at, None, Purpose.MARKETING, None) == at.astimezone(UTC)


QUIET = QuietHours(start=time(12), end=time(14), time_zone="America/Bogota")
NIGHT = QuietHours(start=time(21), end=time(8), time_zone="America/Bogota")
QUIET_ROWS = [
    # (case, at, country, quiet hours, expected)
    (
        "inside the window, inside lunch quiet hours",
        bogota(2026, 11, 24, 12, 30),
        "CO",
        QUIET,
        bogota(2026, 11, 24, 14),
    ),
    ("quiet hours end exactly at their end", bogota(2026, 11, 24, 14), "CO", QUIET, bogota(2026, 11, 24, 14)),
    ("overnight quiet hours push the 07:00 opening", bogota(2026, 11, 24, 6), "CO", NIGHT, bogota(2026, 11, 24, 8)),
    ("quiet hours end on a Sunday: the law wins", bogota(2026, 11, 28, 22), "CO", NIGHT, bogota(2026, 11, 30, 8)),
    ("quiet hours alone apply without a legal window", bogota(2026, 11, 29, 23), "US", NIGHT, bogota(2026, 11, 30, 8)),
    ("Saturday lunch quiet hours", bogota(2026, 11, 28, 13), "CO", QUIET, bogota(2026, 11, 28, 14)),
]


@pytest.mark.parametrize(("case", "at", "country", "quiet", "expected"), QUIET_ROWS, ids=[r[0] for r in QUIET_ROWS])
def test_tenant_quiet_hours_apply_to_marketing_on_top_of_the_law(
    case: str, at: datetime, country: str, quiet: QuietHours, expected: datetime
) -> None:
    assert next_opening(at, country, Purpose.MARKETING, quiet) == expected.astimezone(UTC)
    # And transactional messages ignore the tenant's quiet hours too
    assert next_opening(at, country, Purpose.TRANSACTIONAL, quiet) == at.astimezone(UTC)


SEND_AT_ROWS = [
    ("sendAt inside the window goes at sendAt", bogota(2026, 11, 24, 10, 15), bogota(2026, 11, 24, 10, 15)),
    ("sendAt on a Sunday waits for Monday 07:00", bogota(2026, 11, 29, 9), bogota(2026, 11, 30, 7)),
    ("sendAt on a Saturday evening waits for Monday", bogota(2026, 11, 28, 18), bogota(2026, 11, 30, 7)),
    ("sendAt in UTC, 19:30 in Bogota", datetime(2026, 11, 25, 0, 30, tzinfo=UTC), bogota(2026, 11, 25, 7)),
]


@pytest.mark.parametrize(("case", "send_at", "expected"), SEND_AT_ROWS, ids=[r[0] for r in SEND_AT_ROWS])
def test_a_send_at_moves_to_the_window_only_when_outside_it(case: str, send_at: datetime, expected: datetime) -> None:
    assert next_opening(send_at, "CO", Purpose.MARKETING, None) == expected.astimezone(UTC)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_opening(datetime(2026, 11, 24, 10), "CO", Purpose.MARKETING, None)


def test_quiet_hours_parse_and_print_back() -> None:
    stored = {"start": "21:00", "end": "08:00", "timeZone": "America/Bogota"}
    assert parse_quiet_hours(stored) == NIGHT
    assert quiet_hours_json(NIGHT) == stored


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"start": "21:00", "end": "21:00", "timeZone": "America/Bogota"}, "differ"),
        ({"start": "25:00", "end": "08:00", "timeZone": "America/Bogota"}, "hour"),
        ({"start": "21:00", "end": "08:00", "timeZone": "Mars/Olympus"}, "time zone"),
        ({"start": "21:00", "end": "08:00"}, "timeZone"),
    ],
)
def test_wrong_quiet_hours_are_refused(value: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_quiet_hours(value)


def test_the_country_of_a_number_is_read_from_its_calling_code() -> None:
    assert country_of("+573001234567") == "CO"
    assert country_of("+14155550100") == "US"
    assert country_of("not a number") is None
