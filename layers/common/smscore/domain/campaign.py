"""Sending one message to every contact behind a set of tags: resolve, price, debit, persist, enqueue."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from smscore.domain.errors import (
    EnqueueFailure,
    FieldIssue,
    InsufficientCredits,
    InvalidRequest,
    TenantNotFound,
    TooManyRecipients,
)
from smscore.domain.model import Dispatch, MessageStatus, OutgoingMessage, QueueBatch, TagRecipient
from smscore.domain.phone import normalise
from smscore.domain.ports import CampaignStore, DeliveryQueue
from smscore.domain.segments import count_segments, provider_length


@dataclass(frozen=True)
class CampaignRequest:
    tenant_id: str
    member_id: str
    message: str
    tag_ids: list[str]
    country: str | None = None


@dataclass(frozen=True)
class CampaignLimits:
    max_recipients: int
    recipients_per_queue_message: int
    default_provider: str
    character_limits: dict[str, int]


@dataclass
class Audience:
    """Who a campaign reaches, and what was left out on the way (for metrics and logs)."""

    recipients: list[tuple[str, str]] = field(default_factory=list)  # (e164, contact_id), sorted by e164
    skipped_invalid: int = 0
    skipped_opted_out: int = 0
    duplicates_removed: int = 0
    invalid_samples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CampaignResult:
    queue_id: str
    messages: list[OutgoingMessage]
    audience: Audience
    credits_debited: int


def build_audience(memberships: Sequence[TagRecipient], country: str | None) -> Audience:
    """One recipient per normalised number: a contact in two tags, or two contacts sharing a number, get one SMS.

    The first contact (by id) wins a shared number, so the choice is stable across retries.
    """
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
    audience.recipients = sorted(by_number.items())
    return audience


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


Phase = Callable[[str], contextlib.AbstractContextManager[Any]]


def _untraced(_name: str) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext()


def send_campaign(
    request: CampaignRequest,
    *,
    store: CampaignStore,
    queue: DeliveryQueue,
    limits: CampaignLimits,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    phase: Phase = _untraced,
) -> CampaignResult:
    """Resolve the audience and price it, then debit once before anything is persisted or enqueued.

    Money moves first so that nothing is ever enqueued unpaid; every later failure is compensated:
    what did not reach the queue is marked FAILED and refunded.
    """
    tenant = store.get_tenant(request.tenant_id)
    if tenant is None:
        raise TenantNotFound("The tenant of this token no longer exists")

    provider = tenant.provider or limits.default_provider
    char_limit = limits.character_limits.get(provider, 1600)
    if provider_length(request.message) > char_limit:
        raise InvalidRequest(
            f"message is longer than the {char_limit} characters provider {provider} accepts",
            details=[FieldIssue("message", f"at most {char_limit} characters")],
        )

    country = request.country or tenant.default_country
    with phase("resolve"):
        audience = build_audience(store.tag_recipients(request.tenant_id, request.tag_ids), country)
    if not audience.recipients:
        return CampaignResult(queue_id="", messages=[], audience=audience, credits_debited=0)
    if len(audience.recipients) > limits.max_recipients:
        raise TooManyRecipients(len(audience.recipients), limits.max_recipients)

    segments = count_segments(request.message)
    cost = segments.segments * len(audience.recipients)
    if cost > tenant.credits:
        # Cheap early answer; the conditional debit below is what actually guards the balance.
        raise InsufficientCredits(required=cost, available=tenant.credits)

    created_at = now()
    queue_id = new_id()
    messages = [
        OutgoingMessage(
            message_id=new_id(),
            tenant_id=request.tenant_id,
            queue_id=queue_id,
            recipient=e164,
            contact_id=contact_id,
            body=request.message,
            segments=segments.segments,
            encoding=segments.encoding.value,
            credits=segments.segments,
            provider=provider,
            created_at=created_at,
            status=MessageStatus.QUEUED,
        )
        for e164, contact_id in audience.recipients
    ]
    with phase("debit"):
        store.debit(
            Dispatch(
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
            )
        )
    _persist_and_enqueue(messages, queue_id, request.tenant_id, store, queue, limits, segments.segments, phase)
    return CampaignResult(queue_id=queue_id, messages=messages, audience=audience, credits_debited=cost)


def _persist_and_enqueue(
    messages: list[OutgoingMessage],
    queue_id: str,
    tenant_id: str,
    store: CampaignStore,
    queue: DeliveryQueue,
    limits: CampaignLimits,
    credits_per_message: int,
    phase: Phase,
) -> None:
    """Everything after the debit. Any failure here, expected or not, is compensated and then re-raised."""
    not_enqueued_ids = {m.message_id for m in messages}
    cause: Exception | None = None
    try:
        with phase("persist"):
            store.save_messages(messages)
        batches = [
            QueueBatch(tenant_id=tenant_id, queue_id=queue_id, message_ids=chunk)
            for chunk in _chunks([m.message_id for m in messages], limits.recipients_per_queue_message)
        ]
        with phase("enqueue"):
            failed = queue.enqueue(batches)
        not_enqueued_ids = {mid for batch in failed for mid in batch.message_ids}
    except Exception as exc:  # noqa: BLE001 - compensation, not swallowing: re-raised below
        cause = exc
    if not not_enqueued_ids:
        return
    not_enqueued = [m for m in messages if m.message_id in not_enqueued_ids]
    refund = credits_per_message * len(not_enqueued)
    # Money first: a refund that went through with a status left stale is recoverable, the reverse is not.
    store.refund(tenant_id, queue_id, refund, reason="not enqueued")
    store.mark_failed(not_enqueued, reason="not enqueued")
    raise EnqueueFailure(queue_id, enqueued=len(messages) - len(not_enqueued), refunded_credits=refund) from cause
