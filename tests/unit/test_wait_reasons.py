"""Why a message waits (smscore.domain.wait_reasons): the rule that closed the instant it asked to go, explained
against the rule itself (smscore.domain.windows.next_opening), at instants the tests name."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from smscore.domain.model import QuietHours
from smscore.domain.wait_reasons import WaitCode, WaitReason, explain_wait
from smscore.domain.windows import next_opening

BOGOTA = ZoneInfo("America/Bogota")


def reason_at(at: datetime, quiet: QuietHours | None = None, purpose: str = "marketing") -> WaitReason | None:
    release = next_opening(at, "CO", purpose, quiet)
    return explain_wait(now=at, start=at, release_at=release, country="CO", purpose=purpose, quiet_hours=quiet)


@pytest.mark.parametrize(
    ("at", "code", "text"),
    [
        (
            datetime(2026, 12, 6, 10, tzinfo=BOGOTA),
            WaitCode.SUNDAY,
            "Domingo: la Ley 2300 no permite mensajes de mercadeo; sale el lunes 7 dic, 07:00 (hora de Bogotá)",
        ),
        (
            datetime(2026, 12, 8, 10, tzinfo=BOGOTA),
            WaitCode.HOLIDAY,
            "Festivo (La Inmaculada Concepción): la Ley 2300 no permite mensajes de mercadeo; "
            "sale el miércoles 9 dic, 07:00 (hora de Bogotá)",
        ),
        (
            datetime(2026, 12, 12, 16, tzinfo=BOGOTA),
            WaitCode.OUTSIDE_HOURS,
            "Fuera del horario de mercadeo (08:00 a 15:00, Ley 2300); sale el lunes 14 dic, 07:00 (hora de Bogotá)",
        ),
        (
            datetime(2026, 12, 9, 5, 30, tzinfo=BOGOTA),
            WaitCode.OUTSIDE_HOURS,
            "Fuera del horario de mercadeo (07:00 a 19:00, Ley 2300); sale el miércoles 9 dic, 07:00 (hora de Bogotá)",
        ),
    ],
    ids=["sunday", "holiday", "saturday-afternoon", "before-opening"],
)
def test_the_law_s_reasons_with_their_sentences(at: datetime, code: WaitCode, text: str) -> None:
    reason = reason_at(at)
    assert reason is not None
    assert (reason.code, reason.text) == (code, text)
    assert not reason.text.endswith(".")
    assert reason.as_json()["releaseAt"] == reason.release_at.astimezone(UTC).isoformat()


def test_quiet_hours_over_midnight_are_the_tenants_reason() -> None:
    quiet = QuietHours(start=time(18), end=time(9), time_zone="America/Bogota")
    reason = reason_at(datetime(2026, 12, 9, 18, 30, tzinfo=BOGOTA), quiet)
    assert reason is not None
    assert (reason.code, reason.quiet_start, reason.quiet_end) == (WaitCode.QUIET_HOURS, "18:00", "09:00")
    assert reason.release_at == datetime(2026, 12, 10, 9, tzinfo=BOGOTA)


def test_a_message_that_goes_now_has_no_reason() -> None:
    assert reason_at(datetime(2026, 12, 9, 10, tzinfo=BOGOTA)) is None
    assert reason_at(datetime(2026, 12, 6, 10, tzinfo=BOGOTA), purpose="transactional") is None


def test_a_send_at_in_the_window_is_its_own_reason_and_round_trips() -> None:
    now = datetime(2026, 12, 9, 10, tzinfo=BOGOTA)
    send_at = datetime(2026, 12, 10, 11, tzinfo=BOGOTA)
    reason = explain_wait(
        now=now, start=send_at, release_at=send_at, country="CO", purpose="marketing", quiet_hours=None, send_at=send_at
    )
    assert reason is not None
    assert reason.code is WaitCode.SEND_AT
    assert reason.text == "Programada para el jueves 10 dic, 11:00 (hora de Bogotá)"
    assert WaitReason.from_json(reason.as_json()) == reason


def test_a_202_carries_the_reason_as_the_201_does() -> None:
    # Given a campaign above MaxSyncRecipients (answered 202) that waits for Monday
    from http import HTTPStatus

    from smscore.api.campaigns import CampaignService
    from smscore.domain.campaign import Audience, CampaignResult

    sunday = datetime(2026, 12, 6, 10, tzinfo=BOGOTA)
    reason = reason_at(sunday)
    assert reason is not None
    result = CampaignResult(
        queue_id="q1",
        messages=[],
        audience=Audience(),
        credits_debited=60_000,
        scheduled_for=reason.release_at,
        scheduled_reason=reason,
        accepted=True,
    )
    # When it is answered
    outcome = CampaignService._outcome(result)
    body = outcome.body.model_dump(mode="json")
    # Then the 202 says when and why, like a 201
    assert outcome.status is HTTPStatus.ACCEPTED
    assert body["scheduledFor"] == "2026-12-07T12:00:00Z"
    assert body["scheduledReason"]["code"] == "SUNDAY"
    assert body["scheduledReason"]["text"] == reason.text
