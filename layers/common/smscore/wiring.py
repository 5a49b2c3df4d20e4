"""Composition root: what each function depends on, and the real adapters built from the settings.

Each function has one frozen dependencies object (`SendDeps`, `DeliverDeps`, `AuthorizerDeps`,
`MessagesDeps`, `WebhookDeps`, `ReceiptsDeps`, `InboundDeps`, `ContactsDeps`, `ReconcilerDeps`, `IntegrationsDeps`)
and one factory that builds it with the real adapters. Handlers take `deps` as an optional argument defaulting to
that factory's result, so tests pass fakes instead of patching modules.

Everything built here is memoised in one module-level registry for the life of the execution
environment (a Lambda warm start reuses clients and connection pools); `reset()` forgets all of it and
the parsed settings, so a new adapter needs no entry in any reset list. Nothing is built at import time,
and each factory imports only what its own function needs: send_by_tags' campaign store, idempotency
layer and SQS client stay out of the other functions' cold starts.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import DynamoDBPersistenceLayer

    from smscore.api.access import SpendingAccess
    from smscore.api.api_keys import KeysApi
    from smscore.api.authorization import IdentityStore
    from smscore.api.campaigns import CampaignService
    from smscore.api.contacts import ContactsApi, ContactsStorePort
    from smscore.api.data_subject import DataSubjectApi
    from smscore.api.messages import ContactNames
    from smscore.api.reports import UsageReports
    from smscore.api.settings import SettingsApi as TenantSettingsApi
    from smscore.api.templates import TemplatesApi
    from smscore.api.terms import TermsApi
    from smscore.api.webhooks import WebhooksApi
    from smscore.dal.campaign_store import DynamoCampaignStore
    from smscore.dal.completion_store import DynamoCompletionStore
    from smscore.dal.exclusion_store import DynamoExclusionList
    from smscore.dal.frequency_store import DynamoFrequencyCounters
    from smscore.dal.link_store import DynamoLinkStore
    from smscore.dal.report_store import DynamoFailureTally
    from smscore.dal.sqs_queue import SqsDeliveryQueue
    from smscore.dal.suppression_store import DynamoSuppressionList
    from smscore.dal.webhook_queue import CachedSubscriptions, SqsWebhookQueue
    from smscore.dal.webhook_store import DynamoWebhookStore
    from smscore.domain.campaign import CampaignLimits, PlannedFanout, SendStore
    from smscore.domain.consent import ConsentReader
    from smscore.domain.consent_events import SuppressionEvents
    from smscore.domain.delivery import Deliverer
    from smscore.domain.events import CampaignTouched, EventSink
    from smscore.domain.exports import Exports
    from smscore.domain.fanout import FanoutWorker
    from smscore.domain.keyword_consent import KeywordConsent
    from smscore.domain.keywords import Keywords
    from smscore.domain.links import LinkStore
    from smscore.domain.model import MarketingFrequency, QuietHours
    from smscore.domain.opt_out_links import OptOutByLink, OptOutCodes, TwoWayRoutes
    from smscore.domain.planning import Planner
    from smscore.domain.ports import (
        MessageQueries,
        MessageStore,
        ParkedReceipts,
        ProviderLookup,
        ReceiptBuffer,
        ReceiptStore,
        SuppressionList,
    )
    from smscore.domain.reconciler import Reconciler
    from smscore.domain.reports import FailureTally
    from smscore.domain.scheduler import Scheduler
    from smscore.domain.sweeper import Sweeper
    from smscore.domain.webhook_delivery import WebhookDeliverer
    from smscore.domain.webhooks import Endpoint
    from smscore.domain.windows import OpeningRule
    from smscore.identity_settings import IdentitySettings
    from smscore.providers.aws_sms import TwoWayReplier
    from smscore.providers.twilio import TwilioCredentials
    from smscore.settings import Settings

_registry: dict[str, object] = {}
_lock = threading.RLock()


def memoised[T](factory: Callable[[], T]) -> Callable[[], T]:
    """Build once per process (per Lambda execution environment) in the shared registry; `reset()` forgets it."""
    key = f"{factory.__module__}.{factory.__qualname__}"

    @functools.wraps(factory)
    def get() -> T:
        if key in _registry:
            return cast(T, _registry[key])
        with _lock:  # factories may call each other: re-entrant
            if key not in _registry:
                _registry[key] = factory()
            return cast(T, _registry[key])

    return get


def reset() -> None:
    """Forget every adapter and the settings: the next call rebuilds them from the current environment."""
    from smscore.settings import get_settings

    with _lock:
        _registry.clear()
    get_settings.cache_clear()


@memoised
def bound_settings() -> Settings:
    """Settings, with every PynamoDB model pointed at its table."""
    from smscore.dal.tables import bind_tables
    from smscore.settings import get_settings

    settings = get_settings()
    # One DynamoDB connection per concurrent thread: DELIVERY_WORKERS sends (deliver), WRITE_WORKERS writes (send).
    pool = max(10, settings.delivery_workers, settings.write_workers)
    bind_tables(settings, settings.aws_region, max_pool_connections=pool)
    return settings


# -- send_by_tags ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SendDeps:
    """POST /api/messages/sms/tags (and its preview, and a campaign's resend and cancel): the campaign use case."""

    campaigns: CampaignService
    max_body_bytes: int


@memoised
def fresh_access() -> SpendingAccess:
    """The fresh access check every write of every API function passes first (smscore.api.access)."""
    from smscore.api.access import SpendingAccess
    from smscore.dal.identity_store import DynamoIdentityStore

    bound_settings()
    return SpendingAccess(DynamoIdentityStore())


@memoised
def campaign_store() -> DynamoCampaignStore:
    from smscore.dal.campaign_store import DynamoCampaignStore

    settings = bound_settings()
    return DynamoCampaignStore(
        region=settings.aws_region,
        write_workers=settings.write_workers,
        retention_days=settings.message_retention_days,
    )


@memoised
def delivery_queue() -> SqsDeliveryQueue:
    import boto3

    from smscore.dal.sqs_queue import SqsDeliveryQueue

    settings = bound_settings()
    return SqsDeliveryQueue(boto3.client("sqs", region_name=settings.aws_region), settings.delivery_queue_url)


@memoised
def idempotency_store() -> DynamoDBPersistenceLayer:
    import boto3
    from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import DynamoDBPersistenceLayer

    settings = bound_settings()
    return DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table,
        boto3_client=boto3.client("dynamodb", region_name=settings.aws_region),
    )


def campaign_limits(settings: Settings) -> CampaignLimits:
    from smscore.domain.campaign import CampaignLimits
    from smscore.domain.compliance import CompliancePolicy
    from smscore.providers.limits import CHARACTER_LIMITS
    from smscore.providers.senders import sender_key

    return CampaignLimits(
        max_recipients=settings.max_recipients,
        max_sync_recipients=settings.max_sync_recipients,
        recipients_per_queue_message=settings.recipients_per_queue_message,
        default_provider=settings.default_provider,
        character_limits=CHARACTER_LIMITS,
        sender_keys={provider: sender_key(provider, settings) for provider in CHARACTER_LIMITS},
        suppressions=suppression_list(),
        compliance=CompliancePolicy(
            exclusion_list(),
            max_age_days=settings.exclusion_list_max_age_days,
            frequency=frequency_counters(),
            default_frequency=default_frequency(settings),
            two_way=two_way_routes(settings),
        ),
    )


def two_way_routes(settings: Settings) -> TwoWayRoutes:
    """Per provider, where a reply reaches us (TwoWaySmsCountries): elsewhere marketing to CO carries the link."""
    from smscore.domain.opt_out_links import TwoWayRoutes

    return TwoWayRoutes.parse(settings.two_way_sms_countries)


@dataclass(frozen=True, eq=False)
class OptOutLinkDeps:
    """The opt-out link page (functions/optout): the use case and the sender name the page shows."""

    links: OptOutByLink
    sender_name_of: Callable[[str], str | None]


@memoised
def opt_out_link_deps() -> OptOutLinkDeps:
    from smscore.dal.contact_store import DynamoContactStore
    from smscore.dal.opt_out_link_store import DynamoLinkContacts, linked_message, sender_name_of
    from smscore.domain.events import EmittingContactStore
    from smscore.domain.opt_out_links import OptOutByLink
    from smscore.providers.senders import sender_key

    settings = bound_settings()
    return OptOutLinkDeps(
        links=OptOutByLink(
            codes=opt_out_codes(),
            message_of=linked_message,
            sender_of=lambda provider: sender_key(provider, settings),
            suppressions=suppression_list(),
            # contact.opted_out for each contact the link moved (smscore.domain.consent_events): the tenant's own
            # through their opt-out flag, other tenants' on that sender through the sender's suppression
            contacts=DynamoLinkContacts(
                cast(
                    "DynamoContactStore",
                    EmittingContactStore(
                        DynamoContactStore(region=settings.aws_region),
                        event_sink(),
                        suppressed=sender_suppressed(settings),
                    ),
                )
            ),
            events=suppression_events(settings),
        ),
        sender_name_of=sender_name_of,
    )


@memoised
def opt_out_codes() -> OptOutCodes:
    """The opt-out link codes under the platform secret (read, or created, once per execution environment)."""
    from smscore.dal.link_secret import opt_out_link_key
    from smscore.domain.opt_out_links import OptOutCodes

    bound_settings()
    return OptOutCodes(opt_out_link_key())


def tenant_sender_of(settings: Settings) -> Callable[[str], str]:
    """Tenant id -> the sender key its campaigns go out through (its provider, else the default): one GetItem."""
    from smscore.dal.tenant_senders import tenant_provider
    from smscore.providers.senders import sender_key

    return lambda tenant_id: sender_key(tenant_provider(tenant_id) or settings.default_provider, settings)


def sender_suppressed(settings: Settings) -> Callable[[str, str], bool] | None:
    """(tenant id, number) -> opted out of the tenant's sender (a STOP, the link): read before a contact's own
    opt-out changes, so that contact events count both (smscore.domain.consent_events). None without webhooks."""
    if not settings.webhook_queue_url:
        return None
    sender_of = tenant_sender_of(settings)
    suppressions = suppression_list()
    return lambda tenant_id, number: suppressions.is_suppressed(number, sender_of(tenant_id))


def suppression_events(settings: Settings) -> SuppressionEvents | None:
    """contact.opted_out / opted_in for the contacts a (number, sender) change of state moved (keyword replies,
    the link page); None without webhooks (nothing is read for them then)."""
    if not settings.webhook_queue_url:
        return None
    from smscore.dal.contact_store import DynamoContactStore
    from smscore.domain.consent_events import SuppressionEvents

    store = DynamoContactStore(region=settings.aws_region)

    def own_opt_out(tenant_id: str, contact_id: str) -> bool | None:
        contact = store.get_contact(tenant_id, contact_id)
        return None if contact is None else bool(contact.opted_out)

    return SuppressionEvents(
        store.contacts_with_number, tenant_sender_of(settings), own_opt_out, event_sink(), subscriptions()
    )


def consent_reader(settings: Settings) -> ConsentReader:
    """A contact's shown consent: its own flag and the keyword opt-outs of the sender its tenant sends through,
    chosen as the send path chooses it (CampaignLimits.tenant_sender)."""
    from smscore.dal.tenant_senders import tenant_provider
    from smscore.domain.consent import ConsentReader

    limits = campaign_limits(settings)
    return ConsentReader(suppression_list(), lambda tenant_id: [limits.tenant_sender(tenant_provider(tenant_id))])


@memoised
def suppression_list() -> DynamoSuppressionList:
    """The opt-outs per (number, sender): read by the send path, delivery and the keyword handlers."""
    from smscore.dal.suppression_store import DynamoSuppressionList

    bound_settings()
    return DynamoSuppressionList()


@memoised
def send_deps() -> SendDeps:
    from aws_lambda_powertools import Metrics, Tracer

    from smscore.api.campaigns import CampaignService, FanoutTiming
    from smscore.dal.credits_low_store import DynamoCreditsLow
    from smscore.dal.resend_source import DynamoResendSource
    from smscore.dal.test_send_allowance import DynamoTestSendAllowance
    from smscore.domain.credits_low import CreditsLowWatch

    settings = bound_settings()
    tracer = Tracer()  # Powertools shares one tracer and one metric set per process across instances
    return SendDeps(
        campaigns=CampaignService(
            # credits.low after the debit that takes the balance under the tenant's threshold
            store=cast("SendStore", CreditsLowWatch(campaign_store(), DynamoCreditsLow(), event_sink())),
            queue=delivery_queue(),
            limits=campaign_limits(settings),
            idempotency_store=idempotency_store,
            idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
            metrics=Metrics(),
            phase=lambda name: tracer.provider.in_subsegment(f"## {name}"),
            timing=FanoutTiming(
                timeout_seconds=settings.send_timeout_seconds,
                reserve_seconds=settings.send_reserve_ms / 1000,
                reserve_per_message_seconds=settings.send_reserve_per_message_ms / 1000,
                grace_seconds=settings.fanout_grace_seconds,
            ),
            resend_source=DynamoResendSource(workers=settings.write_workers),
            opening=opening_rule(settings),
            cancel_store=campaign_store(),
            test_sends=DynamoTestSendAllowance(),
            test_sends_per_day=settings.test_sends_per_member_per_day,
            fanout=planned_fanout(settings),
            links=link_store(),
            link_base_url=settings.link_base_url,
        ),
        max_body_bytes=settings.max_body_bytes,
    )


@memoised
def link_store() -> DynamoLinkStore:
    """Tracked short links (smscore.domain.links): written by the send, read by the redirect."""
    from smscore.dal.link_store import DynamoLinkStore

    settings = bound_settings()
    return DynamoLinkStore(retention_days=settings.message_retention_days)


@dataclass(frozen=True, eq=False)
class LinksDeps:
    """GET/HEAD /l/{code}: the short links and where message.clicked goes."""

    links: LinkStore
    events: EventSink


@memoised
def links_deps() -> LinksDeps:
    return LinksDeps(links=link_store(), events=event_sink())


def planned_fanout(settings: Settings) -> PlannedFanout | None:
    """How large campaigns are handed to the fan-out workers (None without a fan-out queue: all inline)."""
    if settings.fanout_queue_url is None:
        return None
    import boto3

    from smscore.dal.plan_store import SqsChunkTasks
    from smscore.dal.planning_store import DynamoPlanningStore, SqsPlanTasks
    from smscore.domain.campaign import PlannedFanout
    from smscore.domain.planning import WorkerPlanning

    sqs = boto3.client("sqs", region_name=settings.aws_region)
    return PlannedFanout(
        tasks=SqsChunkTasks(sqs, settings.fanout_queue_url),
        inline_max_messages=settings.inline_fanout_max_messages,
        window_seconds=settings.fanout_window_seconds,
        planning=WorkerPlanning(
            intake=DynamoPlanningStore(campaign_store(), region=settings.aws_region),
            tasks=SqsPlanTasks(sqs, settings.fanout_queue_url),
        ),
    )


# -- fan-out workers (SQS) ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FanoutDeps:
    """The fan-out workers: one chunk of a large campaign's plan per queue message, or one campaign above
    MaxSyncRecipients to plan (None without a fan-out queue to continue on)."""

    worker: FanoutWorker
    planner: Planner | None = None


@memoised
def fanout_deps() -> FanoutDeps:
    from smscore.dal.plan_store import DynamoPlanStore
    from smscore.domain.fanout import FanoutWorker

    settings = bound_settings()
    return FanoutDeps(
        worker=FanoutWorker(
            store=DynamoPlanStore(campaign_store(), region=settings.aws_region),
            queue=delivery_queue(),
            recipients_per_queue_message=settings.recipients_per_queue_message,
            lease_seconds=settings.fanout_lease_seconds,
            counters=frequency_counters(),
        ),
        planner=planner(settings),
    )


def planner(settings: Settings) -> Planner | None:
    """The planners of campaigns above MaxSyncRecipients (smscore.domain.planning), on the fan-out queue."""
    fanout = planned_fanout(settings)
    if fanout is None or fanout.planning is None:
        return None
    from smscore.dal.planning_store import DynamoPlanningStore, SqsPlanTasks
    from smscore.domain.planning import Planner

    return Planner(
        store=DynamoPlanningStore(campaign_store(), region=settings.aws_region),
        plan_tasks=cast("SqsPlanTasks", fanout.planning.tasks),
        chunk_tasks=fanout.tasks,
        limits=campaign_limits(settings),
        opening=opening_rule(settings),
        lease_seconds=settings.fanout_lease_seconds,
        window_seconds=settings.fanout_window_seconds,
    )


def opening_rule(settings: Settings) -> OpeningRule:
    """The send-window rule: the legal windows and quiet hours, or (SEND_WINDOWS=off, test stacks) sendAt only."""
    from smscore.domain.windows import next_opening, sendat_only

    return next_opening if settings.send_windows == "enforced" else sendat_only


# -- scheduler (scheduled) ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SchedulerDeps:
    """The scheduled release of due SCHEDULED messages: a run hands each due key to a release worker (or releases
    them itself without a release queue); a worker releases at most `max_messages` within `release_seconds`."""

    scheduler: Scheduler
    max_messages: int
    release_seconds: float = 60.0


@memoised
def scheduler_deps() -> SchedulerDeps:
    import boto3

    from smscore.dal.message_store import DynamoMessageStore
    from smscore.dal.scheduler_store import DynamoRunLease, DynamoSchedulerStore, SqsReleaseTasks
    from smscore.domain.scheduler import Scheduler

    settings = bound_settings()
    if not settings.senders_table:
        raise RuntimeError("SENDERS_TABLE is not set (the scheduler's run lease)")
    senders_table = settings.senders_table
    dynamodb = boto3.client("dynamodb", region_name=settings.aws_region)
    tasks = None
    if settings.scheduler_release_queue_url:
        sqs = boto3.client("sqs", region_name=settings.aws_region)
        tasks = SqsReleaseTasks(sqs, settings.scheduler_release_queue_url)
    return SchedulerDeps(
        scheduler=Scheduler(
            store=DynamoSchedulerStore(DynamoMessageStore(region=settings.aws_region), workers=settings.write_workers),
            queue=delivery_queue(),
            recipients_per_queue_message=settings.recipients_per_queue_message,
            # Overlapping runs are fenced: the lease outlives the function's timeout (a live run never loses it);
            # so are two workers of one key (a task delivered twice, or handed out again while still released).
            lease=DynamoRunLease(dynamodb, senders_table),
            lease_seconds=settings.scheduler_lease_seconds,
            tasks=tasks,
            key_lease=lambda key: DynamoRunLease.for_due_key(dynamodb, senders_table, key),
        ),
        max_messages=settings.scheduler_max_messages,
        release_seconds=settings.scheduler_release_seconds,
    )


# -- sweeper (scheduled) --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SweeperDeps:
    """The scheduled sweep of the delivery dead-letter queue: at most `max_records` records per run."""

    sweeper: Sweeper
    max_records: int


@memoised
def sweeper_deps() -> SweeperDeps:
    import boto3

    from smscore.dal.message_store import DynamoMessageStore
    from smscore.dal.sweeper_store import DynamoRedriveMarks, SqsDeadLetterQueue
    from smscore.domain.events import EmittingMessageStore
    from smscore.domain.sweeper import Sweeper

    settings = bound_settings()
    if not settings.delivery_dead_letter_queue_url:
        raise RuntimeError("DELIVERY_DEAD_LETTER_QUEUE_URL is not set")
    sqs = boto3.client("sqs", region_name=settings.aws_region)
    store = DynamoMessageStore(region=settings.aws_region)
    return SweeperDeps(
        sweeper=Sweeper(
            dead_letters=SqsDeadLetterQueue(sqs, settings.delivery_dead_letter_queue_url),
            messages=cast(
                "MessageStore",
                EmittingMessageStore(store, event_sink(), failures=failure_tally(), completion=completion_watcher()),
            ),  # message.failed events
            marks=DynamoRedriveMarks(),
            queue=delivery_queue(),
            max_redrives=settings.sweeper_max_redrives,
            bound_seconds=settings.delivery_bound_seconds,
            claim_seconds=settings.delivery_lease_seconds,
        ),
        max_records=settings.sweeper_max_records,
    )


# -- reconciler (scheduled) -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ReconcilerDeps:
    """The scheduled reconciler: finishes fan-outs past their deadline, at most `max_campaigns` per run."""

    reconciler: Reconciler
    max_campaigns: int


@memoised
def reconciler_deps() -> ReconcilerDeps:
    from smscore.dal.planning_store import DynamoPlanningStore, PlanningAbandoner
    from smscore.dal.reconciler_store import DynamoReconcilerStore
    from smscore.domain.reconciler import Reconciler

    settings = bound_settings()
    return ReconcilerDeps(
        reconciler=Reconciler(
            store=DynamoReconcilerStore(region=settings.aws_region, workers=settings.write_workers),
            queue=delivery_queue(),
            recipients_per_queue_message=settings.recipients_per_queue_message,
            lease_seconds=settings.reconciler_lease_seconds,
            planning=PlanningAbandoner(DynamoPlanningStore(campaign_store(), region=settings.aws_region)),
        ),
        max_campaigns=settings.reconciler_max_campaigns,
    )


# -- deliver --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DeliverDeps:
    """The delivery queue consumer: the deliverer (store, providers, dead letters, policy) and the queue's limit."""

    deliverer: Deliverer
    max_receive_count: int


def build_deliver_deps(settings: Settings, providers: ProviderLookup | None = None) -> DeliverDeps:
    """DeliverDeps with the real store and dead-letter queue; `providers` defaults to the configured registry."""
    import boto3
    from botocore.config import Config

    from smscore.dal.dead_letters import SqsDeadLetters
    from smscore.dal.deferred_queue import SqsDeferredDelivery
    from smscore.dal.delivery_reads import CampaignCountedAt, TenantCaps
    from smscore.dal.message_store import DynamoMessageStore
    from smscore.dal.parked_receipts import DynamoParkedReceipts
    from smscore.dal.receipt_store import DynamoReceiptStore
    from smscore.dal.sender_gate import DynamoSenderGate
    from smscore.dal.tenant_settings import TenantQuietHours
    from smscore.domain.delivery import Deliverer, RetryPolicy
    from smscore.domain.events import EmittingMessageStore, EmittingReceiptStore
    from smscore.domain.frequency_recheck import FrequencyRecheck
    from smscore.domain.windows import DeliveryWindows
    from smscore.providers.registry import default_registry
    from smscore.providers.senders import senders_from

    if not settings.delivery_dead_letter_queue_url:
        raise RuntimeError("DELIVERY_DEAD_LETTER_QUEUE_URL is not set")
    if not settings.senders_table:
        raise RuntimeError("SENDERS_TABLE is not set")
    gate = DynamoSenderGate(
        boto3.client(
            "dynamodb", region_name=settings.aws_region, config=Config(max_pool_connections=settings.delivery_workers)
        ),
        settings.senders_table,
    )
    store = DynamoMessageStore(region=settings.aws_region)
    windows = None
    if settings.send_windows == "enforced":
        windows = DeliveryWindows(quiet_hours_of=TenantQuietHours(), store=store)
    deliverer = Deliverer(
        store=cast(
            "MessageStore",
            EmittingMessageStore(store, event_sink(), failures=failure_tally(), completion=completion_watcher()),
        ),  # message.sent / message.failed
        providers=providers if providers is not None else default_registry(settings),
        dead_letters=SqsDeadLetters(settings.aws_region, settings.delivery_dead_letter_queue_url),
        policy=RetryPolicy(
            max_attempts=settings.delivery_max_attempts,
            backoff_base_seconds=settings.delivery_backoff_base_ms / 1000,
            backoff_cap_seconds=settings.delivery_backoff_cap_ms / 1000,
            lease_seconds=settings.delivery_lease_seconds,
            provider_timeout_seconds=settings.provider_timeout_seconds,
        ),
        workers=settings.delivery_workers,
        failover_provider=settings.failover_provider,
        senders=senders_from(settings),
        gate=gate,
        deferred=SqsDeferredDelivery(settings.aws_region, settings.delivery_queue_url),
        validity_seconds=settings.message_validity_seconds,
        pause_seconds=settings.sender_pause_seconds,
        suppressions=suppression_list(),
        windows=windows,
        receipts=cast(
            "ReceiptStore",
            EmittingReceiptStore(
                DynamoReceiptStore(region=settings.aws_region), event_sink(), failures=failure_tally()
            ),
        ),
        parked_receipts=DynamoParkedReceipts(),
        frequency=FrequencyRecheck(
            frequency_counters(), TenantCaps(default_frequency(settings)), counted_at_of=CampaignCountedAt()
        ),
        link_codes=opt_out_codes,
    )
    return DeliverDeps(deliverer=deliverer, max_receive_count=settings.delivery_max_receive_count)


@memoised
def deliver_deps() -> DeliverDeps:
    return build_deliver_deps(bound_settings())


# -- authorizer -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AuthorizerDeps:
    identities: IdentityStore


@memoised
def bound_identity_settings() -> IdentitySettings:
    """The authorizer's settings (region and three tables, without pydantic-settings), with those tables' models
    pointed at them: the authorizer reads nothing else, and imports neither Settings nor the other stores."""
    from smscore.dal.tables import MemberRecord, SettingRecord, TokenRecord, bind_model
    from smscore.identity_settings import IdentitySettings

    settings = IdentitySettings.from_environment()
    bind_model(TokenRecord, settings.tokens_table, settings.aws_region)
    bind_model(MemberRecord, settings.members_table, settings.aws_region)
    bind_model(SettingRecord, settings.settings_table, settings.aws_region)
    return settings


@memoised
def authorizer_deps() -> AuthorizerDeps:
    from smscore.dal.identity_store import DynamoIdentityStore

    bound_identity_settings()
    return AuthorizerDeps(identities=DynamoIdentityStore())


# -- messages (status and audit reads) ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MessagesDeps:
    queries: MessageQueries
    failures: FailureTally | None = None  # a campaign's failure reasons by code (smscore.domain.reports)
    names: ContactNames | None = None  # contacts' names beside their numbers
    quiet_hours_of: Callable[[str], QuietHours | None] | None = None  # why a message waits


@memoised
def messages_deps() -> MessagesDeps:
    from smscore.dal.contact_names import DynamoContactNames
    from smscore.dal.message_queries import DynamoMessageQueries
    from smscore.dal.tenant_settings import TenantQuietHours

    bound_settings()
    return MessagesDeps(
        queries=DynamoMessageQueries(),
        failures=failure_tally(),
        names=DynamoContactNames(),
        quiet_hours_of=TenantQuietHours(),
    )


# -- webhooks (delivery receipts) -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class WebhookDeps:
    """Twilio's status callbacks, queued for the receipts consumer, and its inbound-message webhook.

    `twilio_credentials` raises CredentialsUnavailable when they cannot be read; `status_callback_url` is the
    URL Twilio signs when configured (else the request's own URL is rebuilt).
    """

    receipt_buffer: ReceiptBuffer
    twilio_credentials: Callable[[], TwilioCredentials]
    status_callback_url: str | None
    # The keyword handling of Twilio's inbound-message webhook (same function), built on its first use only.
    inbound: Callable[[], InboundDeps] | None = None


@memoised
def webhook_deps() -> WebhookDeps:
    from smscore.dal.receipt_queue import SqsReceiptBuffer
    from smscore.providers.registry import twilio_credentials_from

    settings = bound_settings()
    if not settings.receipts_queue_url:
        raise RuntimeError("RECEIPTS_QUEUE_URL is not set")
    return WebhookDeps(
        receipt_buffer=SqsReceiptBuffer(settings.aws_region, settings.receipts_queue_url),
        twilio_credentials=twilio_credentials_from(settings.twilio_credentials_parameter),
        status_callback_url=settings.twilio_status_callback_url,
        inbound=inbound_deps,
    )


# -- receipts (the receipts queue's consumer) -----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ReceiptsDeps:
    """Applies queued receipts; parks those ahead of SENT and retries them until their `retry_receives`-th receive."""

    receipts: ReceiptStore
    parked_receipts: ParkedReceipts
    retry_receives: int


@memoised
def receipts_deps() -> ReceiptsDeps:
    from smscore.dal.parked_receipts import DynamoParkedReceipts
    from smscore.dal.receipt_store import DynamoReceiptStore
    from smscore.domain.events import EmittingReceiptStore

    settings = bound_settings()
    return ReceiptsDeps(
        # An applied receipt is also an event for the tenant's webhooks (smscore.domain.events).
        receipts=cast(
            "ReceiptStore",
            EmittingReceiptStore(
                DynamoReceiptStore(region=settings.aws_region), event_sink(), failures=failure_tally()
            ),
        ),
        parked_receipts=DynamoParkedReceipts(),
        retry_receives=settings.receipt_retry_receives,
    )


# -- inbound SMS (opt-out and opt-in keywords) ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class InboundDeps:
    """Keyword replies (Twilio's inbound webhook, AWS two-way SMS through SNS): the keyword lists, the suppression
    list, the confirmation texts, and how a reply's address names its sender (`sender_of(provider, addresses)`,
    smscore.providers.senders.inbound_sender). An applied opt-out also appends a revoked consent record to the
    contacts of the tenants sending through that sender (`consent`, smscore.domain.keyword_consent)."""

    keywords: Keywords
    suppressions: SuppressionList
    opt_out_confirmation: str
    opt_in_confirmation: str
    sender_of: Callable[[str, Sequence[str]], str]
    aws_replier: Callable[[], TwoWayReplier] | None = None  # confirmations AWS does not send itself
    consent: KeywordConsent | None = None  # None: no contacts table here (tests of the keywords alone)


def keyword_consent(settings: Settings) -> KeywordConsent:
    """The revoked consent records an applied STOP appends (the contacts of the tenants sending through its sender)."""
    from smscore.dal.contact_store import DynamoContactStore
    from smscore.domain.keyword_consent import KeywordConsent

    store = DynamoContactStore(region=settings.aws_region)
    return KeywordConsent(
        contacts_with_number=store.contacts_with_number,
        sender_of_tenant=tenant_sender_of(settings),
        record=lambda tenant_id, contact_id, consent: store.set_marketing_consent(
            tenant_id, contact_id, consent, consent.at
        ),
        events=suppression_events(settings),  # contact.opted_out / opted_in (smscore.domain.consent_events)
    )


@memoised
def inbound_deps() -> InboundDeps:
    from smscore.domain.keywords import Keywords
    from smscore.providers.senders import inbound_sender

    settings = bound_settings()
    return InboundDeps(
        keywords=Keywords.parse(settings.opt_out_keywords, settings.opt_in_keywords),
        suppressions=suppression_list(),
        opt_out_confirmation=settings.opt_out_confirmation,
        opt_in_confirmation=settings.opt_in_confirmation,
        sender_of=lambda provider, addresses: inbound_sender(provider, addresses, settings),
        aws_replier=aws_two_way_replier,
        consent=keyword_consent(settings),
    )


@memoised
def aws_two_way_replier() -> TwoWayReplier:
    import boto3

    from smscore.providers.aws_sms import TwoWayReplier

    settings = bound_settings()
    return TwoWayReplier(
        boto3.client("pinpoint-sms-voice-v2", region_name=settings.aws_sms_region or settings.aws_region)
    )


# -- contacts (tags, contacts, imports, campaign list, credits) -----------------------------------------------


@dataclass(frozen=True, eq=False)
class ContactsDeps:
    """The contacts function's use cases (store, campaign/credit reads, uploads bucket)."""

    contacts: ContactsApi
    max_body_bytes: int
    max_import_body_bytes: int
    settings: TenantSettingsApi | None = None  # GET/PUT /api/settings (smscore.api.settings)
    data_subject: DataSubjectApi | None = None  # GET /api/contacts/{id}/export (smscore.api.data_subject)
    templates: TemplatesApi | None = None  # /api/templates (smscore.api.templates)
    terms: TermsApi | None = None  # POST /api/me/terms (smscore.api.terms)


@memoised
def contacts_deps() -> ContactsDeps:
    import boto3
    from botocore.config import Config

    from smscore.api.contacts import ContactsApi
    from smscore.api.data_subject import DataSubjectApi
    from smscore.api.settings import SettingsApi as TenantSettingsApi
    from smscore.api.templates import TemplatesApi
    from smscore.api.terms import TermsApi
    from smscore.dal.contact_store import DynamoAccountQueries, DynamoContactStore
    from smscore.dal.import_uploads import S3Uploads
    from smscore.dal.message_history import DynamoMessageHistory
    from smscore.dal.template_store import DynamoTemplateStore
    from smscore.dal.tenant_settings import DynamoTenantSettings
    from smscore.dal.terms_store import DynamoTermsStore
    from smscore.domain.events import EmittingContactStore

    settings = bound_settings()
    uploads = None
    if settings.imports_bucket:
        # Presigned URLs must name the bucket's own region; SigV4 so they work with SSE and every region.
        s3 = boto3.client("s3", region_name=settings.aws_region, config=Config(signature_version="s3v4"))
        uploads = S3Uploads(s3, settings.imports_bucket)
    store = DynamoContactStore(region=settings.aws_region, host=None, workers=settings.write_workers)
    contacts = ContactsApi(
        # contact.opted_out / opted_in when what the contact shows moves (smscore.domain.consent_events)
        store=cast(
            "ContactsStorePort", EmittingContactStore(store, event_sink(), suppressed=sender_suppressed(settings))
        ),
        accounts=DynamoAccountQueries(),
        uploads=uploads,
        upload_ttl_seconds=settings.import_upload_ttl_seconds,
        consent=consent_reader(settings),
    )
    return ContactsDeps(
        contacts=contacts,
        data_subject=DataSubjectApi(contacts, store, DynamoMessageHistory()),
        max_body_bytes=settings.max_body_bytes,
        max_import_body_bytes=settings.max_import_body_bytes,
        settings=TenantSettingsApi(DynamoTenantSettings(), default_frequency(settings)),
        templates=TemplatesApi(DynamoTemplateStore()),
        terms=TermsApi(DynamoTermsStore()),
    )


# -- integrations (API keys; webhooks out, exports and reports join it) ---------------------------------------


@dataclass(frozen=True, eq=False)
class IntegrationsDeps:
    """The integrations function's use cases: self-serve API keys, webhook endpoints."""

    keys: KeysApi
    webhooks: WebhooksApi
    max_body_bytes: int
    exports: Callable[[], Exports] | None = None  # built on the first export (S3 and SQS clients)


@memoised
def integrations_deps() -> IntegrationsDeps:
    from smscore.api.api_keys import KeysApi
    from smscore.api.webhooks import WebhooksApi
    from smscore.dal.api_key_store import DynamoApiKeyStore
    from smscore.domain.api_keys import ApiKeys

    settings = bound_settings()
    return IntegrationsDeps(
        keys=KeysApi(ApiKeys(DynamoApiKeyStore())),
        webhooks=WebhooksApi(webhook_store(), webhook_deliverer(), settings.webhooks_allow_loopback),
        max_body_bytes=settings.max_body_bytes,
        exports=exports,
    )


@memoised
def exports() -> Exports:
    """CSV exports of a campaign: streamed up to EXPORT_STREAM_LIMIT rows, else a job on the export queue writing
    to the imports bucket's exports/ prefix (the integrations function and its export handler)."""
    import boto3
    from botocore.config import Config

    from smscore.dal.export_store import DynamoCampaignMessages, DynamoExportJobs, S3ExportFiles
    from smscore.dal.webhook_queue import SqsWebhookQueue
    from smscore.domain.exports import Exports

    settings = bound_settings()
    s3 = boto3.client("s3", region_name=settings.aws_region, config=Config(signature_version="s3v4"))
    return Exports(
        DynamoCampaignMessages(),
        DynamoExportJobs(),
        S3ExportFiles(s3, settings.imports_bucket or ""),
        # Without a queue (a function environment that is not the integrations function's) only small exports work
        SqsWebhookQueue(settings.aws_region, settings.export_queue_url or ""),
        stream_limit=settings.export_stream_limit,
    )


@memoised
def webhook_store() -> DynamoWebhookStore:
    from smscore.dal.webhook_store import DynamoWebhookStore

    bound_settings()
    return DynamoWebhookStore()


def _webhook_queue(settings: Settings) -> SqsWebhookQueue:
    from smscore.dal.webhook_queue import SqsWebhookQueue

    if not settings.webhook_queue_url:
        raise RuntimeError("WEBHOOK_QUEUE_URL is not set")
    return SqsWebhookQueue(settings.aws_region, settings.webhook_queue_url)


@memoised
def webhook_deliverer() -> WebhookDeliverer:
    """Fan-out, signed attempts, retries and replays (the webhook deliver function; replays from the API)."""
    from aws_lambda_powertools import Logger, Metrics

    from smscore.domain.webhook_delivery import WebhookDeliverer
    from smscore.providers.webhook_http import SafePoster

    settings = bound_settings()
    logger, metrics = Logger(), Metrics()

    def disabled(endpoint: Endpoint, reason: str) -> None:
        logger.error("webhook.disabled", extra={"endpoint_id": endpoint.endpoint_id, "reason": reason})
        metrics.add_metric(name="WebhookEndpointsDisabled", unit="Count", value=1)

    return WebhookDeliverer(
        webhook_store(),
        _webhook_queue(settings),
        SafePoster(allow_loopback=settings.webhooks_allow_loopback),
        completion=completion_store(),
        backoff_base_seconds=settings.webhook_backoff_base_seconds,
        on_disabled=disabled,
    )


@dataclass(frozen=True, eq=False)
class WebhookDeliverDeps:
    deliverer: WebhookDeliverer


@memoised
def webhook_deliver_deps() -> WebhookDeliverDeps:
    return WebhookDeliverDeps(deliverer=webhook_deliverer())


@memoised
def event_sink() -> EventSink:
    """Where the stores of message and receipt state changes publish events (smscore.domain.events): the webhook
    queue, for the event types some endpoint of the tenant wants; nowhere when webhooks are not configured."""
    from aws_lambda_powertools import Metrics

    from smscore.dal.webhook_queue import TolerantQueue
    from smscore.domain.events import NoEvents
    from smscore.domain.webhook_delivery import QueuedEventSink

    settings = bound_settings()
    if not settings.webhook_queue_url:
        return NoEvents()
    metrics = Metrics()
    queue = TolerantQueue(
        _webhook_queue(settings), lambda: metrics.add_metric(name="WebhookEventsNotQueued", unit="Count", value=1)
    )
    return QueuedEventSink(queue, subscriptions())


@memoised
def completion_store() -> DynamoCompletionStore:
    """campaign.completed's counts and watch items (smscore.domain.completion)."""
    from smscore.dal.completion_store import DynamoCompletionStore

    settings = bound_settings()
    return DynamoCompletionStore(settings.webhooks_table, settings.aws_region)


@memoised
def completion_watcher() -> CampaignTouched | None:
    """Starts each campaign's completion checks once (the emitting message stores); None without webhooks."""
    from aws_lambda_powertools import Metrics

    from smscore.dal.webhook_queue import TolerantQueue
    from smscore.domain.completion import CompletionWatcher

    settings = bound_settings()
    if not settings.webhook_queue_url:
        return None
    metrics = Metrics()
    queue = TolerantQueue(
        _webhook_queue(settings), lambda: metrics.add_metric(name="WebhookEventsNotQueued", unit="Count", value=1)
    )
    return CompletionWatcher(completion_store(), queue, subscriptions())


@memoised
def subscriptions() -> CachedSubscriptions:
    """Which event types a tenant's enabled endpoints want, cached a minute per tenant (one cache per process)."""
    from smscore.dal.webhook_queue import CachedSubscriptions

    bound_settings()
    return CachedSubscriptions()


def default_frequency(settings: Settings) -> MarketingFrequency:
    from smscore.domain.model import MarketingFrequency

    return MarketingFrequency(max_per_day=settings.marketing_max_per_day_default, max_per_week=0)


@memoised
def frequency_counters() -> DynamoFrequencyCounters:
    """The marketing frequency counters (smscore.domain.frequency): read and written by the send path."""
    from smscore.dal.frequency_store import DynamoFrequencyCounters

    settings = bound_settings()
    return DynamoFrequencyCounters(workers=settings.write_workers)


# -- the RNE exclusion list -----------------------------------------------------------------------------------


@memoised
def exclusion_list() -> DynamoExclusionList:
    """The RNE snapshot (smscore.domain.exclusions): read by the send path, written by its loads."""
    from smscore.dal.exclusion_store import DynamoExclusionList

    settings = bound_settings()
    return DynamoExclusionList(workers=settings.write_workers)


@dataclass(frozen=True, eq=False)
class ExclusionsDeps:
    """The exclusions import function: the list's store and the uploaded file's lines."""

    exclusions: DynamoExclusionList
    read_lines: Callable[[str, str], Iterator[str]]


@memoised
def exclusions_deps() -> ExclusionsDeps:
    import boto3

    from smscore.dal.exclusion_store import DynamoExclusionList

    settings = bound_settings()
    s3 = boto3.client("s3", region_name=settings.aws_region)

    def read_lines(bucket: str, key: str) -> Iterator[str]:
        """The object's lines, streamed (a 5,000,000-line file is never held whole); UTF-8, a BOM tolerated."""
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        for index, raw in enumerate(body.iter_lines()):
            line = raw.decode("utf-8")
            yield line.removeprefix("\ufeff") if index == 0 else line

    # The load's writes are I/O: 32 threads keep ~50,000 numbers/s in flight (bench row of the RNE load).
    return ExclusionsDeps(exclusions=DynamoExclusionList(workers=32), read_lines=read_lines)


@memoised
def failure_tally() -> DynamoFailureTally:
    """Failures by code per campaign (smscore.domain.reports), counted by the emitting stores, read by reports."""
    from smscore.dal.report_store import DynamoFailureTally

    settings = bound_settings()
    return DynamoFailureTally(settings.webhooks_table, settings.aws_region)


@memoised
def reports() -> UsageReports:
    from smscore.api.reports import UsageReports
    from smscore.dal.report_store import DynamoUsageSource

    bound_settings()
    return UsageReports(DynamoUsageSource(), failure_tally())
