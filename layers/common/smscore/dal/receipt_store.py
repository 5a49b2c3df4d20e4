"""PynamoDB implementation of the ReceiptStore port.

A receipt only ever finds (and moves) a message sent through the provider that reports it: a signed Twilio
callback naming a message the sandbox or AWS sent is answered as an unknown message, and the write repeats
the check as a condition. Finding the message is ours; changing its status is delivery's
`DynamoMessageStore.apply_transition`, the one transaction that moves a message (conditional on the status
read just before: the status-only-moves-forward guard) together with the dispatch counters and the history,
so the counts of GET /api/messages/queues/{queueId} stay exact under concurrent receipts and deliveries.
"""

from __future__ import annotations

from typing import Protocol

from smscore.dal.message_queries import DynamoMessageQueries
from smscore.dal.message_store import DynamoMessageStore, StatusTransition
from smscore.dal.tables import MessageRecord
from smscore.domain.model import MessageState, MessageStatus, Receipt


class ProviderIdIndex(Protocol):
    """Our message id for a provider's id: the by_provider_message_id index, eventually consistent."""

    def find_by_provider_message_id(self, provider_message_id: str) -> str | None: ...


class DynamoReceiptStore:
    """Finds a receipt's message by our id when the receipt carries it (AWS `Context`, the id in Twilio's signed
    StatusCallback URL): a strongly consistent read by primary key, right after the send. Only a receipt without
    it (a Twilio callback of a message sent before the id was in the URL) goes through the provider-id index,
    which may not have the message yet; `index` replaces that index in tests.
    """

    def __init__(self, region: str, host: str | None = None, index: ProviderIdIndex | None = None) -> None:
        self._messages = DynamoMessageStore(region=region, host=host)
        self._index: ProviderIdIndex = index if index is not None else DynamoMessageQueries()

    def find(self, receipt: Receipt) -> MessageState | None:
        message_id = receipt.message_id
        if message_id is None and receipt.provider_message_id:
            message_id = self._index.find_by_provider_message_id(receipt.provider_message_id)
        if not message_id:
            return None
        try:
            record = MessageRecord.get(
                message_id,
                consistent_read=True,
                attributes_to_get=["message_id", "tenant_id", "queue_id", "status", "provider", "provider_message_id"],
            )
        except MessageRecord.DoesNotExist:
            return None
        if receipt.message_id is None and record.provider_message_id != receipt.provider_message_id:
            return None  # the index lagged behind a change of provider id: not this message any more
        if record.provider != receipt.provider:
            return None  # sent through another provider: this one cannot speak for it
        return MessageState(
            message_id=record.message_id,
            tenant_id=record.tenant_id,
            queue_id=record.queue_id,
            status=MessageStatus(record.status),
            provider=record.provider,
        )

    def transition(self, state: MessageState, receipt: Receipt) -> bool:
        """Delivery's one status-change transaction, expecting SENT: message, counters and history together."""
        return self._messages.apply_transition(
            StatusTransition(
                message_id=state.message_id,
                tenant_id=state.tenant_id,
                queue_id=state.queue_id,
                expected=state.status,
                to=receipt.status,
                at=receipt.reported_at,
                code=receipt.error_code,
                detail=f"{receipt.provider}: {receipt.provider_status}",
                set_fields={"provider_error_code": receipt.error_code} if receipt.error_code else {},
                condition=MessageRecord.provider == receipt.provider,
            )
        )
