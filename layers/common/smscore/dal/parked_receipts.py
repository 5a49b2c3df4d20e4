"""PynamoDB implementation of the ParkedReceipts port: receipts that overtook our SENT write, one item each in
the Messages table (smscore.dal.tables.ParkedReceiptRecord), expiring by TTL."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from smscore.dal.tables import ParkedReceiptRecord
from smscore.domain.model import MessageStatus, Receipt


class DynamoParkedReceipts:
    def park(self, receipt: Receipt, expires_at: datetime) -> bool:
        if not receipt.provider_message_id:
            raise ValueError("a receipt is parked under its provider message id")
        # An UpdateItem that creates the item: the webhooks may update messages but never put one.
        actions: list[Action] = [
            ParkedReceiptRecord.receipt_status.set(receipt.status.value),
            ParkedReceiptRecord.reported_at.set(receipt.reported_at),
            ParkedReceiptRecord.provider_status.set(receipt.provider_status),
            ParkedReceiptRecord.expires_at.set(expires_at),
        ]
        if receipt.error_code is not None:
            actions.append(ParkedReceiptRecord.error_code.set(receipt.error_code))
        if receipt.message_id is not None:
            actions.append(ParkedReceiptRecord.receipt_message_id.set(receipt.message_id))
        record = ParkedReceiptRecord(ParkedReceiptRecord.key_for(receipt.provider, receipt.provider_message_id))
        try:
            record.update(actions=actions, condition=ParkedReceiptRecord.parked_key.does_not_exist())
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False  # one is parked already: the first stays
            raise
        return True

    def parked(self, provider: str, provider_message_id: str) -> Receipt | None:
        try:
            record = ParkedReceiptRecord.get(
                ParkedReceiptRecord.key_for(provider, provider_message_id), consistent_read=True
            )
        except ParkedReceiptRecord.DoesNotExist:
            return None
        return Receipt(
            provider=provider,
            status=MessageStatus(record.receipt_status),
            reported_at=record.reported_at,
            provider_status=record.provider_status,
            error_code=record.error_code,
            message_id=record.receipt_message_id,
            provider_message_id=provider_message_id,
        )
