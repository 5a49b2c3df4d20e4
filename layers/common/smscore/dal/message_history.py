"""A tenant's messages to one number, whole (the contact export): the by-recipient index gives the ids (it projects
keys only), then BatchGetItem reads the items, 100 a call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from smscore.dal.tables import MessageRecord


class DynamoMessageHistory:
    def messages_to(self, tenant_id: str, e164: str) -> Sequence[dict[str, Any]]:
        key = MessageRecord.recipient_key(tenant_id, e164)
        ids = [m.message_id for m in MessageRecord.by_recipient.query(key, attributes_to_get=["message_id"])]
        found = []
        for start in range(0, len(ids), 100):
            for record in MessageRecord.batch_get(ids[start : start + 100]):
                if record.tenant_id != tenant_id:  # the index key names the tenant; checked again, cheaply
                    continue
                found.append(
                    {
                        "id": record.message_id,
                        "queue_id": record.queue_id,
                        "status": record.status,
                        "purpose": record.purpose or "marketing",
                        "body": record.body,
                        "segments": int(record.segments),
                        "created_at": record.created_at,
                        "history": [
                            {"status": h.status, "at": h.at, "detail": h.detail} for h in (record.history or [])
                        ],
                    }
                )
        return found
