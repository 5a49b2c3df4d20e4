"""PynamoDB implementation of the sandbox provider's Outbox."""

from __future__ import annotations

from datetime import UTC, datetime

from smscore.dal.tables import OutboxRecord
from smscore.domain.ports import SmsRequest
from smscore.providers.sandbox import OutboxEntry


class DynamoOutbox:
    def record(self, request: SmsRequest, provider_message_id: str) -> OutboxEntry:
        """One UpdateItem: the first request creates the entry, later ones only bump `send_count`."""
        item = OutboxRecord(request.message_id)
        item.update(
            actions=[
                OutboxRecord.provider_message_id.set(
                    OutboxRecord.provider_message_id | provider_message_id  # if_not_exists
                ),
                OutboxRecord.tenant_id.set(request.tenant_id),
                OutboxRecord.recipient.set(request.recipient),
                OutboxRecord.body.set(request.body),
                OutboxRecord.sent_at.set(OutboxRecord.sent_at | datetime.now(UTC)),
                OutboxRecord.send_count.add(1),
            ]
        )
        return OutboxEntry(provider_message_id=item.provider_message_id, send_count=int(item.send_count))
