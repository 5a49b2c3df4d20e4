"""The rule that a message's status only moves forward, and only through the provider that sent it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from smscore.domain.model import MessageState, MessageStatus, Receipt
from smscore.domain.receipts import ReceiptOutcome, apply_receipt, moves_forward
from tests.delivery_fakes import InMemoryReceiptStore

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def sent(message_id: str = "m-1", provider: str = "aws_sms") -> MessageState:
    return MessageState(
        message_id=message_id, tenant_id="t-1", queue_id="q-1", status=MessageStatus.SENT, provider=provider
    )


def receipt(status: MessageStatus, message_id: str = "m-1", code: str | None = None) -> Receipt:
    return Receipt(
        provider="aws_sms", status=status, reported_at=NOW, provider_status="x", error_code=code, message_id=message_id
    )


class TestOrdering:
    @pytest.mark.parametrize(
        ("current", "new", "forward"),
        [
            (MessageStatus.QUEUED, MessageStatus.SENDING, True),
            (MessageStatus.SENDING, MessageStatus.SENT, True),
            (MessageStatus.SENT, MessageStatus.DELIVERED, True),
            (MessageStatus.SENT, MessageStatus.UNDELIVERED, True),
            (MessageStatus.DELIVERED, MessageStatus.SENT, False),
            (MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, False),
            (MessageStatus.UNDELIVERED, MessageStatus.DELIVERED, False),
            (MessageStatus.FAILED, MessageStatus.DELIVERED, False),
            (MessageStatus.SENT, MessageStatus.SENT, False),
        ],
    )
    def test_only_forward_moves_are_allowed(self, current: MessageStatus, new: MessageStatus, forward: bool) -> None:
        assert moves_forward(current, new) is forward


class TestApplyReceipt:
    def test_a_sent_message_moves_to_delivered(self) -> None:
        # Given a SENT message / When its delivery receipt arrives
        store = InMemoryReceiptStore(sent())
        outcome = apply_receipt(receipt(MessageStatus.DELIVERED), store)
        # Then it is DELIVERED and the change is recorded once
        assert outcome is ReceiptOutcome.APPLIED
        assert store.states["m-1"].status is MessageStatus.DELIVERED
        assert store.history == [("m-1", MessageStatus.DELIVERED, None)]

    def test_an_older_receipt_after_a_newer_one_changes_nothing(self) -> None:
        # Given a message already UNDELIVERED / When a late DELIVERED (or a repeat) arrives
        store = InMemoryReceiptStore(sent())
        apply_receipt(receipt(MessageStatus.UNDELIVERED, code="30003"), store)
        late = apply_receipt(receipt(MessageStatus.DELIVERED), store)
        repeat = apply_receipt(receipt(MessageStatus.UNDELIVERED, code="30003"), store)
        # Then the first final status stays and nothing more is written
        assert (late, repeat) == (ReceiptOutcome.STALE, ReceiptOutcome.STALE)
        assert store.states["m-1"].status is MessageStatus.UNDELIVERED
        assert len(store.history) == 1

    @pytest.mark.parametrize("sent_by", ["sandbox", "twilio"])
    def test_a_receipt_from_another_provider_changes_nothing(self, sent_by: str) -> None:
        # Given a SENT message that another provider sent
        store = InMemoryReceiptStore(sent(provider=sent_by))
        # When an AWS receipt names it / Then it is not AWS's message to move
        outcome = apply_receipt(receipt(MessageStatus.DELIVERED), store)
        assert outcome is ReceiptOutcome.UNKNOWN_MESSAGE
        assert store.states["m-1"].status is MessageStatus.SENT
        assert store.history == []

    def test_an_unknown_message_changes_nothing(self) -> None:
        store = InMemoryReceiptStore(sent())
        outcome = apply_receipt(receipt(MessageStatus.DELIVERED, message_id="nope"), store)
        assert outcome is ReceiptOutcome.UNKNOWN_MESSAGE
        assert store.history == []

    @pytest.mark.parametrize("status", [MessageStatus.QUEUED, MessageStatus.SENDING])
    def test_a_receipt_that_overtakes_our_sent_write_waits(self, status: MessageStatus) -> None:
        # Given a message the deliver function has not recorded as SENT yet
        store = InMemoryReceiptStore(replace(sent(), status=status))
        # When its receipt arrives / Then it is not applied now (the caller retries later)
        assert apply_receipt(receipt(MessageStatus.DELIVERED), store) is ReceiptOutcome.NOT_YET_SENT
        assert store.states["m-1"].status is status

    def test_a_concurrent_final_status_wins_over_a_receipt_read_before_it(self) -> None:
        # Given another receipt lands between our read and our conditional write
        store = InMemoryReceiptStore(sent())
        store.interfere = MessageStatus.UNDELIVERED
        # When ours is applied / Then the conditional write loses and the re-read sees it is stale
        assert apply_receipt(receipt(MessageStatus.DELIVERED), store) is ReceiptOutcome.STALE
        assert store.states["m-1"].status is MessageStatus.UNDELIVERED
        assert store.history == []
