"""LinkStore on the Links table (one item per campaign URL) and the Messages table (each message's clicks).

A click is one conditional UpdateItem of the message (`first_clicked_at` set if absent, `clicks` + 1, only when the
message exists and belongs to the link's campaign) returning the old first click, so the first click is known
without a read; only that one also ADDs to one of the campaign's counter shards (unique clicks). No index key
changes, so no index is written (README, "Capacity").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pynamodb.constants import UPDATED_NEW
from pynamodb.exceptions import PutError, UpdateError

from smscore.dal.dispatch_counts import add_to_shard
from smscore.dal.tables import LinkRecord, MessageRecord
from smscore.domain.links import ClickRecorded, LinkKeyTaken, TrackedLink

CONDITION_FAILED = "ConditionalCheckFailedException"
LINK_CACHE_SIZE = 10_000  # link items a warm environment keeps (a few hundred bytes each)


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
        self._cache: OrderedDict[str, TrackedLink] = OrderedDict()

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
        """A link item never changes after the send: a warm environment keeps the ones it read (every recipient of
        a campaign clicks the same item), so a click costs one DynamoDB call, the message's update."""
        cached = self._cache.get(key)
        if cached is not None and cached.created_at + self._retention > datetime.now(UTC):
            self._cache.move_to_end(key)
            return cached  # (past its retention the item is read again: gone with TTL, it is a 404)
        try:
            link = _link(LinkRecord.get(key))
        except LinkRecord.DoesNotExist:
            return None  # not cached: a key is only ever written before its codes are sent
        self._cache[key] = link
        if len(self._cache) > LINK_CACHE_SIZE:
            self._cache.popitem(last=False)
        return link

    def record_click(self, queue_id: str, message_id: str, at: datetime) -> ClickRecorded | None:
        try:  # UPDATED_NEW: only the two counters come back, not the message's text and history
            answer = MessageRecord._get_connection().update_item(
                message_id,
                actions=[
                    MessageRecord.first_clicked_at.set(MessageRecord.first_clicked_at | at),
                    MessageRecord.clicks.add(1),
                ],
                condition=MessageRecord.message_id.exists() & (MessageRecord.queue_id == queue_id),
                return_values=UPDATED_NEW,
            )
        except UpdateError as exc:
            if exc.cause_response_code == CONDITION_FAILED:
                return None
            raise
        clicks = int(MessageRecord.clicks.deserialize(answer["Attributes"]["clicks"]["N"]))
        if clicks != 1:  # ADD is atomic: exactly one click sees 1 (and set first_clicked_at, in the same update)
            return ClickRecorded(first=False, clicks=clicks, first_clicked_at=None, recipient="")
        add_to_shard(queue_id, message_id, {"count_clicked": 1})
        # The first click only (once per message): its recipient, for message.clicked
        recipient = MessageRecord.get(message_id, attributes_to_get=["recipient"]).recipient
        return ClickRecorded(first=True, clicks=clicks, first_clicked_at=at, recipient=recipient)
