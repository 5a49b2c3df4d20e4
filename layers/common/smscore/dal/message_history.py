"""A tenant's messages to one number, whole (the contact export): the by-recipient index gives the ids (it projects
keys only), then BatchGetItem reads the items, 100 a call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from smscore.dal.tables import MessageRecord


class DynamoMessageHistory:
    def erase_number(self, tenant_id: str, e164: str, masked: str) -> tuple[int, int]:
        return erase_number(tenant_id, e164, masked)

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


FINAL_STATUSES = ("SENT", "DELIVERED", "UNDELIVERED", "FAILED", "CANCELLED")


def erase_number(tenant_id: str, e164: str, masked: str) -> tuple[int, int]:
    """Mask `e164` in the tenant's finished messages to it: the recipient becomes `masked` and the by-recipient key is
    removed (the index no longer finds them). A message still to be delivered (SCHEDULED, QUEUED, SENDING) keeps its
    number: delivery needs it. Returns (masked, still pending). The ledger is not touched: it names message ids, never
    numbers, so the balance stays exactly the sum of its entries."""
    from pynamodb.exceptions import UpdateError

    key = MessageRecord.recipient_key(tenant_id, e164)
    ids = [m.message_id for m in MessageRecord.by_recipient.query(key, attributes_to_get=["message_id"])]
    done = pending = 0
    for message_id in ids:
        try:
            MessageRecord(message_id).update(
                actions=[MessageRecord.recipient.set(masked), MessageRecord.tenant_recipient.remove()],
                condition=(MessageRecord.tenant_id == tenant_id) & MessageRecord.status.is_in(*FINAL_STATUSES),
            )
            done += 1
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            pending += 1
    return done, pending
