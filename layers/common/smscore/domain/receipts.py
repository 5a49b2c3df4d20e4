"""Delivery receipts: what a provider's status report means for one of our messages.

Providers report many intermediate states; only two matter after a message is SENT: it reached the
handset (DELIVERED) or it never will (UNDELIVERED, with the provider's code). Statuses only move
forward, so a receipt that arrives late or twice can never undo a newer one. A receipt moves only a
message sent through the provider that reports it. Each provider's wire format is parsed in its own
module (smscore.providers.twilio, smscore.providers.aws_sms) into a provider-neutral `Receipt`.
"""

from __future__ import annotations

from enum import StrEnum

from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.ports import ReceiptStore

# Position of each status in a message's life; a transition is allowed only to a higher rank.
# The three outcomes share the last rank: whichever final status is recorded first stays.
STATUS_RANK: dict[MessageStatus, int] = {
    MessageStatus.SCHEDULED: 0,
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.CANCELLED: 3,
}

# Receipts are about messages a provider accepted: they apply to SENT messages only.
RECEIPT_APPLIES_TO = MessageStatus.SENT
MAX_TRANSITION_ATTEMPTS = 3


def moves_forward(current: MessageStatus, new: MessageStatus) -> bool:
    return STATUS_RANK[new] > STATUS_RANK[current]


class ReceiptOutcome(StrEnum):
    APPLIED = "APPLIED"  # status moved forward, counters and history updated
    STALE = "STALE"  # the message is already at this rank or beyond: nothing changed
    UNKNOWN_MESSAGE = "UNKNOWN_MESSAGE"  # no such message (or not this provider's): nothing changed
    NOT_YET_SENT = "NOT_YET_SENT"  # the receipt overtook our own SENT write: try again later


def apply_receipt(receipt: Receipt, store: ReceiptStore) -> ReceiptOutcome:
    """Record a receipt if it moves the message forward; never anything else."""
    for _ in range(MAX_TRANSITION_ATTEMPTS):
        state = store.find(receipt)
        if state is None or state.provider != receipt.provider:
            return ReceiptOutcome.UNKNOWN_MESSAGE  # another provider's message is not this one's to move
        if not moves_forward(state.status, receipt.status):
            return ReceiptOutcome.STALE
        if state.status is not RECEIPT_APPLIES_TO:
            return ReceiptOutcome.NOT_YET_SENT
        if store.transition(state, receipt):
            return ReceiptOutcome.APPLIED
        # Someone moved the message between our read and our write: look again.
    return ReceiptOutcome.STALE
