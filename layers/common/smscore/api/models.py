"""Public request and response bodies of the REST API (the seed contract's names, camelCase on the wire).

One naming convention: fields are snake_case in Python and camelCase on the wire, through `ApiModel`'s alias
generator. Request bodies accept the camelCase names only; response bodies are also built by field name.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.alias_generators import to_camel

from smscore.domain.gsm import EncodingOption
from smscore.domain.model import MessageStatus, Purpose

MAX_TAGS = 100
# How far ahead a campaign may be scheduled (sendAt).
MAX_SCHEDULE_AHEAD = timedelta(days=35)


# Categories that print nothing: control (Cc), format (Cf: zero-width joiners, BOM...) and separators (Z*).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
# Line breaks are part of GSM-7 and of every provider's text; every other control character is refused.
ALLOWED_CONTROLS = frozenset("\n\r")


def checked_message_text(text: str) -> str:
    """A message must show the recipient something, and carry no control codes a handset would mangle.

    A text of zero-width or other invisible characters is blank to the recipient but would be charged;
    control characters (other than line breaks) are refused rather than silently dropped, so the text
    the client sees in its request is the text that is sent and priced.
    """
    for position, char in enumerate(text):
        category = unicodedata.category(char)
        if category == "Cc" and char not in ALLOWED_CONTROLS:
            raise ValueError(f"message contains the control character U+{ord(char):04X} at position {position}")
        if category == "Cs":  # a lone surrogate, from a JSON escape such as \ud800: not a character at all
            raise ValueError(f"message contains an unpaired surrogate U+{ord(char):04X} at position {position}")
    if not any(not char.isspace() and unicodedata.category(char) not in INVISIBLE_CATEGORIES for char in text):
        raise ValueError("message must contain at least one visible character")
    return text


def checked_country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code phonenumbers knows, upper-cased."""
    if value is None:
        return None
    from smscore.domain.phone import is_supported_country  # phonenumbers only when a country is given

    if len(value) != 2 or not value.isalpha() or not is_supported_country(value):
        raise ValueError("country must be an ISO 3166-1 alpha-2 code, such as CO")
    return value.upper()


def checked_send_at(send_at: datetime, now: datetime) -> datetime:
    """A sendAt must be strictly in the future and at most MAX_SCHEDULE_AHEAD away; returned in UTC."""
    if send_at.tzinfo is None:
        raise ValueError("sendAt must carry a UTC offset, such as 2026-12-01T09:00:00-05:00")
    try:
        in_utc = send_at.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00: outside what UTC can represent
        raise ValueError(f"sendAt must be in the future and at most {MAX_SCHEDULE_AHEAD.days} days ahead") from None
    if in_utc <= now:
        raise ValueError("sendAt must be in the future")
    if in_utc - now > MAX_SCHEDULE_AHEAD:
        raise ValueError(f"sendAt must be at most {MAX_SCHEDULE_AHEAD.days} days ahead")
    return in_utc


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; serialised by alias (so `model_dump()` is the wire shape).

    `defer_build`: a model's validator and serializer are built on its first use, not at import, so a function's
    cold start builds only the models of the route it serves (every API module's bodies below do the same)."""

    model_config = ConfigDict(
        defer_build=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )


class SmsTagsMessagePayload(ApiModel):
    """POST /api/messages/sms/tags body. Unknown fields are ignored."""

    # A client must use the contract's names: `tag_ids` in a body is an unknown field, not `tagIds`.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False, validate_by_name=False)

    message: Annotated[str, Field(min_length=1, description="SMS text; at most the provider's character limit")]
    tag_ids: Annotated[list[UUID], Field(min_length=1, max_length=MAX_TAGS, description="Tag UUIDs")]
    type: Literal["SMS"] = Field(default="SMS", description="Message type; only SMS is valid on this channel")
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 code used to read national numbers")
    purpose: Purpose = Field(
        default=Purpose.MARKETING,
        description="marketing (default): waits for the recipient country's legal send window and the tenant's "
        "quiet hours; transactional: goes now",
    )
    send_at: AwareDatetime | None = Field(
        default=None,
        description="ISO 8601 date-time with an offset, in the future, at most 35 days ahead: the messages wait "
        "(SCHEDULED) until then, then the send windows apply. Credits are debited at once.",
    )
    template_id: UUID | None = Field(
        default=None, description="The saved template (GET /api/templates) the message was composed from: recorded"
    )
    encoding: EncodingOption = Field(
        default=EncodingOption.AUTO,
        description="auto (default): curly quotes, dashes, odd spaces and the ellipsis become their GSM-7 "
        "look-alikes when that makes the text GSM-7; unicode: the text exactly as written; gsm-transliterate: also "
        "letters outside GSM-7 to their base letters (á -> a). Tables in docs/api.md, Encoding",
    )
    track_links: bool = Field(
        default=False,
        description="Each http(s):// URL of the message becomes a per-recipient short link {LinkBaseUrl}/{code} "
        "(priced at its length) that answers 302 to the URL and counts clicks (docs/api.md, Tracked short links)",
    )

    @field_validator("send_at")
    @classmethod
    def _schedulable(cls, value: datetime | None) -> datetime | None:
        return None if value is None else checked_send_at(value, datetime.now(UTC))

    @field_validator("message")
    @classmethod
    def _visible_text(cls, value: str) -> str:
        return checked_message_text(value)

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        return checked_country(value)

    def unique_tag_ids(self) -> list[str]:
        """Tag ids in request order, duplicates dropped."""
        return list(dict.fromkeys(str(tag) for tag in self.tag_ids))


class TestSendPayload(ApiModel):
    """POST /api/messages/sms/test body: the message to at most five numbers, now."""

    __test__ = False  # not a pytest class

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False, validate_by_name=False)

    message: Annotated[str, Field(min_length=1, description="As a send's message: merge fields rendered")]
    to: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=32)]],
        Field(min_length=1, max_length=5, description="At most 5 numbers (E.164, or national with the country)"),
    ]
    contact_id: UUID | None = Field(
        default=None, description="The contact whose name and fields render the merge fields (else the fallbacks)"
    )
    country: str | None = Field(default=None, description="As for a send")
    encoding: EncodingOption = Field(default=EncodingOption.AUTO, description="As for a send")

    @field_validator("message")
    @classmethod
    def _visible_text(cls, value: str) -> str:
        return checked_message_text(value)

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        return checked_country(value)


class ScheduledReasonDto(ApiModel):
    """Why a message waits (smscore.domain.wait_reasons): a stable code with its parameters, and the sentence."""

    code: Literal["SUNDAY", "HOLIDAY", "OUTSIDE_HOURS", "QUIET_HOURS", "SEND_AT", "WINDOW"] = Field(
        description="SUNDAY and HOLIDAY: Ley 2300 allows no marketing that day; OUTSIDE_HOURS: before the day's "
        "opening or after its closing (opens, closes); QUIET_HOURS: the tenant's quiet hours (quietStart, quietEnd); "
        "SEND_AT: the campaign's sendAt; WINDOW: another send-window rule"
    )
    release_at: datetime = Field(description="When it goes (UTC)")
    time_zone: str = Field(description="IANA zone the rule is stated in (America/Bogota for Colombia)")
    holiday: str | None = Field(default=None, exclude_if=lambda v: v is None, description="HOLIDAY: its name (es)")
    opens: str | None = Field(default=None, exclude_if=lambda v: v is None, description="OUTSIDE_HOURS: HH:MM local")
    closes: str | None = Field(default=None, exclude_if=lambda v: v is None, description="OUTSIDE_HOURS: HH:MM local")
    quiet_start: str | None = Field(default=None, exclude_if=lambda v: v is None, description="QUIET_HOURS: HH:MM")
    quiet_end: str | None = Field(default=None, exclude_if=lambda v: v is None, description="QUIET_HOURS: HH:MM")
    send_at: datetime | None = Field(default=None, exclude_if=lambda v: v is None, description="The sendAt, if any")
    text: str = Field(description="The reason as a sentence in Spanish (Colombia), without a final period")


def reason_dto(body: dict[str, Any] | None) -> ScheduledReasonDto | None:
    """A wait reason in its wire form (WaitReason.as_json(), as computed or as recorded) as the response model."""
    return None if body is None else ScheduledReasonDto.model_validate(body)


class EnqueuedMessage(ApiModel):
    id: str
    recipient: str


class MessageEnqueueResultDto(ApiModel):
    queue_id: str
    channel: Literal["sms"] = "sms"
    messages: list[EnqueuedMessage]
    scheduled_for: datetime | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Present when delivery waits (sendAt and/or the send window): the earliest instant, in UTC, "
        "at which any message of the campaign may go. Absent when it goes now.",
    )
    scheduled_reason: ScheduledReasonDto | None = Field(
        default=None, exclude_if=lambda value: value is None, description="With scheduledFor: why it waits"
    )
    skipped_already_resent: int | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Resends only: failed recipients left out because an earlier resend of the same campaign "
        "already targeted them and that message did not end FAILED, UNDELIVERED or CANCELLED (0 with force)",
    )
    skipped_too_long: int | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Present when some recipients were left out because their text, with their merge fields, is "
        "over the provider's character limit (never charged)",
    )
    skipped_no_consent: int | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Present when consentRequired left out marketing recipients without granted consent (never "
        "charged)",
    )
    total_messages: int | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="202 only (above MaxSyncRecipients): how many messages the campaign has; messages is empty, "
        "page them with GET /api/messages?queueId=",
    )
    credits_debited: int | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="202 only: the credits debited by this request. 0 with planning: nothing is debited yet",
    )
    planning: bool | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="202 only, present (true) when the tags hold more than MaxSyncRecipients contacts: the campaign "
        "is accepted and planned by the fan-out workers, without the request reading its audience. totalMessages "
        "is then the tags' contacts (an upper bound, before de-duplication and screening) and creditsDebited 0. "
        "The workers debit the exact credits once planned; GET /api/messages/queues/{queueId} shows planning "
        "(PLANNING, PLANNED or FAILED with its error, nothing charged), the exact totalMessages and creditsDebited",
    )


class ResendPayload(ApiModel):
    """POST /api/messages/queues/{queueId}/resend body (optional): the text, tags and country are the original's."""

    model_config = ConfigDict(extra="ignore", validate_by_name=False)

    purpose: Purpose = Field(
        default=Purpose.MARKETING, description="As for a send: marketing (default) or transactional"
    )
    send_at: AwareDatetime | None = Field(default=None, description="As for a send: ISO 8601 with an offset, future")
    force: StrictBool = Field(
        default=False,
        description="true: resend to every failed recipient, even those an earlier resend of this campaign already "
        "targeted (by default they are skipped and counted in skippedAlreadyResent)",
    )

    @field_validator("send_at")
    @classmethod
    def _schedulable(cls, value: datetime | None) -> datetime | None:
        return None if value is None else checked_send_at(value, datetime.now(UTC))


class PreviewSampleDto(ApiModel):
    recipient: str
    contact_id: str = Field(description="The contact whose values rendered it (a test send can render with it)")
    text: str = Field(description="The final text: merge fields rendered, encoding applied")
    segments: int
    encoding: str


class CampaignPreviewDto(ApiModel):
    """What a send of the same body would reach and debit now (POST /api/messages/sms/tags/preview)."""

    recipients: int = Field(description="Messages the send would create: one per distinct valid number")
    skipped_invalid: int = Field(description="Contacts whose number is not valid for SMS")
    skipped_opted_out: int = Field(description="Contacts opted out, or numbers suppressed after a STOP")
    duplicates_removed: int = Field(description="Contacts in several tags, or sharing a number, counted once")
    skipped_excluded: int = Field(
        default=0,
        description="Marketing to CO: numbers on the RNE exclusion list (Registro de Numeros Excluidos), never charged",
    )
    skipped_frequency: int = Field(
        default=0,
        description="Marketing to CO: numbers at the marketingFrequency cap of that day or week, never charged",
    )
    skipped_no_consent: int = Field(
        default=0,
        description="consentRequired: marketing to contacts without granted marketing consent, never charged",
    )
    segments: int = Field(description="Segments per message")
    encoding: str = Field(description="GSM-7 or UCS-2")
    credits_required: int = Field(description="Exactly what the send would debit: segments x recipients")
    credits_available: int = Field(description="The balance now")
    final_message: str = Field(
        default="",
        description="The text each recipient gets, as priced: marketing to CO starts with `{senderName}: ` and ends "
        "with the opt-out instruction (GET/PUT /api/settings)",
    )
    savings_if_transliterated: int = Field(
        description="Credits the same send would save with encoding gsm-transliterate (0 when none)"
    )
    transliterated_message: str = Field(description="The message as encoding gsm-transliterate would send it")
    skipped_too_long: int = Field(
        default=0, description="Recipients whose text with their merge fields is over the provider's limit: skipped"
    )
    merge_fields_missing: dict[str, int] = Field(
        default_factory=dict,
        description="Each merge field the message uses -> recipients without a value (a field without fallback "
        "that some lack makes the send 400 MERGE_FIELD_MISSING)",
    )
    samples: list[PreviewSampleDto] = Field(
        default_factory=list, description="The first three recipients' texts as they would receive them"
    )
    scheduled_for: datetime | None = Field(
        default=None, description="When delivery would wait (sendAt and/or the send window): the earliest instant, UTC"
    )
    scheduled_reason: ScheduledReasonDto | None = Field(default=None, description="With scheduledFor: why it waits")
    estimated: bool | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Present (true) only above MaxSyncRecipients distinct contacts: the counts and credits are an "
        "estimate, screened from the same share of every tag (about MaxSyncRecipients members, by contact id) and "
        "scaled to the tags' contact counts; the send answers 202 and its exact figures (messages, credits "
        "debited) are in GET /api/messages/queues/{queueId} once planned. Absent: exact, what the send debits",
    )


class CancelResultDto(ApiModel):
    """POST /api/messages/queues/{queueId}/cancel: what this cancel changed (0 and 0 when repeated)."""

    queue_id: str
    cancelled: int = Field(description="Messages moved from SCHEDULED or QUEUED to CANCELLED by this request")
    refunded_credits: int = Field(description="Credits given back for them (REFUND ledger entries, reason CANCELLED)")


class StatusCounts(BaseModel):
    """Messages of the campaign in each status, from counters updated atomically with every transition."""

    model_config = ConfigDict(defer_build=True)

    SCHEDULED: int = 0
    QUEUED: int = 0
    SENDING: int = 0
    SENT: int = 0
    DELIVERED: int = 0
    UNDELIVERED: int = 0
    FAILED: int = 0
    CANCELLED: int = 0


class PlanningErrorDto(ApiModel):
    code: str = Field(
        description="INSUFFICIENT_CREDITS, MERGE_FIELD_MISSING, TOO_MANY_RECIPIENTS, PLANNING_NOT_FINISHED, ..."
    )
    message: str


class PlanningDto(ApiModel):
    """How far the fan-out workers got planning a campaign accepted with `planning: true` (202)."""

    status: Literal["PLANNING", "PLANNED", "FAILED"] = Field(
        description="PLANNING: the workers are reading and screening the tags' members, nothing debited yet; "
        "PLANNED: debited against the exact count (creditsDebited, totalMessages) and fanned out; FAILED: ended "
        "without a debit (error), nothing charged, nothing sent"
    )
    contacts_read: int = Field(description="Tag memberships read so far")
    messages_planned: int = Field(description="Messages planned so far (totalMessages once PLANNED)")
    error: PlanningErrorDto | None = Field(default=None, exclude_if=lambda value: value is None)


class QueueStatusDto(ApiModel):
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
    template_id: str | None = Field(default=None, description="The template the campaign was sent from (templateId)")
    test: bool = Field(default=False, description="A test send (POST /api/messages/sms/test): not a campaign")
    resend_of: str | None = Field(
        default=None, description="The campaign whose failed recipients this one resends to (POST .../resend)"
    )
    purpose: Purpose = Field(default=Purpose.MARKETING, description="marketing or transactional (send windows)")
    send_at: datetime | None = Field(default=None, description="The sendAt the campaign was sent with")
    scheduled_for: datetime | None = Field(
        default=None, description="When every message waited at accept: the earliest instant (UTC) any could go"
    )
    scheduled_reason: ScheduledReasonDto | None = Field(
        default=None, description="With scheduledFor: why every message waited at accept"
    )
    cancelled_at: datetime | None = Field(default=None, description="When the campaign was cancelled (first cancel)")
    cancelled_by: str | None = Field(default=None, description="The member id that cancelled it")
    delivery_rate: float | None = Field(
        default=None, description="DELIVERED / (DELIVERED + UNDELIVERED + FAILED), 0..1; null before any is settled"
    )
    failure_reasons: dict[str, int] = Field(
        default_factory=dict, description="FAILED and UNDELIVERED messages by code (the provider's, or ours)"
    )
    failures_uncounted: int = Field(
        default=0,
        description="FAILED and UNDELIVERED messages not in failureReasons: sent before failures were counted by "
        "code, refunded without a delivery attempt, or a count a crash lost; failureReasons + this = the failures",
    )
    track_links: bool = Field(default=False, description="Sent with tracked short links (trackLinks)")
    clicks: int = Field(
        default=0, description="Unique clicks: messages whose tracked short link (trackLinks) was clicked at least once"
    )
    click_rate: float | None = Field(
        default=None,
        description="clicks / messages that reached the carrier (SENT + DELIVERED + UNDELIVERED), 0..1; null before "
        "any did, and for a campaign sent without trackLinks",
    )
    planning: PlanningDto | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Present for a campaign accepted with planning (202 `planning: true`): see PlanningDto",
    )


class StatusChangeDto(ApiModel):
    status: str
    at: datetime
    until: datetime | None = Field(default=None, description="SCHEDULED steps: the instant it waited until (UTC)")
    code: str | None = Field(default=None, description="The provider's error or status code, where relevant")
    detail: str | None = None


class MessageSummaryDto(ApiModel):
    id: str
    queue_id: str
    channel: Literal["sms"] = "sms"
    recipient: str
    contact_name: str | None = Field(
        default=None, description="The name of the tenant's contact with this number, when there is one"
    )
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
    provider_price: str | None = Field(default=None, description="The provider's price, a decimal string")
    provider_price_currency: str | None = Field(
        default=None, description="ISO 4217 currency of providerPrice, as the provider reported it (Twilio price_unit)"
    )
    scheduled_for: datetime | None = Field(default=None, description="SCHEDULED: when it is due (UTC)")
    scheduled_reason: ScheduledReasonDto | None = Field(default=None, description="SCHEDULED: why it waits")
    failure_reason: str | None = None
    permanent_failure: bool | None = None
    attempts: int = 0
    sent_at: datetime | None = None
    history: list[StatusChangeDto] = Field(default_factory=list)
    clicks: int = Field(default=0, description="Clicks on the message's tracked short links (people, not previews)")
    first_clicked_at: datetime | None = Field(default=None, description="The first counted click, if any")


class MessagePageDto(ApiModel):
    items: list[MessageSummaryDto]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null on the last")
