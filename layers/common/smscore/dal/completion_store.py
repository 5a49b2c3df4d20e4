"""campaign.completed's store (smscore.domain.completion): the campaign's counts, and its watch item in the Webhooks
table (the tenant's partition, `completion#<queue id>`: when the check chain started, when completion was found).
The item expires (the table's TTL) 45 days after the chain started, past the checks' 40 days."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from smscore.dal.dispatch_counts import load_dispatch
from smscore.dal.lazy_dynamodb import LazyDynamoTable
from smscore.domain.completion import CampaignCounts
from smscore.domain.model import MessageStatus

log = logging.getLogger(__name__)
WATCH_TTL = timedelta(days=45)


def _key(tenant_id: str, queue_id: str) -> dict[str, Any]:
    return {"tenant_id": {"S": tenant_id}, "item_key": {"S": f"completion#{queue_id}"}}


class DynamoCompletionStore(LazyDynamoTable):
    """The watch and completion writes go through the low-level client (most emitting invocations make none)."""

    def counts(self, queue_id: str) -> CampaignCounts | None:
        record = load_dispatch(queue_id)  # GetItem + one BatchGetItem of the counter shards, consistent
        if record is None:
            return None
        return CampaignCounts(
            tenant_id=record.tenant_id,
            total_messages=int(record.total_messages),
            counts={s: int(getattr(record, f"count_{s.value.lower()}") or 0) for s in MessageStatus},
            credits_debited=int(record.credits_debited),
            credits_refunded=int(record.credits_refunded or 0),
        )

    def watch(self, tenant_id: str, queue_id: str, at: datetime) -> bool | None:
        try:
            self._dynamodb().put_item(
                TableName=self._table,
                Item={
                    **_key(tenant_id, queue_id),
                    "started_at": {"S": at.isoformat()},
                    "expires_at": {"N": str(int((at + WATCH_TTL).timestamp()))},
                },
                ConditionExpression="attribute_not_exists(item_key)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            log.error("completion watch not written", extra={"queue_id": queue_id, "reason": type(exc).__name__})
            return None
        except BotoCoreError as exc:
            log.error("completion watch not written", extra={"queue_id": queue_id, "reason": type(exc).__name__})
            return None
        return True

    def complete(self, tenant_id: str, queue_id: str, at: datetime) -> datetime:
        answer = self._dynamodb().update_item(
            TableName=self._table,
            Key=_key(tenant_id, queue_id),
            UpdateExpression="SET completed_at = if_not_exists(completed_at, :at)",
            ExpressionAttributeValues={":at": {"S": at.isoformat()}},
            ReturnValues="ALL_NEW",
        )
        return datetime.fromisoformat(answer["Attributes"]["completed_at"]["S"])
