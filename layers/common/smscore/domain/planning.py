"""Campaigns above MaxSyncRecipients, planned by the fan-out workers: the request never reads their audience.

A tag send whose tags hold more than MaxSyncRecipients distinct contacts would cost its request the read and the
screening of every member (a 1,000,000-member audience: about 86 s on AWS against API Gateway's 29 s). So the
request only checks what it can check without the audience (the body, the text against a sample of members, the
Idempotency-Key), records the campaign as PLANNING (nothing debited) and answers 202; one planning task goes to the
fan-out queue. A planner (a fan-out worker, `Planner.run`) then:

1. claims the campaign's planning lease (conditional on PLANNING, the lease free, and the campaign's deadline later
   than the lease: a worker that holds it is dead before anyone else may take it, and before the reconciler may);
2. pages through the tags' members from the recorded cursor (tag by tag, by contact id), screens and composes each
   page exactly as the request path does (`plan_campaign`: opt-outs, consent, the RNE list, the frequency cap,
   merge fields, the provider's limit), drops what an earlier page already planned (the same contact in another
   tag, or the same number), writes the page's plan chunks under deterministic numbers, then checkpoints cursor,
   counts and credits in one write conditional on its lease. A page whose checkpoint did not happen is planned
   again by whoever takes over (same chunk numbers, overwritten), so each page counts once;
3. once the cursor is exhausted, debits the exact credits in one transaction (balance >= cost, DEBIT ledger entry,
   PLANNING -> PENDING with the totals, conditional on its lease); without enough credits the campaign ends FAILED
   with INSUFFICIENT_CREDITS and nothing is charged or sent;
4. hands the chunks to the fan-out workers (smscore.domain.fanout), as a planned request does.

A planner running out of time (a page started only while the reserve and twice its slowest page are left, within a
60 s slice of its invocation) checkpoints, releases its lease and queues a continuation. One that dies anywhere
leaves its task to the queue's next delivery (after the lease), which resumes from the checkpoint, rebuilding what
was planned from the chunks; past the deadline the reconciler ends a campaign still PLANNING as FAILED
(PLANNING_NOT_FINISHED: nothing was charged) and settles a PENDING one as any planned campaign.

Within a campaign the first contact read wins a shared number (tags in request order, contacts by id): stable
across retries. A resumed planner cannot tell a skipped contact of an earlier page from a new one, so the skip
counts (never the messages or the credits) may count such a contact twice.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from smscore.domain.campaign import (
    Audience,
    CampaignLimits,
    CampaignRequest,
    CampaignResult,
    compose_messages,
    plan_campaign,
    plan_schedule,
)
from smscore.domain.compose import ComposedTexts
from smscore.domain.errors import DomainError, InsufficientCredits, TenantNotFound
from smscore.domain.fanout import ChunkTask, ChunkTasks
from smscore.domain.model import MessageStatus, OutgoingMessage, TagRecipient, Tenant
from smscore.domain.plan import ChunkCounts, PlanChunk, planned_ids, split_plan
from smscore.domain.windows import OpeningRule

log = logging.getLogger(__name__)

PLANNING_PAGE_MEMBERS = 5_000  # tag members read, screened and planned per checkpoint
PLANNING_SAMPLE_MEMBERS = 200  # members the request plans to check the text (merge fields, sender name, RNE)
# A planner starts a page only while more than this reserve plus twice its slowest page so far is left, and while
# its invocation has run less than PLANNING_SLICE_SECONDS: its duration stays well under the FanoutFunction's
# latency alarm (80% of its 120 s Timeout), which rolls deploys back; a continuation goes on from the checkpoint.
PLANNING_RESERVE_SECONDS = 10.0
PLANNING_SLICE_SECONDS = 60.0


class PlanningStatus(StrEnum):
    PLANNING = "PLANNING"  # recorded; the workers are reading and planning the audience (nothing debited)
    PLANNED = "PLANNED"  # debited against the exact count; fanned out like a planned campaign
    FAILED = "FAILED"  # ended without a debit: nothing charged, nothing sent (see `error`)


@dataclass(frozen=True)
class PlanCursor:
    """Where the next page starts: the `tag`-th tag of the request, after contact id `after`; `done` past the last."""

    tag: int = 0
    after: str | None = None
    done: bool = False

    def as_json(self) -> str:
        return json.dumps({"t": self.tag, "a": self.after, "d": self.done}, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | None) -> PlanCursor:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(int(data["t"]), data.get("a"), bool(data.get("d")))


@dataclass(frozen=True)
class MemberPage:
    members: list[TagRecipient]
    cursor: PlanCursor  # where the page after this one starts


SKIP_FIELDS = (
    "duplicates_removed",
    "skipped_invalid",
    "skipped_opted_out",
    "skipped_excluded",
    "skipped_frequency",
    "skipped_no_consent",
    "skipped_too_long",
)


@dataclass(frozen=True)
class PlanningState:
    """A campaign being planned by the workers, as its last checkpoint left it."""

    queue_id: str
    tenant_id: str
    request: CampaignRequest
    created_at: datetime
    prefix: str  # the plan's chunk prefix (smscore.domain.plan), fixed when the campaign was recorded
    deadline: datetime  # the planning's: after it the reconciler ends the campaign
    messages_deadline: datetime  # no planned SCHEDULED message is due before it (the latest fan-out deadline)
    status: PlanningStatus = PlanningStatus.PLANNING
    cursor: PlanCursor = PlanCursor()
    chunks: int = 0
    messages: int = 0
    credits: int = 0
    scheduled: int = 0  # of `messages`, SCHEDULED
    segments: int = 0  # the most segments of any message
    contacts_read: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)
    scheduled_for: datetime | None = None  # while every planned message waits: the earliest (else None)
    scheduled_reason: dict[str, Any] | None = None
    estimate: int = 0  # the tags' contacts when it was accepted (an upper bound of the messages)


class PlanningStore(Protocol):
    """The planning's data: the dispatch's planning attributes, the members, the chunks, the debit."""

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def merge_values(self, tenant_id: str, contact_ids: Sequence[str]) -> dict[str, dict[str, str]]: ...

    def claim(self, queue_id: str, owner: str, now: datetime, lease_until: datetime) -> PlanningState | None:
        """The campaign's planning lease (PLANNING, lease free, deadline after `lease_until`), or, for a campaign
        already PLANNED whose fan-out is still open, its state without a lease (its chunks may be handed over again);
        None otherwise."""
        ...

    def member_page(self, tenant_id: str, tag_ids: Sequence[str], cursor: PlanCursor, limit: int) -> MemberPage:
        """Up to about `limit` memberships from `cursor` on (one tag at a time, by contact id)."""
        ...

    def write_chunks(self, chunks: Sequence[PlanChunk]) -> None: ...

    def planned_recipients(self, prefix: str, count: int) -> list[tuple[str, str]]:
        """(number, contact id) of every message in the first `count` chunks: a resumed planner's memory of what
        was planned (only these two fields are decoded)."""
        ...

    def checkpoint(self, state: PlanningState, owner: str) -> bool:
        """Cursor, counts and chunks of `state`, conditional on `owner` holding the lease; False when it does not."""
        ...

    def debit(self, state: PlanningState, owner: str, fanout_deadline: datetime) -> bool:
        """One transaction: balance >= state.credits, minus it, a DEBIT ledger entry, PLANNING -> PENDING (PLANNED)
        with the totals and the plan, conditional on `owner`'s lease. InsufficientCredits when the balance is short
        (nothing written); False when the lease was lost."""
        ...

    def finish_empty(self, state: PlanningState, owner: str) -> bool:
        """Nobody qualified: closed COMPLETE with no message and no debit (conditional on the lease)."""
        ...

    def fail(self, queue_id: str, owner: str | None, code: str, message: str, now: datetime) -> bool:
        """PLANNING -> FAILED with the error, out of the reconciler's index; with `owner`, conditional on its lease,
        without (the reconciler), on the deadline being past. Nothing was debited."""
        ...

    def release(self, queue_id: str, owner: str) -> None:
        """Give the lease up (a continuation task takes over at once)."""
        ...


class PlanTasks(Protocol):
    """The fan-out queue, for planning tasks."""

    def submit_plan(self, task: PlanTask) -> bool:
        """Queue the task; False when the queue would not take it."""
        ...


@dataclass(frozen=True)
class PlanTask:
    """What one planning message of the fan-out queue asks: plan (or go on planning) this campaign."""

    tenant_id: str
    queue_id: str


class PlanOutcome(StrEnum):
    PLANNED = "PLANNED"  # debited and handed to the fan-out workers
    CONTINUED = "CONTINUED"  # out of time: checkpointed, a continuation task queued
    FAILED = "FAILED"  # ended without a debit
    SKIPPED = "SKIPPED"  # not claimable (another planner holds it, or it is settled)


class PlanTasksLost(Exception):
    """A task could not be queued: the record is retried (its claim resumes or hands over again)."""


@dataclass(frozen=True)
class Planner:
    store: PlanningStore
    plan_tasks: PlanTasks
    chunk_tasks: ChunkTasks
    limits: CampaignLimits
    opening: OpeningRule
    lease_seconds: float
    window_seconds: float  # the fan-out's time after the debit (FanoutWindowSeconds)
    page_members: int = PLANNING_PAGE_MEMBERS
    slice_seconds: float = PLANNING_SLICE_SECONDS
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_owner: Callable[[], str] = lambda: str(uuid.uuid4())

    def run(self, task: PlanTask, remaining_seconds: Callable[[], float]) -> PlanOutcome:
        owner, now = self.new_owner(), self.now()
        state = self.store.claim(task.queue_id, owner, now, now + timedelta(seconds=self.lease_seconds))
        if state is None:
            return PlanOutcome.SKIPPED
        if state.status is PlanningStatus.PLANNED:
            self._hand_over(state)  # a planner that died after its debit: hand the chunks over again (harmless)
            return PlanOutcome.PLANNED
        tenant = self.store.get_tenant(state.tenant_id)
        if tenant is None:
            self._fail(state, owner, TenantNotFound("The tenant of this campaign no longer exists"))
            return PlanOutcome.FAILED
        seen_contacts: set[str] = set()
        seen_numbers: set[str] = set()
        for number, contact_id in self.store.planned_recipients(state.prefix, state.chunks):
            seen_contacts.add(contact_id)
            seen_numbers.add(number)
        slowest, began = 0.0, time.monotonic()
        while not state.cursor.done:
            # at least one page per invocation (a slice never stops a planner before it made progress)
            sliced = slowest > 0 and time.monotonic() - began + slowest > self.slice_seconds
            if sliced or remaining_seconds() < PLANNING_RESERVE_SECONDS + 2 * slowest:
                self.store.release(state.queue_id, owner)
                if not self.plan_tasks.submit_plan(task):
                    raise PlanTasksLost(f"continuation of {task.queue_id} not queued")
                return PlanOutcome.CONTINUED
            started = time.monotonic()
            try:
                state = self._plan_page(state, tenant, seen_contacts, seen_numbers)
            except DomainError as refused:
                self._fail(state, owner, refused)
                return PlanOutcome.FAILED
            if not self.store.checkpoint(state, owner):
                log.warning("Planning lease lost", extra={"queue_id": state.queue_id})
                return PlanOutcome.SKIPPED
            slowest = max(slowest, time.monotonic() - started, 1e-9)
        return self._finish(state, owner)

    def _plan_page(
        self, state: PlanningState, tenant: Tenant, seen_contacts: set[str], seen_numbers: set[str]
    ) -> PlanningState:
        """Read, screen, compose and write one page; the state after it (not yet checkpointed)."""
        request = state.request
        page = self.store.member_page(state.tenant_id, request.tag_ids, state.cursor, self.page_members)
        fresh = [m for m in page.members if m.contact_id not in seen_contacts]
        seen_contacts.update(m.contact_id for m in page.members)
        plan = plan_campaign(
            request,
            tenant,
            lambda: fresh,
            replace(self.limits, max_recipients=10**9),  # the campaign's total is checked once planned
            merge_values=lambda contact_ids: self.store.merge_values(state.tenant_id, contact_ids),
        )
        plan.refuse_missing_required()
        audience, composed = _without_numbers(plan.audience, plan.composed, seen_numbers)
        skipped = dict(state.skipped)
        for name in SKIP_FIELDS:
            skipped[name] = skipped.get(name, 0) + int(getattr(audience, name))
        skipped["duplicates_removed"] += len(page.members) - len(fresh)
        seen_numbers.update(e164 for e164, _contact in audience.recipients)
        messages: list[OutgoingMessage] = []
        scheduled_for, reason = state.scheduled_for, state.scheduled_reason
        if audience.recipients:
            schedule = plan_schedule(
                request, tenant, [e164 for e164, _ in audience.recipients], state.created_at, self.opening
            )
            first = state.chunks

            def ids(bodies: Sequence[str]) -> Sequence[str]:
                return planned_ids(state.prefix, bodies, first_chunk=first)

            messages = compose_messages(
                request,
                state.queue_id,
                audience,
                composed,
                plan.provider,
                schedule,
                state.created_at,
                state.messages_deadline,
                ids,
            )
            all_waited = state.messages == state.scheduled
            if schedule.scheduled_for is None or not all_waited:
                scheduled_for, reason = None, None
            elif scheduled_for is None or schedule.scheduled_for < scheduled_for:
                scheduled_for = schedule.scheduled_for
                reason = schedule.reason.as_json() if schedule.reason else None
        counts = (
            ChunkCounts(plan.counters.day, dict(plan.counters.counts))
            if plan.counters is not None and messages
            else None
        )
        chunks = split_plan(state.prefix, state.queue_id, state.tenant_id, messages, counts, first_chunk=state.chunks)
        if chunks:
            self.store.write_chunks(chunks)
        return replace(
            state,
            cursor=page.cursor,
            chunks=state.chunks + len(chunks),
            messages=state.messages + len(messages),
            credits=state.credits + sum(m.credits for m in messages),
            scheduled=state.scheduled + sum(1 for m in messages if m.status is MessageStatus.SCHEDULED),
            segments=max([state.segments, *(m.segments for m in messages)]),
            contacts_read=state.contacts_read + len(page.members),
            skipped=skipped,
            scheduled_for=scheduled_for,
            scheduled_reason=reason,
        )

    def _finish(self, state: PlanningState, owner: str) -> PlanOutcome:
        if state.messages == 0:
            self.store.finish_empty(state, owner)
            return PlanOutcome.PLANNED
        if state.messages > self.limits.max_recipients:
            from smscore.domain.errors import TooManyRecipients

            self._fail(state, owner, TooManyRecipients(state.messages, self.limits.max_recipients))
            return PlanOutcome.FAILED
        try:
            debited = self.store.debit(state, owner, self.now() + timedelta(seconds=self.window_seconds))
        except InsufficientCredits as short:
            self._fail(state, owner, short)
            return PlanOutcome.FAILED
        if not debited:
            return PlanOutcome.SKIPPED
        self._hand_over(replace(state, status=PlanningStatus.PLANNED))
        return PlanOutcome.PLANNED

    def _hand_over(self, state: PlanningState) -> None:
        tasks = [ChunkTask(state.tenant_id, state.queue_id, state.prefix, n) for n in range(state.chunks)]
        failed = self.chunk_tasks.submit(tasks) if tasks else []
        if failed:
            raise PlanTasksLost(f"{len(failed)} chunks of {state.queue_id} not handed to the fan-out queue")

    def _fail(self, state: PlanningState, owner: str, refused: DomainError) -> None:
        log.warning("Planning refused", extra={"queue_id": state.queue_id, "code": refused.code})
        self.store.fail(state.queue_id, owner, refused.code, refused.message, self.now())


def _without_numbers(audience: Audience, composed: ComposedTexts, seen: set[str]) -> tuple[Audience, ComposedTexts]:
    """The page's recipients whose number an earlier page already planned, left out (counted as duplicates)."""
    keep = [i for i, (e164, _contact) in enumerate(audience.recipients) if e164 not in seen]
    if len(keep) == len(audience.recipients):
        return audience, composed
    kept_audience = replace(
        audience,
        recipients=[audience.recipients[i] for i in keep],
        duplicates_removed=audience.duplicates_removed + len(audience.recipients) - len(keep),
    )
    kept_composed = replace(
        composed, texts=[composed.texts[i] for i in keep], counts=[composed.counts[i] for i in keep]
    )
    return kept_audience, kept_composed


# -- the request's side ---------------------------------------------------------------------------------------


class PlanningIntake(Protocol):
    """What the send request needs to hand a campaign to the planners."""

    def tag_contacts(self, tenant_id: str, tag_ids: Sequence[str]) -> int:
        """The tags' contact counts, added up (an upper bound of the distinct contacts)."""
        ...

    def members_upto(self, tenant_id: str, tag_ids: Sequence[str], limit: int) -> MembersRead:
        """Every membership of the tags when they hold at most `limit` distinct contacts; else the ones read until
        there were more (the read stops there: incomplete)."""
        ...

    def members_below(self, tenant_id: str, tag_ids: Sequence[str], below: str, limit: int) -> MembersRead:
        """Every membership of the tags whose contact id sorts before `below`: the same share of every tag (contact
        ids are uniform hashes), for the preview's estimate; incomplete when it stopped at `limit` memberships."""
        ...

    def record(self, state: PlanningState, request_hash: str | None) -> bool:
        """The campaign as PLANNING (nothing debited), in the reconciler's index until `state.deadline`; False when
        a campaign with this queue id is already recorded (a retry)."""
        ...


@dataclass(frozen=True)
class WorkerPlanning:
    """The request's hand-over to the planners (PlannedFanout.planning)."""

    intake: PlanningIntake
    tasks: PlanTasks


def accept_for_planning(
    request: CampaignRequest,
    tenant: Tenant,
    *,
    limits: CampaignLimits,
    planning: WorkerPlanning,
    window_seconds: float,
    queue_id: str | None,
    request_hash: str | None,
    deadline: Callable[[datetime], datetime],
    now: Callable[[], datetime],
    phase: Callable[[str], Any],
    merge_values: Callable[[Sequence[str]], Mapping[str, Mapping[str, str]]],
    recorded: Callable[[str], None],
) -> CampaignResult | list[TagRecipient] | None:
    """The send request's side of a large tag send, before it reads the audience.

    None: the tags hold at most MaxSyncRecipients contacts (their counts), the request goes on as always. A list:
    they hold more memberships than that but at most MaxSyncRecipients distinct contacts (tags that overlap): every
    membership, read once, for the request to plan as always. Otherwise the campaign is the planners': without an
    Idempotency-Key 400 IDEMPOTENCY_KEY_REQUIRED; the text is checked against a sample of members (unknown merge
    fields, a text over the limit, the sender's name and the RNE list of marketing to CO: the same refusals as
    always); then it is recorded PLANNING, its planning task queued, and the result is a 202 without a debit.
    `recorded(queue_id)` raises CampaignRecorded for a retry whose first run recorded it first."""
    from smscore.domain.errors import EnqueueFailure, IdempotencyKeyRequired
    from smscore.domain.plan import new_plan_prefix

    assert limits.max_sync_recipients is not None
    limit = limits.max_sync_recipients
    with phase("planning_check"):
        estimate = planning.intake.tag_contacts(request.tenant_id, request.tag_ids)
        if estimate <= limit:
            return None
        read = planning.intake.members_upto(request.tenant_id, request.tag_ids, limit)
    if read.complete:
        return read.members
    if queue_id is None:
        raise IdempotencyKeyRequired(estimate, limit)
    with phase("planning_sample"):
        sample = plan_campaign(
            request, tenant, lambda: read.members[:PLANNING_SAMPLE_MEMBERS], limits, merge_values=merge_values
        )
    sample.refuse_missing_required(counted=False)
    created_at = now()
    planning_deadline = deadline(created_at) + timedelta(seconds=window_seconds)
    state = PlanningState(
        queue_id=queue_id,
        tenant_id=request.tenant_id,
        request=replace(request, country=request.country or tenant.default_country),
        created_at=created_at,
        prefix=new_plan_prefix(),
        deadline=planning_deadline,
        # the debit opens the fan-out for `window_seconds`, before the planning's deadline
        messages_deadline=planning_deadline + timedelta(seconds=window_seconds),
        estimate=estimate,
    )
    with phase("planning_record"):
        if not planning.intake.record(state, request_hash):
            recorded(queue_id)
            raise AssertionError("a campaign recorded under this queue id vanished")  # recorded() raises
        if not planning.tasks.submit_plan(PlanTask(request.tenant_id, queue_id)):
            # Nothing was debited: the reconciler ends the campaign FAILED after its deadline.
            raise EnqueueFailure(queue_id, enqueued=0, refunded_credits=0)
    return CampaignResult(
        queue_id=queue_id,
        messages=[],
        audience=Audience(),
        credits_debited=0,
        accepted=True,
        planning=True,
        estimate=estimate,
    )


@dataclass(frozen=True)
class MembersRead:
    """The bounded read of a request: `complete` when the tags hold at most the limit of distinct contacts."""

    complete: bool
    members: list[TagRecipient]
