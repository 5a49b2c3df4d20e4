"""Read-only access to messages and dispatches for the status endpoints: GetItem and Query, never Scan.

Each filter combination of GET /api/messages is one Query on the most selective index it allows
(queue > recipient > status > tenant); the remaining filters ride along as a FilterExpression on
that Query. All four list indexes sort by `created_key` ("<created_at>#<message_id>"), read
backwards for newest first. The README's "Message indexes" table is the same plan in prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.expressions.condition import Condition

from smscore.dal.tables import DispatchRecord, MessageRecord, TenantRecord
from smscore.domain.model import MessageStatus
from smscore.domain.views import DispatchView, MessageFilters, MessagePage, MessageView, PageScope, StatusChangeView

# A DynamoDB page read while filling one API page; larger than `limit` so sparse filters need fewer calls.
QUERY_PAGE_SIZE = 200
# Sorts after "#" and before every character of a message id: "<time>$" bounds every key of that instant.
_AFTER_INSTANT = "$"


@dataclass(frozen=True)
class IndexPlan:
    """Which index serves a filter combination, and the partition of it that belongs to the caller."""

    index_name: str
    hash_attribute: str
    hash_value: str
    range_attribute: str

    def key_attributes(self) -> frozenset[str]:
        return frozenset({"message_id", self.hash_attribute, self.range_attribute})

    def scope(self) -> PageScope:
        return PageScope(self.index_name, self.key_attributes(), {self.hash_attribute: self.hash_value})

    def key_of(self, record: MessageRecord) -> dict[str, str]:
        """The position right after `record` in this index: what a cursor carries."""
        return {name: str(getattr(record, name)) for name in self.key_attributes()}


def plan_for(tenant_id: str, filters: MessageFilters) -> IndexPlan:
    if filters.queue_id is not None:
        return IndexPlan("by_queue", "queue_id", filters.queue_id, "message_id")
    if filters.recipient is not None:
        key = MessageRecord.recipient_key(tenant_id, filters.recipient)
        return IndexPlan("by_tenant_recipient", "tenant_recipient", key, "created_key")
    if filters.status is not None:
        key = MessageRecord.status_key(tenant_id, filters.status.value)
        return IndexPlan("by_tenant_status", "tenant_status", key, "created_key")
    return IndexPlan("by_tenant_created", "tenant_id", tenant_id, "created_key")


def created_bound(moment: datetime, *, upper: bool) -> str:
    """`created_key` bound for an instant, inclusive either way."""
    stored: str = MessageRecord.created_at.serialize(moment)
    return stored + _AFTER_INSTANT if upper else stored


def _created_condition(filters: MessageFilters) -> Condition | None:
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
        updated_at=record.updated_at,
        provider_message_id=record.provider_message_id,
        provider_error_code=record.provider_error_code,
        provider_price=record.provider_price,
        failure_reason=record.failure_reason,
        permanent_failure=record.permanent_failure,
        attempts=int(record.attempts or 0),
        sent_at=record.sent_at,
        history=tuple(
            StatusChangeView(status=change.status, at=change.at, code=change.code, detail=change.detail)
            for change in record.history or []
        ),
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
    )


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
        return dispatch_view(record) if record.tenant_id == tenant_id else None

    def message(self, tenant_id: str, message_id: str) -> MessageView | None:
        try:
            record = MessageRecord.get(message_id, consistent_read=True)
        except MessageRecord.DoesNotExist:
            return None
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

        Reads one item past `limit` so that a page that ends exactly at the last message says so.
        """
        plan = plan_for(tenant_id, filters)
        created = _created_condition(filters)
        by_queue = plan.index_name == "by_queue"
        filter_condition = _all(
            [
                MessageRecord.tenant_id == tenant_id if by_queue else None,
                MessageRecord.tenant_recipient == MessageRecord.recipient_key(tenant_id, filters.recipient)
                if by_queue and filters.recipient is not None
                else None,
                MessageRecord.status == filters.status.value if filters.status is not None else None,
                MessageRecord.channel == filters.channel if filters.channel is not None else None,
                created if by_queue else None,
            ]
        )
        index: Any = getattr(MessageRecord, plan.index_name)
        results = index.query(
            plan.hash_value,
            range_key_condition=None if by_queue else created,
            filter_condition=filter_condition,
            scan_index_forward=False,
            limit=limit + 1,
            page_size=max(limit + 1, QUERY_PAGE_SIZE) if filter_condition is not None else limit + 1,
            last_evaluated_key={k: {"S": v} for k, v in start_key.items()} if start_key else None,
        )
        records: list[MessageRecord] = list(results)
        if len(records) <= limit:
            return MessagePage(items=[message_view(r) for r in records])
        page = records[:limit]
        return MessagePage(items=[message_view(r) for r in page], next_key=plan.key_of(page[-1]))

    def find_by_provider_message_id(self, provider_message_id: str) -> str | None:
        """Our message id for a provider's id (sparse index, eventually consistent)."""
        for item in MessageRecord.by_provider_message_id.query(provider_message_id, limit=1):
            message_id: str = item.message_id
            return message_id
        return None
