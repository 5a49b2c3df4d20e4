"""Read-only access to messages and dispatches for the status endpoints: GetItem, Query and BatchGetItem, never Scan.

Each filter combination of GET /api/messages reads the most selective index it allows (queue > recipient >
tenant). The queue and tenant indexes are sharded (`<id>#<n>`, smscore.dal.tables.MESSAGE_INDEX_SHARDS): one
Query per shard, read backwards, merged in key order, so the page is the same as one Query on an unsharded
index would give. Filters on what the index projects (tenant, recipient, channel, created) ride along as a
FilterExpression; the indexes project only what never changes, so the page's items come from one
BatchGetItem, and a status filter is applied to those items. The cursor is the merge position -- the sort
key of the last message returned -- which is every shard's position at once: each shard resumes strictly
below it. The README's "Message indexes" table is the same plan in prose.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, islice
from typing import Any

from pynamodb.expressions.condition import Condition

from smscore.dal.dispatch_counts import with_shards
from smscore.dal.tables import DispatchRecord, MessageRecord, TenantRecord, shard_keys, waiting_until
from smscore.domain.model import MessageStatus
from smscore.domain.views import DispatchView, MessageFilters, MessagePage, MessageView, PageScope, StatusChangeView

# DynamoDB items read while filling one API page under a filter; more than `limit` so sparse filters need fewer calls.
QUERY_PAGE_SIZE = 200
BATCH_GET_SIZE = 100  # BatchGetItem's limit
# Sorts after "#" and before every character of a message id: "<time>$" bounds every key of that instant.
_AFTER_INSTANT = "$"


@dataclass(frozen=True)
class IndexPlan:
    """Which index serves a filter combination, and the caller's partition of it.

    `owner` (a queue id, tenant id or tenant#recipient) is what the cursor is bound to; `partitions` are the
    index partition key values that hold it (one per shard) and are merged on `range_attribute`.
    """

    index_name: str
    owner_attribute: str
    owner: str
    partitions: tuple[str, ...]
    range_attribute: str

    def key_attributes(self) -> frozenset[str]:
        return frozenset({self.owner_attribute, self.range_attribute})

    def scope(self) -> PageScope:
        return PageScope(self.index_name, self.key_attributes(), {self.owner_attribute: self.owner})

    def key_of(self, record: MessageRecord) -> dict[str, str]:
        """The merge position right after `record`: what a cursor carries."""
        return {self.owner_attribute: self.owner, self.range_attribute: str(getattr(record, self.range_attribute))}


def plan_for(tenant_id: str, filters: MessageFilters) -> IndexPlan:
    if filters.queue_id is not None:
        queue_id = filters.queue_id
        return IndexPlan("by_queue_shard", "queue_id", queue_id, tuple(shard_keys(queue_id)), "message_id")
    if filters.recipient is not None:
        key = MessageRecord.recipient_key(tenant_id, filters.recipient)
        return IndexPlan("by_recipient", "tenant_recipient", key, (key,), "created_key")
    return IndexPlan("by_tenant_shard", "tenant_id", tenant_id, tuple(shard_keys(tenant_id)), "created_key")


def created_bound(moment: datetime, *, upper: bool) -> str:
    """`created_key` bound for an instant, inclusive either way."""
    stored: str = MessageRecord.created_at.serialize(moment)
    return stored + _AFTER_INSTANT if upper else stored


def _range_condition(plan: IndexPlan, filters: MessageFilters, position: str | None) -> Condition | None:
    """The one sort key condition a Query allows: the created range and, past the first page, the cursor.

    On the created indexes the cursor's position becomes an inclusive upper bound (DynamoDB takes a single
    condition on the sort key); the entry at exactly that position, the last one already returned, is then
    skipped by the caller.
    """
    if plan.range_attribute == "message_id":
        return MessageRecord.message_id < position if position else None
    low = created_bound(filters.created_from, upper=False) if filters.created_from else None
    high = created_bound(filters.created_to, upper=True) if filters.created_to else None
    if position is not None:
        high = position if high is None else min(high, position)
    if low is not None and high is not None:
        return MessageRecord.created_key.between(low, high)
    if low is not None:
        return MessageRecord.created_key >= low
    if high is not None:
        return MessageRecord.created_key <= high
    return None


def _created_condition(filters: MessageFilters) -> Condition | None:
    """The created range as a filter (on the queue index, whose sort key is the message id)."""
    low = created_bound(filters.created_from, upper=False) if filters.created_from else None
    high = created_bound(filters.created_to, upper=True) if filters.created_to else None
    if low is not None and high is not None:
        return MessageRecord.created_key.between(low, high)
    if low is not None:
        return MessageRecord.created_key >= low
    if high is not None:
        return MessageRecord.created_key <= high
    return None


def _all(conditions: list[Condition | None]) -> Condition | None:
    result: Condition | None = None
    for condition in conditions:
        if condition is not None:
            result = condition if result is None else result & condition
    return result


def message_view(record: MessageRecord) -> MessageView:
    return MessageView(
        message_id=record.message_id,
        tenant_id=record.tenant_id,
        queue_id=record.queue_id,
        contact_id=record.contact_id,
        recipient=record.recipient,
        body=record.body,
        encoding=record.encoding,
        status=MessageStatus(record.status),
        provider=record.provider,
        segments=int(record.segments),
        credits=int(record.credits),
        created_at=record.created_at,
        updated_at=record.changed_at(),
        provider_message_id=record.sent_provider_id(),
        provider_error_code=record.provider_error_code,
        provider_price=record.provider_price,
        failure_reason=record.failure_reason,
        permanent_failure=record.permanent_failure,
        attempts=int(record.attempts or 0),
        sent_at=record.sent_at,
        clicks=int(record.clicks or 0),
        first_clicked_at=record.first_clicked_at,
        history=tuple(
            StatusChangeView(
                status=change.status,
                at=change.at,
                code=change.code,
                detail=change.detail,
                until=waiting_until(change.detail) if change.status == MessageStatus.SCHEDULED.value else None,
            )
            for change in record.history or []
        ),
        provider_price_unit=record.provider_price_unit,
        due_at=record.due_at if record.status == MessageStatus.SCHEDULED.value else None,
        purpose=record.purpose or "marketing",
    )


def dispatch_view(record: DispatchRecord) -> DispatchView:
    """A campaign as the read side sees it (also used by the contacts function's campaign list)."""
    return DispatchView(
        queue_id=record.queue_id,
        tenant_id=record.tenant_id,
        created_at=record.created_at,
        body=record.body,
        tag_ids=tuple(record.tag_ids),
        country=record.country,
        total_messages=int(record.total_messages),
        segments_per_message=int(record.segments_per_message),
        counts={status: int(getattr(record, f"count_{status.value.lower()}")) for status in MessageStatus},
        credits_debited=int(record.credits_debited),
        credits_refunded=int(record.credits_refunded),
        resend_of=record.resend_of,
        template_id=record.template_id,
        test=bool(record.test),
        track_links=bool(record.track_links),
        purpose=record.purpose or "marketing",
        send_at=record.send_at,
        scheduled_for=record.scheduled_for,
        clicks=int(record.count_clicked or 0),
        scheduled_reason=record.scheduled_reason,
        cancelled_at=record.cancelled_at,
        cancelled_by=record.cancelled_by,
        planning=None
        if record.planning_status is None
        else {
            "status": record.planning_status,
            "contacts_read": int(record.planning_contacts_read or 0),
            "messages_planned": int(record.planning_messages or 0),
            "error": record.planning_error,
        },
    )


def _merged(
    plan: IndexPlan, *, range_key_condition: Condition | None, filter_condition: Condition | None, wanted: int
) -> Iterator[MessageRecord]:
    """The index entries of every partition of `plan`, newest (highest key) first, as one stream.

    Each shard is a lazy backwards Query; the first page of every shard is read in parallel, the rest only
    as far as the merge needs it.
    """
    index: Any = getattr(MessageRecord, plan.index_name)
    page_size = min(wanted, max(4, -(-2 * wanted // len(plan.partitions))))
    streams = [
        iter(
            index.query(
                partition,
                range_key_condition=range_key_condition,
                filter_condition=filter_condition,
                scan_index_forward=False,
                page_size=page_size,
            )
        )
        for partition in plan.partitions
    ]
    if len(streams) > 1:
        with ThreadPoolExecutor(max_workers=len(streams)) as pool:
            firsts = list(pool.map(lambda stream: list(islice(stream, page_size)), streams))
        streams = [chain(first, stream) for first, stream in zip(firsts, streams, strict=True)]
    return heapq.merge(*streams, key=lambda entry: str(getattr(entry, plan.range_attribute)), reverse=True)


def _load_in_order(message_ids: list[str]) -> list[MessageRecord]:
    """The messages themselves (the indexes project only keys and fixed attributes), in the order asked."""
    found = {record.message_id: record for record in MessageRecord.batch_get(message_ids)}
    return [found[message_id] for message_id in message_ids if message_id in found]


def queue_messages(queue_id: str) -> list[tuple[str, str]]:
    """(message id, recipient) of every message of a campaign, from every shard of its index (any order)."""

    def shard(partition: str) -> list[tuple[str, str]]:
        found = MessageRecord.by_queue_shard.query(partition, attributes_to_get=["message_id", "recipient"])
        return [(m.message_id, m.recipient) for m in found]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(chain.from_iterable(pool.map(shard, shard_keys(queue_id))))


class DynamoMessageQueries:
    """Tenant-scoped reads. Something of another tenant is reported exactly like something missing: None."""

    def tenant_country(self, tenant_id: str) -> str | None:
        try:
            tenant = TenantRecord.get(tenant_id, attributes_to_get=["tenant_id", "default_country"])
        except TenantRecord.DoesNotExist:
            return None
        country: str | None = tenant.default_country
        return country

    def dispatch(self, tenant_id: str, queue_id: str) -> DispatchView | None:
        try:
            record = DispatchRecord.get(queue_id, consistent_read=True)
        except DispatchRecord.DoesNotExist:
            return None
        if record.tenant_id != tenant_id:
            return None
        return dispatch_view(with_shards([record])[0])

    def message(self, tenant_id: str, message_id: str) -> MessageView | None:
        try:
            record = MessageRecord.get(message_id, consistent_read=True)
        except MessageRecord.DoesNotExist:
            from smscore.dal.planned_reads import planned_message  # a planned message not written yet

            return planned_message(tenant_id, message_id)
        return message_view(record) if record.tenant_id == tenant_id else None

    def page_scope(self, tenant_id: str, filters: MessageFilters) -> PageScope:
        return plan_for(tenant_id, filters).scope()

    def list_messages(
        self,
        tenant_id: str,
        filters: MessageFilters,
        limit: int,
        start_key: dict[str, str] | None = None,
    ) -> MessagePage:
        """Up to `limit` messages, newest first, and the key to continue from (None on the last page).

        Reads one message past `limit` so that a page that ends exactly at the last message says so.
        """
        plan = plan_for(tenant_id, filters)
        by_queue = plan.range_attribute == "message_id"
        position = start_key[plan.range_attribute] if start_key else None
        if filters.queue_id is not None:
            from smscore.dal.planned_reads import plan_of, planned_page

            planned = plan_of(filters.queue_id)
            if planned is not None:  # listed from its plan, whether or not the workers wrote the items yet
                prefix, chunks = planned
                return planned_page(tenant_id, filters.queue_id, prefix, chunks, filters, limit, position, message_view)
        index_filter = _all(
            [
                MessageRecord.tenant_id == tenant_id if by_queue else None,
                MessageRecord.recipient == filters.recipient if by_queue and filters.recipient is not None else None,
                MessageRecord.channel == filters.channel if filters.channel is not None else None,
                _created_condition(filters) if by_queue else None,
            ]
        )
        filtered = index_filter is not None or filters.status is not None
        merged = _merged(
            plan,
            range_key_condition=_range_condition(plan, filters, position),
            filter_condition=index_filter,
            wanted=max(limit + 1, QUERY_PAGE_SIZE) if filtered else limit + 1,
        )
        keys = (key for key in merged if getattr(key, plan.range_attribute) != position)
        found: list[MessageRecord] = []
        while len(found) <= limit:
            chunk = [key.message_id for key in islice(keys, BATCH_GET_SIZE if filtered else limit + 1 - len(found))]
            if not chunk:
                break
            for record in _load_in_order(chunk):
                if filters.status is None or record.status == filters.status.value:
                    found.append(record)
        if len(found) <= limit:
            return MessagePage(items=[message_view(r) for r in found])
        page = found[:limit]
        return MessagePage(items=[message_view(r) for r in page], next_key=plan.key_of(page[-1]))

    def find_by_provider_message_id(self, provider_message_id: str) -> str | None:
        """Our message id for a provider's id (sparse index, eventually consistent)."""
        for item in MessageRecord.by_provider_message_id.query(provider_message_id, limit=1):
            message_id: str = item.message_id
            return message_id
        return None
