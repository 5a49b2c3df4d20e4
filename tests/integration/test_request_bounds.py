"""Campaigns only their request can plan (trackLinks, resends), above the size it can plan in time, on moto.

A trackLinks campaign or a resend above MaxSyncRecipients is still read and planned by its request (its link items,
its original's messages); at 1,000,000 recipients that is about 86 s, so the client would get a 504. Above the
bound (smscore.domain.request_bounds, here lowered to 25) the request answers 400 AUDIENCE_TOO_LARGE_FOR_REQUEST at
once, having read, written, queued and debited nothing; under it, as before (a debited 202).
"""

from __future__ import annotations

from typing import Any

import pytest

from smscore.dal.tables import DispatchRecord, MessageRecord
from smscore.domain import request_bounds
from tests.integration.test_planned_fanout import Fanout
from tests.integration.test_planned_fanout import fanout as fanout
from tests.integration.test_planning import planned as planned
from tests.integration.test_planning import post, run, status
from tests.integration.test_preview_and_resend import call, resend

TEXT = "Mira la oferta https://tienda.example.co/ofertas"


def tracked(fanout: Fanout, path: str, key: str | None = "tracked-1") -> tuple[int, dict[str, Any]]:
    body = {"message": TEXT, "tagIds": [fanout.tag_id], "purpose": "transactional", "trackLinks": True}
    return call(fanout.campaign, path, body, headers={"Idempotency-Key": key} if key else None)


def test_a_tracked_campaign_above_the_bound_is_refused_at_once_and_nothing_is_written(
    planned: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 30 contacts under one tag, MaxSyncRecipients 20 and a request bound of 25
    monkeypatch.setattr(request_bounds, "MAX_REQUEST_PLANNED_RECIPIENTS", 25)
    for path in ("/api/messages/sms/tags", "/api/messages/sms/tags/preview"):
        # When a trackLinks campaign to the tag is sent (with an Idempotency-Key), or previewed
        code, body = tracked(planned, path)
        # Then 400 AUDIENCE_TOO_LARGE_FOR_REQUEST, naming the count, the bound and why
        assert code == 400, body
        assert (body["code"], body["recipients"], body["limit"], body["reason"]) == (
            "AUDIENCE_TOO_LARGE_FOR_REQUEST",
            30,
            25,
            "trackLinks",
        )
        assert "without trackLinks" in body["message"]
    # And nothing was recorded, written, queued or debited
    assert planned.campaign.balance() == planned.campaign.ledger_sum() == 100_000
    assert list(DispatchRecord.scan()) == []
    assert list(MessageRecord.scan()) == []
    assert planned.tasks() == []


def test_a_tracked_campaign_under_the_bound_is_planned_by_its_request_as_before(
    planned: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the same 30 contacts and a request bound of 35
    monkeypatch.setattr(request_bounds, "MAX_REQUEST_PLANNED_RECIPIENTS", 35)
    # When the trackLinks campaign is sent
    code, body = tracked(planned, "/api/messages/sms/tags")
    # Then 202, planned by its request: exact and debited at once, as before
    assert code == 202, body
    assert (body["totalMessages"], body["creditsDebited"]) == (30, 30)
    assert "planning" not in body
    assert planned.campaign.balance() == planned.campaign.ledger_sum() == 100_000 - 30


def test_a_resend_of_a_campaign_above_the_bound_is_refused_at_once(
    planned: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 30-message campaign planned by the workers and delivered
    code, sent, _ = post(planned)
    assert code == 202, sent
    run(planned)
    assert status(planned, sent["queueId"])["creditsDebited"] == 30
    balance = planned.campaign.balance()
    # And a request bound of 25
    monkeypatch.setattr(request_bounds, "MAX_REQUEST_PLANNED_RECIPIENTS", 25)
    # When it is resent
    code, body = resend(planned.campaign, sent["queueId"], key="resend-1")
    # Then 400 AUDIENCE_TOO_LARGE_FOR_REQUEST for a resend, nothing debited or queued
    assert code == 400, body
    assert (body["code"], body["recipients"], body["limit"], body["reason"]) == (
        "AUDIENCE_TOO_LARGE_FOR_REQUEST",
        30,
        25,
        "resend",
    )
    assert planned.campaign.balance() == planned.campaign.ledger_sum() == balance
    assert planned.tasks() == []
