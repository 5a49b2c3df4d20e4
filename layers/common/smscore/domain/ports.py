"""Ports: the interfaces the domain depends on, and the values that cross them.

Implemented by the adapters (`smscore.dal`: DynamoDB and SQS; `smscore.providers`: one module per SMS API,
each also owning its provider's wire formats) and by the in-memory fakes of tests/fakes.py and
tests/delivery_fakes.py, which tests/contract holds to the same behaviour as the DynamoDB adapters.
No boto3, no vendor format here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol

from smscore.domain.model import (
    ComplianceSettings,
    Dispatch,
    MessageState,
    OutgoingMessage,
    QueueBatch,
    QuietHours,
    Receipt,
    StoredMessage,
    TagRecipient,
    Tenant,
)
from smscore.domain.views import DispatchView, MessageFilters, MessagePage, MessageView, PageScope

# -- sending a campaign -------------------------------------------------------------------------------------


class CampaignStore(Protocol):
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def tag_recipients(self, tenant_id: str, tag_ids: Sequence[str]) -> list[TagRecipient]:
        """Every membership of the given tags, one paginated Query per tag; unknown tags yield nothing."""
        ...

    def debit(self, dispatch: Dispatch) -> None:
        """Atomically take `dispatch.credits_debited` from the balance, write the ledger entry and the dispatch.

        Raises InsufficientCredits (with the balance read afterwards) when the balance is too low.
        """
        ...

    def save_messages(self, messages: Sequence[OutgoingMessage]) -> None: ...

    def queue_messages(self, queue_id: str) -> list[tuple[str, str]]:
        """(message id, recipient) of every message of a campaign, sorted by recipient as first answered."""
        ...

    def mark_failed(self, messages: Sequence[OutgoingMessage], reason: str) -> None:
        """Record the messages as FAILED, whether or not they had been persisted before."""
        ...

    def refund(self, tenant_id: str, queue_id: str, amount: int, reason: str, message_ids: Sequence[str] = ()) -> None:
        """Give `amount` credits back with a ledger entry, atomically."""
        ...


class DeliveryQueue(Protocol):
    def enqueue(self, batches: Sequence[QueueBatch]) -> list[QueueBatch]:
        """Send the batches; returns the ones that could not be enqueued after retries."""
        ...


# -- SMS providers ------------------------------------------------------------------------------------------
# A provider turns one message into one call to a carrier-facing API and reports back in provider-neutral
# terms: `Accepted` (with the provider's id, and price/segments when the provider tells them at send time),
# `PermanentFailure` (retrying cannot help: invalid number, opted out, blocked; the message is refunded) or
# `TransientFailure` (throttling, 5xx, timeouts, network; the message is retried, possibly elsewhere).
# Providers never see the database; they get everything they need in `SmsRequest`.


@dataclass(frozen=True)
class SmsRequest:
    message_id: str  # our id: idempotency key where the provider honours one, and the correlation id it echoes
    tenant_id: str
    recipient: str  # E.164
    body: str
    segments: int


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str
    price: str | None = None  # decimal string in `price_unit`, only when the provider reports it at send time
    price_unit: str | None = None
    segments: int | None = None
    provider_status: str | None = None
    # The provider's receipts name our message id (AWS `Context`, the id in Twilio's signed StatusCallback URL):
    # the message then needs no provider-id index entry to be found (one write unit per message less).
    receipts_name_message: bool = False


class ProviderFailure(Exception):
    """A send the provider did not accept. `code` is the provider's own code (e.g. Twilio 21211)."""

    permanent: ClassVar[bool] = False

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class PermanentFailure(ProviderFailure):
    """Retrying cannot help (invalid or unreachable number, opted out, blocked): FAILED and refunded."""

    permanent = True


class TransientFailure(ProviderFailure):
    """Worth retrying later or on another provider (throttling, 5xx, timeout, network, credentials lookup)."""

    permanent = False


class Throttled(TransientFailure):
    """The provider or its carrier refused for rate (Twilio 429/20429/21611, AWS throttling and quotas).

    Not the message's fault: it waits (goes back to the queue with a delay) without using up an attempt, until
    its validity period runs out. `retry_after` is the provider's hint in seconds, when it gives one.
    """

    def __init__(self, code: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(code, reason)
        self.retry_after = retry_after


class SenderUnavailable(TransientFailure):
    """The sender cannot send at all right now (credentials, From number, origination identity, account, spend
    limit): the sender's circuit breaker opens, an alarm fires, and its messages wait without using attempts."""


class OutcomeUnknown(TransientFailure):
    """The request may have reached the provider but no answer came back (read timeout, dropped connection).

    Retried like any transient failure; for a provider that is not idempotent this is the window in which a
    retry can duplicate an SMS (see smscore.domain.delivery).
    """


class CredentialsUnavailable(Exception):
    """The provider's credentials could not be read (parameter missing, malformed, or the lookup failed)."""


class SmsProvider(ABC):
    """One carrier-facing API.

    Class attributes are the provider's declared facts: `name` is what TenantRecord.provider and
    DEFAULT_PROVIDER refer to (and what its receipts carry), `character_limit` is the longest body it accepts
    (the API refuses longer ones up front), `idempotent` says whether sending the same message id twice reaches
    the handset once.
    """

    name: ClassVar[str]
    character_limit: ClassVar[int]
    idempotent: ClassVar[bool] = False
    reports_price_at_send: ClassVar[bool] = False

    @abstractmethod
    def send(self, request: SmsRequest) -> Accepted:
        """Hand one SMS to the provider. Raises PermanentFailure or TransientFailure; never anything else
        for a provider-side problem (programming errors still propagate)."""


class ProviderLookup(Protocol):
    def get(self, name: str) -> SmsProvider:
        """The provider of that name; LookupError when none is configured."""
        ...


# The sandbox provider's own storage (smscore.providers.sandbox; the DynamoDB side in smscore.dal.outbox_store).


@dataclass(frozen=True)
class OutboxEntry:
    provider_message_id: str
    send_count: int


class Outbox(Protocol):
    def record(self, request: SmsRequest, provider_message_id: str, accepted_at: datetime | None = None) -> OutboxEntry:
        """Store the send keyed by message id; keep the first provider id and time; count every request."""
        ...


class CarrierCapacity(Protocol):
    def admit(self, second: int, capacity: int) -> bool:
        """Count one accepted send in this epoch second, unless `capacity` were already accepted in it."""
        ...


# -- delivery -----------------------------------------------------------------------------------------------


class MessageStore(Protocol):
    """Conditional status changes of messages; each also moves the dispatch counters in the same write."""

    def load(self, message_ids: Sequence[str]) -> dict[str, StoredMessage]:
        """Strongly consistent read of the messages that exist."""
        ...

    def claim(self, message: StoredMessage, now: datetime, lease_until: datetime) -> StoredMessage | None:
        """`message.status` (QUEUED, SENDING with an expired lease, or SCHEDULED and due) -> SENDING, attempts + 1,
        new lease (a SCHEDULED one also leaves the due index).

        Returns the claimed message (its `attempts` is the fencing token) or None if someone else changed it.
        """
        ...

    def mark_sent(self, message: StoredMessage, provider: str, accepted: Accepted, now: datetime) -> bool:
        """SENDING -> SENT with the provider's metadata, only while `message.attempts` is still the token."""
        ...

    def mark_failed(self, message: StoredMessage, provider: str, failure: ProviderFailure, now: datetime) -> bool:
        """SENDING -> FAILED, refunding `message.credits` with a REFUND ledger entry in the same transaction."""
        ...

    def requeue(
        self, message: StoredMessage, provider: str, next_provider: str, failure: ProviderFailure, now: datetime
    ) -> bool:
        """SENDING -> QUEUED for another attempt (on `next_provider`), lease released, provider code kept."""
        ...

    def fail_all(self, failures: Sequence[FailedSend], now: datetime) -> list[str]:
        """Every claimed message SENDING -> FAILED and its credits refunded, together: one balance update and one
        REFUND ledger entry (naming the message ids) per tenant and campaign, in the same transaction as the
        messages' fenced FAILED writes, so each message is refunded exactly once or not at all. A message whose
        claim was taken over is left out (not failed, not refunded). Returns the ids that were failed."""
        ...

    def defer(self, message: StoredMessage, provider: str, failure: ProviderFailure, now: datetime) -> bool:
        """SENDING -> QUEUED after a wait-type failure (throttled, sender paused): `deferrals` + 1, so the claim's
        attempt is not counted against DELIVERY_MAX_ATTEMPTS; lease released, provider code kept."""
        ...


@dataclass(frozen=True)
class FailedSend:
    """A claimed message to record as FAILED (and refund): under our claim, through `provider`, for `failure`."""

    message: StoredMessage
    provider: str
    failure: ProviderFailure


class DeferredDelivery(Protocol):
    def send_later(self, batch: QueueBatch, delay_seconds: int) -> None:
        """Put a record (delivery queue body) back on the delivery queue, visible after `delay_seconds` (<= 900)."""
        ...


# -- pacing: fleet-wide rate and circuit breaker per sender -------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    """What the fleet-wide bucket of one sender granted an invocation.

    `slots` are the epoch times (seconds) at which the granted messages may go, `interval` apart; empty when
    nothing was granted, and then `retry_at` says when asking again makes sense. `paused` is the sender's
    circuit breaker; `probe` means the one granted slot is the half-open probe of a paused sender.
    """

    slots: tuple[float, ...] = ()
    retry_at: float = 0.0
    paused: bool = False
    probe: bool = False


class SenderGate(Protocol):
    """Shared state of every sender: its token bucket (as the next free send time) and its circuit breaker."""

    def reserve(
        self,
        sender: str,
        rate: float,
        count: int,
        now: float,
        horizon: float,
        *,
        tenant: str | None = None,
        holding_horizon: float | None = None,
    ) -> Reservation:
        """Up to `count` consecutive send slots at `rate`/s, the first within `horizon` seconds of `now`; one
        conditional update whatever `count`. `rate` <= 0: unlimited, only the breaker is checked.

        With `tenant` and `holding_horizon`: a tenant still holding slots of an earlier reservation (its last one
        ends after `now`) gets the first slot only within the shorter `holding_horizon`, so a tenant holding
        nothing (a newcomer) always finds room between `holding_horizon` and `horizon` (fairness)."""
        ...

    def pause(self, sender: str, until: float, code: str, now: float) -> bool:
        """Open (or re-open after a failed probe) the sender's breaker until `until`. True when this call opened
        a closed breaker or re-opened after a probe (worth an alarm), False when it was already open."""
        ...

    def resume(self, sender: str) -> None:
        """Close the breaker (a probe went through)."""
        ...

    def paused_until(self, sender: str) -> float | None:
        """When the sender's breaker ends (epoch seconds; past: waiting for its probe), None when it is closed."""
        ...


class DeadLetters(Protocol):
    def send(self, batch: QueueBatch, reason: str) -> None:
        """Put a record (same body shape as the delivery queue) on the dead-letter queue for inspection."""
        ...


# -- delivery receipts --------------------------------------------------------------------------------------


class ReceiptStore(Protocol):
    def find(self, receipt: Receipt) -> MessageState | None:
        """The message the receipt is about (by our id, else by the provider's id), read consistently.

        None as well when the message was sent through another provider than the one reporting: a provider
        only ever speaks for its own messages.
        """
        ...

    def transition(self, state: MessageState, receipt: Receipt) -> bool:
        """Atomically: status `state.status` -> `receipt.status`, dispatch counters moved, history appended.

        Returns False, changing nothing, when the message is no longer in `state.status` or is no longer the
        reporting provider's.
        """
        ...


class ReceiptBuffer(Protocol):
    """Where the status webhooks put a receipt before anything reads or writes DynamoDB (the receipts queue): a
    burst of callbacks waits there for the receipts consumer instead of throttling on the tables."""

    def put(self, receipt: Receipt) -> None:
        """Queue `receipt` for the receipts consumer; raises when it could not be queued (the provider retries)."""
        ...


class ParkedReceipts(Protocol):
    """Receipts that overtook our own SENT write, kept under (provider, provider message id) until the message is
    SENT (smscore.domain.receipts.receive_receipt and apply_parked); each expires on its own after a few days."""

    def park(self, receipt: Receipt, expires_at: datetime) -> bool:
        """Keep `receipt` (it carries `provider_message_id`). False, changing nothing, when a receipt is already
        parked under its key: the first one stays, as the first final status recorded stays."""
        ...

    def parked(self, provider: str, provider_message_id: str) -> Receipt | None:
        """The receipt parked under this key, read consistently (a park that returned is seen); None if none."""
        ...


# -- status and audit reads ---------------------------------------------------------------------------------


class MessageQueries(Protocol):
    """Tenant-scoped reads: something of another tenant is reported exactly like something missing (None)."""

    def tenant_country(self, tenant_id: str) -> str | None: ...

    def dispatch(self, tenant_id: str, queue_id: str) -> DispatchView | None: ...

    def message(self, tenant_id: str, message_id: str) -> MessageView | None: ...

    def page_scope(self, tenant_id: str, filters: MessageFilters) -> PageScope:
        """Where `list_messages` reads for these filters: what a cursor for them must point into."""
        ...

    def list_messages(
        self, tenant_id: str, filters: MessageFilters, limit: int, start_key: dict[str, str] | None = None
    ) -> MessagePage:
        """Up to `limit` messages, newest first, and the key to continue from (None on the last page)."""
        ...


# -- opt-outs: the suppression list -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentChange:
    """A recipient's opt-out (STOP) or opt-in (START) for one sender, as a keyword reply reported it.

    `at` orders the changes of one (number, sender): a change older than the one stored is ignored, so a STOP and
    a START delivered out of order (SNS and webhooks do not guarantee order) end in the later one's state. It is
    the provider's time where it gives one (AWS: the SNS `Timestamp`), else when we received it (Twilio).
    """

    number: str  # E.164 of the recipient (who replied)
    sender: str  # sender key (smscore.providers.senders.sender_key): what the carrier ties the opt-out to
    opted_out: bool
    keyword: str
    at: datetime
    provider: str  # the channel the reply came in on
    reference: str | None = None  # the provider's id of the inbound message (MessageSid, inboundMessageId)


class RecordOutcome(StrEnum):
    APPLIED = "APPLIED"  # stored: the (number, sender) is now in this change's state
    SUPERSEDED = "SUPERSEDED"  # a change as recent or more recent is stored: this one changes nothing
    DUPLICATE = "DUPLICATE"  # this provider message was handled before (a redelivery or a replay): nothing changes


@dataclass(frozen=True)
class Recorded:
    """What `SuppressionList.apply` did: its outcome, and whether the (number, sender) changed state (not opted out,
    which includes no entry at all, <-> opted out). Exactly one writer sees `changed` for each change of state: the
    write that moved it is conditional on the state it moved from."""

    outcome: RecordOutcome
    changed: bool = False


class SuppressionList(Protocol):
    """Who must not be sent to, per (recipient number, sender): every tenant sending through that sender."""

    def record(self, change: ConsentChange, remember_until: datetime | None = None) -> RecordOutcome:
        """Store the change unless a later one is stored already.

        With a `reference` and `remember_until`, the provider message is remembered until then, in the same atomic
        write (also when it is SUPERSEDED): delivering it again before then is DUPLICATE, whatever its time.
        """
        ...

    def apply(self, change: ConsentChange, remember_until: datetime | None = None) -> Recorded:
        """`record`, also telling whether this write changed the state (contact.opted_out / opted_in events:
        smscore.domain.consent_events). A repeated STOP is APPLIED (newer) but not `changed`."""
        ...

    def is_suppressed(self, number: str, sender: str) -> bool: ...

    def suppressed(self, numbers: Sequence[str], sender: str, *, consistent: bool = False) -> set[str]:
        """The subset of `numbers` opted out of `sender` (bulk form for the send and delivery paths): reads the
        given numbers only. Eventually consistent unless `consistent`: a change of the last second may be missed
        by one read, and is seen by the next (docs/delivery.md, "Opt-outs at delivery")."""
        ...

    def opt_outs(self, numbers: Sequence[str], sender: str) -> dict[str, ConsentChange]:
        """The stored opt-out of each of `numbers` suppressed for `sender` (keyword, time): for showing why a
        contact is skipped. By key, for a page of contacts (at most a few hundred numbers)."""
        ...


# -- Colombian marketing rules (smscore.domain.compliance) ----------------------------------------------------


class TenantSettingsStore(Protocol):
    """A tenant's own settings (GET/PUT /api/settings): its compliance settings and quiet hours."""

    def read_settings(self, tenant_id: str) -> Tenant | None:
        """The tenant as last written (strongly consistent), or None when it does not exist."""
        ...

    def write_settings(
        self,
        tenant_id: str,
        compliance: ComplianceSettings,
        quiet_hours: QuietHours | None,
        credits_low_threshold: int | None = None,
        credits_low_reset: bool = False,
    ) -> bool:
        """Replace them all (None quiet hours or threshold: none); `credits_low_reset` forgets that credits.low was
        emitted (smscore.domain.credits_low). False, writing nothing, when the tenant does not exist."""
        ...
