"""Delivery receipts: what a provider's status report means for one of our messages.

Providers report many intermediate states; only two matter after a message is SENT: it reached the
handset (DELIVERED) or it never will (UNDELIVERED, with the provider's code). Statuses only move
forward, so a receipt that arrives late or twice can never undo a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from smscore.domain.model import MessageStatus

# Position of each status in a message's life; a transition is allowed only to a higher rank.
# The three outcomes share the last rank: whichever final status is recorded first stays.
STATUS_RANK: dict[MessageStatus, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
}

# Receipts are about messages a provider accepted: they apply to SENT messages only.
RECEIPT_APPLIES_TO = MessageStatus.SENT


def moves_forward(current: MessageStatus, new: MessageStatus) -> bool:
    return STATUS_RANK[new] > STATUS_RANK[current]


@dataclass(frozen=True)
class Receipt:
    """A provider's final word on one message, in our terms."""

    provider: str
    status: MessageStatus  # DELIVERED or UNDELIVERED
    reported_at: datetime
    provider_status: str  # the provider's own status name, kept for the audit trail
    error_code: str | None = None
    # Which message: ours when the provider echoes it back (AWS Context), else the provider's id (Twilio SID).
    message_id: str | None = None
    provider_message_id: str | None = None


class ReceiptOutcome(StrEnum):
    APPLIED = "APPLIED"  # status moved forward, counters and history updated
    STALE = "STALE"  # the message is already at this rank or beyond: nothing changed
    UNKNOWN_MESSAGE = "UNKNOWN_MESSAGE"  # no such message (or not this provider's): nothing changed
    NOT_YET_SENT = "NOT_YET_SENT"  # the receipt overtook our own SENT write: try again later


# Twilio MessageStatus values: https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
TWILIO_FINAL: dict[str, MessageStatus] = {
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.UNDELIVERED,
}


def twilio_receipt(params: dict[str, str], reported_at: datetime) -> Receipt | None:
    """The receipt in a Twilio status callback, or None when it reports an intermediate state (queued, sent...)."""
    provider_status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    status = TWILIO_FINAL.get(provider_status.lower())
    sid = params.get("MessageSid") or params.get("SmsSid")
    if status is None or not sid:
        return None
    error_code = params.get("ErrorCode") or None
    return Receipt(
        provider="twilio",
        status=status,
        reported_at=reported_at,
        provider_status=provider_status.lower(),
        error_code=error_code if status is MessageStatus.UNDELIVERED else None,
        provider_message_id=sid,
    )


# AWS End User Messaging SMS event types (configuration-sets-event-types in the SMS user guide).
AWS_DELIVERED = frozenset({"TEXT_DELIVERED", "TEXT_SUCCESSFUL"})
AWS_UNDELIVERED = frozenset(
    {
        "TEXT_BLOCKED",
        "TEXT_TTL_EXPIRED",
        "TEXT_CARRIER_UNREACHABLE",
        "TEXT_INVALID",
        "TEXT_INVALID_MESSAGE",
        "TEXT_CARRIER_BLOCKED",
        "TEXT_UNREACHABLE",
        "TEXT_SPAM",
        "TEXT_UNKNOWN",
        "TEXT_PROTECT_BLOCKED",
    }
)
# Keys under which the deliver function may put our message id in SendTextMessage's Context.
CONTEXT_MESSAGE_ID_KEYS = ("messageId", "message_id")


def aws_sms_receipt(detail: dict[str, Any], reported_at: datetime) -> Receipt | None:
    """The receipt in an AWS End User Messaging SMS event, or None when it is not final or not ours.

    Only final events count (`isFinal`; a missing flag is read as final): a non-final
    TEXT_CARRIER_UNREACHABLE may still turn into TEXT_DELIVERED.
    """
    event_type = str(detail.get("eventType", ""))
    if not detail.get("isFinal", True):
        return None
    if event_type in AWS_DELIVERED:
        status = MessageStatus.DELIVERED
    elif event_type in AWS_UNDELIVERED:
        status = MessageStatus.UNDELIVERED
    else:
        return None
    context = detail.get("context") or {}
    message_id = next(
        (str(context[k]) for k in CONTEXT_MESSAGE_ID_KEYS if isinstance(context, dict) and context.get(k)), None
    )
    if message_id is None:
        return None
    return Receipt(
        provider="aws_sms",
        status=status,
        reported_at=reported_at,
        provider_status=event_type,
        error_code=str(detail.get("messageStatus") or event_type) if status is MessageStatus.UNDELIVERED else None,
        message_id=message_id,
        provider_message_id=str(detail["messageId"]) if detail.get("messageId") else None,
    )


@dataclass(frozen=True)
class MessageState:
    """What applying a receipt needs to know about a message."""

    message_id: str
    tenant_id: str
    queue_id: str
    status: MessageStatus


class ReceiptStore(Protocol):
    def find(self, receipt: Receipt) -> MessageState | None:
        """The message the receipt is about (by our id, else by the provider's id), read consistently."""
        ...

    def transition(self, state: MessageState, receipt: Receipt) -> bool:
        """Atomically: status `state.status` -> `receipt.status`, dispatch counters moved, history appended.

        Returns False, changing nothing, when the message is no longer in `state.status`.
        """
        ...


MAX_TRANSITION_ATTEMPTS = 3


def apply_receipt(receipt: Receipt, store: ReceiptStore) -> ReceiptOutcome:
    """Record a receipt if it moves the message forward; never anything else."""
    for _ in range(MAX_TRANSITION_ATTEMPTS):
        state = store.find(receipt)
        if state is None:
            return ReceiptOutcome.UNKNOWN_MESSAGE
        if not moves_forward(state.status, receipt.status):
            return ReceiptOutcome.STALE
        if state.status is not RECEIPT_APPLIES_TO:
            return ReceiptOutcome.NOT_YET_SENT
        if store.transition(state, receipt):
            return ReceiptOutcome.APPLIED
        # Someone moved the message between our read and our write: look again.
    return ReceiptOutcome.STALE
