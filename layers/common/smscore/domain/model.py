"""Domain records: what the service reasons about, independent of how it is stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from typing import Any

from smscore.domain.gsm import EncodingOption


class MessageStatus(StrEnum):
    SCHEDULED = "SCHEDULED"  # paid, waiting for its sendAt or a send window; not in the delivery queue
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    UNDELIVERED = "UNDELIVERED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"  # cancelled before delivery claimed it; refunded (terminal)


class Purpose(StrEnum):
    """Why a message is sent: marketing waits for the legal send window and the tenant's quiet hours,
    transactional (codes, receipts, alerts the recipient asked for) does not."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


@dataclass(frozen=True)
class QuietHours:
    """A tenant's own daily pause for marketing messages, in local wall-clock time: `start` <= t < `end`
    (wrapping midnight when start > end, e.g. 21:00-08:00)."""

    start: time
    end: time
    time_zone: str


@dataclass(frozen=True)
class MarketingFrequency:
    """At most this many marketing messages per (tenant, number) per day and per week in America/Bogota; 0 = no
    cap on that period (smscore.domain.compliance)."""

    max_per_day: int = 1
    max_per_week: int = 0


@dataclass(frozen=True)
class ComplianceSettings:
    """A tenant's settings for the Colombian marketing rules (smscore.domain.compliance, GET/PUT /api/settings).

    `sender_name` None: cleared by the tenant (a marketing send to CO is then refused); `opt_out_text` None: the
    default text."""

    sender_name: str | None
    opt_out_text: str | None = None
    frequency: MarketingFrequency = field(default_factory=MarketingFrequency)
    consent_required: bool = False


class LedgerKind(StrEnum):
    TOPUP = "TOPUP"
    DEBIT = "DEBIT"
    REFUND = "REFUND"


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    credits: int
    default_country: str | None = None
    provider: str | None = None
    quiet_hours: QuietHours | None = None
    # None: never set, every default applies (the sender name is then the tenant's name)
    compliance: ComplianceSettings | None = None
    merge_fields: tuple[str, ...] = ()  # declared custom merge fields (smscore.domain.personalize)
    credits_low_threshold: int | None = None  # credits.low below this balance (smscore.domain.credits_low)
    credits_low_at: datetime | None = None  # when credits.low was last emitted, until the balance is back above


@dataclass(frozen=True)
class TagRecipient:
    """One contact as seen through one tag: what a campaign needs, nothing more."""

    contact_id: str
    phone: str
    opted_out: bool = False
    already_resent: bool = False  # a resend's recipient an earlier resend of the campaign already texted
    consent_granted: bool = False  # the contact's marketing consent is `granted` (smscore.domain.consent_records)
    name: str | None = None  # the membership's copy of the contact's name ("" none); None: no copy, read the contact


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: str
    tenant_id: str
    queue_id: str
    recipient: str
    contact_id: str
    body: str
    segments: int
    encoding: str
    credits: int
    provider: str
    created_at: datetime
    status: MessageStatus = MessageStatus.QUEUED
    scheduled_for: datetime | None = None  # SCHEDULED: when it may go (sendAt and/or the next window opening)
    purpose: Purpose = Purpose.MARKETING


@dataclass(frozen=True)
class Dispatch:
    """One campaign request: the unit that a queueId names and that credits are debited for."""

    queue_id: str
    tenant_id: str
    member_id: str
    body: str
    tag_ids: list[str]
    country: str | None
    total_messages: int
    segments_per_message: int
    credits_debited: int
    created_at: datetime
    purpose: Purpose = Purpose.MARKETING
    send_at: datetime | None = None  # the client's sendAt
    scheduled_for: datetime | None = None  # the earliest instant any message of the campaign may go
    scheduled_reason: dict[str, Any] | None = None  # why it waits then (smscore.domain.wait_reasons, wire form)
    scheduled_messages: int = 0  # of total_messages, persisted SCHEDULED (the rest QUEUED)
    resend_of: str | None = None  # the campaign whose failed recipients this one sends to again
    # A resend that skipped earlier resends' recipients: how many resends the original had when it was planned. The
    # debit records this resend on the original only while that still holds (else smscore.domain.campaign.ResendRaced).
    resends_seen: int | None = None
    encoding: EncodingOption = EncodingOption.AUTO  # the send's encoding option (a resend repeats it)
    template_id: str | None = None  # the saved template it was composed from
    test: bool = False  # a test send (smscore.domain.test_send)
    track_links: bool = False  # its URLs were sent as tracked short links (smscore.domain.links)
    plan_prefix: str | None = None  # a planned campaign (smscore.domain.plan): its chunks' prefix, and how many
    plan_chunks: int = 0


@dataclass(frozen=True)
class LedgerEntry:
    tenant_id: str
    entry_id: str
    kind: LedgerKind
    amount: int  # signed: debits negative, top-ups and refunds positive
    created_at: datetime
    queue_id: str | None = None
    message_ids: list[str] = field(default_factory=list)
    reason: str | None = None


@dataclass(frozen=True)
class QueueBatch:
    """What one SQS message tells the deliver function: which messages of which campaign to send.

    `slots`: the send slot (epoch seconds) some of them already hold in their sender's bucket, reserved by an
    earlier invocation that put them back on the queue until shortly before it (smscore.domain.pacing)."""

    tenant_id: str
    queue_id: str
    message_ids: list[str]
    slots: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredMessage:
    """What delivery needs of a persisted message, as last read."""

    message_id: str
    tenant_id: str
    queue_id: str
    recipient: str
    body: str
    segments: int
    credits: int
    status: MessageStatus
    provider: str
    attempts: int = 0
    lease_until: datetime | None = None
    created_at: datetime | None = None  # start of the validity period
    deferrals: int = 0  # claims that ended in a wait (throttled, sender paused): not provider attempts
    purpose: Purpose = Purpose.MARKETING
    due_at: datetime | None = None  # SCHEDULED: when it may go
    released: bool = False  # it waited SCHEDULED and was released (or is due): delivery re-checks the frequency cap


@dataclass(frozen=True)
class Receipt:
    """A provider's final word on one message, in our terms (each provider module parses its own format)."""

    provider: str  # the provider that reported it: it may only move a message sent through that provider
    status: MessageStatus  # DELIVERED or UNDELIVERED
    reported_at: datetime
    provider_status: str  # the provider's own status name, kept for the audit trail
    error_code: str | None = None
    # Which message: ours when the provider echoes it back (AWS Context), else the provider's id (Twilio SID).
    message_id: str | None = None
    provider_message_id: str | None = None


@dataclass(frozen=True)
class MessageState:
    """What applying a receipt needs to know about a message."""

    message_id: str
    tenant_id: str
    queue_id: str
    status: MessageStatus
    provider: str
