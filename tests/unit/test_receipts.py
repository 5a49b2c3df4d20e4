"""Provider statuses mapped to ours, and the rule that a message's status only moves forward."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from smscore.domain.model import MessageStatus
from smscore.domain.receipts import (
    MessageState,
    Receipt,
    ReceiptOutcome,
    apply_receipt,
    aws_sms_receipt,
    moves_forward,
    twilio_receipt,
)
from tests.delivery_fakes import InMemoryReceiptStore

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def sent(message_id: str = "m-1") -> MessageState:
    return MessageState(message_id=message_id, tenant_id="t-1", queue_id="q-1", status=MessageStatus.SENT)


def receipt(status: MessageStatus, message_id: str = "m-1", code: str | None = None) -> Receipt:
    return Receipt(
        provider="aws_sms", status=status, reported_at=NOW, provider_status="x", error_code=code, message_id=message_id
    )


class TestTwilioMapping:
    @pytest.mark.parametrize(
        ("twilio_status", "ours"),
        [
            ("delivered", MessageStatus.DELIVERED),
            ("undelivered", MessageStatus.UNDELIVERED),
            ("failed", MessageStatus.UNDELIVERED),
            ("Delivered", MessageStatus.DELIVERED),
        ],
    )
    def test_final_statuses_map_to_ours(self, twilio_status: str, ours: MessageStatus) -> None:
        # Given a Twilio callback with a final status / When mapped / Then it is our final status
        mapped = twilio_receipt({"MessageSid": "SM1", "MessageStatus": twilio_status}, NOW)
        assert mapped is not None
        assert mapped.status is ours
        assert mapped.provider_message_id == "SM1"

    @pytest.mark.parametrize("twilio_status", ["queued", "accepted", "sending", "sent", "scheduled", "", "bogus"])
    def test_intermediate_statuses_are_not_receipts(self, twilio_status: str) -> None:
        assert twilio_receipt({"MessageSid": "SM1", "MessageStatus": twilio_status}, NOW) is None

    def test_undelivered_keeps_the_error_code(self) -> None:
        mapped = twilio_receipt({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}, NOW)
        assert mapped is not None
        assert (mapped.status, mapped.error_code) == (MessageStatus.UNDELIVERED, "30003")

    def test_delivered_drops_a_stray_error_code(self) -> None:
        mapped = twilio_receipt({"MessageSid": "SM1", "MessageStatus": "delivered", "ErrorCode": "0"}, NOW)
        assert mapped is not None
        assert mapped.error_code is None

    def test_a_callback_without_sid_is_not_a_receipt(self) -> None:
        assert twilio_receipt({"MessageStatus": "delivered"}, NOW) is None


class TestAwsMapping:
    def detail(self, event_type: str, *, final: bool = True, context: object = None) -> dict[str, object]:
        return {
            "eventType": event_type,
            "isFinal": final,
            "messageId": "aws-1",
            "messageStatus": event_type.removeprefix("TEXT_"),
            "context": {"messageId": "m-1", "tenantId": "t-1"} if context is None else context,
        }

    @pytest.mark.parametrize("event_type", ["TEXT_DELIVERED", "TEXT_SUCCESSFUL"])
    def test_delivery_events_are_delivered(self, event_type: str) -> None:
        mapped = aws_sms_receipt(self.detail(event_type), NOW)
        assert mapped is not None
        assert (mapped.status, mapped.message_id, mapped.error_code) == (MessageStatus.DELIVERED, "m-1", None)

    @pytest.mark.parametrize(
        "event_type",
        ["TEXT_BLOCKED", "TEXT_TTL_EXPIRED", "TEXT_INVALID", "TEXT_SPAM", "TEXT_UNKNOWN", "TEXT_UNREACHABLE"],
    )
    def test_final_failure_events_are_undelivered_with_the_status_as_code(self, event_type: str) -> None:
        mapped = aws_sms_receipt(self.detail(event_type), NOW)
        assert mapped is not None
        assert mapped.status is MessageStatus.UNDELIVERED
        assert mapped.error_code == event_type.removeprefix("TEXT_")

    def test_non_final_events_change_nothing(self) -> None:
        assert aws_sms_receipt(self.detail("TEXT_CARRIER_UNREACHABLE", final=False), NOW) is None

    @pytest.mark.parametrize("event_type", ["TEXT_QUEUED", "TEXT_PENDING", "VOICE_COMPLETED"])
    def test_intermediate_and_foreign_events_change_nothing(self, event_type: str) -> None:
        assert aws_sms_receipt(self.detail(event_type), NOW) is None

    @pytest.mark.parametrize("context", [{}, {"other": "x"}, "not-a-map"])
    def test_events_without_our_message_id_are_not_ours(self, context: object) -> None:
        assert aws_sms_receipt(self.detail("TEXT_DELIVERED", context=context), NOW) is None


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
