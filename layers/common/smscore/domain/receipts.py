"""Delivery receipts: what a provider's status report means for one of our messages.

Providers report many intermediate states; only two matter after a message is SENT: it reached the
handset (DELIVERED) or it never will (UNDELIVERED, with the provider's code). Statuses only move
forward, so a receipt that arrives late or twice can never undo a newer one. A receipt moves only a
message sent through the provider that reports it. Each provider's wire format is parsed in its own
module (smscore.providers.twilio, smscore.providers.aws_sms) into a provider-neutral `Receipt`.

A provider may report before we have recorded SENT (it calls back while the deliver function is still writing).
Such a receipt is parked (`receive_receipt`), under the provider's message id, and applied when the message is
SENT: by the deliver function right after its SENT write (`apply_parked`), or by the parking webhook itself when
its second look finds the message SENT already. Either way it goes through `apply_receipt`, whose transition is
conditional on SENT, so a parked receipt applied by both changes the message once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum

from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.ports import ParkedReceipts, ReceiptStore

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
# How long a parked receipt waits for its message's SENT write (DynamoDB's TTL deletes it some time after).
PARKED_RECEIPT_TTL = timedelta(days=3)


def moves_forward(current: MessageStatus, new: MessageStatus) -> bool:
    return STATUS_RANK[new] > STATUS_RANK[current]


class ReceiptOutcome(StrEnum):
    APPLIED = "APPLIED"  # status moved forward, counters and history updated
    STALE = "STALE"  # the message is already at this rank or beyond: nothing changed
    UNKNOWN_MESSAGE = "UNKNOWN_MESSAGE"  # no such message (or not this provider's): nothing changed
    NOT_YET_SENT = "NOT_YET_SENT"  # the receipt overtook our own SENT write and could not be parked: try later
    PARKED = "PARKED"  # the receipt overtook our own SENT write: kept, applied when the message is SENT
    ACCEPTED = "ACCEPTED"  # the webhook queued it for the receipts consumer, which applies it (nothing read yet)


class ReceiptNotReady(Exception):
    """The receipt cannot be settled yet (it overtook our SENT write, or the provider-id index has not caught up):
    the receipts consumer fails its record, so SQS hands it back after the queue's visibility timeout. `outcome`
    says what was done meanwhile (PARKED, or NOT_YET_SENT when it could not even be parked)."""

    def __init__(self, outcome: ReceiptOutcome, reference: str | None) -> None:
        super().__init__(f"{outcome.value}: {reference}")
        self.outcome = outcome


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


def receive_receipt(
    receipt: Receipt, store: ReceiptStore, parked: ParkedReceipts | None, now: datetime
) -> ReceiptOutcome:
    """Apply a receipt; one that overtook our SENT write is parked instead of dropped (NOT_YET_SENT only when it
    cannot be: no parking, or no provider message id to park it under).

    After parking it looks again: if the SENT write landed between our read and our park, the deliver function
    may have looked for a parked receipt before ours was there, so this call applies it (harmless if both do).
    """
    outcome = apply_receipt(receipt, store)
    # Without our message id (a callback at an old StatusCallback URL) the message is found through the eventually
    # consistent provider-id index, which has nothing before SENT: such a receipt is parked too, not dropped.
    unknown_by_index = outcome is ReceiptOutcome.UNKNOWN_MESSAGE and receipt.message_id is None
    if outcome is not ReceiptOutcome.NOT_YET_SENT and not unknown_by_index:
        return outcome
    if parked is None or not receipt.provider_message_id:
        return outcome
    parked.park(receipt, now + PARKED_RECEIPT_TTL)
    again = apply_parked(receipt.provider, receipt.provider_message_id, store, parked)
    return again if again in (ReceiptOutcome.APPLIED, ReceiptOutcome.STALE) else ReceiptOutcome.PARKED


def apply_parked(
    provider: str, provider_message_id: str, store: ReceiptStore, parked: ParkedReceipts, message_id: str | None = None
) -> ReceiptOutcome | None:
    """Apply the receipt parked for this provider message id, if any (None when there is none).

    `message_id` is ours, when the caller knows it (the deliver function, right after SENT): the parked receipt is
    applied to that message, whatever id the receipt itself carried. The parked item is left to expire: applying
    it again finds the message past SENT and changes nothing (STALE).
    """
    receipt = parked.parked(provider, provider_message_id)
    if receipt is None:
        return None
    if message_id is not None:
        receipt = replace(receipt, message_id=message_id)
    return apply_receipt(receipt, store)


def settle_buffered(
    receipt: Receipt,
    store: ReceiptStore,
    parked: ParkedReceipts,
    now: datetime,
    receive_count: int,
    retry_receives: int,
) -> ReceiptOutcome:
    """Apply a receipt taken from the receipts queue; raise ReceiptNotReady to have SQS hand it back later.

    A parked receipt is retried until its `retry_receives`-th receive: a retry applies it once the message is SENT,
    which covers a deliver function that crashed between its SENT write and its look for parked receipts, and an
    index that had not caught up with an old-style callback. After that it stays parked (the deliver function still
    applies it at SENT) until its TTL, and the record is done. One that cannot even be parked (no provider message
    id) is retried until the queue's maxReceiveCount moves it to the dead-letter queue, which alarms.
    """
    outcome = receive_receipt(receipt, store, parked, now)
    reference = receipt.message_id or receipt.provider_message_id
    if outcome is ReceiptOutcome.NOT_YET_SENT or (outcome is ReceiptOutcome.PARKED and receive_count < retry_receives):
        raise ReceiptNotReady(outcome, reference)
    return outcome
