"""LinkStore on the Links table (one item per campaign URL) and the Messages table (each message's clicks).

A click is one conditional UpdateItem of the message (`first_clicked_at` set if absent, `clicks` + 1, only when the
message exists and belongs to the link's campaign) returning the old first click, so the first click is known
without a read; only that one also ADDs to one of the campaign's counter shards (unique clicks). No index key
changes, so no index is written (README, "Capacity").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pynamodb.exceptions import PutError, UpdateError

from smscore.dal.dispatch_counts import add_to_shard
from smscore.dal.tables import LinkRecord, MessageRecord
from smscore.domain.links import ClickRecorded, LinkKeyTaken, TrackedLink

CONDITION_FAILED = "ConditionalCheckFailedException"


def _link(record: LinkRecord) -> TrackedLink:
    return TrackedLink(
        key=record.link_key,
        tenant_id=record.tenant_id,
        queue_id=record.queue_id,
        url=record.url,
        secret=record.secret,
        created_at=record.created_at,
        messages=int(record.messages),
        plan_prefix=record.plan_prefix,
        chunk_sizes=tuple(int(size) for size in record.chunk_sizes or ()),
    )


class DynamoLinkStore:
    def __init__(self, retention_days: int = 400) -> None:
        """Link items expire with the campaign's messages (MessageRetentionDays)."""
        self._retention = timedelta(days=retention_days)

    def put_links(self, links: Sequence[TrackedLink], expires_at: datetime | None) -> None:
        for link in links:
            record = LinkRecord(
                link.key,
                tenant_id=link.tenant_id,
                queue_id=link.queue_id,
                url=link.url,
                secret=link.secret,
                messages=link.messages,
                plan_prefix=link.plan_prefix,
                chunk_sizes=list(link.chunk_sizes) or None,
                created_at=link.created_at,
                expires_at=expires_at or link.created_at + self._retention,
            )
            try:
                record.save(condition=LinkRecord.link_key.does_not_exist())
            except PutError as exc:
                if exc.cause_response_code == CONDITION_FAILED:
                    raise LinkKeyTaken(link.key) from exc
                raise

    def get_link(self, key: str) -> TrackedLink | None:
        try:
            return _link(LinkRecord.get(key))
        except LinkRecord.DoesNotExist:
            return None

    def record_click(self, queue_id: str, message_id: str, at: datetime) -> ClickRecorded | None:
        record = MessageRecord(message_id)
        try:  # PynamoDB's update asks for ALL_NEW and refreshes `record` with it
            record.update(
                actions=[
                    MessageRecord.first_clicked_at.set(MessageRecord.first_clicked_at | at),
                    MessageRecord.clicks.add(1),
                ],
                condition=MessageRecord.message_id.exists() & (MessageRecord.queue_id == queue_id),
            )
        except UpdateError as exc:
            if exc.cause_response_code == CONDITION_FAILED:
                return None
            raise
        first_at = record.first_clicked_at or at
        clicks = int(record.clicks or 0)
        first = clicks == 1  # ADD is atomic: exactly one click sees 1
        if first:
            add_to_shard(queue_id, message_id, {"count_clicked": 1})
        return ClickRecorded(first=first, clicks=clicks, first_clicked_at=first_at, recipient=record.recipient)
