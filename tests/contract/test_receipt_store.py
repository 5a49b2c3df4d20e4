"""The ReceiptStore: finding a message and moving it only from the status as read, so that with `apply_receipt`
a status only ever moves forward, the same in the fake and in DynamoDB."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from smscore.domain.model import MessageState, MessageStatus, Receipt
from smscore.domain.receipts import ReceiptOutcome, apply_receipt
from tests.contract.sides import ReceiptStoreSide

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
QUEUE = "q-1"
SID = "SM0123456789abcdef0123456789abcdef"


def state(status: MessageStatus = MessageStatus.SENT, message_id: str = "m-1") -> MessageState:
    return MessageState(message_id=message_id, tenant_id="t-1", queue_id=QUEUE, status=status, provider="twilio")


def receipt(
    status: MessageStatus, *, message_id: str | None = "m-1", sid: str | None = None, provider: str = "twilio"
) -> Receipt:
    return Receipt(
        provider=provider,
        status=status,
        reported_at=T0,
        provider_status=status.value.lower(),
        error_code="30003" if status is MessageStatus.UNDELIVERED else None,
        message_id=message_id,
        provider_message_id=sid,
    )


@pytest.fixture
def sent(receipts: ReceiptStoreSide) -> ReceiptStoreSide:
    """One SENT message, m-1, that Twilio knows as SID."""
    receipts.given(state(), provider_message_id=SID)
    return receipts


def test_a_message_is_found_by_our_id_or_by_the_providers(sent: ReceiptStoreSide) -> None:
    # Given a SENT message / When a receipt names it by our id, by Twilio's SID, or names nothing we know
    by_ours = sent.store.find(receipt(MessageStatus.DELIVERED))
    by_sid = sent.store.find(receipt(MessageStatus.DELIVERED, message_id=None, sid=SID))
    unknown = [
        sent.store.find(receipt(MessageStatus.DELIVERED, message_id="m-404")),
        sent.store.find(receipt(MessageStatus.DELIVERED, message_id=None, sid="SM-unknown")),
    ]
    # Then the first two find the message as it is; the others find nothing
    assert by_ours == by_sid == state()
    assert unknown == [None, None]


def test_a_transition_from_the_status_as_read_applies_and_moves_the_counters(sent: ReceiptStoreSide) -> None:
    # Given a SENT message read as SENT / When its DELIVERED receipt is recorded
    applied = sent.store.transition(state(), receipt(MessageStatus.DELIVERED))
    # Then it is DELIVERED and the campaign counts it there
    assert applied
    assert sent.status("m-1") is MessageStatus.DELIVERED
    assert sent.counts(QUEUE) == {"DELIVERED": 1}


def test_a_transition_from_a_stale_read_changes_nothing(sent: ReceiptStoreSide) -> None:
    # Given a message read as SENT, then moved to UNDELIVERED by another receipt
    read = state()
    assert sent.store.transition(read, receipt(MessageStatus.UNDELIVERED))
    # When a DELIVERED receipt is written from the old read
    applied = sent.store.transition(read, receipt(MessageStatus.DELIVERED))
    # Then it is refused: UNDELIVERED stands, counted once
    assert not applied
    assert sent.status("m-1") is MessageStatus.UNDELIVERED
    assert sent.counts(QUEUE) == {"UNDELIVERED": 1}


def test_a_transition_of_an_unknown_message_or_another_tenants_changes_nothing(sent: ReceiptStoreSide) -> None:
    # Given a SENT message of t-1 / When a transition names an unknown message, or m-1 under tenant t-2
    unknown = sent.store.transition(state(message_id="m-404"), receipt(MessageStatus.DELIVERED, message_id="m-404"))
    other_tenant = sent.store.transition(replace(state(), tenant_id="t-2"), receipt(MessageStatus.DELIVERED))
    # Then both are refused and m-1 is still SENT
    assert (unknown, other_tenant) == (False, False)
    assert sent.status("m-1") is MessageStatus.SENT
    assert sent.counts(QUEUE) == {"SENT": 1}


def test_a_receipt_from_another_provider_finds_and_moves_nothing(sent: ReceiptStoreSide) -> None:
    # Given a message sent through Twilio / When AWS reports on it, by our id
    from_aws = receipt(MessageStatus.DELIVERED, provider="aws_sms")
    found = sent.store.find(from_aws)
    applied = sent.store.transition(state(), from_aws)
    # Then AWS cannot speak for it: not found, not moved
    assert (found, applied) == (None, False)
    assert sent.status("m-1") is MessageStatus.SENT
    assert sent.counts(QUEUE) == {"SENT": 1}


def test_a_status_only_moves_forward(sent: ReceiptStoreSide) -> None:
    # Given a SENT message that its provider reported UNDELIVERED
    first = apply_receipt(receipt(MessageStatus.UNDELIVERED), sent.store)
    # When a late DELIVERED, and a repeat of the UNDELIVERED, arrive
    late = apply_receipt(receipt(MessageStatus.DELIVERED, message_id=None, sid=SID), sent.store)
    repeat = apply_receipt(receipt(MessageStatus.UNDELIVERED), sent.store)
    # Then only the first applied: UNDELIVERED stays, counted once
    assert (first, late, repeat) == (ReceiptOutcome.APPLIED, ReceiptOutcome.STALE, ReceiptOutcome.STALE)
    assert sent.status("m-1") is MessageStatus.UNDELIVERED
    assert sent.counts(QUEUE) == {"UNDELIVERED": 1}


@pytest.mark.parametrize("status", [MessageStatus.QUEUED, MessageStatus.SENDING])
def test_a_receipt_ahead_of_our_sent_write_is_not_applied(receipts: ReceiptStoreSide, status: MessageStatus) -> None:
    # Given a message whose SENT write has not landed yet
    receipts.given(state(status), provider_message_id=SID)
    # When its receipt arrives
    outcome = apply_receipt(receipt(MessageStatus.DELIVERED), receipts.store)
    # Then it waits (the caller retries later) and the message is untouched
    assert outcome is ReceiptOutcome.NOT_YET_SENT
    assert receipts.status("m-1") is status
    assert receipts.counts(QUEUE) == {status.value: 1}
