"""The rule that a message's status only moves forward, and only through the provider that sent it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from smscore.domain.model import MessageState, MessageStatus, Receipt
from smscore.domain.receipts import (
    PARKED_RECEIPT_TTL,
    ReceiptOutcome,
    apply_parked,
    apply_receipt,
    moves_forward,
    receive_receipt,
)
from tests.delivery_fakes import InMemoryParkedReceipts, InMemoryReceiptStore

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


class TestEarlyReceipts:
    """A receipt that overtakes our SENT write is parked, and applied once when the message is SENT."""

    SID = "aws-0001"

    def early(self, status: MessageStatus = MessageStatus.DELIVERED, code: str | None = None) -> Receipt:
        return replace(receipt(status, code=code), provider_message_id=self.SID)

    def sending(self) -> InMemoryReceiptStore:
        return InMemoryReceiptStore(replace(sent(), status=MessageStatus.SENDING))

    def test_a_receipt_before_sent_is_parked_not_dropped(self) -> None:
        # Given a message still SENDING / When its receipt arrives
        store, parked = self.sending(), InMemoryParkedReceipts()
        outcome = receive_receipt(self.early(), store, parked, NOW)
        # Then it is kept, for a few days, and the message is untouched
        assert outcome is ReceiptOutcome.PARKED
        assert parked.receipts == {("aws_sms", self.SID): (self.early(), NOW + PARKED_RECEIPT_TTL)}
        assert store.states["m-1"].status is MessageStatus.SENDING
        assert store.history == []

    def test_it_is_applied_once_the_message_is_sent_and_only_once(self) -> None:
        # Given a parked receipt / When the message is SENT and the parked receipt applied twice
        store, parked = self.sending(), InMemoryParkedReceipts()
        receive_receipt(self.early(), store, parked, NOW)
        store.states["m-1"] = sent()
        first = apply_parked("aws_sms", self.SID, store, parked, message_id="m-1")
        again = apply_parked("aws_sms", self.SID, store, parked, message_id="m-1")
        # Then the first moves the message and the second changes nothing
        assert (first, again) == (ReceiptOutcome.APPLIED, ReceiptOutcome.STALE)
        assert store.history == [("m-1", MessageStatus.DELIVERED, None)]

    def test_the_same_early_receipt_twice_keeps_one(self) -> None:
        store, parked = self.sending(), InMemoryParkedReceipts()
        outcomes = [receive_receipt(self.early(), store, parked, NOW) for _ in range(2)]
        assert outcomes == [ReceiptOutcome.PARKED] * 2
        assert len(parked.receipts) == 1

    def test_a_second_early_final_status_does_not_replace_the_first(self) -> None:
        # Given UNDELIVERED parked first, then DELIVERED (both final: the first recorded stays)
        store, parked = self.sending(), InMemoryParkedReceipts()
        receive_receipt(self.early(MessageStatus.UNDELIVERED, "30003"), store, parked, NOW)
        receive_receipt(self.early(MessageStatus.DELIVERED), store, parked, NOW)
        store.states["m-1"] = sent()
        assert apply_parked("aws_sms", self.SID, store, parked) is ReceiptOutcome.APPLIED
        assert store.history == [("m-1", MessageStatus.UNDELIVERED, "30003")]

    def test_a_normal_receipt_after_the_parked_one_was_applied_is_stale(self) -> None:
        store, parked = self.sending(), InMemoryParkedReceipts()
        receive_receipt(self.early(), store, parked, NOW)
        store.states["m-1"] = sent()
        apply_parked("aws_sms", self.SID, store, parked)
        later = receive_receipt(receipt(MessageStatus.UNDELIVERED, code="30005"), store, parked, NOW)
        assert later is ReceiptOutcome.STALE
        assert store.history == [("m-1", MessageStatus.DELIVERED, None)]

    def test_a_parked_receipt_after_a_normal_one_changes_nothing(self) -> None:
        # Given a normal receipt applied right after SENT, before the deliver function looked for a parked one
        store, parked = self.sending(), InMemoryParkedReceipts()
        receive_receipt(self.early(MessageStatus.UNDELIVERED, "30003"), store, parked, NOW)
        store.states["m-1"] = sent()
        assert receive_receipt(receipt(MessageStatus.DELIVERED), store, parked, NOW) is ReceiptOutcome.APPLIED
        # When the parked one is applied / Then the first final status recorded stays
        assert apply_parked("aws_sms", self.SID, store, parked) is ReceiptOutcome.STALE
        assert store.history == [("m-1", MessageStatus.DELIVERED, None)]

    def test_parked_just_after_the_sent_write_looked_the_parking_call_applies_it(self) -> None:
        # Given a receipt read the message as SENDING, and the SENT write (finding nothing parked) lands before the park
        store = self.sending()

        class SentMeanwhile(InMemoryParkedReceipts):
            def park(self, receipt: Receipt, expires_at: datetime) -> bool:
                store.states["m-1"] = sent()
                return super().park(receipt, expires_at)

        # When it is parked / Then the same call looks again and applies it
        assert receive_receipt(self.early(), store, SentMeanwhile(), NOW) is ReceiptOutcome.APPLIED
        assert store.history == [("m-1", MessageStatus.DELIVERED, None)]

    def test_without_a_provider_message_id_or_a_parking_it_is_not_yet_sent(self) -> None:
        store, parked = self.sending(), InMemoryParkedReceipts()
        assert receive_receipt(receipt(MessageStatus.DELIVERED), store, parked, NOW) is ReceiptOutcome.NOT_YET_SENT
        assert receive_receipt(self.early(), store, None, NOW) is ReceiptOutcome.NOT_YET_SENT
        assert parked.receipts == {}

    def test_nothing_parked_is_nothing_applied(self) -> None:
        assert apply_parked("aws_sms", self.SID, InMemoryReceiptStore(sent()), InMemoryParkedReceipts()) is None
