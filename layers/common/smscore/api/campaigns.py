"""The send-by-tags use case as the API exposes it: idempotency, observability and the response contract.

Idempotency has two layers. Powertools' record answers a retry that arrives while the first request runs (409)
or after it answered (the first response). It cannot know about a request that was killed: its in-progress
record expires with the killed invocation's remaining time, and the retry then runs again. So a request with a
key gets a queue id derived from the tenant and the key (`queue_id_for`), and a run that finds that campaign
already recorded answers from it instead of debiting again: `409 REQUEST_IN_PROGRESS` while its fan-out is open
(the reconciler finishes it after its deadline), then the first campaign's result.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from smscore.api.models import (
    CampaignPreviewDto,
    CancelResultDto,
    EnqueuedMessage,
    MessageEnqueueResultDto,
    PreviewSampleDto,
    ResendPayload,
    SmsTagsMessagePayload,
    TestSendPayload,
    reason_dto,
)
from smscore.domain.campaign import (
    CampaignLimits,
    CampaignRecorded,
    CampaignRequest,
    CampaignResult,
    DispatchState,
    FanoutBudget,
    MergeValues,
    PlannedFanout,
    ResendRaced,
    SendStore,
    plan_campaign,
    plan_schedule,
    queue_id_for,
    request_fingerprint,
    send_campaign,
)
from smscore.domain.cancel import CancelStore, cancel_campaign
from smscore.domain.compose import final_text
from smscore.domain.errors import (
    ConcurrentUpdate,
    DomainError,
    EnqueueFailure,
    FieldIssue,
    IdempotencyKeyReused,
    InvalidRequest,
    NotFound,
    QueueNotFound,
    RequestInProgress,
    TenantNotFound,
    TestSendLimit,
)
from smscore.domain.gsm import EncodingOption
from smscore.domain.links import ROUTE_PREFIX, LinkStore
from smscore.domain.masking import mask
from smscore.domain.model import Purpose, TagRecipient
from smscore.domain.opt_out_links import opt_out_base
from smscore.domain.ports import DeliveryQueue
from smscore.domain.preview_estimate import preview_audience
from smscore.domain.request_bounds import check_resend, check_tracked_links
from smscore.domain.resend import ResendSource, read_resend_members
from smscore.domain.test_send import TestSendAllowance, test_day
from smscore.domain.windows import OpeningRule

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(child=True)

# Pauses (seconds) while a replay waits for the messages index to catch up with the first response.
REPLAY_INDEX_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8)
# Recipients whose rendered text a preview shows (the compose screen's samples).
PREVIEW_SAMPLES = 3
# Plans of one resend when other resends of the campaign keep being recorded in between (each a full re-read).
RESEND_ATTEMPTS = 5


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: MetricUnit | str, value: float) -> None: ...


@dataclass(frozen=True)
class Caller:
    """Who is asking, as the authorizer established it."""

    tenant_id: str
    member_id: str


class Outcome:
    """A send's answer. A 201's message list (50,000 pairs) is kept as plain pairs and written straight to JSON
    (`json`): one model per message, validated and dumped again by the resolver, cost about a second of the
    request's CPU. `body` builds the full model on demand (tests, replays)."""

    def __init__(
        self,
        status: HTTPStatus,
        body: MessageEnqueueResultDto,
        pairs: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        self.status = status
        self._header = body
        self._pairs = pairs

    @property
    def queue_id(self) -> str:
        return self._header.queue_id

    @property
    def body(self) -> MessageEnqueueResultDto:
        if self._pairs is None:
            return self._header
        return self._header.model_copy(
            update={"messages": [EnqueuedMessage(id=mid, recipient=recipient) for mid, recipient in self._pairs]}
        )

    def json(self) -> str:
        """The body as the resolver would serialise the model (separators and ensure_ascii as its json.dumps)."""
        wire = self._header.model_dump(mode="json")
        if self._pairs is not None:
            wire["messages"] = [{"id": mid, "recipient": recipient} for mid, recipient in self._pairs]
        return json.dumps(wire, separators=(",", ":"))


def _no_phase(_name: str) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext()


@dataclass(frozen=True)
class FanoutTiming:
    """The send function's time rules (settings): see smscore.domain.campaign.FanoutBudget."""

    timeout_seconds: float = 29.0  # without a Lambda context (tests, scripts)
    reserve_seconds: float = 3.0
    reserve_per_message_seconds: float = 0.000_17
    grace_seconds: float = 30.0

    def budget(self, lambda_context: LambdaContext | None) -> FanoutBudget:
        rules = {
            "reserve_seconds": self.reserve_seconds,
            "reserve_per_message_seconds": self.reserve_per_message_seconds,
            "grace_seconds": self.grace_seconds,
        }
        if lambda_context is None:
            return FanoutBudget.from_timeout(self.timeout_seconds, **rules)
        context = lambda_context
        return FanoutBudget(remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000, **rules)


class CampaignService:
    def __init__(
        self,
        *,
        store: SendStore,
        queue: DeliveryQueue,
        limits: CampaignLimits,
        idempotency_store: Callable[[], BasePersistenceLayer] | None,
        idempotency_ttl_seconds: int,
        metrics: MetricsSink | None = None,
        phase: Callable[[str], contextlib.AbstractContextManager[Any]] = _no_phase,
        sleep: Callable[[float], None] = time.sleep,
        timing: FanoutTiming | None = None,
        resend_source: ResendSource | None = None,
        opening: OpeningRule,
        cancel_store: CancelStore | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        test_sends: TestSendAllowance | None = None,
        test_sends_per_day: int = 20,
        fanout: PlannedFanout | None = None,
        links: LinkStore | None = None,
        link_base_url: str = "",
    ) -> None:
        """`opening` (the send-window rule) has no default and `clock` is injectable: a test states both the rule
        and, where the rule depends on it, the instant, instead of inheriting the legal window at the hour it runs."""
        self._clock = clock
        self._test_sends = test_sends
        self._test_sends_per_day = test_sends_per_day
        self._fanout = fanout  # None: every campaign's messages are written by the request itself
        self._links = links  # tracked short links (None: trackLinks is refused)
        self._link_base_url = link_base_url  # LinkBaseUrl; empty: the request's own API URL (see _request)
        self._cancel_store = cancel_store
        self._opening = opening  # the send-window rule (smscore.domain.windows); sendat_only with SEND_WINDOWS=off
        self._timing = timing or FanoutTiming()
        self._resend_source = resend_source
        self._sleep = sleep
        self._store = store
        self._queue = queue
        self._limits = limits
        self._metrics = metrics
        self._phase = phase
        self._idempotency_store = idempotency_store
        self._idempotency_ttl_seconds = idempotency_ttl_seconds
        self._idempotent: tuple[IdempotencyConfig, Callable[..., dict[str, Any]]] | None = None

    def _idempotent_run(self) -> tuple[IdempotencyConfig, Callable[..., dict[str, Any]]]:
        """Powertools idempotency, set up on the first request that carries a key (most do not)."""
        if self._idempotent is None:
            from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

            assert self._idempotency_store is not None
            config = IdempotencyConfig(
                event_key_jmespath="[tenantId, idempotencyKey]",
                payload_validation_jmespath="request",
                expires_after_seconds=self._idempotency_ttl_seconds,
                raise_on_no_idempotency_key=True,
            )
            run = idempotent_function(
                self._run_recorded,
                data_keyword_argument="data",
                persistence_store=self._idempotency_store(),
                config=config,
            )
            self._idempotent = (config, run)
        return self._idempotent

    def _request(self, caller: Caller, payload: SmsTagsMessagePayload, api_url: str = "") -> CampaignRequest:
        """The send body as the domain reads it: one place, so a preview plans exactly what a send would.
        `api_url` is the API's public URL as this request reached it: the short links' base without LinkBaseUrl."""
        link_base = self._link_base(api_url) if payload.track_links else ""
        return CampaignRequest(
            tenant_id=caller.tenant_id,
            member_id=caller.member_id,
            message=payload.message,
            tag_ids=payload.unique_tag_ids(),
            country=payload.country,
            purpose=payload.purpose,
            send_at=payload.send_at,
            encoding=payload.encoding,
            template_id=str(payload.template_id) if payload.template_id else None,
            track_links=payload.track_links,
            link_base_url=link_base,
            opt_out_base=opt_out_base(self._link_base_url, api_url),
        )

    def _link_base(self, api_url: str) -> str:
        """Where this request's short links point: LinkBaseUrl, else the API's URL as the request reached it + /l."""
        link_base = self._link_base_url or (api_url.rstrip("/") + ROUTE_PREFIX if api_url else "")
        if self._links is None or not link_base:
            raise InvalidRequest(
                "Link tracking is not configured on this deployment (LinkBaseUrl)",
                details=[FieldIssue("trackLinks", "not available here")],
            )
        return link_base

    def preview(self, caller: Caller, payload: SmsTagsMessagePayload, api_url: str = "") -> CampaignPreviewDto:
        """What a send of this body would reach and debit now, from the same `plan_campaign`; writes nothing. Above
        MaxSyncRecipients distinct contacts, an estimate from the send request's bounded read
        (smscore.domain.preview_estimate): a preview never reads more of the audience than the send request does."""
        request = self._request(caller, payload, api_url)
        tenant = self._store.get_tenant(request.tenant_id)
        if tenant is None:
            raise TenantNotFound("The tenant of this token no longer exists")
        planning = self._fanout.planning if self._fanout else None
        check_tracked_links(request, self._limits, planning)  # a send it could not plan in time: the same 400
        bounded = preview_audience(request, self._limits, planning)
        plan = plan_campaign(
            request,
            tenant,
            bounded.members or (lambda: self._store.tag_recipients(request.tenant_id, request.tag_ids)),
            bounded.limits(self._limits),
            self._phase,
            price_transliterated=True,
            merge_values=lambda contact_ids: self._store.merge_values(request.tenant_id, contact_ids),
        )
        audience = plan.audience
        recipients = [e164 for e164, _contact in audience.recipients]
        schedule = plan_schedule(request, tenant, recipients, self._clock(), self._opening)
        scale = bounded.scale  # the identity up to MaxSyncRecipients
        return CampaignPreviewDto(
            recipients=scale(len(audience.recipients)),
            skipped_invalid=scale(audience.skipped_invalid),
            skipped_opted_out=scale(audience.skipped_opted_out),
            duplicates_removed=scale(audience.duplicates_removed),
            skipped_excluded=scale(audience.skipped_excluded),
            skipped_frequency=scale(audience.skipped_frequency),
            skipped_no_consent=scale(audience.skipped_no_consent),
            segments=plan.segments.segments,
            encoding=plan.segments.encoding.value,
            credits_required=scale(plan.cost),
            credits_available=tenant.credits,
            final_message=plan.final_message,
            savings_if_transliterated=scale(max(0, plan.cost - plan.transliterated_cost)),
            transliterated_message=final_text(
                plan.shortened.message if plan.shortened else request.message,
                EncodingOption.GSM_TRANSLITERATE,
                *plan.frame,
            ),
            scheduled_for=schedule.scheduled_for,
            scheduled_reason=reason_dto(schedule.reason.as_json() if schedule.reason else None),
            skipped_too_long=scale(audience.skipped_too_long),
            merge_fields_missing={name: scale(count) for name, count in plan.composed.missing.items()},
            samples=[
                PreviewSampleDto(
                    recipient=e164,
                    contact_id=contact_id,
                    text=plan.composed.texts[position],
                    segments=plan.composed.counts[position].segments,
                    encoding=plan.composed.counts[position].encoding.value,
                )
                for position, (e164, contact_id) in enumerate(audience.recipients[:PREVIEW_SAMPLES])
            ],
            estimated=True if bounded.estimated else None,
        )

    def send(
        self,
        caller: Caller,
        payload: SmsTagsMessagePayload,
        idempotency_key: str | None = None,
        lambda_context: LambdaContext | None = None,
        api_url: str = "",
    ) -> Outcome:
        request = self._request(caller, payload, api_url)
        check_tracked_links(request, self._limits, self._fanout.planning if self._fanout else None)
        return self._submit(request, payload.model_dump(mode="json"), idempotency_key, lambda_context)

    def test_send(
        self,
        caller: Caller,
        payload: TestSendPayload,
        idempotency_key: str | None = None,
        lambda_context: LambdaContext | None = None,
    ) -> Outcome:
        """The message to the given numbers now (smscore.domain.test_send): rendered with the chosen contact, paid
        like a campaign, marked test; within the member's daily allowance, given back when the send is refused."""
        assert self._test_sends is not None, "test sends need a TestSendAllowance"
        numbers = list(dict.fromkeys(payload.to))
        contact_id = str(payload.contact_id) if payload.contact_id else None
        values: Mapping[str, str] = {}
        if contact_id is not None:
            found = self._store.merge_values(caller.tenant_id, [contact_id])
            if contact_id not in found:
                raise NotFound("No contact with this id", details=[FieldIssue("contactId", "no such contact")])
            values = found[contact_id]
        recipients = [TagRecipient(contact_id=f"test#{n}", phone=number) for n, number in enumerate(numbers)]
        request = CampaignRequest(
            tenant_id=caller.tenant_id,
            member_id=caller.member_id,
            message=payload.message,
            tag_ids=[],
            country=payload.country,
            purpose=Purpose.TRANSACTIONAL,  # now: a test is the member's own phone, not marketing to a list
            encoding=payload.encoding,
            test=True,
        )
        day = test_day(self._clock())
        if not self._test_sends.take(caller.member_id, day, len(numbers), self._test_sends_per_day):
            raise TestSendLimit(
                f"At most {self._test_sends_per_day} test messages a day per member; try again tomorrow",
                limit=self._test_sends_per_day,
            )
        try:
            return self._submit(
                request,
                {"test": payload.model_dump(mode="json")},
                idempotency_key,
                lambda_context,
                members=lambda: recipients,
                merge_values=lambda contact_ids: {cid: values for cid in contact_ids},
            )
        except DomainError:
            self._test_sends.give_back(caller.member_id, day, len(numbers))
            raise

    def cancel(self, caller: Caller, queue_id: str) -> CancelResultDto:
        """Cancel what delivery has not claimed yet, refunded (smscore.domain.cancel)."""
        assert self._cancel_store is not None, "cancel needs a CancelStore"
        result = cancel_campaign(caller.tenant_id, queue_id, self._cancel_store, self._clock, caller.member_id)
        if self._metrics is not None and result.cancelled:
            self._metrics.add_metric(name="MessagesCancelled", unit=MetricUnit.Count, value=result.cancelled)
            self._metrics.add_metric(
                name="CreditsRefundedByCancel", unit=MetricUnit.Count, value=result.refunded_credits
            )
        return CancelResultDto(
            queue_id=result.queue_id, cancelled=result.cancelled, refunded_credits=result.refunded_credits
        )

    def resend(
        self,
        caller: Caller,
        queue_id: str,
        payload: ResendPayload,
        idempotency_key: str | None = None,
        lambda_context: LambdaContext | None = None,
        api_url: str = "",
    ) -> Outcome:
        """A new campaign, same text, tags and country, to the original's recipients worth another attempt
        (smscore.domain.resend), except whoever an earlier resend of it already texted (unless `force`); then exactly
        a send: priced, debited, fanned out, idempotent, reconciled. When another resend of the campaign is recorded
        between this one's plan and its debit (ResendRaced: nothing written), it is planned again."""
        assert self._resend_source is not None, "resend needs a ResendSource"
        source = self._resend_source
        # `force` only when given, so that a retry of a key used before the field existed still matches its body
        body = payload.model_dump(mode="json", exclude=None if payload.force else {"force"})
        for _attempt in range(RESEND_ATTEMPTS):
            original = source.original_campaign(caller.tenant_id, queue_id)
            if original is None:
                raise QueueNotFound("No queue with this id")
            check_resend(original.total_messages, self._limits)
            request = CampaignRequest(
                tenant_id=caller.tenant_id,
                member_id=caller.member_id,
                message=original.body,
                tag_ids=original.tag_ids,
                country=original.country,
                purpose=payload.purpose,
                send_at=payload.send_at,
                resend_of=original.queue_id,
                encoding=original.encoding,
                track_links=original.track_links,  # a tracked campaign's resend gets short links of its own
                link_base_url=self._link_base(api_url) if original.track_links else "",
                resends_seen=None if payload.force else len(original.resends),
                opt_out_base=opt_out_base(self._link_base_url, api_url),
            )
            members = functools.partial(
                read_resend_members, source, original, caller.tenant_id, skip_resent=not payload.force
            )
            try:
                return self._submit(
                    request, {"resendOf": original.queue_id, **body}, idempotency_key, lambda_context, members=members
                )
            except ResendRaced:
                logger.info("Another resend of this campaign was recorded meanwhile: planned again")
        raise ConcurrentUpdate("Other resends of this campaign kept being recorded meanwhile; retry")

    def _submit(
        self,
        request: CampaignRequest,
        body: dict[str, Any],
        idempotency_key: str | None,
        lambda_context: LambdaContext | None,
        members: Callable[[], Sequence[TagRecipient]] | None = None,
        merge_values: MergeValues | None = None,
    ) -> Outcome:
        """Run a campaign request once per Idempotency-Key (see the module docstring); `body` is what a retry with
        the same key must repeat."""
        budget = self._timing.budget(lambda_context)
        queue_id = queue_id_for(request.tenant_id, idempotency_key) if idempotency_key else None
        resend = request.resend_of is not None
        if not idempotency_key or self._idempotency_store is None:
            try:
                return self._outcome(self._run(request, budget, queue_id, members, merge_values), resend)
            except CampaignRecorded as recorded:
                summary = self._recorded_summary(recorded.dispatch, request)
                if "creditsDebited" in summary:
                    return self._accepted(
                        summary["queueId"],
                        summary["messages"],
                        summary["creditsDebited"],
                        summary.get("scheduledFor"),
                        summary.get("scheduledReason"),
                        planning=summary.get("planning"),
                    )
                return self._replayed(
                    summary["queueId"],
                    summary["messages"],
                    summary.get("scheduledFor"),
                    scheduled_reason=summary.get("scheduledReason"),
                )

        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyValidationError,
        )

        config, idempotent_run = self._idempotent_run()
        if lambda_context is not None:
            config.register_lambda_context(lambda_context)
        fresh: list[CampaignResult] = []
        data = {"tenantId": request.tenant_id, "idempotencyKey": idempotency_key, "request": body}
        try:
            summary = idempotent_run(
                data=data,
                request=request,
                fresh=fresh,
                budget=budget,
                queue_id=queue_id,
                members=members,
                merge_values=merge_values,
            )
        except IdempotencyValidationError as exc:
            raise IdempotencyKeyReused("This Idempotency-Key was already used with a different request body") from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise RequestInProgress("A request with this Idempotency-Key is still being processed") from exc
        if fresh:
            return self._outcome(fresh[0], resend)
        logger.info("Idempotent replay", extra={"queue_id": summary["queueId"]})
        if "creditsDebited" in summary:
            return self._accepted(
                summary["queueId"],
                summary["messages"],
                summary["creditsDebited"],
                summary.get("scheduledFor"),
                summary.get("scheduledReason"),
                planning=summary.get("planning"),
            )
        return self._replayed(
            summary["queueId"],
            summary.get("messages"),
            summary.get("scheduledFor"),
            summary.get("skippedAlreadyResent"),
            summary.get("scheduledReason"),
        )

    def _run_recorded(
        self,
        data: dict[str, Any],
        request: CampaignRequest,
        fresh: list[CampaignResult],
        budget: FanoutBudget,
        queue_id: str | None,
        members: Callable[[], Sequence[TagRecipient]] | None = None,
        merge_values: MergeValues | None = None,
    ) -> dict[str, Any]:
        """Runs once per idempotency key (or again once Powertools forgets a killed run); only a small summary is
        stored, since 50,000 recipients exceed an item."""
        try:
            result = self._run(request, budget, queue_id, members, merge_values)
        except CampaignRecorded as recorded:
            return self._recorded_summary(recorded.dispatch, request)
        fresh.append(result)
        resent = {"skippedAlreadyResent": result.audience.skipped_already_resent} if request.resend_of else {}
        if result.accepted:
            resent["creditsDebited"] = result.credits_debited
        if result.planning:
            resent["planning"] = True
        return {
            "queueId": result.queue_id,
            "messages": result.estimate if result.planning else len(result.messages),
            "scheduledFor": result.scheduled_for.isoformat() if result.scheduled_for else None,
            "scheduledReason": result.scheduled_reason.as_json() if result.scheduled_reason else None,
            **resent,
        }

    def _run(
        self,
        request: CampaignRequest,
        budget: FanoutBudget,
        queue_id: str | None,
        members: Callable[[], Sequence[TagRecipient]] | None = None,
        merge_values: MergeValues | None = None,
    ) -> CampaignResult:
        result = send_campaign(
            request,
            store=self._store,
            queue=self._queue,
            limits=self._limits,
            phase=self._phase,
            budget=budget,
            queue_id=queue_id,
            members=members,
            opening=self._opening,
            now=self._clock,
            merge_values=merge_values,
            fanout=self._fanout,
            links=self._links,
        )
        self._observe(result)
        return result

    def _recorded_summary(self, dispatch: DispatchState, request: CampaignRequest) -> dict[str, Any]:
        """The answer to a retry whose campaign is recorded: its result once the fan-out is closed, never a debit."""
        if dispatch.request_hash is not None and dispatch.request_hash != request_fingerprint(request):
            raise IdempotencyKeyReused("This Idempotency-Key was already used with a different request body")
        if dispatch.planning is not None:
            # Planned by the workers (smscore.domain.planning): the same 202 whatever its progress; its status says
            # how far planning got and what was debited. A retry while it is still PLANNING queues its planning task
            # again (a first request whose task was lost: the planners' lease makes a second task harmless).
            planned = dispatch.planning == "PLANNED"
            if dispatch.planning == "PLANNING" and self._fanout is not None and self._fanout.planning is not None:
                from smscore.domain.planning import PlanTask

                self._fanout.planning.tasks.submit_plan(PlanTask(dispatch.tenant_id, dispatch.queue_id))
            return {
                "queueId": dispatch.queue_id,
                "messages": dispatch.total_messages if planned else dispatch.planning_estimate,
                "creditsDebited": dispatch.credits_debited,
                "planning": True,
            }
        if not dispatch.finished:
            raise RequestInProgress(
                "The first request with this Idempotency-Key has not finished; it is completed or refunded "
                "automatically, retry later for its result"
            )
        logger.info("Retry answered from the recorded campaign", extra={"queue_id": dispatch.queue_id})
        if dispatch.fanout_refunded:
            raise EnqueueFailure(
                dispatch.queue_id,
                enqueued=dispatch.fanout_enqueued or 0,
                refunded_credits=(
                    dispatch.fanout_refunded_credits
                    if dispatch.fanout_refunded_credits is not None
                    else dispatch.fanout_refunded * dispatch.segments_per_message
                ),
            )
        accepted = (
            {"creditsDebited": dispatch.credits_debited} if self._limits.accepts_async(dispatch.total_messages) else {}
        )
        return {
            "queueId": dispatch.queue_id,
            "messages": dispatch.total_messages,
            "scheduledFor": dispatch.scheduled_for.isoformat() if dispatch.scheduled_for else None,
            "scheduledReason": dispatch.scheduled_reason,
            **accepted,
        }

    def _replayed(
        self,
        queue_id: str,
        expected: int | None,
        scheduled_for: str | None = None,
        skipped_already_resent: int | None = None,
        scheduled_reason: dict[str, Any] | None = None,
    ) -> Outcome:
        """The first response, rebuilt from the messages index. The index is eventually consistent, so a retry
        that lands right behind the first answer may see it incomplete: wait for it briefly, never answer short.
        A resend's `skippedAlreadyResent` comes from the idempotency record; a retry answered from the recorded
        campaign after a killed run has none to give."""
        if not queue_id:
            return Outcome(
                HTTPStatus.OK,
                MessageEnqueueResultDto(queue_id="", messages=[], skipped_already_resent=skipped_already_resent),
            )
        messages = self._store.queue_messages(queue_id)
        for delay in REPLAY_INDEX_WAITS:
            if expected is None or len(messages) >= expected:
                break
            self._sleep(delay)
            messages = self._store.queue_messages(queue_id)
        else:
            if expected is not None and len(messages) < expected:
                raise RequestInProgress("The first response is still being indexed; retry in a moment")
        return Outcome(
            HTTPStatus.CREATED,
            MessageEnqueueResultDto(
                queue_id=queue_id,
                messages=[EnqueuedMessage(id=mid, recipient=recipient) for mid, recipient in messages],
                scheduled_for=datetime.fromisoformat(scheduled_for) if scheduled_for else None,
                scheduled_reason=reason_dto(scheduled_reason),
                skipped_already_resent=skipped_already_resent,
            ),
        )

    @staticmethod
    def _outcome(result: CampaignResult, resend: bool = False) -> Outcome:
        reason = result.scheduled_reason.as_json() if result.scheduled_reason else None
        if result.accepted:
            return CampaignService._accepted(
                result.queue_id,
                result.estimate if result.planning else len(result.messages),
                result.credits_debited,
                result.scheduled_for.isoformat() if result.scheduled_for else None,
                reason,
                planning=result.planning,
            )
        body = MessageEnqueueResultDto(
            queue_id=result.queue_id,
            messages=[],
            scheduled_for=result.scheduled_for,
            scheduled_reason=reason_dto(reason),
            skipped_already_resent=result.audience.skipped_already_resent if resend else None,
            skipped_too_long=result.audience.skipped_too_long or None,
            skipped_no_consent=result.audience.skipped_no_consent or None,
        )
        pairs = [(m.message_id, m.recipient) for m in result.messages]
        return Outcome(HTTPStatus.CREATED if result.messages else HTTPStatus.OK, body, pairs)

    @staticmethod
    def _accepted(
        queue_id: str,
        total_messages: int,
        credits_debited: int,
        scheduled_for: str | None = None,
        scheduled_reason: dict[str, Any] | None = None,
        *,
        planning: bool | None = False,
    ) -> Outcome:
        """202: a campaign above MaxSyncRecipients, without its message list (paged by queueId instead). `planning`:
        accepted for the fan-out workers to plan (smscore.domain.planning): totalMessages is then the tags' contacts
        (an upper bound) and creditsDebited 0; the debit against the exact count follows in the queue's status."""
        body = MessageEnqueueResultDto(
            queue_id=queue_id,
            messages=[],
            total_messages=total_messages,
            credits_debited=credits_debited,
            planning=True if planning else None,
            scheduled_for=datetime.fromisoformat(scheduled_for) if scheduled_for else None,
            scheduled_reason=reason_dto(scheduled_reason),
        )
        return Outcome(HTTPStatus.ACCEPTED, body)

    def _observe(self, result: CampaignResult) -> None:
        audience = result.audience
        logger.info(
            "Campaign accepted for planning"
            if result.planning
            else "Campaign enqueued"
            if result.messages
            else "Campaign reached no valid recipient",
            extra={
                "queue_id": result.queue_id,
                "enqueued": len(result.messages),
                "skipped_invalid": audience.skipped_invalid,
                "skipped_opted_out": audience.skipped_opted_out,
                "duplicates_removed": audience.duplicates_removed,
                "skipped_already_resent": audience.skipped_already_resent,
                "skipped_excluded": audience.skipped_excluded,
                "skipped_no_consent": audience.skipped_no_consent,
                "skipped_too_long": audience.skipped_too_long,
                "credits_debited": result.credits_debited,
                "invalid_samples": [mask(n) for n in audience.invalid_samples],
            },
        )
        if self._metrics is None:
            return
        for name, value in (
            ("CampaignsCreated", 1),
            ("MessagesEnqueued", len(result.messages)),
            ("RecipientsSkippedInvalid", audience.skipped_invalid),
            ("RecipientsSkippedOptedOut", audience.skipped_opted_out),
            ("DuplicatesRemoved", audience.duplicates_removed),
            ("RecipientsSkippedExcluded", audience.skipped_excluded),
            ("RecipientsSkippedFrequency", audience.skipped_frequency),
            ("RecipientsSkippedNoConsent", audience.skipped_no_consent),
            ("CreditsDebited", result.credits_debited),
        ):
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
