"""Environment of every function, parsed once into typed settings."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TableNames(BaseSettings):
    """Physical names of the DynamoDB tables; template.yaml passes them in as environment variables."""

    model_config = SettingsConfigDict(frozen=True)

    tenants_table: str
    members_table: str
    tokens_table: str
    settings_table: str
    contacts_table: str
    tags_table: str
    tag_members_table: str
    messages_table: str
    dispatches_table: str
    ledger_table: str
    idempotency_table: str
    outbox_table: str
    unique_keys_table: str
    import_jobs_table: str
    suppressions_table: str
    exclusions_table: str
    frequency_table: str
    webhooks_table: str
    templates_table: str
    links_table: str


# template.yaml's MaxRecipients MaxValue: above MaxSyncRecipients a send answers 202 without the messages.
MAX_RECIPIENTS_LIMIT = 1_000_000
# template.yaml's MaxSyncRecipients MaxValue: the 201 lists every message, and Lambda answers at most 6 MB.
MAX_SYNC_RECIPIENTS_LIMIT = 60_000


class Settings(TableNames):
    """Everything a function reads from its environment."""

    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    delivery_queue_url: str
    default_provider: str = "sandbox"
    max_recipients: int = Field(default=50_000, gt=0, le=MAX_RECIPIENTS_LIMIT)
    # Above it (and up to max_recipients) a send answers 202 with no message list and needs an Idempotency-Key.
    max_sync_recipients: int = Field(default=50_000, gt=0, le=MAX_SYNC_RECIPIENTS_LIMIT)
    recipients_per_queue_message: int = Field(default=50, ge=1, le=500)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    write_workers: int = Field(default=8, ge=1, le=64)
    idempotency_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    # POST /api/messages/sms/test: messages a member may test-send per day (Bogota's day; smscore.domain.test_send)
    test_sends_per_member_per_day: int = Field(default=20, ge=1, le=1000)
    # Fan-out deadline (smscore.domain.campaign): the send function stops starting writes when less than
    # reserve + per-message reserve x messages left remains, and the campaign's deadline is its hard stop (the
    # Lambda remaining time, or SEND_TIMEOUT_SECONDS without a context) plus the grace; then the reconciler may act.
    send_timeout_seconds: float = Field(default=29.0, gt=0)
    send_reserve_ms: int = Field(default=3_000, ge=0)
    # The floor of the per-message cleanup cost (0.17 ms measured, issue 21); each persist step measures it again.
    send_reserve_per_message_ms: float = Field(default=0.17, ge=0)
    fanout_grace_seconds: int = Field(default=30, ge=1)
    # Large campaigns (smscore.domain.plan, smscore.domain.fanout): above INLINE_FANOUT_MAX_MESSAGES recipients the
    # request writes plan chunks and the fan-out workers (FANOUT_QUEUE_URL) write and enqueue the messages, within
    # FANOUT_WINDOW_SECONDS after the request's deadline; a worker's chunk lease outlives its Timeout.
    fanout_queue_url: str | None = None
    inline_fanout_max_messages: int = Field(default=2_000, ge=0)
    fanout_window_seconds: int = Field(default=900, ge=1)
    fanout_lease_seconds: int = Field(default=180, ge=1)
    # Send windows (smscore.domain.windows): "off" only for test stacks that must not depend on the wall clock.
    send_windows: Literal["enforced", "off"] = "enforced"
    # Scheduler: the release queue its runs hand each due key to (one task per key, released by a worker of the same
    # function; without it a run releases every key itself), and how many due messages, and for how many seconds,
    # one worker (or one run without the queue) releases at most (the rest: the next run).
    scheduler_release_queue_url: str | None = None
    scheduler_max_messages: int = Field(default=20_000, ge=1)
    scheduler_release_seconds: float = Field(default=60.0, gt=0)
    scheduler_lease_seconds: int = Field(default=180, ge=5)  # > the scheduler's timeout: a live run keeps its lease
    # Receipts: the queue the status webhooks put receipts on, and how many receives a receipt parked ahead of its
    # message's SENT write is retried for (each after the queue's visibility timeout) before it just waits parked.
    receipts_queue_url: str | None = None
    receipt_retry_receives: int = Field(default=5, ge=1)
    # Sweeper: re-enqueues from the delivery dead-letter queue at most this many times per message, then refunds;
    # records taken per run. The bound after which a message is stranded: lease + visibility x maxReceiveCount.
    sweeper_max_redrives: int = Field(default=1, ge=0, le=5)
    sweeper_max_records: int = Field(default=500, ge=1)
    delivery_visibility_timeout_seconds: int = Field(default=360, ge=1)
    # Reconciler: how long one run's claim of a campaign lasts (> its Timeout) and how many campaigns one run takes.
    reconciler_lease_seconds: int = Field(default=600, ge=5)
    reconciler_max_campaigns: int = Field(default=20, ge=1)
    # Contacts imports (contacts functions): the bucket of presigned uploads, and what a request body may carry.
    imports_bucket: str | None = None
    import_upload_ttl_seconds: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    max_import_body_bytes: int = Field(default=256 * 1024, gt=0)  # ~6,000 rows: done well within 29 s

    # Delivery (deliver function); see smscore.domain.delivery for what each one bounds.
    delivery_dead_letter_queue_url: str | None = None
    delivery_max_attempts: int = Field(default=4, ge=1, le=20)  # provider calls per message, all providers
    # Concurrent sends within one SQS record: as many as the record carries (RecipientsPerQueueMessage), so a
    # record takes about one provider round trip; PROVIDER_RATE_LIMITS and MaximumConcurrency bound the fleet.
    delivery_workers: int = Field(default=50, ge=1, le=128)
    delivery_lease_seconds: int = Field(default=180, ge=5)  # > the deliver timeout: a live claim never expires
    delivery_backoff_base_ms: int = Field(default=200, ge=0)
    delivery_backoff_cap_ms: int = Field(default=5_000, ge=0)
    delivery_max_receive_count: int = Field(default=5, ge=1)  # the queue's maxReceiveCount

    @property
    def delivery_bound_seconds(self) -> int:
        """How long a QUEUED or SENDING message can legitimately go untouched by delivery: its lease, then every
        receive of its record (each after the visibility timeout) before SQS dead-letters it."""
        return self.delivery_lease_seconds + self.delivery_visibility_timeout_seconds * self.delivery_max_receive_count

    failover_provider: str | None = None
    # Fleet-wide messages/second per sender of each provider (0 = unlimited); defaults in smscore.providers.senders.
    provider_rate_limits: dict[str, float] = Field(default_factory=dict)
    senders_table: str | None = None  # the senders' buckets and circuit breakers (deliver function only)
    message_validity_seconds: int = Field(default=4 * 3600, ge=60)  # how long a message may wait for its sender
    # How far ahead one pacing reservation may start (smscore.domain.pacing): a newcomer tenant's first slot on a
    # shared sender comes within it; widened per sender to 3 slots at a slow rate.
    sender_fairness_window_seconds: float = Field(default=10.0, gt=0)
    sender_pause_seconds: int = Field(default=300, ge=60)  # circuit breaker cool-down before a half-open probe
    sandbox_capacity_mps: float = Field(default=0, ge=0)  # the sandbox answers 429 above this (0 = unlimited)
    provider_timeout_seconds: float = Field(default=5.0, gt=0)
    sandbox_latency_ms: int = Field(default=0, ge=0)
    sandbox_timeout_seconds: float = Field(default=1.0, ge=0)
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_credentials_parameter: str = "/sms-by-tags/providers/twilio"
    twilio_messaging_service_sid: str | None = None
    twilio_from_number: str | None = None
    twilio_status_callback_url: str | None = None
    aws_sms_region: str | None = None
    aws_sms_origination_identity: str | None = None
    aws_sms_configuration_set: str | None = None
    aws_sms_max_price: str | None = None
    aws_sms_ttl_seconds: int | None = None
    # AWS reserves TRANSACTIONAL for critical or time-sensitive messages (one-time passwords); campaigns are
    # PROMOTIONAL. Some countries route and price the two differently (README, "AWS End User Messaging SMS").
    aws_sms_message_type: Literal["PROMOTIONAL", "TRANSACTIONAL"] = "PROMOTIONAL"

    # Opt-out / opt-in keywords of inbound SMS (smscore.domain.keywords), comma-separated, and the confirmation
    # sent where the provider does not answer the keyword itself (empty: no confirmation).
    opt_out_keywords: str = "STOP,STOPALL,UNSUBSCRIBE,CANCEL,END,QUIT,BAJA,ALTO,PARAR,SALIR,CANCELAR"
    opt_in_keywords: str = "START,UNSTOP,ALTA"
    opt_out_confirmation: str = (
        "You will receive no more messages from this number. Reply START to subscribe again. "
        "/ No recibiras mas mensajes de este numero. Responde ALTA para volver."
    )
    opt_in_confirmation: str = (
        "You are subscribed again. Reply STOP to unsubscribe. / Te suscribiste de nuevo. Responde BAJA para salir."
    )
    # Webhooks out (smscore.domain.webhooks): the queue events and retries travel on, the local stack's loopback
    # exception (WebhooksAllowLoopback), and the first retry's delay (later ones double, with jitter).
    webhook_queue_url: str | None = None
    webhooks_allow_loopback: bool = False
    webhook_backoff_base_seconds: float = Field(default=30.0, gt=0)
    # The RNE exclusion list (smscore.domain.exclusions): marketing to CO is refused with a snapshot older than this.
    exclusion_list_max_age_days: int = Field(default=15, ge=1, le=60)
    # A message item expires (DynamoDB TTL) this long after it was created (Ley 1581: no longer than needed).
    message_retention_days: int = Field(default=400, ge=1, le=3650)
    # LinkBaseUrl: where tracked short links point ({link_base_url}/{code}); empty: the API's own URL (as the send
    # request reached it) + /l, the route of functions/links.
    link_base_url: str = ""
    # The marketing messages per number per day of a tenant that never set marketingFrequency (0 = no cap).
    marketing_max_per_day_default: int = Field(default=1, ge=0, le=10)
    # Per provider, the countries with two-way SMS (TwoWaySmsCountries): elsewhere marketing to CO ends with the
    # opt-out link (smscore.domain.opt_out_links), `{LinkBaseUrl without /l}/o/{code}`.
    two_way_sms_countries: dict[str, str] = Field(
        default_factory=lambda: {"sandbox": "*", "twilio": "*", "aws_sms": "AU,CA,GB,US"}
    )

    # CSV exports (smscore.domain.exports): the queue of large exports' jobs, and the most rows answered at once.
    export_queue_url: str | None = None
    export_stream_limit: int = Field(default=10_000, ge=1)
    # The notional number the sandbox sends from: a reply to it (smsctl inbound) opts out of the `sandbox` sender.
    sandbox_sender_number: str = "+15005550006"

    @field_validator(
        "fanout_queue_url",
        "delivery_dead_letter_queue_url",
        "failover_provider",
        "twilio_messaging_service_sid",
        "twilio_from_number",
        "twilio_status_callback_url",
        "aws_sms_region",
        "aws_sms_origination_identity",
        "aws_sms_configuration_set",
        "aws_sms_max_price",
        "aws_sms_ttl_seconds",
        "webhook_queue_url",
        "export_queue_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """CloudFormation parameters cannot be null: an empty string means 'not configured'."""
        return None if value == "" else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process; parsed on first use, not at import."""
    return Settings()
