"""Sending one message to every contact behind a set of tags: resolve, price, debit, persist, enqueue, answer.

Money moves first, so nothing is ever enqueued unpaid; every later failure is compensated. The debit opens the
campaign's **fan-out** (`PENDING`, with a deadline) in the same transaction, and the fan-out is closed exactly
once, by one conditional write:

- by this invocation (`COMPLETE`), which watches its remaining time: it starts a write only while the time left
  covers the write and the compensation after it, else it stops, marks what it did not enqueue `FAILED` and
  refunds it in the closing transaction (the client gets `503 ENQUEUE_FAILED`);
- or, when this invocation never got there (a hard timeout, an out-of-memory kill, a crash, a closing write that
  kept failing), by the reconciler (smscore.domain.reconciler), which may only claim the campaign after the
  deadline. The deadline is this invocation's hard stop (Lambda kills it at its Timeout) plus a grace, so by then
  the original is dead and cannot race the reconciler; the conditional close settles the rest.

Message ids are derived from the queue id and the recipient's position (`message_id_for`), so the reconciler can
read every paid message by key, consistently, knowing only the dispatch's `total_messages`; the ones it does not
find were paid and never persisted, and are refunded too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from smscore.domain.compliance import CompliancePolicy, FrequencyPlan
from smscore.domain.compose import ComposedTexts, compose_texts, final_text
from smscore.domain.consent_records import lacks_consent
from smscore.domain.errors import (
    EnqueueFailure,
    FieldIssue,
    IdempotencyKeyRequired,
    InsufficientCredits,
    InvalidRequest,
    MergeFieldMissing,
    TenantNotFound,
    TooManyRecipients,
)
from smscore.domain.fanout import ChunkTask, ChunkTasks
from smscore.domain.frequency import bogota_day
from smscore.domain.gsm import EncodingOption
from smscore.domain.links import LinkIssue, LinkKeyTaken, LinkStore, Shortened, shorten
from smscore.domain.model import Dispatch, MessageStatus, OutgoingMessage, Purpose, QueueBatch, TagRecipient, Tenant
from smscore.domain.personalize import BUILT_IN_FIELDS, MessageTemplate, check_fields, parse, recipient_values
from smscore.domain.plan import ChunkCounts, PlanChunk, new_plan_prefix, planned_ids, split_plan
from smscore.domain.ports import CampaignStore, DeliveryQueue, SuppressionList
from smscore.domain.segments import SegmentCount, provider_length
from smscore.domain.wait_reasons import WaitReason, explain_wait
from smscore.domain.windows import OpeningRule, country_of

if TYPE_CHECKING:
    from smscore.domain.planning import WorkerPlanning

log = logging.getLogger(__name__)

NOT_ENQUEUED = "not enqueued"
LINK_KEY_ATTEMPTS = 3  # draws of a campaign's link keys (a taken key is 1 in 56 billion)
# Messages per persist step and per enqueue step: the remaining time is checked before each one.
FANOUT_STEP_MESSAGES = 5_000
_QUEUE_NAMESPACE = uuid.UUID("5b0d3c2e-6a8f-4a43-9f0e-2d1c7b9a0e11")
_MESSAGE_NAMESPACE = uuid.UUID("8f3e2a61-0c4b-4d7e-b1a9-6c5d4e3f2a10")


class FanoutState(StrEnum):
    PLANNING = "PLANNING"  # accepted (202), not debited: the workers are planning it (smscore.domain.planning)
    PENDING = "PENDING"  # debited; the sending invocation is (or was) persisting and enqueueing
    RECONCILING = "RECONCILING"  # past its deadline, claimed by a reconciler run
    COMPLETE = "COMPLETE"  # closed by the sending invocation
    RECONCILED = "RECONCILED"  # closed by the reconciler
    FAILED = "FAILED"  # planning ended without a debit: nothing charged, nothing sent

    @property
    def closed(self) -> bool:
        return self in (FanoutState.COMPLETE, FanoutState.RECONCILED, FanoutState.FAILED)


def queue_id_for(tenant_id: str, idempotency_key: str) -> str:
    """The queue id of a request with an Idempotency-Key: the same for every retry, so a retry can find it."""
    return str(uuid.uuid5(_QUEUE_NAMESPACE, f"{tenant_id}#{idempotency_key}"))


def message_id_for(queue_id: str, ordinal: int) -> str:
    """The id of a campaign's `ordinal`-th message (recipients sorted by number): derivable from the dispatch."""
    return str(uuid.uuid5(_MESSAGE_NAMESPACE, f"{queue_id}#{ordinal}"))


def request_fingerprint(request: CampaignRequest) -> str:
    """What a retry must repeat to get the first answer (the body as sent, normalised)."""
    fields: dict[str, Any] = {"message": request.message, "tagIds": request.tag_ids, "country": request.country}
    if request.resend_of is not None:  # absent for sends, so campaigns recorded before resends keep their hash
        fields["resendOf"] = request.resend_of
    # Likewise only when not the default, so that campaigns recorded before these fields keep their hash.
    if request.purpose is not Purpose.MARKETING:
        fields["purpose"] = request.purpose.value
    if request.send_at is not None:
        fields["sendAt"] = request.send_at.astimezone(UTC).isoformat()
    if request.encoding is not EncodingOption.AUTO:
        fields["encoding"] = request.encoding.value
    if request.template_id is not None:
        fields["templateId"] = request.template_id
    if request.test:
        fields["test"] = True
    if request.track_links:
        fields["trackLinks"] = True
    canonical = json.dumps(
        fields,
        sort_keys=True,
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CampaignRequest:
    tenant_id: str
    member_id: str
    message: str
    tag_ids: list[str]
    country: str | None = None
    purpose: Purpose = Purpose.MARKETING
    send_at: datetime | None = None  # aware; checked by the API (future, at most 35 days ahead)
    resend_of: str | None = None  # the campaign whose failed recipients this one sends to again
    resends_seen: int | None = None  # see Dispatch.resends_seen
    encoding: EncodingOption = EncodingOption.AUTO  # the text that goes out (smscore.domain.gsm)
    template_id: str | None = None  # the saved template it was composed from (recorded on the campaign)
    test: bool = False  # a test send (smscore.domain.test_send): marked, and left out of the campaign list
    track_links: bool = False  # each URL becomes a per-recipient short link (smscore.domain.links)
    link_base_url: str = ""  # where the short links point: LinkBaseUrl, else the API's own URL + /l
    opt_out_base: str = ""  # the opt-out link's base (smscore.domain.opt_out_links.opt_out_base); "": none known


class ResendRaced(Exception):
    """Another resend of the same campaign was recorded after this one was planned: nothing of this one was written,
    and its plan (who an earlier resend already texted) is stale. Plan again."""


@dataclass(frozen=True)
class CampaignLimits:
    max_recipients: int
    recipients_per_queue_message: int
    default_provider: str
    character_limits: dict[str, int]
    # Opt-outs are per sender (smscore.domain.inbound): provider -> the sender key its messages go out through,
    # and the suppression list the audience is checked against (None: no check, as in tests of other rules).
    sender_keys: dict[str, str] = field(default_factory=dict)
    suppressions: SuppressionList | None = None
    # The Colombian marketing rules (smscore.domain.compliance; None: not applied, as in tests of other rules).
    compliance: CompliancePolicy | None = None
    # Above it a send is accepted (202: no message list) and needs an Idempotency-Key; None: never.
    max_sync_recipients: int | None = None

    def accepts_async(self, messages: int) -> bool:
        return self.max_sync_recipients is not None and messages > self.max_sync_recipients

    def sender_for(self, provider: str) -> str:
        return self.sender_keys.get(provider, provider)

    def tenant_sender(self, tenant_provider: str | None) -> str:
        """The sender a tenant's campaigns go out through (its provider, else the default): whose suppressions
        the send path applies and the contacts API shows (smscore.domain.consent)."""
        return self.sender_for(tenant_provider or self.default_provider)


@dataclass
class Audience:
    """Who a campaign reaches, and what was left out on the way (for metrics and logs)."""

    recipients: list[tuple[str, str]] = field(default_factory=list)  # (e164, contact_id), sorted by e164
    skipped_invalid: int = 0
    skipped_opted_out: int = 0  # opted-out contacts, and numbers suppressed for the sender (STOP replies)
    duplicates_removed: int = 0
    invalid_samples: list[str] = field(default_factory=list)
    consenting: set[str] = field(default_factory=set)  # contact ids with granted marketing consent
    names: dict[str, str] = field(default_factory=dict)  # contact id -> the membership's copy of its name
    skipped_suppressed: int = 0  # of skipped_opted_out: numbers opted out of the campaign's sender by a reply
    skipped_already_resent: int = 0  # a resend's recipients an earlier resend of the campaign already texted
    skipped_excluded: int = 0  # marketing to CO: numbers on the RNE exclusion list (smscore.domain.exclusions)
    skipped_frequency: int = 0  # marketing to CO: numbers at the tenant's frequency cap (smscore.domain.frequency)
    skipped_too_long: int = 0  # recipients whose rendered text is over the provider's limit: never charged
    skipped_no_consent: int = 0  # consentRequired: marketing to contacts without granted consent (consent_records)


@dataclass(frozen=True)
class CampaignResult:
    queue_id: str
    messages: list[OutgoingMessage]
    audience: Audience
    credits_debited: int
    scheduled_for: datetime | None = None  # when every message waits: the earliest of them may go then
    scheduled_reason: WaitReason | None = None  # why (smscore.domain.wait_reasons)
    accepted: bool = False  # above max_sync_recipients: answered 202, without the message list
    planning: bool = False  # accepted for the workers to plan (smscore.domain.planning): nothing debited yet
    estimate: int = 0  # with planning: the tags' contacts (an upper bound of the messages)


@dataclass(frozen=True)
class DispatchState:
    """A recorded campaign as a retry (and the reconciler) sees it."""

    queue_id: str
    tenant_id: str
    total_messages: int
    segments_per_message: int
    credits_debited: int
    fanout: FanoutState | None  # None: recorded before fan-out states existed (always finished)
    fanout_deadline: datetime | None = None
    fanout_enqueued: int | None = None
    fanout_refunded: int | None = None
    fanout_refunded_credits: int | None = None  # None: closed before it was recorded (credits = refunded x segments)
    request_hash: str | None = None
    scheduled_for: datetime | None = None
    scheduled_reason: dict[str, Any] | None = None  # WaitReason.as_json() as recorded at accept
    plan_prefix: str | None = None  # a planned campaign (smscore.domain.plan): its chunks' prefix
    plan_chunks: int = 0
    planning: str | None = None  # planned by the workers (smscore.domain.planning): PLANNING | PLANNED | FAILED
    planning_estimate: int = 0  # the tags' contacts when it was accepted

    @property
    def finished(self) -> bool:
        return self.fanout is None or self.fanout.closed


class CampaignRecorded(Exception):
    """A request whose campaign is already recorded (a retry of the same Idempotency-Key): answer from it."""

    def __init__(self, dispatch: DispatchState) -> None:
        super().__init__(dispatch.queue_id)
        self.dispatch = dispatch


class SendStore(CampaignStore, Protocol):
    """The CampaignStore with the fan-out bookkeeping of this module."""

    def merge_values(self, tenant_id: str, contact_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Each contact's merge values (smscore.domain.personalize.recipient_values), by contact id; contacts that
        no longer exist are absent."""
        ...

    def open_fanout(self, dispatch: Dispatch, deadline: datetime, request_hash: str | None) -> None:
        """`debit`, with the dispatch recorded as fan-out PENDING until `deadline` (same rules as `debit`)."""
        ...

    def find_dispatch(self, queue_id: str) -> DispatchState | None:
        """The campaign as last written (strongly consistent), or None."""
        ...

    def write_plan(self, chunks: Sequence[PlanChunk]) -> None:
        """Persist a large campaign's plan chunks (before its debit: a plan nobody paid for is never fanned out)."""
        ...

    def fail_if_queued(self, messages: Sequence[OutgoingMessage], reason: str) -> list[OutgoingMessage]:
        """Conditionally QUEUED or SCHEDULED -> FAILED (never a message delivery already claimed); returns the ones
        moved."""
        ...

    def close_fanout(
        self,
        queue_id: str,
        tenant_id: str,
        *,
        enqueued: int,
        refunded_messages: int,
        refund_credits: int,
        refunded_scheduled: int = 0,
    ) -> bool:
        """PENDING -> COMPLETE with the counts, refunding `refund_credits` with a ledger entry in the same
        transaction (conflicts and throttling retried with backoff). False, changing nothing, when the fan-out is
        no longer PENDING (a reconciler claimed it: it settles instead). `refunded_scheduled` of the refunded
        messages were counted SCHEDULED at the debit, the rest QUEUED."""
        ...


@dataclass(frozen=True)
class FanoutBudget:
    """How long this invocation may keep writing, and when the reconciler may take over.

    `remaining_seconds` is the time left before the invocation is killed (the Lambda context's). A step starts
    only while more than `reserve_seconds + messages_left x per-message cost` remains: what marking the rest FAILED,
    refunding and answering take. The per-message cost is measured: the cleanup rewrites each unsent message as a
    full FAILED item, exactly what a persist step writes, so every persist step's seconds per message (`observe`)
    raise it; `reserve_per_message_seconds` is only the floor used before the first step.
    """

    remaining_seconds: Callable[[], float]
    reserve_seconds: float = 3.0
    reserve_per_message_seconds: float = 0.000_17
    grace_seconds: float = 30.0
    _measured: list[float] = field(default_factory=list, init=False, repr=False, compare=False)

    def observe(self, seconds: float, messages: int) -> None:
        """A persist step wrote `messages` full message items in `seconds`: the cleanup costs as much per message."""
        if messages > 0:
            self._measured.append(seconds / messages)

    @property
    def per_message_seconds(self) -> float:
        return max([self.reserve_per_message_seconds, *self._measured])

    @classmethod
    def from_timeout(cls, timeout_seconds: float, **kwargs: Any) -> FanoutBudget:
        """A budget counting down from now (no Lambda context: tests, scripts)."""
        started = time.monotonic()
        return cls(remaining_seconds=lambda: timeout_seconds - (time.monotonic() - started), **kwargs)

    def may_continue(self, messages_left: int) -> bool:
        return self.remaining_seconds() > self.reserve_seconds + messages_left * self.per_message_seconds

    def deadline(self, now: datetime) -> datetime:
        """The hard stop of this invocation plus the grace: after it, nothing of this invocation still runs."""
        return now + timedelta(seconds=max(0.0, self.remaining_seconds()) + self.grace_seconds)


def build_audience(memberships: Sequence[TagRecipient], country: str | None) -> Audience:
    """One recipient per normalised number: a contact in two tags, or two contacts sharing a number, get one SMS.

    The first contact (by id) wins a shared number, so the choice is stable across retries.
    """
    from smscore.domain.phone import normalise  # phonenumbers on the first audience, not at the handler's init

    audience = Audience()
    by_number: dict[str, str] = {}
    seen_contacts: set[str] = set()
    for member in sorted(memberships, key=lambda m: m.contact_id):
        if member.contact_id in seen_contacts:
            audience.duplicates_removed += 1
            continue
        seen_contacts.add(member.contact_id)
        if member.opted_out:
            audience.skipped_opted_out += 1
            continue
        if member.already_resent:
            audience.skipped_already_resent += 1
            continue
        normalised = normalise(member.phone, country)
        if normalised.e164 is None:
            audience.skipped_invalid += 1
            if len(audience.invalid_samples) < 10:
                audience.invalid_samples.append(member.phone)
            continue
        if normalised.e164 in by_number:
            audience.duplicates_removed += 1
            continue
        by_number[normalised.e164] = member.contact_id
        if member.consent_granted:
            audience.consenting.add(member.contact_id)
        if member.name is not None:
            audience.names[member.contact_id] = member.name
    audience.recipients = sorted(by_number.items())
    return audience


def skip_without_consent(audience: Audience, purpose: Purpose, tenant: Tenant) -> None:
    """consentRequired: marketing leaves out the contacts without a granted consent record, before pricing (never
    charged); reads the flag build_audience kept from the membership copies."""
    required = tenant.compliance is not None and tenant.compliance.consent_required
    if not required or not audience.recipients:
        return
    kept = [
        r
        for r in audience.recipients
        if not lacks_consent(True, purpose is Purpose.MARKETING, r[1] in audience.consenting)
    ]
    audience.skipped_no_consent += len(audience.recipients) - len(kept)
    audience.recipients = kept


def exclude_suppressed(audience: Audience, suppressions: SuppressionList | None, sender: str) -> None:
    """Numbers opted out of the sender (STOP-type replies) leave the audience before pricing, so they are never
    charged; counted with the opted-out contacts (`skipped_opted_out`, what the preview reports) and on their own."""
    if suppressions is None or not audience.recipients:
        return
    blocked = suppressions.suppressed([e164 for e164, _ in audience.recipients], sender)
    if blocked:
        audience.recipients = [r for r in audience.recipients if r[0] not in blocked]
        audience.skipped_suppressed += len(blocked)
        audience.skipped_opted_out += len(blocked)


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks[T](items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


Phase = Callable[[str], contextlib.AbstractContextManager[Any]]


def _untraced(_name: str) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext()


MergeValues = Callable[[Sequence[str]], Mapping[str, Mapping[str, str]]]


@dataclass(frozen=True)
class CampaignPlan:
    """What a request would send and cost, decided before anything is written. The send path and the preview both
    use `plan_campaign`, so a preview's price is exactly what the send then debits.

    `composed` holds every recipient's final text and segments, aligned with `audience.recipients` (recipients
    whose text is over the provider's limit are already out of it: `audience.skipped_too_long`)."""

    provider: str
    country: str | None
    audience: Audience
    segments: SegmentCount  # the largest message's (all the same without merge fields)
    cost: int  # credits: the sum of every message's segments
    composed: ComposedTexts
    template: MessageTemplate
    transliterated_cost: int = 0  # with price_transliterated: the cost under gsm-transliterate (else 0)
    values: dict[str, Mapping[str, str]] = field(default_factory=dict)  # contact id -> merge values read
    # (prefix, footer) added to every text: the sender's name and the opt-out of marketing to CO (compliance)
    frame: tuple[str, str] = ("", "")
    counters: FrequencyPlan | None = None  # the frequency counts to write once paid (smscore.domain.compliance)
    shortened: Shortened | None = None  # trackLinks: the text with placeholder short links, as composed and priced

    @property
    def final_message(self) -> str:
        """The text the first recipient gets (every one's without merge fields), as priced."""
        return (
            self.composed.texts[0]
            if self.composed.texts
            else final_text(self.template.render({}), prefix=self.frame[0], footer=self.frame[1])
        )

    def missing_required(self) -> tuple[str, int] | None:
        """The first merge field without a fallback that some recipients lack, and how many."""
        for name in self.template.required:
            if self.composed.missing.get(name):
                return name, self.composed.missing[name]
        return None

    def refuse_missing_required(self, *, counted: bool = True) -> None:
        """400 MERGE_FIELD_MISSING when some recipients lack a merge field without a fallback. `counted=False` when
        the plan is a sample of the audience: its count is the sample's, so the sentence names no number."""
        lacking = self.missing_required()
        if lacking is None:
            return
        name, count = lacking
        who = f"{count} recipients" if counted else "recipients"
        raise MergeFieldMissing(
            f"{who.capitalize()} have no value for {{{name}}}: give it a fallback, such as {{{name}|cliente}}",
            details=[FieldIssue("message", f"{who} have no {name}")],
            field=name,
            recipients=count,
        )


def plan_campaign(
    request: CampaignRequest,
    tenant: Tenant,
    members: Callable[[], Sequence[TagRecipient]],
    limits: CampaignLimits,
    phase: Phase = _untraced,
    *,
    price_transliterated: bool = False,
    merge_values: MergeValues | None = None,
) -> CampaignPlan:
    """Check the text's merge fields and length, resolve the audience from `members`, compose every recipient's
    text (smscore.domain.compose) and price it.

    Raises UnknownMergeField, InvalidRequest (a text without merge fields over the provider's limit: nobody could
    receive it) and TooManyRecipients; never InsufficientCredits nor MergeFieldMissing (the caller decides: a
    refusal for a send, a figure for a preview). Reads `members`, and `merge_values` (contact id -> values) only
    when the message has merge fields. `price_transliterated` (the preview) also prices it under gsm-transliterate.
    """
    provider = tenant.provider or limits.default_provider
    char_limit = limits.character_limits.get(provider, 1600)
    shortened = shorten(request.message, request.link_base_url) if request.track_links else None
    message = shortened.message if shortened is not None else request.message  # short links are what is priced
    template = parse(message)
    check_fields(template, tenant.merge_fields)
    if not template.personal and provider_length(final_text(template.render({}), request.encoding)) > char_limit:
        raise InvalidRequest(
            f"message is longer than the {char_limit} characters provider {provider} accepts",
            details=[FieldIssue("message", f"at most {char_limit} characters")],
        )
    country = request.country or tenant.default_country
    with phase("resolve"):
        audience = build_audience(members(), country)
        if request.resend_of is None:  # a resend re-attempts messages already screened (its memberships carry no flag)
            skip_without_consent(audience, request.purpose, tenant)
        exclude_suppressed(audience, limits.suppressions, limits.tenant_sender(tenant.provider))
        frame = ("", "")
        counters: FrequencyPlan | None = None
        if limits.compliance is not None:
            screened = limits.compliance.screen(
                request.purpose,
                tenant,
                audience.recipients,
                day=bogota_day(request.send_at) if request.send_at is not None else None,
                resend=request.resend_of is not None,
            )
            audience.recipients = screened.recipients
            audience.skipped_excluded += screened.excluded
            audience.skipped_frequency += screened.capped
            counters = screened.counts
            if screened.settings is not None:  # marketing to CO: the sender's name and the opt-out, priced
                frame = limits.compliance.framing(message, screened.settings, provider, request.opt_out_base)
    if (
        not template.personal
        and provider_length(final_text(template.render({}), request.encoding, *frame)) > char_limit
    ):
        raise InvalidRequest(
            f"message is longer than the {char_limit} characters provider {provider} accepts",
            details=[FieldIssue("message", f"at most {char_limit} characters, with the sender's name and opt-out")],
        )
    if len(audience.recipients) > limits.max_recipients:
        raise TooManyRecipients(len(audience.recipients), limits.max_recipients)
    values: dict[str, Mapping[str, str]] = {}
    if template.personal and audience.recipients:
        with phase("merge_values"):
            # A message with only {nombre}/{name} reads the names the memberships carry; the contacts table only
            # for custom fields, and for memberships written before the copy.
            copied = audience.names if set(template.fields) <= BUILT_IN_FIELDS else {}
            unread = [contact_id for _e164, contact_id in audience.recipients if contact_id not in copied]
            read = merge_values(unread) if merge_values and unread else {}
            values = {c: recipient_values(copied[c], None) for _e164, c in audience.recipients if c in copied}
            values.update(read)
    recipients = audience.recipients

    def values_of(position: int) -> Mapping[str, str]:
        return values.get(recipients[position][1], {})

    def compose(option: EncodingOption) -> ComposedTexts:
        return compose_texts(template, option, len(recipients), values_of, char_limit, *frame)

    with phase("compose"):
        composed = compose(request.encoding)
        transliterated = compose(EncodingOption.GSM_TRANSLITERATE).cost if price_transliterated else 0
    if composed.too_long:
        audience.recipients = [recipients[position] for position in composed.kept]
        audience.skipped_too_long = composed.too_long
    return CampaignPlan(
        provider=provider,
        country=country,
        audience=audience,
        segments=composed.largest(final_text(template.render({}), request.encoding, *frame)),
        cost=composed.cost,
        composed=composed,
        template=template,
        transliterated_cost=transliterated,
        values=values,
        frame=frame,
        counters=counters,
        shortened=shortened,
    )


@dataclass(frozen=True)
class CampaignSchedule:
    """When each message of a campaign may go: sendAt (or now), then the send window of the recipient's country
    and the tenant's quiet hours (marketing only). `scheduled_for` is the earliest of them when every message
    waits, None when at least one goes now (the 201's and the preview's `scheduledFor`)."""

    now: datetime
    openings: dict[str | None, datetime]  # by recipient country
    scheduled_for: datetime | None
    reason: WaitReason | None = None  # why `scheduled_for` (smscore.domain.wait_reasons): the 201's scheduledReason

    def opening_of(self, e164: str) -> datetime:
        return self.openings[country_of(e164)]

    def waits(self, e164: str) -> bool:
        return self.opening_of(e164) > self.now


def plan_schedule(
    request: CampaignRequest,
    tenant: Tenant,
    recipients: Sequence[str],
    now: datetime,
    opening: OpeningRule,
) -> CampaignSchedule:
    """The schedule of a campaign to `recipients` (E.164) requested at `now`; one window computation per country."""
    start = max(now, request.send_at) if request.send_at is not None else now
    openings = {
        country: opening(start, country, request.purpose, tenant.quiet_hours)
        for country in {country_of(e164) for e164 in recipients}
    }
    earliest = min(openings.values(), default=now)
    if earliest <= now:
        return CampaignSchedule(now=now, openings=openings, scheduled_for=None)
    country = min(openings, key=lambda c: openings[c])
    reason = explain_wait(
        now=now,
        start=start,
        release_at=earliest,
        country=country,
        purpose=request.purpose,
        quiet_hours=tenant.quiet_hours,
        send_at=request.send_at,
    )
    return CampaignSchedule(now=now, openings=openings, scheduled_for=earliest, reason=reason)


@dataclass(frozen=True)
class PlannedFanout:
    """How campaigns larger than `inline_max_messages` are sent: planned into chunks, fanned out by the workers
    (smscore.domain.fanout) through `tasks`. Their fan-out deadline is the request's plus `window_seconds`: the
    time the workers have, retries included, before the reconciler may settle what they left."""

    tasks: ChunkTasks
    inline_max_messages: int
    window_seconds: float
    # Campaigns above MaxSyncRecipients planned by the workers, the request never reading their audience
    # (smscore.domain.planning); None: the request plans them itself.
    planning: WorkerPlanning | None = None

    def applies(self, messages: int) -> bool:
        return messages > self.inline_max_messages


def with_codes(composed: ComposedTexts, issue: LinkIssue) -> ComposedTexts:
    """Each message's text with its own short links in place of the priced placeholders: the same characters
    count, so segments and credits are unchanged (checked)."""
    texts = [issue.fill(text, ordinal) for ordinal, text in enumerate(composed.texts)]
    if any(len(a) != len(b) for a, b in zip(texts, composed.texts, strict=True)):
        raise AssertionError("a short link changed a text's length after pricing")
    return replace(composed, texts=texts)


def compose_messages(
    request: CampaignRequest,
    queue_id: str,
    audience: Audience,
    composed: ComposedTexts,
    provider: str,
    schedule: CampaignSchedule,
    created_at: datetime,
    deadline: datetime,
    ids: Callable[[Sequence[str]], Sequence[str]],
) -> list[OutgoingMessage]:
    """The campaign's messages, one per recipient in the audience's order: final text and segments as `composed`
    has them (smscore.domain.compose), status, due time, and the ids `ids` gives for the final texts. Pure."""
    bodies = composed.texts
    message_ids = ids(bodies)
    return [
        OutgoingMessage(
            message_id=message_id,
            tenant_id=request.tenant_id,
            queue_id=queue_id,
            recipient=e164,
            contact_id=contact_id,
            body=body,
            segments=count.segments,
            encoding=count.encoding.value,
            credits=count.segments,
            provider=provider,
            created_at=created_at,
            status=MessageStatus.SCHEDULED if schedule.waits(e164) else MessageStatus.QUEUED,
            # Never due before the fan-out's deadline: until then only this invocation (or, after it, the
            # reconciler) may touch the campaign's messages, so its compensation can overwrite them safely.
            scheduled_for=max(schedule.opening_of(e164), deadline) if schedule.waits(e164) else None,
            purpose=request.purpose,
        )
        for message_id, body, count, (e164, contact_id) in zip(
            message_ids, bodies, composed.counts, audience.recipients, strict=True
        )
    ]


def send_campaign(
    request: CampaignRequest,
    *,
    store: SendStore,
    queue: DeliveryQueue,
    limits: CampaignLimits,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    phase: Phase = _untraced,
    budget: FanoutBudget | None = None,
    queue_id: str | None = None,
    members: Callable[[], Sequence[TagRecipient]] | None = None,
    opening: OpeningRule,
    merge_values: MergeValues | None = None,
    fanout: PlannedFanout | None = None,
    links: LinkStore | None = None,
) -> CampaignResult:
    """Resolve the audience and price it (`plan_campaign`), then debit once before anything is persisted or enqueued.

    Messages that may not go yet (sendAt, the send window, the tenant's quiet hours: `plan_schedule` with the
    `opening` rule, which every caller names, so that no test inherits the legal window at the hour it runs) are
    persisted SCHEDULED with their due time instead of being enqueued; the scheduler releases
    them. They are paid now like the others.

    `members` replaces the tags' memberships as the source of recipients (a resend reads the original campaign's
    failed recipients, a test send names its numbers), and `merge_values` the contacts' values (a test send renders
    every number with one chosen contact); everything after them is the same.

    `queue_id` is given for a request with an Idempotency-Key (`queue_id_for`): when that campaign is already
    recorded, CampaignRecorded is raised before anything else is done, so a retry never debits twice.

    With `fanout`, a campaign larger than its `inline_max_messages` is planned instead (smscore.domain.plan): its
    messages are written as plan chunks before the debit, and the fan-out workers write and enqueue them after the
    answer (`_hand_over`); the answer is the same.

    With `trackLinks`, the priced texts carry placeholder short links; once the message positions are final each
    message gets its own codes (the same length: smscore.domain.links) and the campaign's link items are written to
    `links` before the debit (one per URL, never one per recipient).
    """
    budget = budget or FanoutBudget.from_timeout(29.0)
    fingerprint = request_fingerprint(request) if queue_id is not None else None
    if queue_id is not None:
        _raise_if_recorded(store, queue_id)

    tenant = store.get_tenant(request.tenant_id)
    if tenant is None:
        raise TenantNotFound("The tenant of this token no longer exists")
    if members is None and fanout is not None and fanout.planning is not None and plannable(request, limits):
        from smscore.domain.planning import accept_for_planning

        handed = accept_for_planning(
            request,
            tenant,
            limits=limits,
            planning=fanout.planning,
            window_seconds=fanout.window_seconds,
            queue_id=queue_id,
            request_hash=fingerprint,
            deadline=budget.deadline,
            now=now,
            phase=phase,
            merge_values=merge_values or (lambda contact_ids: store.merge_values(request.tenant_id, contact_ids)),
            recorded=lambda recorded_id: _raise_if_recorded(store, recorded_id),
        )
        if isinstance(handed, CampaignResult):
            return handed
        if handed is not None:
            read = handed
            members = lambda: read  # noqa: E731 - every member, read once by the bounded read
    plan = plan_campaign(
        request,
        tenant,
        members or (lambda: store.tag_recipients(request.tenant_id, request.tag_ids)),
        limits,
        phase,
        merge_values=merge_values or (lambda contact_ids: store.merge_values(request.tenant_id, contact_ids)),
    )
    audience, segments, provider, country, cost = plan.audience, plan.segments, plan.provider, plan.country, plan.cost
    plan.refuse_missing_required()
    if not audience.recipients:
        return CampaignResult(queue_id="", messages=[], audience=audience, credits_debited=0)
    accepted = limits.accepts_async(len(audience.recipients))
    if accepted and (queue_id is None or fanout is None):
        assert limits.max_sync_recipients is not None
        if fanout is None:  # no fan-out workers: nothing may be larger than a 201
            raise TooManyRecipients(len(audience.recipients), limits.max_sync_recipients)
        raise IdempotencyKeyRequired(len(audience.recipients), limits.max_sync_recipients)
    if cost > tenant.credits:
        # Cheap early answer; the conditional debit below is what actually guards the balance.
        raise InsufficientCredits(required=cost, available=tenant.credits)

    created_at = now()
    schedule = plan_schedule(request, tenant, [e164 for e164, _ in audience.recipients], created_at, opening)
    planned = fanout is not None and (accepted or fanout.applies(len(audience.recipients)))
    deadline = budget.deadline(created_at)
    if planned:
        assert fanout is not None
        deadline += timedelta(seconds=fanout.window_seconds)
    queue_id = queue_id or new_id()
    prefix = new_plan_prefix() if planned else None
    campaign_id = queue_id

    def ids(bodies: Sequence[str]) -> Sequence[str]:
        if prefix is not None:
            return planned_ids(prefix, bodies)
        return [message_id_for(campaign_id, ordinal) for ordinal in range(len(bodies))]

    composed = plan.composed
    messages: list[OutgoingMessage] = []
    for _attempt in range(LINK_KEY_ATTEMPTS):
        issue: LinkIssue | None = None
        if plan.shortened is not None and plan.shortened.urls:
            assert links is not None, "trackLinks needs a LinkStore"
            issue = LinkIssue.new(plan.shortened, request.tenant_id, queue_id, created_at, len(audience.recipients))
            composed = with_codes(plan.composed, issue)
        with phase("compose"):
            messages = compose_messages(
                request, queue_id, audience, composed, provider, schedule, created_at, deadline, ids
            )
        if issue is None:
            break
        assert links is not None
        try:
            with phase("links"):  # before the debit: a link item that failed to be written is never paid for
                links.put_links(issue.with_ids([m.message_id for m in messages], prefix), None)
            break
        except LinkKeyTaken:
            log.warning("A drawn link key was taken: new keys drawn", extra={"queue_id": queue_id})
    else:
        raise LinkKeyTaken(queue_id)
    chunks: list[PlanChunk] = []
    if prefix is not None:
        with phase("plan"):
            # The frequency counts go with the chunks: each worker writes its recipients' (issue 22, item 3).
            counts = ChunkCounts(plan.counters.day, plan.counters.counts) if plan.counters is not None else None
            chunks = split_plan(prefix, queue_id, request.tenant_id, messages, counts)
            store.write_plan(chunks)
    dispatch = Dispatch(
        queue_id=queue_id,
        tenant_id=request.tenant_id,
        member_id=request.member_id,
        body=request.message,
        tag_ids=request.tag_ids,
        country=country,
        total_messages=len(messages),
        segments_per_message=segments.segments,
        credits_debited=cost,
        created_at=created_at,
        resend_of=request.resend_of,
        resends_seen=request.resends_seen,
        purpose=request.purpose,
        send_at=request.send_at,
        encoding=request.encoding,
        template_id=request.template_id,
        test=request.test,
        track_links=request.track_links,
        scheduled_for=schedule.scheduled_for,
        scheduled_reason=schedule.reason.as_json() if schedule.reason else None,
        scheduled_messages=sum(1 for m in messages if m.status is MessageStatus.SCHEDULED),
        plan_prefix=prefix,
        plan_chunks=len(chunks),
    )
    with phase("debit"):
        try:
            store.open_fanout(dispatch, deadline=deadline, request_hash=fingerprint)
        except InsufficientCredits:
            if fingerprint is not None:
                _raise_if_recorded(store, queue_id)  # a concurrent retry recorded it first
            raise
    if fanout is not None and chunks:
        _hand_over(fanout, chunks, queue_id, request.tenant_id, phase)
    else:
        _fan_out(messages, queue_id, request.tenant_id, store, queue, limits, phase, budget, counters=plan.counters)
    return CampaignResult(
        queue_id=queue_id,
        messages=messages,
        audience=audience,
        credits_debited=cost,
        scheduled_for=schedule.scheduled_for,
        scheduled_reason=schedule.reason,
        accepted=accepted,
    )


def plannable(request: CampaignRequest, limits: CampaignLimits) -> bool:
    """A send by tags that the workers may plan when it is large (smscore.domain.planning): not a resend or a test
    send (their recipients are not tag members), nor a campaign with tracked links (its link items are issued for the
    whole audience at once: planned by its request, as before)."""
    return (
        limits.max_sync_recipients is not None
        and request.resend_of is None
        and not request.test
        and not request.track_links
        and bool(request.tag_ids)
    )


def _hand_over(fanout: PlannedFanout, chunks: Sequence[PlanChunk], queue_id: str, tenant_id: str, phase: Phase) -> None:
    """Give every chunk to the fan-out workers. A chunk the fan-out queue would not take is left to the reconciler,
    which refunds its messages after the deadline; the client is told now (503 ENQUEUE_FAILED, nothing refunded
    yet)."""
    with phase("hand_over"):
        failed = fanout.tasks.submit([ChunkTask(tenant_id, queue_id, chunk.prefix, chunk.number) for chunk in chunks])
    if failed:
        lost = {task.chunk for task in failed}
        handed = sum(len(chunk.messages) for chunk in chunks if chunk.number not in lost)
        log.error("Chunks not handed to the fan-out queue", extra={"queue_id": queue_id, "chunks": len(lost)})
        raise EnqueueFailure(queue_id, enqueued=handed, refunded_credits=0)


def _raise_if_recorded(store: SendStore, queue_id: str) -> None:
    existing = store.find_dispatch(queue_id)
    if existing is not None:
        raise CampaignRecorded(existing)


@dataclass
class _Progress:
    """Where the fan-out got to: what was persisted, enqueued, and what may or may not have reached the queue."""

    persisted: int = 0
    enqueued: set[str] = field(default_factory=set)  # QUEUED and on the queue, or SCHEDULED and persisted
    uncertain: set[str] = field(default_factory=set)  # handed to the queue, which failed or raised


def _fan_out(
    messages: list[OutgoingMessage],
    queue_id: str,
    tenant_id: str,
    store: SendStore,
    queue: DeliveryQueue,
    limits: CampaignLimits,
    phase: Phase,
    budget: FanoutBudget,
    counters: FrequencyPlan | None = None,
) -> None:
    """Persist, then enqueue, step by step while time remains; then close the fan-out (compensating what was not
    enqueued). Any failure here, expected or not, is compensated and answered as EnqueueFailure. The frequency
    counters of a paid marketing campaign are written first (one small item per Colombian recipient)."""
    progress = _Progress()
    cause: Exception | None = None
    try:
        if counters is not None:
            with phase("frequency"):
                counters.record([m.recipient for m in messages], messages[0].created_at if messages else _now())
        _persist_and_enqueue(messages, queue_id, tenant_id, store, queue, limits, phase, budget, progress)
    except Exception as exc:  # noqa: BLE001 - compensation, not swallowing: re-raised as EnqueueFailure below
        cause = exc
    if len(progress.enqueued) == len(messages):
        _close(store, queue_id, tenant_id, enqueued=len(messages), refunded=[], phase=phase)
        return
    # A persisted SCHEDULED message is in the scheduler's hands like an enqueued one is in delivery's.
    unattempted = [m for m in messages if m.message_id not in progress.enqueued | progress.uncertain]
    uncertain = [m for m in messages if m.message_id in progress.uncertain]
    log.warning(
        "Fan-out stopped after the debit: %d of %d enqueued",
        len(progress.enqueued),
        len(messages),
        extra={"queue_id": queue_id, "persisted": progress.persisted, "cause": repr(cause)},
    )
    marked: list[OutgoingMessage] = []  # FAILED now: refunded by the close below, or by the reconciler
    try:
        with phase("mark_failed"):
            # Never handed to the queue: nobody else can have them, an overwrite is safe (and covers the unpersisted).
            store.mark_failed(unattempted, reason=NOT_ENQUEUED)
            marked = list(unattempted)
            # Handed to a queue call that failed: one may have gone through and be claimed already; only a message
            # still QUEUED (or SCHEDULED) and never claimed moves.
            marked += store.fail_if_queued(uncertain, reason=NOT_ENQUEUED)
    except Exception as exc:
        log.error("Marking the messages not enqueued FAILED failed; left to the reconciler", exc_info=exc)
        enqueued = len(progress.enqueued)
    else:
        enqueued = len(messages) - len(marked)  # the uncertain ones delivery already claimed did reach the queue
        _close(
            store,
            queue_id,
            tenant_id,
            enqueued=enqueued,
            refunded=marked,
            phase=phase,
        )
    # enqueued + refunded falls short of the total only when the compensation itself failed: the reconciler then
    # enqueues or refunds the rest after the deadline.
    raise EnqueueFailure(queue_id, enqueued=enqueued, refunded_credits=sum(m.credits for m in marked)) from cause


def _persist_and_enqueue(
    messages: list[OutgoingMessage],
    queue_id: str,
    tenant_id: str,
    store: SendStore,
    queue: DeliveryQueue,
    limits: CampaignLimits,
    phase: Phase,
    budget: FanoutBudget,
    progress: _Progress,
) -> None:
    total = len(messages)
    with phase("persist"):
        for step in _chunks(messages, FANOUT_STEP_MESSAGES):
            if not budget.may_continue(total):
                log.warning("Out of time before persisting everything", extra={"queue_id": queue_id})
                return
            started = time.monotonic()
            store.save_messages(step)
            budget.observe(time.monotonic() - started, len(step))
            # Persisted SCHEDULED messages are the scheduler's now; it releases none before the fan-out's deadline
            # (their due time is at least that), so a failed step's are safely overwritten FAILED and refunded.
            progress.enqueued |= {m.message_id for m in step if m.status is MessageStatus.SCHEDULED}
            progress.persisted += len(step)
    batches = [
        QueueBatch(tenant_id=tenant_id, queue_id=queue_id, message_ids=chunk)
        for chunk in _chunks(
            [m.message_id for m in messages if m.status is MessageStatus.QUEUED], limits.recipients_per_queue_message
        )
    ]
    per_step = max(1, FANOUT_STEP_MESSAGES // limits.recipients_per_queue_message)
    with phase("enqueue"):
        for step_batches in _chunks(batches, per_step):
            if not budget.may_continue(total - len(progress.enqueued)):
                log.warning("Out of time before enqueueing everything", extra={"queue_id": queue_id})
                return
            step_ids = {mid for batch in step_batches for mid in batch.message_ids}
            progress.uncertain |= step_ids  # until the queue answers
            failed = queue.enqueue(step_batches)
            failed_ids = {mid for batch in failed for mid in batch.message_ids}
            progress.uncertain -= step_ids - failed_ids
            progress.enqueued |= step_ids - failed_ids


def _close(
    store: SendStore,
    queue_id: str,
    tenant_id: str,
    *,
    enqueued: int,
    refunded: Sequence[OutgoingMessage],
    phase: Phase,
) -> None:
    """Close the fan-out (refund included). A close that keeps failing is not an error for the client: the fan-out
    stays open and the reconciler settles it after the deadline, refunding what this one would have."""
    try:
        with phase("close"):
            closed = store.close_fanout(
                queue_id,
                tenant_id,
                enqueued=enqueued,
                refunded_messages=len(refunded),
                refund_credits=sum(m.credits for m in refunded),  # each message's own (merge fields vary them)
                refunded_scheduled=sum(1 for m in refunded if m.status is MessageStatus.SCHEDULED),
            )
    except Exception as exc:
        log.error("Closing the fan-out failed; the reconciler settles it", extra={"queue_id": queue_id}, exc_info=exc)
        return
    if not closed:
        log.warning("A reconciler claimed the fan-out first; it settles it", extra={"queue_id": queue_id})
