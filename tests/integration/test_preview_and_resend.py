"""POST /api/messages/sms/tags/preview and POST /api/messages/queues/{queueId}/resend through the real handler on
moto: the preview is the price a send then charges and writes nothing; a resend reaches exactly the recipients
whose messages failed for a reason another attempt may overcome, and is paid, idempotent and answered like a send."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.messages import app as messages_handler
from functions.send_by_tags import app as handler
from smscore import wiring
from smscore.dal.tables import ContactRecord, DispatchRecord, LedgerRecord, MessageRecord
from smscore.domain.ports import ConsentChange
from tests.conftest import LambdaContextStub, Stack, api_event
from tests.integration.conftest import Campaign, make_campaign

PREVIEW = "/api/messages/sms/tags/preview"
SEND = "/api/messages/sms/tags"


def call(
    campaign: Campaign, path: str, body: Any, headers: dict[str, str] | None = None, resource: str | None = None
) -> tuple[int, dict[str, Any]]:
    event = api_event(
        body, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token, headers=headers
    )
    event["path"] = path
    event["resource"] = resource or path
    event["requestContext"]["resourcePath"] = resource or path
    event["requestContext"]["path"] = f"/dev{path}"
    if resource and "{queueId}" in resource:
        event["pathParameters"] = {"queueId": path.split("/")[4]}
    response = handler.lambda_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def preview(campaign: Campaign, body: Any) -> tuple[int, dict[str, Any]]:
    return call(campaign, PREVIEW, body)


def send(campaign: Campaign, body: Any) -> tuple[int, dict[str, Any]]:
    return call(campaign, SEND, body)


def resend(campaign: Campaign, queue_id: str, body: Any = None, key: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Idempotency-Key": key} if key else None
    return call(
        campaign,
        f"/api/messages/queues/{queue_id}/resend",
        body,
        headers=headers,
        resource="/api/messages/queues/{queueId}/resend",
    )


def queue_status(campaign: Campaign, queue_id: str) -> dict[str, Any]:
    event = api_event(None, tenant_id=campaign.tenant_id, member_id=campaign.member_id)
    event.update(
        httpMethod="GET",
        path=f"/api/messages/queues/{queue_id}",
        resource="/api/messages/queues/{queueId}",
        pathParameters={"queueId": queue_id},
    )
    response = messages_handler.lambda_handler(event, LambdaContextStub())
    assert response["statusCode"] == 200, response["body"]
    body: dict[str, Any] = json.loads(response["body"])
    return body


def stop_received(number: str) -> None:
    """Given: the number replied STOP to the sandbox's sender (the suppression list only, no contact changed)."""
    sender = wiring.campaign_limits(wiring.bound_settings()).sender_for("sandbox")
    change = ConsentChange(
        number=number, sender=sender, opted_out=True, keyword="STOP", at=datetime.now(UTC), provider="sandbox"
    )
    assert wiring.suppression_list().record(change)


def writes(stack: Stack, campaign: Campaign) -> dict[str, Any]:
    """Everything a request could have left behind."""
    return {
        "messages": sorted(m.message_id for m in MessageRecord.scan()),
        "dispatches": sorted(d.queue_id for d in DispatchRecord.scan()),
        "ledger": sorted(e.entry_id for e in LedgerRecord.scan()),
        "balance": campaign.balance(),
        "queued": stack.drain_delivery_queue(),
    }


# -- preview -------------------------------------------------------------------------------------------------

BODIES = {
    "duplicates, invalid and opted out": (
        {"message": "Offer for our customers", "tagIds": ["vip", "buyers"]},
        {
            "recipients": 3,
            "skippedInvalid": 1,
            "skippedOptedOut": 1,
            "duplicatesRemoved": 2,
            "segments": 1,
            "encoding": "GSM-7",
        },
    ),
    "unicode text of three segments": (
        {"message": "Promoción en Bogotá ✓ " + "x" * 120, "tagIds": ["vip"], "country": "CO"},
        {
            "recipients": 3,
            "skippedInvalid": 0,
            "skippedOptedOut": 0,
            "duplicatesRemoved": 0,
            "segments": 3,
            "encoding": "UCS-2",
        },
    ),
    "long GSM-7 text of two segments to the buyers": (
        {"message": "A" * 161, "tagIds": ["buyers"]},
        {
            "recipients": 2,
            "skippedInvalid": 1,
            "skippedOptedOut": 1,
            "duplicatesRemoved": 0,
            "segments": 2,
            "encoding": "GSM-7",
        },
    ),
}


@pytest.mark.parametrize(("body", "expected"), list(BODIES.values()), ids=list(BODIES))
def test_the_preview_is_exactly_what_the_send_then_debits(
    stack: Stack, audience: Campaign, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    # Given a body naming tags of the tenant
    body = {**body, "tagIds": [audience.tags[name] for name in body["tagIds"]]}
    # When it is previewed
    status, shown = preview(audience, body)
    # Then the preview tells who is reached, who is left out and why, and the price
    assert status == 200
    assert {key: shown[key] for key in expected} == expected
    assert shown["creditsRequired"] == expected["recipients"] * expected["segments"]
    assert shown["creditsAvailable"] == 1000
    # And a send of the same body then debits exactly that, for exactly that many messages, waiting as said
    status, sent = send(audience, body)
    assert status == 201
    assert sent.get("scheduledFor") == shown["scheduledFor"]
    assert len(sent["messages"]) == shown["recipients"]
    assert audience.balance() == 1000 - shown["creditsRequired"]
    assert DispatchRecord.get(sent["queueId"]).credits_debited == shown["creditsRequired"]


def test_numbers_suppressed_by_a_stop_are_previewed_as_skipped_and_not_charged(
    stack: Stack, audience: Campaign
) -> None:
    # Given Beto's number replied STOP to the sender
    stop_received("+573009876543")
    body = {"message": "Hi", "tagIds": [audience.tags["vip"], audience.tags["buyers"]]}
    # When the body is previewed, then sent
    _, shown = preview(audience, body)
    status, sent = send(audience, body)
    # Then both leave Beto out, counted as opted out, and the send debits what the preview said
    assert (shown["recipients"], shown["skippedOptedOut"], shown["creditsRequired"]) == (2, 2, 2)
    assert status == 201
    assert "+573009876543" not in {m["recipient"] for m in sent["messages"]}
    assert audience.balance() == 1000 - shown["creditsRequired"]


def test_a_scheduled_body_previews_the_opening_the_send_then_answers(stack: Stack, audience: Campaign) -> None:
    # Given a marketing body for next Sunday 10:00 in Bogota
    bogota_now = datetime.now(UTC) - timedelta(hours=5)
    sunday = (bogota_now + timedelta(days=(6 - bogota_now.weekday()) % 7 or 7)).date()
    send_at = f"{sunday.isoformat()}T10:00:00-05:00"
    body = {"message": "Hi", "tagIds": [audience.tags["vip"]], "sendAt": send_at}
    # When it is previewed, then sent
    _, shown = preview(audience, body)
    status, sent = send(audience, body)
    # Then the preview says the campaign waits until sendAt at least (then the window), and the send says the same
    assert status == 201
    assert shown["scheduledFor"] is not None
    assert datetime.fromisoformat(shown["scheduledFor"]) >= datetime.fromisoformat(send_at)
    assert sent["scheduledFor"] == shown["scheduledFor"]
    assert audience.balance() == 1000 - shown["creditsRequired"]


def test_the_preview_writes_nothing(stack: Stack, audience: Campaign) -> None:
    # Given the tenant's state before
    before = writes(stack, audience)
    # When a body reaching three recipients is previewed twice
    for _ in range(2):
        status, shown = preview(audience, {"message": "Hi", "tagIds": [audience.tags["vip"]]})
        assert (status, shown["recipients"], shown["creditsRequired"]) == (200, 3, 3)
    # Then no message, no campaign, no ledger entry, no balance change and nothing on the queue
    assert writes(stack, audience) == before
    assert before["messages"] == []


def test_a_short_balance_is_shown_not_refused(stack: Stack, admin: Any) -> None:
    # Given a tenant with 1 credit and two contacts
    poor = make_campaign(admin, credits=1)
    poor.add("3001234567", "all")
    poor.add("3001234568", "all")
    # When it previews a send to both
    status, shown = preview(poor, {"message": "Hi", "tagIds": [poor.tags["all"]]})
    # Then the preview answers the price and the balance (the send would be 402)
    assert status == 200
    assert (shown["creditsRequired"], shown["creditsAvailable"]) == (2, 1)
    assert send(poor, {"message": "Hi", "tagIds": [poor.tags["all"]]})[0] == 402


def test_nobody_reached_previews_zero(stack: Stack, audience: Campaign) -> None:
    status, shown = preview(audience, {"message": "Hi", "tagIds": ["7d5f0a52-2b1c-4c55-9a39-0c7a3c1f1e11"]})
    assert status == 200
    assert (shown["recipients"], shown["creditsRequired"], shown["segments"]) == (0, 0, 1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tagIds": ["7d5f0a52-2b1c-4c55-9a39-0c7a3c1f1e11"]}, "message"),
        ({"message": "Hi", "tagIds": []}, "tagIds"),
        (
            {"message": "Hi", "tagIds": ["7d5f0a52-2b1c-4c55-9a39-0c7a3c1f1e11"], "sendAt": "2020-01-01T00:00:00Z"},
            "sendAt",
        ),
    ],
)
def test_the_preview_refuses_what_the_send_refuses(
    stack: Stack, audience: Campaign, body: dict[str, Any], field: str
) -> None:
    status, error = preview(audience, body)
    assert status == 400
    assert error["code"] == "VALIDATION_ERROR"
    assert field in {d["field"] for d in error["details"]}


def test_a_text_over_the_provider_limit_is_refused_by_the_preview_too(stack: Stack, audience: Campaign) -> None:
    status, error = preview(audience, {"message": "x" * 1601, "tagIds": [audience.tags["vip"]]})
    assert (status, error["code"]) == (400, "VALIDATION_ERROR")


# -- resend --------------------------------------------------------------------------------------------------

# How each recipient's message of the first campaign ended, and whether a resend should reach it.
OUTCOMES: dict[str, tuple[str, str | None, str | None, bool]] = {
    # number: (status, provider error code, failure reason, resent?)
    "+573001110001": ("FAILED", "SANDBOX_429", "retries exhausted: Too many requests", True),
    "+573001110002": ("UNDELIVERED", "30003", None, True),  # Twilio: unreachable handset (switched off)
    "+573001110003": ("FAILED", None, "not enqueued", True),  # the fan-out could not enqueue it (refunded)
    "+573001110004": ("SENT", None, None, False),
    "+573001110005": ("DELIVERED", None, None, False),
    "+573001110006": ("FAILED", "SANDBOX_21211", "permanent failure: not a valid phone number", False),
    "+573001110007": ("UNDELIVERED", "30005", None, False),  # Twilio: unknown destination handset
    "+573001110008": ("FAILED", "OPTED_OUT", "OPTED_OUT", False),  # STOP received mid-campaign
    "+573001110009": ("FAILED", "21610", "permanent failure: unsubscribed recipient", False),
    "+573001110010": ("QUEUED", None, None, False),
}


def end_as(message_id: str, status: str, code: str | None, reason: str | None) -> None:
    """Given: the message ended this way (as the deliver function or a receipt would have left it)."""
    MessageRecord(message_id).update(
        actions=[
            MessageRecord.status.set(status),
            MessageRecord.provider_error_code.set(code),
            MessageRecord.failure_reason.set(reason),
        ]
    )


def finish(stack: Stack, campaign: Campaign) -> str:
    """A campaign of one message per OUTCOMES number, each ended as OUTCOMES says; the queue drained."""
    for number in OUTCOMES:
        campaign.add(number, "all")
    body = {"message": "Tu pedido está listo", "tagIds": [campaign.tags["all"]], "purpose": "transactional"}
    status, sent = send(campaign, body)
    assert status == 201
    stack.drain_delivery_queue()
    for message in sent["messages"]:
        end_as(message["id"], *OUTCOMES[message["recipient"]][:3])
    return str(sent["queueId"])


@pytest.fixture
def finished(stack: Stack, campaign: Campaign) -> tuple[Campaign, str]:
    return campaign, finish(stack, campaign)


def test_a_resend_reaches_only_the_failures_another_attempt_may_fix(
    stack: Stack, finished: tuple[Campaign, str]
) -> None:
    campaign, original = finished
    balance = campaign.balance()
    # When the campaign is resent (transactional: it goes now, whatever the hour)
    status, body = resend(campaign, original, {"purpose": "transactional"})
    # Then a new campaign goes to exactly the recipients that failed for a reason that is not theirs for good
    expected = sorted(number for number, outcome in OUTCOMES.items() if outcome[3])
    assert status == 201
    assert body["queueId"] not in ("", original)
    assert [m["recipient"] for m in body["messages"]] == expected
    # And it is priced and debited like a send (one UCS-2 segment per message: "á" is not GSM-7)
    new = DispatchRecord.get(body["queueId"])
    assert (new.segments_per_message, new.credits_debited) == (1, len(expected))
    assert campaign.balance() == balance - new.credits_debited
    assert campaign.ledger_sum() == campaign.balance()
    # And its messages are persisted QUEUED with the original text, and enqueued
    stored = [m for m in MessageRecord.scan() if m.queue_id == body["queueId"]]
    assert sorted(m.recipient for m in stored) == expected
    assert {(m.status, m.body) for m in stored} == {("QUEUED", "Tu pedido está listo")}
    assert sorted(mid for q in stack.drain_delivery_queue() for mid in q["messageIds"]) == sorted(
        m.message_id for m in stored
    )
    # And its status names the campaign it repeats; the original's does not
    assert queue_status(campaign, body["queueId"])["resendOf"] == original
    assert queue_status(campaign, original)["resendOf"] is None


@pytest.mark.parametrize("body", [None, "", "{}", {"purpose": "marketing"}])
def test_the_resend_body_is_optional(stack: Stack, finished: tuple[Campaign, str], body: Any) -> None:
    campaign, original = finished
    status, sent = resend(campaign, original, body)
    assert status == 201, sent
    assert len(sent["messages"]) == 3


def test_contacts_opted_out_or_deleted_since_are_not_resent(stack: Stack, finished: tuple[Campaign, str]) -> None:
    campaign, original = finished
    # Given one failed recipient opted out and another was deleted since
    contacts = {c.phone: c for c in ContactRecord.query(campaign.tenant_id)}
    ContactRecord(campaign.tenant_id, contacts["+573001110001"].contact_id).update(
        actions=[ContactRecord.opted_out.set(True)]
    )
    ContactRecord(campaign.tenant_id, contacts["+573001110002"].contact_id).delete()
    # When the campaign is resent
    status, body = resend(campaign, original)
    # Then only the remaining qualifying recipient is reached
    assert status == 201
    assert [m["recipient"] for m in body["messages"]] == ["+573001110003"]


def test_numbers_suppressed_since_are_not_resent(stack: Stack, finished: tuple[Campaign, str]) -> None:
    campaign, original = finished
    # Given a failed recipient replied STOP since
    stop_received("+573001110001")
    # When the campaign is resent
    status, body = resend(campaign, original)
    # Then it is left out, and not charged
    assert status == 201
    assert [m["recipient"] for m in body["messages"]] == ["+573001110002", "+573001110003"]
    assert DispatchRecord.get(body["queueId"]).credits_debited == 2


def test_a_retry_with_the_same_key_answers_the_first_resend_and_charges_once(
    stack: Stack, finished: tuple[Campaign, str]
) -> None:
    campaign, original = finished
    first = resend(campaign, original, key="resend-1")
    balance = campaign.balance()
    again = resend(campaign, original, key="resend-1")
    assert first[0] == again[0] == 201
    assert again[1]["queueId"] == first[1]["queueId"]
    assert sorted(m["id"] for m in again[1]["messages"]) == sorted(m["id"] for m in first[1]["messages"])
    assert campaign.balance() == balance
    assert len([d for d in DispatchRecord.scan() if d.resend_of == original]) == 1


def test_a_key_already_used_for_a_send_is_refused_for_a_resend(stack: Stack, finished: tuple[Campaign, str]) -> None:
    campaign, original = finished
    status, _ = call(
        campaign, SEND, {"message": "Hi", "tagIds": [campaign.tags["all"]]}, headers={"Idempotency-Key": "k"}
    )
    assert status == 201
    balance = campaign.balance()
    status, error = resend(campaign, original, key="k")
    assert (status, error["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert campaign.balance() == balance


def test_a_short_balance_is_402_and_changes_nothing(stack: Stack, admin: Any) -> None:
    # Given a balance of 2 credits left after the first campaign, for 3 qualifying recipients
    campaign = make_campaign(admin, credits=12)
    original = finish(stack, campaign)
    assert campaign.balance() == 2
    before = writes(stack, campaign)
    # When the campaign is resent
    status, error = resend(campaign, original)
    # Then it is refused with the price and the balance, and nothing is written
    assert (status, error["code"]) == (402, "INSUFFICIENT_CREDITS")
    assert (error["required"], error["available"]) == (3, 2)
    assert writes(stack, campaign) == before


def test_nobody_qualifying_is_200_with_empty_values_and_no_debit(stack: Stack, campaign: Campaign) -> None:
    # Given a campaign whose only message was delivered
    campaign.add("+573001110004", "all")
    _, sent = send(campaign, {"message": "Hi", "tagIds": [campaign.tags["all"]]})
    end_as(sent["messages"][0]["id"], "DELIVERED", None, None)
    balance = campaign.balance()
    # When it is resent
    status, body = resend(campaign, sent["queueId"])
    # Then nothing is sent and nothing debited
    assert (status, body["queueId"], body["messages"]) == (200, "", [])
    assert campaign.balance() == balance


def test_an_unknown_or_another_tenants_queue_is_404(stack: Stack, finished: tuple[Campaign, str], admin: Any) -> None:
    campaign, original = finished
    other = make_campaign(admin)
    for who, queue_id in ((campaign, "9f1c1b2e-0000-4000-8000-000000000000"), (other, original)):
        status, error = resend(who, queue_id)
        assert (status, error["code"]) == (404, "QUEUE_NOT_FOUND")
    assert other.balance() == 1000


def test_a_resend_may_be_scheduled_and_refuses_a_bad_send_at(stack: Stack, finished: tuple[Campaign, str]) -> None:
    campaign, original = finished
    status, error = resend(campaign, original, {"sendAt": "yesterday"})
    assert (status, error["code"]) == (400, "VALIDATION_ERROR")
    assert "sendAt" in {d["field"] for d in error["details"]}


def test_a_revoked_token_cannot_resend(stack: Stack, finished: tuple[Campaign, str], admin: Any) -> None:
    campaign, original = finished
    admin.revoke_token(campaign.token[:12])
    balance = campaign.balance()
    status, error = resend(campaign, original)
    assert (status, error["code"]) == (401, "UNAUTHORIZED")
    assert campaign.balance() == balance
