"""Interfaces the domain depends on; the PynamoDB/SQS adapters and the in-memory test fakes implement them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from smscore.domain.model import Dispatch, OutgoingMessage, QueueBatch, TagRecipient, Tenant


class CampaignStore(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def tag_recipients(self, tenant_id: str, tag_ids: Sequence[str]) -> list[TagRecipient]:
        """Every membership of the given tags, one paginated Query per tag; unknown tags yield nothing."""
        ...

    def debit(self, dispatch: Dispatch) -> None:
        """Atomically take `dispatch.credits_debited` from the balance, write the ledger entry and the dispatch.

        Raises InsufficientCredits (with the balance read afterwards) when the balance is too low.
        """
        ...

    def save_messages(self, messages: Sequence[OutgoingMessage]) -> None: ...

    def queue_messages(self, queue_id: str) -> list[tuple[str, str]]:
        """(message id, recipient) of every message of a campaign, sorted by recipient as first answered."""
        ...

    def mark_failed(self, messages: Sequence[OutgoingMessage], reason: str) -> None:
        """Record the messages as FAILED, whether or not they had been persisted before."""
        ...

    def refund(self, tenant_id: str, queue_id: str, amount: int, reason: str, message_ids: Sequence[str] = ()) -> None:
        """Give `amount` credits back with a ledger entry, atomically."""
        ...


class DeliveryQueue(Protocol):
    def enqueue(self, batches: Sequence[QueueBatch]) -> list[QueueBatch]:
        """Send the batches; returns the ones that could not be enqueued after retries."""
        ...
