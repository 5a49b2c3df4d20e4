"""Status and audit reads as the API exposes them: a campaign's counters, one message with its history, filtered
message pages.

`MessageAudit` is the read use case: it validates and normalises the filters, scopes everything to the
caller's tenant, turns the opaque cursor into a start key (smscore.api.pagination) and the MessageQueries
port's plain views into the response bodies of smscore.api.models. It lives here rather than in the domain
because all it adds to the port is HTTP-facing: parameter errors, the cursor, the DTOs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from pydantic import AfterValidator, BeforeValidator

from smscore.api.models import (
    MessageDto,
    MessagePageDto,
    MessageSummaryDto,
    PlanningDto,
    PlanningErrorDto,
    QueueStatusDto,
    StatusChangeDto,
    StatusCounts,
    reason_dto,
)
from smscore.api.pagination import decode_cursor, encode_cursor, filters_fingerprint
from smscore.domain.errors import FieldIssue, InvalidRequest, NotFound
from smscore.domain.model import MessageStatus
from smscore.domain.ports import MessageQueries
from smscore.domain.reports import delivery_rate
from smscore.domain.views import DispatchView, MessageFilters, MessageView, PageScope

if TYPE_CHECKING:
    from smscore.domain.model import QuietHours
    from smscore.domain.wait_reasons import WaitReason

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50

REACHED_CARRIER = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)  # the click rate's base
_ISO_8601_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_8601_only(value: Any) -> Any:
    """Pydantic would also read "0.5" as a Unix time; the contract says ISO 8601, so only that is accepted."""
    if isinstance(value, str) and not _ISO_8601_START.match(value):
        raise ValueError("must be an ISO 8601 date-time, such as 2026-11-26T15:00:00Z")
    return value


def _in_utc(value: datetime) -> datetime:
    """The instant in UTC; a naive time is read as UTC. Refused (400) when UTC cannot represent it, such as
    0001-01-01T00:00:00+01:00 (the year 0) or 9999-12-31T23:59:59-01:00 (the year 10000)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z") from None


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601_only), AfterValidator(_in_utc)]


def queue_status_of(view: DispatchView) -> QueueStatusDto:
    from smscore.domain.links import click_rate  # the short links' module (and its events) not at init

    return QueueStatusDto(
        queue_id=view.queue_id,
        created_at=view.created_at,
        message=view.body,
        tag_ids=list(view.tag_ids),
        country=view.country,
        total_messages=view.total_messages,
        segments_per_message=view.segments_per_message,
        counts=StatusCounts(**{status.value: count for status, count in view.counts.items()}),
        credits_debited=view.credits_debited,
        credits_refunded=view.credits_refunded,
        resend_of=view.resend_of,
        template_id=view.template_id,
        test=view.test,
        purpose=view.purpose,
        send_at=view.send_at,
        scheduled_for=view.scheduled_for,
        scheduled_reason=reason_dto(view.scheduled_reason),
        cancelled_at=view.cancelled_at,
        cancelled_by=view.cancelled_by,
        delivery_rate=delivery_rate(view.counts),
        clicks=view.clicks,
        track_links=view.track_links,
        click_rate=click_rate(view.clicks, sum(view.counts.get(s, 0) for s in REACHED_CARRIER))
        if view.track_links
        else None,
        planning=planning_of(view.planning),
    )


def planning_of(planning: Mapping[str, Any] | None) -> PlanningDto | None:
    if planning is None:
        return None
    error = planning.get("error")
    return PlanningDto(
        status=planning["status"],
        contacts_read=planning["contacts_read"],
        messages_planned=planning["messages_planned"],
        error=PlanningErrorDto(code=error["code"], message=error["message"]) if error else None,
    )


def summary_of(view: MessageView, contact_name: str | None = None) -> MessageSummaryDto:
    return MessageSummaryDto(
        id=view.message_id,
        queue_id=view.queue_id,
        recipient=view.recipient,
        contact_name=contact_name,
        status=view.status,
        provider=view.provider,
        provider_message_id=view.provider_message_id,
        provider_error_code=view.provider_error_code,
        segments=view.segments,
        credits=view.credits,
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


def detail_of(view: MessageView, contact_name: str | None = None, reason: WaitReason | None = None) -> MessageDto:
    return MessageDto(
        **dict(summary_of(view, contact_name)),
        contact_id=view.contact_id,
        body=view.body,
        encoding=view.encoding,
        provider_price=view.provider_price,
        provider_price_currency=view.provider_price_unit if view.provider_price else None,
        scheduled_for=view.due_at,
        scheduled_reason=reason_dto(reason.as_json() if reason else None),
        failure_reason=view.failure_reason,
        permanent_failure=view.permanent_failure,
        attempts=view.attempts,
        sent_at=view.sent_at,
        clicks=view.clicks,
        first_clicked_at=view.first_clicked_at,
        history=[
            StatusChangeDto(
                status=change.status, at=change.at, code=change.code, detail=change.detail, until=change.until
            )
            for change in view.history
        ],
    )


def _cursor_fingerprint(scope: PageScope, filters: MessageFilters) -> str:
    """A cursor is good for the same index, partition and filters only."""
    return filters_fingerprint(
        scope.index,
        *sorted(scope.partition.items()),
        filters.queue_id,
        filters.status.value if filters.status else None,
        filters.recipient,
        filters.created_from.isoformat() if filters.created_from else None,
        filters.created_to.isoformat() if filters.created_to else None,
        filters.channel,
    )


class ContactNames(Protocol):
    def names(self, tenant_id: str, contact_ids: Iterable[str]) -> dict[str, str]:
        """contact id -> name for those that are the tenant's contacts with a name: one batched read."""
        ...


def contact_key(tenant_id: str, view: MessageView) -> str:
    """The contact a message's number belongs to: its own contact id, or for a message sent to a number (a test
    send) the id the number's contact has (contact ids are derived from tenant and number)."""
    if view.contact_id and not view.contact_id.startswith("test#"):
        return view.contact_id
    from smscore.domain.contacts import contact_id_for

    return contact_id_for(tenant_id, view.recipient)


class MessageAudit:
    """The three read use cases; `queries` is the data access port (DynamoMessageQueries in production), `names`
    the contacts' names shown beside their numbers, `quiet_hours_of` a tenant's quiet hours (why a message waits)."""

    def __init__(
        self,
        queries: MessageQueries,
        names: ContactNames | None = None,
        quiet_hours_of: Callable[[str], QuietHours | None] | None = None,
    ) -> None:
        self._queries = queries
        self._names = names
        self._quiet_hours_of = quiet_hours_of

    def _names_of(self, tenant_id: str, views: Sequence[MessageView]) -> dict[str, str]:
        if self._names is None or not views:
            return {}
        return self._names.names(tenant_id, {contact_key(tenant_id, view) for view in views})

    def _wait_reason(self, tenant_id: str, view: MessageView) -> WaitReason | None:
        """Why a SCHEDULED message waits: what closed the instant it last started waiting (its latest SCHEDULED
        step, or its campaign's sendAt when later) to its due time."""
        if view.due_at is None:
            return None
        from smscore.domain.wait_reasons import explain_wait
        from smscore.domain.windows import country_of

        waited = [change.at for change in view.history if change.status == MessageStatus.SCHEDULED.value]
        start = waited[-1] if waited else view.created_at
        dispatch = self._queries.dispatch(tenant_id, view.queue_id)
        send_at = dispatch.send_at if dispatch is not None else None
        if send_at is not None and send_at > start:
            start = send_at
        return explain_wait(
            now=waited[-1] if waited else view.created_at,
            start=start,
            release_at=view.due_at,
            country=country_of(view.recipient),
            purpose=view.purpose,
            quiet_hours=self._quiet_hours_of(tenant_id) if self._quiet_hours_of is not None else None,
            send_at=send_at,
        )

    def queue_status(self, tenant_id: str, queue_id: str) -> QueueStatusDto:
        view = self._queries.dispatch(tenant_id, queue_id)
        if view is None:
            raise NotFound("No queue with this id")
        return queue_status_of(view)

    def message(self, tenant_id: str, message_id: str) -> MessageDto:
        view = self._queries.message(tenant_id, message_id)
        if view is None:
            raise NotFound("No message with this id")
        name = self._names_of(tenant_id, [view]).get(contact_key(tenant_id, view))
        return detail_of(view, name, self._wait_reason(tenant_id, view))

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
        try:
            created_from = _in_utc(created_from) if created_from else None
            created_to = _in_utc(created_to) if created_to else None
        except ValueError as exc:  # already refused by IsoDateTime for HTTP callers; kept for direct ones
            raise InvalidRequest(f"Invalid request: {exc}") from exc
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
        scope = self._queries.page_scope(tenant_id, filters)
        fingerprint = _cursor_fingerprint(scope, filters)
        start_key = None
        if cursor:
            key = decode_cursor(
                cursor, tenant_id, fingerprint, key_attributes=scope.key_attributes, partition=scope.partition
            )
            start_key = {name: str(value) for name, value in key.items()}  # the message indexes' keys are strings
        if queue_id is not None and self._queries.dispatch(tenant_id, queue_id) is None:
            return MessagePageDto(items=[])  # another tenant's queue lists like an empty one
        page = self._queries.list_messages(tenant_id, filters, limit, start_key)
        names = self._names_of(tenant_id, page.items)
        return MessagePageDto(
            items=[summary_of(view, names.get(contact_key(tenant_id, view))) for view in page.items],
            next_cursor=encode_cursor(tenant_id, fingerprint, page.next_key) if page.next_key else None,
        )

    def _normalised_recipient(self, tenant_id: str, recipient: str) -> str:
        """The number as sending stored it: E.164, national numbers read in the tenant's default country."""
        from smscore.domain.phone import normalise  # only this filter needs phonenumbers

        normalised = normalise(recipient, self._queries.tenant_country(tenant_id))
        if normalised.e164 is None:  # letters, an extension...: refused as written, never read as other digits
            message = normalised.detail or "recipient is not a valid mobile number (use E.164, e.g. +573001234567)"
            raise InvalidRequest(f"Invalid request: recipient: {message}", details=[FieldIssue("recipient", message)])
        return normalised.e164
