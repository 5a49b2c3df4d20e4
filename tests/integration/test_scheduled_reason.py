"""Every wait explained (issue 23, item 4) and a cancelled campaign's who and when, through the real handlers on moto.

The send function runs with SEND_WINDOWS=enforced and the process clock fixed (time_machine) at instants the test
names, so the answers never depend on the hour the test runs at.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from smscore import wiring
from smscore.dal.tables import DispatchRecord
from smscore.dal.tenant_settings import set_quiet_hours
from smscore.domain.model import QuietHours
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import Stack
from tests.integration.conftest import Campaign
from tests.integration.test_messages_api import get
from tests.integration.test_schedule_and_cancel import NUMBERS, cancel, post, tag_numbers

BOGOTA = ZoneInfo("America/Bogota")
SUNDAY_1000 = datetime(2026, 12, 6, 10, tzinfo=BOGOTA)
HOLIDAY_1000 = datetime(2026, 12, 8, 10, tzinfo=BOGOTA)  # Tuesday, La Inmaculada Concepción
SATURDAY_1600 = datetime(2026, 12, 12, 16, tzinfo=BOGOTA)
WEDNESDAY_1000 = datetime(2026, 12, 9, 10, tzinfo=BOGOTA)


@pytest.fixture
def windows_on(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for function in ("MessagesFunction", "SendByTagsFunction"):
        for key, value in function_environment(stack.names, function).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("SEND_WINDOWS", "enforced")
    wiring.reset()
    with serialised_moto():
        yield
    wiring.reset()


def send_at_instant(campaign: Campaign, at: datetime, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    with time_machine.travel(at, tick=False):
        return post(campaign, "/api/messages/sms/tags", body)


def utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_a_sunday_send_says_ley_2300_and_when_it_goes_in_the_201_the_campaign_and_the_message(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given a marketing campaign to two Colombian numbers, sent on Sunday 6 December 2026 at 10:00 in Bogota
    tag_id = tag_numbers(campaign, *NUMBERS[:2])
    status, body = send_at_instant(campaign, SUNDAY_1000, {"message": "Oferta", "tagIds": [tag_id]})

    # Then the 201 says it waits until Monday 07:00 because of the Sunday rule, with a ready Spanish sentence
    monday_0700 = datetime(2026, 12, 7, 7, tzinfo=BOGOTA)
    assert status == 201, body
    assert body["scheduledFor"] == utc(monday_0700)
    assert body["scheduledReason"] == {
        "code": "SUNDAY",
        "releaseAt": utc(monday_0700),
        "timeZone": "America/Bogota",
        "text": "Domingo: la Ley 2300 no permite mensajes de mercadeo; sale el lunes 7 dic, 07:00 (hora de Bogotá)",
    }
    # And the campaign's status and each message say the same
    status, queue = get(campaign, f"/api/messages/queues/{body['queueId']}")
    assert status == 200
    assert queue["scheduledReason"] == body["scheduledReason"]
    status, message = get(campaign, f"/api/messages/{body['messages'][0]['id']}")
    assert status == 200
    assert message["scheduledFor"] == utc(monday_0700)
    assert message["scheduledReason"]["code"] == "SUNDAY"
    assert message["scheduledReason"]["text"].endswith("sale el lunes 7 dic, 07:00 (hora de Bogotá)")
    # And the history step that waits carries its instant as data, not only as text
    assert message["history"][-1]["status"] == "SCHEDULED"
    assert message["history"][-1]["until"] == utc(monday_0700)


def test_a_holiday_is_named_from_the_holidays_package(stack: Stack, windows_on: None, campaign: Campaign) -> None:
    # Given a send on Tuesday 8 December 2026 at 10:00 (a holiday in Colombia)
    tag_id = tag_numbers(campaign, NUMBERS[0])
    status, body = send_at_instant(campaign, HOLIDAY_1000, {"message": "Oferta", "tagIds": [tag_id]})
    # Then the reason names the holiday in Spanish and the release is Wednesday 07:00
    assert status == 201, body
    reason = body["scheduledReason"]
    assert (reason["code"], reason["holiday"]) == ("HOLIDAY", "La Inmaculada Concepción")
    assert reason["releaseAt"] == utc(datetime(2026, 12, 9, 7, tzinfo=BOGOTA))
    assert reason["text"] == (
        "Festivo (La Inmaculada Concepción): la Ley 2300 no permite mensajes de mercadeo; "
        "sale el miércoles 9 dic, 07:00 (hora de Bogotá)"
    )
    assert not reason["text"].endswith(".")


def test_the_preview_gives_the_same_reason_before_anything_is_charged(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    tag_id = tag_numbers(campaign, NUMBERS[0])
    with time_machine.travel(SATURDAY_1600, tick=False):
        status, preview = post(campaign, "/api/messages/sms/tags/preview", {"message": "Oferta", "tagIds": [tag_id]})
    assert status == 200, preview
    reason = preview["scheduledReason"]
    assert (reason["code"], reason["opens"], reason["closes"]) == ("OUTSIDE_HOURS", "08:00", "15:00")
    assert reason["releaseAt"] == utc(datetime(2026, 12, 14, 7, tzinfo=BOGOTA))
    assert campaign.balance() == 1000


def test_the_tenants_quiet_hours_are_the_reason_inside_the_legal_window(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given quiet hours 09:00-12:00 in Bogota, and a send on Wednesday at 10:00 (inside the legal window)
    set_quiet_hours(campaign.tenant_id, QuietHours(start=time(9), end=time(12), time_zone="America/Bogota"))
    tag_id = tag_numbers(campaign, NUMBERS[0])
    status, body = send_at_instant(campaign, WEDNESDAY_1000, {"message": "Oferta", "tagIds": [tag_id]})
    # Then it waits until 12:00 for the quiet hours
    assert status == 201, body
    reason = body["scheduledReason"]
    assert (reason["code"], reason["quietStart"], reason["quietEnd"]) == ("QUIET_HOURS", "09:00", "12:00")
    assert reason["releaseAt"] == utc(datetime(2026, 12, 9, 12, tzinfo=BOGOTA))
    assert reason["text"].startswith("Horario de silencio de la empresa (09:00 a 12:00); sale el miércoles 9 dic")


def test_send_at_inside_the_window_is_the_reason_itself(stack: Stack, windows_on: None, campaign: Campaign) -> None:
    tag_id = tag_numbers(campaign, NUMBERS[0])
    send_at = datetime(2026, 12, 10, 11, tzinfo=BOGOTA)  # Thursday 11:00: open
    status, body = send_at_instant(
        campaign, WEDNESDAY_1000, {"message": "Oferta", "tagIds": [tag_id], "sendAt": send_at.isoformat()}
    )
    assert status == 201, body
    assert body["scheduledReason"]["code"] == "SEND_AT"
    assert body["scheduledReason"]["text"] == "Programada para el jueves 10 dic, 11:00 (hora de Bogotá)"


def test_a_transactional_send_in_the_window_does_not_wait(stack: Stack, windows_on: None, campaign: Campaign) -> None:
    tag_id = tag_numbers(campaign, NUMBERS[0])
    status, body = send_at_instant(
        campaign, SUNDAY_1000, {"message": "Tu pedido", "tagIds": [tag_id], "purpose": "transactional"}
    )
    assert status == 201, body
    assert "scheduledFor" not in body
    assert "scheduledReason" not in body


def test_a_cancelled_campaign_says_when_and_by_whom(stack: Stack, windows_on: None, campaign: Campaign) -> None:
    # Given a campaign waiting for Monday
    tag_id = tag_numbers(campaign, *NUMBERS[:2])
    status, body = send_at_instant(campaign, SUNDAY_1000, {"message": "Oferta", "tagIds": [tag_id]})
    assert status == 201, body
    # When its member cancels it at 11:00, and cancels it again at 11:30
    cancelled_at = datetime(2026, 12, 6, 11, tzinfo=BOGOTA)
    with time_machine.travel(cancelled_at, tick=False):
        assert cancel(campaign, body["queueId"])[0] == 200
    with time_machine.travel(datetime(2026, 12, 6, 11, 30, tzinfo=BOGOTA), tick=False):
        assert cancel(campaign, body["queueId"]) == (
            200,
            {"queueId": body["queueId"], "cancelled": 0, "refundedCredits": 0},
        )
    # Then the campaign says when (the first cancel) and by whom, as stored
    status, queue = get(campaign, f"/api/messages/queues/{body['queueId']}")
    assert status == 200
    assert queue["cancelledAt"] == utc(cancelled_at)
    assert queue["cancelledBy"] == campaign.member_id
    record = DispatchRecord.get(body["queueId"])
    assert (record.cancelled_at, record.cancelled_by) == (cancelled_at.astimezone(UTC), campaign.member_id)


def test_a_campaign_nobody_cancelled_has_no_cancel_fields(stack: Stack, windows_on: None, campaign: Campaign) -> None:
    tag_id = tag_numbers(campaign, NUMBERS[0])
    status, body = send_at_instant(campaign, SUNDAY_1000, {"message": "Oferta", "tagIds": [tag_id]})
    assert status == 201, body
    status, queue = get(campaign, f"/api/messages/queues/{body['queueId']}")
    assert status == 200
    assert (queue["cancelledAt"], queue["cancelledBy"]) == (None, None)
