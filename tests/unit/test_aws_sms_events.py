"""AWS End User Messaging SMS delivery events (EventBridge) mapped to provider-neutral receipts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smscore.domain.model import MessageStatus, Receipt
from smscore.providers.aws_sms import DELIVERY_EVENT_DETAIL_TYPE, receipt_from_event

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def aws_sms_receipt(detail: dict[str, object], received_at: datetime) -> Receipt | None:
    return receipt_from_event(DELIVERY_EVENT_DETAIL_TYPE, detail, received_at)


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

    def test_an_event_without_is_final_is_not_final(self) -> None:
        # The template's rule passes only detail.isFinal true; a missing flag is read the same way here
        detail = self.detail("TEXT_DELIVERED")
        del detail["isFinal"]
        assert aws_sms_receipt(detail, NOW) is None

    @pytest.mark.parametrize("event_type", ["TEXT_QUEUED", "TEXT_PENDING", "VOICE_COMPLETED"])
    def test_intermediate_and_foreign_events_change_nothing(self, event_type: str) -> None:
        assert aws_sms_receipt(self.detail(event_type), NOW) is None

    @pytest.mark.parametrize("context", [{}, {"other": "x"}, "not-a-map"])
    def test_events_without_our_message_id_are_not_ours(self, context: object) -> None:
        assert aws_sms_receipt(self.detail("TEXT_DELIVERED", context=context), NOW) is None

    def test_other_detail_types_are_not_receipts(self) -> None:
        assert receipt_from_event("Text Message Sent", self.detail("TEXT_DELIVERED"), NOW) is None

    def test_the_receipt_names_aws_as_its_provider(self) -> None:
        mapped = aws_sms_receipt(self.detail("TEXT_DELIVERED"), NOW)
        assert mapped is not None
        assert mapped.provider == "aws_sms"

    @pytest.mark.parametrize(
        ("stamp", "reported"),
        [
            (1764169200000, datetime(2025, 11, 26, 15, 0, tzinfo=UTC)),
            (10**20, NOW),  # out of range: when we received it, never a crash
            ("1764169200000", NOW),
            (True, NOW),
        ],
    )
    def test_the_event_time_is_used_when_plausible(self, stamp: object, reported: datetime) -> None:
        mapped = aws_sms_receipt(self.detail("TEXT_DELIVERED") | {"eventTimestamp": stamp}, NOW)
        assert mapped is not None
        assert mapped.reported_at == reported
