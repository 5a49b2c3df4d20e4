"""Why a message waits: the rule that held it at the instant it asked to go, as a code with its parameters (the admin
words it in the reader's language) and a ready sentence in Spanish (Colombia), the users' language.

The rule itself is smscore.domain.windows; this module only explains a wait that rule (or sendAt) produced. It reads
no clock: the caller passes the instant the message asked to go (`start`: now, or its sendAt) and the instant it is
due (`release_at`). The wait is explained by what closed `start`, in this order: a Sunday, a public holiday (named by
the `holidays` package, in Spanish), outside the day's marketing hours, the tenant's quiet hours. A wait that none of
them explains is the sendAt itself (SEND_AT), or a rule this module does not know (WINDOW).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from smscore.domain.model import Purpose, QuietHours
from smscore.domain.windows import LEGAL_WINDOWS, _holidays, _in_quiet_hours

__all__ = ["WaitCode", "WaitReason", "explain_wait"]

LAW = "Ley 2300"
WEEKDAYS_ES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
MONTHS_ES = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic")
SUNDAY = 6


class WaitCode(StrEnum):
    SUNDAY = "SUNDAY"  # Ley 2300: no marketing on Sundays
    HOLIDAY = "HOLIDAY"  # Ley 2300: no marketing on public holidays (`holiday` names it)
    OUTSIDE_HOURS = "OUTSIDE_HOURS"  # before the day's opening or after its closing (`opens`, `closes`)
    QUIET_HOURS = "QUIET_HOURS"  # the tenant's own pause (`quietStart`, `quietEnd`)
    SEND_AT = "SEND_AT"  # the campaign's sendAt
    WINDOW = "WINDOW"  # a send-window rule none of the above explains


@dataclass(frozen=True)
class WaitReason:
    code: WaitCode
    release_at: datetime  # UTC: when it goes
    time_zone: str  # the zone the rule is stated in (the legal zone, else the quiet hours', else UTC)
    holiday: str | None = None
    opens: str | None = None  # "HH:MM", the day's marketing hours (OUTSIDE_HOURS)
    closes: str | None = None
    quiet_start: str | None = None
    quiet_end: str | None = None
    send_at: datetime | None = None

    @property
    def text(self) -> str:
        """The reason as a Colombian reader reads it, one sentence without a final period."""
        release = _spanish_instant(self.release_at, self.time_zone)
        law = f"la {LAW} no permite mensajes de mercadeo"
        match self.code:
            case WaitCode.SUNDAY:
                return f"Domingo: {law}; sale el {release}"
            case WaitCode.HOLIDAY:
                return f"Festivo ({self.holiday}): {law}; sale el {release}"
            case WaitCode.OUTSIDE_HOURS:
                return f"Fuera del horario de mercadeo ({self.opens} a {self.closes}, {LAW}); sale el {release}"
            case WaitCode.QUIET_HOURS:
                return f"Horario de silencio de la empresa ({self.quiet_start} a {self.quiet_end}); sale el {release}"
            case WaitCode.SEND_AT:
                return f"Programada para el {release}"
        return f"Fuera de la ventana de envío; sale el {release}"

    def as_json(self) -> dict[str, Any]:
        """The wire form (`scheduledReason`, also stored on the campaign): camelCase, only the parameters set."""
        body: dict[str, Any] = {
            "code": self.code.value,
            "releaseAt": self.release_at.astimezone(UTC).isoformat(),
            "timeZone": self.time_zone,
            "holiday": self.holiday,
            "opens": self.opens,
            "closes": self.closes,
            "quietStart": self.quiet_start,
            "quietEnd": self.quiet_end,
            "sendAt": self.send_at.astimezone(UTC).isoformat() if self.send_at else None,
            "text": self.text,
        }
        return {key: value for key, value in body.items() if value is not None}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> WaitReason:
        send_at = body.get("sendAt")
        return cls(
            code=WaitCode(body["code"]),
            release_at=datetime.fromisoformat(body["releaseAt"]),
            time_zone=body["timeZone"],
            holiday=body.get("holiday"),
            opens=body.get("opens"),
            closes=body.get("closes"),
            quiet_start=body.get("quietStart"),
            quiet_end=body.get("quietEnd"),
            send_at=datetime.fromisoformat(send_at) if send_at else None,
        )


def _spanish_instant(at: datetime, zone_name: str) -> str:
    """'lunes 7 dic, 07:00 (hora de Bogotá)': the weekday and month named, the zone said."""
    local = at.astimezone(ZoneInfo(zone_name))
    zone = "hora de Bogotá" if zone_name == "America/Bogota" else ("UTC" if zone_name == "UTC" else f"hora {zone_name}")
    day = f"{WEEKDAYS_ES[local.weekday()]} {local.day} {MONTHS_ES[local.month - 1]}"
    return f"{day}, {local:%H:%M} ({zone})"


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def explain_wait(
    *,
    now: datetime,
    start: datetime,
    release_at: datetime,
    country: str | None,
    purpose: Purpose | str,
    quiet_hours: QuietHours | None,
    send_at: datetime | None = None,
) -> WaitReason | None:
    """Why a message of `purpose` to a number of `country`, asked at `now` to go at `start` (now, or its sendAt), is
    due at `release_at`; None when it does not wait."""
    now, start, release_at = now.astimezone(UTC), start.astimezone(UTC), release_at.astimezone(UTC)
    if release_at <= now:
        return None
    if release_at <= start:  # no window moved it: the sendAt alone holds it
        return WaitReason(
            WaitCode.SEND_AT, release_at=release_at, send_at=send_at, time_zone=_zone_of(country, quiet_hours)
        )
    window = LEGAL_WINDOWS.get(country.upper()) if country else None

    def reason(code: WaitCode, time_zone: str, **params: str | None) -> WaitReason:
        return WaitReason(code, release_at=release_at, time_zone=time_zone, send_at=send_at, **params)

    if Purpose(purpose) is Purpose.MARKETING and window is not None:
        zone = ZoneInfo(window.time_zone)
        local = start.astimezone(zone)
        day = local.date()
        if day.weekday() == SUNDAY and window.hours_by_weekday.get(SUNDAY) is None:
            return reason(WaitCode.SUNDAY, window.time_zone)
        if window.holidays_country is not None:
            name = _holidays(window.holidays_country).get(day)
            if name is not None:
                return reason(WaitCode.HOLIDAY, window.time_zone, holiday=str(name))
        hours = window.hours_on(day)
        if hours is None or not hours[0] <= local.time() < hours[1]:
            opens, closes = hours or (None, None)
            return reason(
                WaitCode.OUTSIDE_HOURS,
                window.time_zone,
                opens=_hhmm(opens) if opens else None,
                closes=_hhmm(closes) if closes else None,
            )
    if Purpose(purpose) is Purpose.MARKETING and quiet_hours is not None:
        local_time = start.astimezone(ZoneInfo(quiet_hours.time_zone)).time()
        if _in_quiet_hours(local_time, quiet_hours):
            return reason(
                WaitCode.QUIET_HOURS,
                quiet_hours.time_zone,
                quiet_start=_hhmm(quiet_hours.start),
                quiet_end=_hhmm(quiet_hours.end),
            )
    return reason(WaitCode.WINDOW, _zone_of(country, quiet_hours))


def _zone_of(country: str | None, quiet_hours: QuietHours | None) -> str:
    window = LEGAL_WINDOWS.get(country.upper()) if country else None
    if window is not None:
        return window.time_zone
    return quiet_hours.time_zone if quiet_hours is not None else "UTC"
