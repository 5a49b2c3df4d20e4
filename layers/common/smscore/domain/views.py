"""Read models: what the status and audit queries return, as plain values (never storage records).

The MessageQueries port (smscore.domain.ports) answers with these; smscore.api.messages turns them into the
response bodies. Keeping PynamoDB out of the answer keeps the API layer testable with in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smscore.domain.model import MessageStatus


@dataclass(frozen=True)
class MessageFilters:
    """GET /api/messages filters, already validated and normalised (recipient in E.164, instants in UTC)."""

    queue_id: str | None = None
    status: MessageStatus | None = None
    recipient: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    channel: str | None = None


@dataclass(frozen=True)
class StatusChangeView:
    status: str
    at: datetime
    code: str | None = None
    detail: str | None = None
    until: datetime | None = None  # a SCHEDULED step: the instant it waited until


@dataclass(frozen=True)
class MessageView:
    """One message with everything the provider told us and every status it went through."""

    message_id: str
    tenant_id: str
    queue_id: str
    contact_id: str
    recipient: str
    body: str
    encoding: str
    status: MessageStatus
    provider: str
    segments: int
    credits: int
    created_at: datetime
    updated_at: datetime
    provider_message_id: str | None = None
    provider_error_code: str | None = None
    provider_price: str | None = None
    failure_reason: str | None = None
    permanent_failure: bool | None = None
    attempts: int = 0
    sent_at: datetime | None = None
    history: tuple[StatusChangeView, ...] = ()
    clicks: int = 0  # tracked short links (smscore.domain.links): counted clicks
    first_clicked_at: datetime | None = None
    provider_price_unit: str | None = None  # ISO 4217, as the provider reported it
    due_at: datetime | None = None  # SCHEDULED: when it may go
    purpose: str = "marketing"


@dataclass(frozen=True)
class DispatchView:
    """One campaign: what was asked, how many messages are in each status, and the credits moved."""

    queue_id: str
    tenant_id: str
    created_at: datetime
    body: str
    tag_ids: tuple[str, ...]
    country: str | None
    total_messages: int
    segments_per_message: int
    counts: Mapping[MessageStatus, int]
    credits_debited: int
    credits_refunded: int
    resend_of: str | None = None
    template_id: str | None = None  # the saved template the campaign was composed from
    test: bool = False  # a test send
    purpose: str = "marketing"
    send_at: datetime | None = None
    scheduled_for: datetime | None = None
    clicks: int = 0  # messages whose tracked short link was clicked at least once (unique clicks)
    track_links: bool = False  # sent with tracked short links
    scheduled_reason: dict[str, Any] | None = None  # WaitReason.as_json() as recorded at accept
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    # Planned by the fan-out workers (smscore.domain.planning): status, memberships read, messages planned, error.
    planning: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PageScope:
    """Where a filtered list reads: the index, the attributes of its keys, and the caller's partition of it.

    A pagination cursor is valid for one scope only (see smscore.api.pagination).
    """

    index: str
    key_attributes: frozenset[str]
    partition: Mapping[str, str]


@dataclass(frozen=True)
class MessagePage:
    items: list[MessageView]
    next_key: dict[str, str] | None = None  # where the next page starts; None on the last page
