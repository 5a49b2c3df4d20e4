"""When a marketing message may reach a handset: the legal send window of the recipient's country and the
tenant's own quiet hours. Transactional messages ignore both.

Colombia (Ley 2300 de 2023, "Ley dejen de fregar", art. 3): marketing and collection contact only Monday to
Friday 07:00-19:00 and Saturday 08:00-15:00, local time (America/Bogota), never on Sundays or public holidays.
The holidays come from the `holidays` package (Ley Emiliani moves included), never from a hand-written list.

Windows are half-open: 07:00 is inside, 19:00 is not. A country without a built-in window has none (only the
tenant's quiet hours apply there).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from smscore.domain.model import Purpose, QuietHours, StoredMessage

__all__ = [
    "LEGAL_WINDOWS",
    "DeliveryWindows",
    "LegalWindow",
    "OpeningRule",
    "Purpose",
    "QuietHours",
    "Rescheduler",
    "country_of",
    "is_allowed",
    "next_opening",
    "parse_quiet_hours",
    "quiet_hours_json",
    "sendat_only",
]

# A window is looked for at most this far ahead; past it something is misconfigured (a window with no open day).
_HORIZON_DAYS = 400


# next_opening's shape: what the send path, the preview and delivery call (tests and SEND_WINDOWS=off pass another).
OpeningRule = Callable[[datetime, "str | None", Purpose, "QuietHours | None"], datetime]


@dataclass(frozen=True)
class LegalWindow:
    """A country's marketing hours: per weekday (Monday = 0) an opening and a closing local time, or none."""

    time_zone: str
    hours_by_weekday: dict[int, tuple[time, time]]
    holidays_country: str | None
    legal_source: str

    def hours_on(self, day: date) -> tuple[time, time] | None:
        if self.holidays_country is not None and day in _holidays(self.holidays_country):
            return None
        return self.hours_by_weekday.get(day.weekday())


LEGAL_WINDOWS: dict[str, LegalWindow] = {
    "CO": LegalWindow(
        time_zone="America/Bogota",
        hours_by_weekday={
            **{weekday: (time(7), time(19)) for weekday in range(5)},
            5: (time(8), time(15)),
        },
        holidays_country="CO",
        legal_source="Ley 2300 de 2023 (Colombia), art. 3",
    ),
}


@lru_cache(maxsize=8)
def _holidays(country: str) -> Any:
    """The country's public holidays, years filled in on demand by the package (`expand=True`).

    Imported on first use: `holidays` costs about a quarter of `import boto3`, and a cold start that sends only
    transactional messages (or runs with SEND_WINDOWS=off) never needs it."""
    import holidays

    return holidays.country_holidays(country)


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("send windows need an aware datetime")
    return at.astimezone(UTC)


def _next_legal(at: datetime, window: LegalWindow) -> datetime:
    """`at` when inside the legal window, else the next opening."""
    zone = _zone(window.time_zone)
    local = at.astimezone(zone)
    for offset in range(_HORIZON_DAYS):
        day = local.date() + timedelta(days=offset)
        hours = window.hours_on(day)
        if hours is None:
            continue
        opens = datetime.combine(day, hours[0], tzinfo=zone)
        closes = datetime.combine(day, hours[1], tzinfo=zone)
        if offset == 0 and opens <= local < closes:
            return at
        if local < opens:
            return opens.astimezone(UTC)
    raise RuntimeError(f"no send window within {_HORIZON_DAYS} days in {window.time_zone}")


def _in_quiet_hours(local_time: time, quiet: QuietHours) -> bool:
    if quiet.start < quiet.end:
        return quiet.start <= local_time < quiet.end
    return local_time >= quiet.start or local_time < quiet.end  # wraps midnight


def _after_quiet_hours(at: datetime, quiet: QuietHours) -> datetime:
    """`at` when outside the tenant's quiet hours, else the instant they end."""
    zone = _zone(quiet.time_zone)
    local = at.astimezone(zone)
    if not _in_quiet_hours(local.timetz().replace(tzinfo=None), quiet):
        return at
    ends = datetime.combine(local.date(), quiet.end, tzinfo=zone)
    if ends <= local:
        ends = datetime.combine(local.date() + timedelta(days=1), quiet.end, tzinfo=zone)
    return ends.astimezone(UTC)


def next_opening(
    at: datetime,
    country: str | None,
    purpose: Purpose | str = Purpose.MARKETING,
    quiet_hours: QuietHours | None = None,
) -> datetime:
    """The earliest instant >= `at` at which a message of this purpose may go to a number of `country`
    (ISO 3166-1 alpha-2, None when unknown), as an aware UTC datetime: `at` itself when it may go now."""
    candidate = _utc(at)
    if Purpose(purpose) is Purpose.TRANSACTIONAL:
        return candidate
    window = LEGAL_WINDOWS.get(country.upper()) if country else None
    # Each step only moves forward, to the start of an allowed stretch of one rule; stop when both agree.
    for _ in range(2 * _HORIZON_DAYS):
        moved = candidate
        if window is not None:
            moved = _next_legal(moved, window)
        if quiet_hours is not None:
            moved = _after_quiet_hours(moved, quiet_hours)
        if moved == candidate:
            return candidate
        candidate = moved
    raise RuntimeError("the legal window and the quiet hours never overlap")


def sendat_only(at: datetime, country: str | None, purpose: Purpose | str, quiet_hours: QuietHours | None) -> datetime:
    """The rule with send windows switched off (SEND_WINDOWS=off): only sendAt delays a message."""
    return _utc(at)


def is_allowed(at: datetime, country: str | None, purpose: Purpose | str, quiet_hours: QuietHours | None) -> bool:
    """Whether a message may go at `at` (what delivery re-checks just before sending)."""
    return next_opening(at, country, purpose, quiet_hours) == _utc(at)


def parse_quiet_hours(value: dict[str, str]) -> QuietHours:
    """`{"start": "21:00", "end": "08:00", "timeZone": "America/Bogota"}` -> QuietHours (ValueError when wrong)."""
    try:
        start = time.fromisoformat(value["start"])
        end = time.fromisoformat(value["end"])
        zone_name = value["timeZone"]
    except (KeyError, TypeError) as exc:
        raise ValueError("quiet hours need start, end (HH:MM) and timeZone") from exc
    if start == end:
        raise ValueError("quiet hours start and end must differ")
    try:
        _zone(zone_name)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown time zone {zone_name!r}") from exc
    return QuietHours(start=start.replace(tzinfo=None), end=end.replace(tzinfo=None), time_zone=zone_name)


def quiet_hours_json(quiet: QuietHours) -> dict[str, str]:
    """The stored/wire form of quiet hours (inverse of `parse_quiet_hours`)."""
    return {"start": quiet.start.strftime("%H:%M"), "end": quiet.end.strftime("%H:%M"), "timeZone": quiet.time_zone}


@lru_cache(maxsize=65_536)
def country_of(e164: str) -> str | None:
    """The ISO country of an E.164 number: its window applies to it (None when the number names none).

    A calling code that belongs to one country alone (+57: CO) names it without parsing the number (a campaign
    asks this for every recipient); shared ones (+1, +44, +7...) are parsed."""
    import phonenumbers  # on first use, like smscore.domain.phone: not part of the handlers' cold start

    sole = _sole_regions()
    for digits in (2, 3, 4):
        region = sole.get(e164[1:digits]) if e164[:1] == "+" else None
        if region is not None:
            return region
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
    return region if region and region != "ZZ" else None


@functools.cache
def _sole_regions() -> dict[str, str]:
    """Calling code (digits) -> its country, for the codes phonenumbers gives exactly one geographic region."""
    import phonenumbers

    return {
        str(code): regions[0]
        for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()
        if len(regions) == 1 and regions[0] != "001"
    }


class Rescheduler(Protocol):
    def reschedule(self, message: StoredMessage, due_at: datetime, now: datetime) -> bool:
        """QUEUED (or SCHEDULED and due) -> SCHEDULED until `due_at`, conditional on the status and attempts read."""
        ...


@dataclass(frozen=True)
class DeliveryWindows:
    """Delivery's re-check of the window just before sending (smscore.domain.delivery): the rule, the tenant's
    quiet hours (a cached lookup) and the store that puts a message back to SCHEDULED."""

    quiet_hours_of: Callable[[str], QuietHours | None]
    store: Rescheduler
    rule: OpeningRule = next_opening

    def opening(self, message: StoredMessage, now: datetime) -> datetime:
        return self.rule(now, country_of(message.recipient), message.purpose, self.quiet_hours_of(message.tenant_id))

    def reschedule(self, message: StoredMessage, due_at: datetime, now: datetime) -> bool:
        return self.store.reschedule(message, due_at, now)
