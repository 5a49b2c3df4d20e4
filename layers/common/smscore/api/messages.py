"""Status and audit read models: a campaign's counters, one message with its history, filtered message pages.

Everything is scoped to the caller's tenant. The pagination cursor is opaque to clients: base64url of
the index position after the last item, checked on the way back in against the partition the caller's
own filters select, so a cursor from another tenant (or another filter) is refused, never followed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from smscore.api.pagination import decode_cursor, encode_cursor, filters_fingerprint
from smscore.dal.message_queries import IndexPlan, MessageFilters, plan_for
from smscore.dal.tables import DispatchRecord, MessageRecord
from smscore.domain.errors import FieldIssue, InvalidRequest, NotFound
from smscore.domain.model import MessageStatus

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50


_ISO_8601_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_8601_only(value: Any) -> Any:
    """Pydantic would also read "0.5" as a Unix time; the contract says ISO 8601, so only that is accepted."""
    if isinstance(value, str) and not _ISO_8601_START.match(value):
        raise ValueError("must be an ISO 8601 date-time, such as 2026-11-26T15:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601_only)]


class _Dto(BaseModel):
    """camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class StatusCounts(BaseModel):
    """Messages of the campaign in each status, from counters updated atomically with every transition."""

    QUEUED: int = 0
    SENDING: int = 0
    SENT: int = 0
    DELIVERED: int = 0
    UNDELIVERED: int = 0
    FAILED: int = 0


class QueueStatusDto(_Dto):
    queue_id: str
    channel: Literal["sms"] = "sms"
    created_at: datetime
    message: str = Field(description="The text sent")
    tag_ids: list[str]
    country: str | None = None
    total_messages: int
    segments_per_message: int
    counts: StatusCounts
    credits_debited: int
    credits_refunded: int


class StatusChangeDto(_Dto):
    status: str
    at: datetime
    code: str | None = Field(default=None, description="The provider's error or status code, where relevant")
    detail: str | None = None


class MessageSummaryDto(_Dto):
    id: str
    queue_id: str
    channel: Literal["sms"] = "sms"
    recipient: str
    status: MessageStatus
    provider: str
    provider_message_id: str | None = None
    provider_error_code: str | None = None
    segments: int
    credits: int
    created_at: datetime
    updated_at: datetime


class MessageDto(MessageSummaryDto):
    """One message with everything the provider told us and every status it went through."""

    contact_id: str
    body: str
    encoding: str
    provider_price: str | None = None
    failure_reason: str | None = None
    permanent_failure: bool | None = None
    attempts: int = 0
    sent_at: datetime | None = None
    history: list[StatusChangeDto] = Field(default_factory=list)


class MessagePageDto(_Dto):
    items: list[MessageSummaryDto]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null on the last")


class MessageQueries(Protocol):
    def tenant_country(self, tenant_id: str) -> str | None: ...

    def dispatch(self, tenant_id: str, queue_id: str) -> DispatchRecord | None: ...

    def message(self, tenant_id: str, message_id: str) -> MessageRecord | None: ...

    def list_messages(
        self, tenant_id: str, filters: MessageFilters, limit: int, start_key: dict[str, str] | None = None
    ) -> tuple[list[MessageRecord], dict[str, str] | None]: ...


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _string_key(key: dict[str, str | int]) -> dict[str, str]:
    """Every attribute of the message indexes' keys is a string."""
    return {name: str(value) for name, value in key.items()}


def _cursor_fingerprint(plan: IndexPlan, filters: MessageFilters) -> str:
    """A cursor is good for the same index, partition and filters only."""
    return filters_fingerprint(
        plan.index_name,
        plan.hash_value,
        filters.queue_id,
        filters.status.value if filters.status else None,
        filters.recipient,
        filters.created_from.isoformat() if filters.created_from else None,
        filters.created_to.isoformat() if filters.created_to else None,
        filters.channel,
    )


def _history(record: MessageRecord) -> list[StatusChangeDto]:
    return [
        StatusChangeDto(status=change.status, at=change.at, code=change.code, detail=change.detail)
        for change in record.history or []
    ]


def summary_of(record: MessageRecord) -> MessageSummaryDto:
    return MessageSummaryDto(
        id=record.message_id,
        queue_id=record.queue_id,
        recipient=record.recipient,
        status=MessageStatus(record.status),
        provider=record.provider,
        provider_message_id=record.provider_message_id,
        provider_error_code=record.provider_error_code,
        segments=int(record.segments),
        credits=int(record.credits),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def detail_of(record: MessageRecord) -> MessageDto:
    return MessageDto(
        **summary_of(record).model_dump(),
        contact_id=record.contact_id,
        body=record.body,
        encoding=record.encoding,
        provider_price=record.provider_price,
        failure_reason=record.failure_reason,
        permanent_failure=record.permanent_failure,
        attempts=int(record.attempts or 0),
        sent_at=record.sent_at,
        history=_history(record),
    )


def queue_status_of(record: DispatchRecord) -> QueueStatusDto:
    return QueueStatusDto(
        queue_id=record.queue_id,
        created_at=record.created_at,
        message=record.body,
        tag_ids=list(record.tag_ids),
        country=record.country,
        total_messages=int(record.total_messages),
        segments_per_message=int(record.segments_per_message),
        counts=StatusCounts(
            QUEUED=int(record.count_queued),
            SENDING=int(record.count_sending),
            SENT=int(record.count_sent),
            DELIVERED=int(record.count_delivered),
            UNDELIVERED=int(record.count_undelivered),
            FAILED=int(record.count_failed),
        ),
        credits_debited=int(record.credits_debited),
        credits_refunded=int(record.credits_refunded),
    )


class MessageAudit:
    """The three read use cases; `queries` is the data access port (DynamoMessageQueries in production)."""

    def __init__(self, queries: MessageQueries) -> None:
        self._queries = queries

    def queue_status(self, tenant_id: str, queue_id: str) -> QueueStatusDto:
        record = self._queries.dispatch(tenant_id, queue_id)
        if record is None:
            raise NotFound("No queue with this id")
        return queue_status_of(record)

    def message(self, tenant_id: str, message_id: str) -> MessageDto:
        record = self._queries.message(tenant_id, message_id)
        if record is None:
            raise NotFound("No message with this id")
        return detail_of(record)

    def list_messages(
        self,
        tenant_id: str,
        *,
        queue_id: str | None = None,
        status: MessageStatus | None = None,
        recipient: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        channel: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> MessagePageDto:
        created_from = _as_utc(created_from) if created_from else None
        created_to = _as_utc(created_to) if created_to else None
        if created_from and created_to and created_from > created_to:
            message = "from must not be later than to"
            raise InvalidRequest(f"Invalid request: from: {message}", details=[FieldIssue("from", message)])
        if recipient is not None:
            recipient = self._normalised_recipient(tenant_id, recipient)
        filters = MessageFilters(
            queue_id=queue_id,
            status=status,
            recipient=recipient,
            created_from=created_from,
            created_to=created_to,
            channel=channel,
        )
        plan = plan_for(tenant_id, filters)
        fingerprint = _cursor_fingerprint(plan, filters)
        start_key = (
            _string_key(
                decode_cursor(
                    cursor,
                    tenant_id,
                    fingerprint,
                    key_attributes=plan.key_attributes(),
                    partition={plan.hash_attribute: plan.hash_value},
                )
            )
            if cursor
            else None
        )
        if queue_id is not None and self._queries.dispatch(tenant_id, queue_id) is None:
            return MessagePageDto(items=[])  # another tenant's queue lists like an empty one
        records, next_key = self._queries.list_messages(tenant_id, filters, limit, start_key)
        return MessagePageDto(
            items=[summary_of(r) for r in records],
            next_cursor=encode_cursor(tenant_id, fingerprint, next_key) if next_key else None,
        )

    def _normalised_recipient(self, tenant_id: str, recipient: str) -> str:
        """The number as sending stored it: E.164, national numbers read in the tenant's default country."""
        from smscore.domain.phone import normalise  # only this filter needs phonenumbers

        normalised = normalise(recipient, self._queries.tenant_country(tenant_id))
        if normalised.e164 is None:
            message = "recipient is not a valid mobile number (use E.164, e.g. +573001234567)"
            raise InvalidRequest(f"Invalid request: recipient: {message}", details=[FieldIssue("recipient", message)])
        return normalised.e164
