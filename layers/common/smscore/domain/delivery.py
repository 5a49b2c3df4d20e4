"""Delivery: each message reaches its provider once, or is refunded. Plain Python; storage and providers injected.

State machine of one message (dispatch counters move in the same atomic write as the status):

    QUEUED --claim--> SENDING --accepted--> SENT (--receipt--> DELIVERED | UNDELIVERED, see issue 5)
      ^                  |--permanent failure------------------> FAILED + refund
      |                  |--transient, attempts exhausted------> FAILED + refund, ids to the DLQ
      +----requeue-------+--transient, attempts left (maybe on the failover provider)
                         |
    SENDING whose lease expired --takeover claim--> SENDING (a crashed owner's message)

Exactly once:
- A claim is a conditional write on the status as read (QUEUED, or SENDING with `lease_until` in the past)
  that increments `attempts` and sets a new lease. Two consumers of the same SQS record (duplicate delivery,
  DLQ replay, a redelivery racing a slow first run) cannot both win it. A terminal message is skipped; a
  message whose lease is alive is left to its owner (and its SQS record retried later, in case that owner
  dies).
- `attempts` after the claim is the owner's fencing token: SENT/FAILED/requeue are conditional on
  `status = SENDING AND attempts = token`, so an owner whose lease was taken over cannot overwrite.
- The lease (DELIVERY_LEASE_SECONDS) is longer than the function timeout, so a live owner is never taken
  over; the queue's visibility timeout is longer than the lease, so a crashed owner's record comes back after
  its lease has expired and the takeover happens.

The one unavoidable window: the provider accepted the message and the SENT write has not happened (the
function crashed or timed out in between, or the provider's answer was lost: a read timeout). The message is
then still SENDING/QUEUED and will be attempted again. It is kept small: SENT is written right after the
provider answers, before metrics or logs; provider calls have short timeouts; the rate-limit wait happens
before the claim, never between claim and send. Where the provider honours an idempotency key (the sandbox,
keyed by our message id) the second attempt returns the first provider id and nothing is sent twice; Twilio
and AWS End User Messaging SMS have no such key for sends, so there a second SMS is possible in that window.

Retries: transient failures are retried inside the invocation with exponential backoff and full jitter while
the Lambda has time left, each retry a new claim (so `attempts` counts provider calls across invocations).
When time runs short the message is requeued and the SQS record reported as a batch item failure, so SQS
redelivers it after the visibility timeout: the slow path for long outages. After DELIVERY_MAX_ATTEMPTS
provider calls (or on the record's last allowed receive) the message is FAILED and refunded, and its id is
sent to the dead-letter queue for inspection; replaying that record is harmless (the message is terminal).

Refunds: the failures (permanent, exhausted, expired, opted out) are accumulated while messages are tried and
settled together: by the deliver handler once per invocation for all its records (`deliver(..., settle=False)`
then `settle(reports)`), else once per record. Settling is one transaction per tenant and campaign (up to 98
messages) with every message's fenced FAILED write, one balance update and one REFUND entry naming the message
ids (MessageStore.fail_all), so the tenant's balance item takes one transaction per invocation and campaign, not
one per record or message (issue 20, item 3). A crash between accumulation and settlement leaves the messages
SENDING under a lease that expires (the invocation's records are not deleted either, so they come back); they
are taken over and decided again: a refund is never lost, and never paid twice, since each FAILED write is
conditional on the claim and the refund is in the same transaction.

Pacing and waiting (smscore.domain.pacing): before its claim a message takes a send slot of its sender from the
fleet-wide bucket. No slot within what the invocation can wait for, a paused sender, or the provider's own
throttling (`Throttled`) is waiting, not failing: the message goes back to the queue with a delay (a delayed
re-send of its id, so SQS's receive count does not grow) and a throttled claim is counted as a deferral, not
an attempt. It waits until its validity period (from `created_at`) runs out; then it is FAILED with code
EXPIRED and refunded. A sender configuration error (`SenderUnavailable`) opens the sender's circuit breaker for
the fleet (metric SenderPaused); after the cool-down one message probes it (half-open) and closes it again.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from smscore.domain.backoff import Backoff
from smscore.domain.frequency_recheck import FREQUENCY_CAPPED, FrequencyRecheck
from smscore.domain.masking import mask
from smscore.domain.model import MessageStatus, QueueBatch, StoredMessage
from smscore.domain.opt_out_links import PATH, PLACEHOLDER, OptOutCodes, personal_text
from smscore.domain.pacing import (
    MIN_WAIT_SECONDS,
    SLOT_LEAD_SECONDS,
    Go,
    InProcessSenderGate,
    Later,
    Pacer,
    Sender,
)
from smscore.domain.ports import (
    DeadLetters,
    DeferredDelivery,
    FailedSend,
    MessageStore,
    ParkedReceipts,
    PermanentFailure,
    ProviderFailure,
    ProviderLookup,
    ReceiptStore,
    SenderGate,
    SenderUnavailable,
    SmsRequest,
    SuppressionList,
    Throttled,
    TransientFailure,
)
from smscore.domain.receipts import apply_parked
from smscore.domain.windows import DeliveryWindows

log = logging.getLogger(__name__)

TERMINAL = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
        MessageStatus.CANCELLED,
    }
)
SAFETY_MARGIN_SECONDS = 2.0
OUT_OF_TIME = "OUT_OF_TIME"  # a claim given back unused: too little of the invocation left to call the provider
MAX_CLAIM_RACES = 3
MAX_SLOT_WAIT_SECONDS = 20.0  # the furthest send slot an invocation takes; beyond it the message waits on the queue
MAX_QUEUE_DELAY_SECONDS = 900  # SQS DelaySeconds maximum
THROTTLE_WAIT_SECONDS = (1.0, 3.0)  # jittered wait after a provider's throttling answer without a hint
DEFAULT_VALIDITY_SECONDS = 4 * 3600
EXPIRED = "EXPIRED"
OPTED_OUT = "OPTED_OUT"  # failure code (and reason) of a message whose recipient opted out of its sender
LINK_MARKER = PATH + PLACEHOLDER  # the end of a text whose footer is the opt-out link, code still to put in


class Outcome(StrEnum):
    SENT = "SENT"
    FAILED_PERMANENT = "FAILED_PERMANENT"
    EXHAUSTED = "EXHAUSTED"  # FAILED after transient failures, refunded, sent to the DLQ
    RETRY_LATER = "RETRY_LATER"  # requeued; the SQS record must come back
    LEASED_ELSEWHERE = "LEASED_ELSEWHERE"  # another consumer owns it right now; the SQS record must come back
    ALREADY_DONE = "ALREADY_DONE"  # terminal before we looked: duplicate delivery or replay
    NOT_FOUND = "NOT_FOUND"
    LOST_LEASE = "LOST_LEASE"  # our outcome write was fenced off: someone took over (should not happen)
    DEFERRED = "DEFERRED"  # waiting for its sender (no slot, throttled, paused): re-sent to the queue with a delay
    EXPIRED = "EXPIRED"  # its validity period ran out while waiting: FAILED, refunded
    OPTED_OUT = "OPTED_OUT"  # its recipient opted out of its sender (STOP) since the send: FAILED, refunded
    FREQUENCY_CAPPED = "FREQUENCY_CAPPED"  # released from schedule over the tenant's cap: FAILED, refunded
    SCHEDULED = "SCHEDULED"  # not due, or outside its send window now: SCHEDULED until the next opening (no attempt)


NEEDS_REDELIVERY = frozenset({Outcome.RETRY_LATER, Outcome.LEASED_ELSEWHERE})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_base_seconds: float = 0.2
    backoff_cap_seconds: float = 5.0
    lease_seconds: int = 180
    provider_timeout_seconds: float = 5.0

    def _backoff(self) -> Backoff:
        return Backoff(self.backoff_base_seconds, self.backoff_cap_seconds)

    def backoff_ceiling(self, attempt: int) -> float:
        return self._backoff().ceiling(attempt)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter (smscore.domain.backoff), so retries of many messages spread out."""
        return self._backoff().delay(attempt, rng)


@dataclass
class DeliveryReport:
    """What happened to one SQS record's messages; the handler turns it into metrics and a batch response."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    provider_latencies_ms: list[tuple[str, float]] = field(default_factory=list)
    transient_failures: int = 0
    retried: int = 0
    refunded_messages: int = 0
    refunded_credits: int = 0
    throttled: int = 0  # provider answers that said "too fast" (each one a deferral, not an attempt)
    deferred_seconds: dict[str, float] = field(default_factory=dict)  # message id -> how long it waits
    deferred_slots: dict[str, float] = field(default_factory=dict)  # message id -> the send slot it holds
    paused_senders: set[str] = field(default_factory=set)  # senders found or made paused (metric SenderPaused)
    to_fail: list[tuple[FailedSend, Outcome]] = field(default_factory=list)  # settled together, one refund
    batch: QueueBatch | None = None  # the record's tenant and campaign (for its dead letters after settlement)
    settled: bool = False  # its failures were recorded (Deliverer.settle); to_fail stays for the metrics
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)

    def counts(self) -> Counter[str]:
        return Counter(o.value for o in self.outcomes.values())

    @property
    def needs_redelivery(self) -> list[str]:
        return [mid for mid, o in self.outcomes.items() if o in NEEDS_REDELIVERY]

    def fail(self, failed: FailedSend, outcome: Outcome) -> Outcome:
        with self._lock:
            self.to_fail.append((failed, outcome))
        return outcome

    def defer(self, message_id: str, seconds: float, slot: float | None = None) -> Outcome:
        with self._lock:
            self.deferred_seconds[message_id] = seconds
            if slot is not None:
                self.deferred_slots[message_id] = slot
        return Outcome.DEFERRED

    @property
    def exhausted(self) -> list[str]:
        return [mid for mid, o in self.outcomes.items() if o == Outcome.EXHAUSTED]

    def _add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


@dataclass
class InvocationPlan:
    """What the records of one deliver invocation share: their messages, read once, and one pacer, so each sender's
    slots for all of them are reserved in one update (smscore.domain.pacing)."""

    stored: dict[str, StoredMessage]
    pacer: Pacer


class RedeliveryNeeded(Exception):
    """Raised for a record with messages left for later, so the batch processor reports it as failed."""

    def __init__(self, message_ids: Sequence[str]) -> None:
        super().__init__(f"{len(message_ids)} message(s) need another delivery of this record")
        self.message_ids = list(message_ids)


class Deliverer:
    """Sends the messages of one SQS record concurrently, under the exactly-once, pacing and retry rules above."""

    def __init__(
        self,
        store: MessageStore,
        providers: ProviderLookup,
        dead_letters: DeadLetters,
        policy: RetryPolicy,
        *,
        workers: int = 16,
        failover_provider: str | None = None,
        senders: dict[str, Sender] | None = None,
        gate: SenderGate | None = None,
        deferred: DeferredDelivery | None = None,
        validity_seconds: int = DEFAULT_VALIDITY_SECONDS,
        pause_seconds: float = 300.0,
        suppressions: SuppressionList | None = None,
        windows: DeliveryWindows | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.perf_counter,
        receipts: ReceiptStore | None = None,
        parked_receipts: ParkedReceipts | None = None,
        frequency: FrequencyRecheck | None = None,
        link_codes: Callable[[], OptOutCodes] | None = None,
    ) -> None:
        self._store = store
        self._providers = providers
        self._dead_letters = dead_letters
        self._policy = policy
        self._workers = workers
        self._failover = failover_provider
        self._senders = dict(senders or {})
        self._gate: SenderGate = gate if gate is not None else InProcessSenderGate()
        self._deferred = deferred
        self._validity_seconds = validity_seconds
        self._pause_seconds = pause_seconds
        self._suppressions = suppressions
        self._windows = windows
        self._now = now
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._monotonic = monotonic
        self._receipts = receipts
        self._parked = parked_receipts
        self._frequency = frequency  # the cap re-checked for released scheduled marketing (frequency_recheck)
        self._link_codes = link_codes  # the opt-out link's codes, put into the text right before sending

    def sender_of(self, provider: str) -> Sender:
        """The sender a provider's messages go through (unlimited, default validity, when not configured)."""
        return self._senders.get(provider) or Sender(key=provider, rate=0.0, validity_seconds=self._validity_seconds)

    def deliver(
        self,
        batch: QueueBatch,
        *,
        remaining_seconds: Callable[[], float] = lambda: float("inf"),
        final_receive: bool = False,
        settle: bool = True,
        plan: InvocationPlan | None = None,
    ) -> DeliveryReport:
        """Deliver every message of the record; dead-letter the exhausted ones, re-send the waiting ones with a
        delay. Never raises for a provider problem: the report says which messages need this record again.

        `settle=False` leaves the record's failures (refunds and dead letters) to a later `settle` of several
        records' reports: the deliver handler settles once per invocation. `plan` (from `plan`) shares the
        messages read and the senders' slots with the invocation's other records."""
        report = DeliveryReport(batch=batch)
        ids = list(dict.fromkeys(batch.message_ids))
        plan = plan or self.plan([batch])
        stored = {mid: plan.stored[mid] for mid in ids if mid in plan.stored}
        pacer = plan.pacer
        opted_out = self._opted_out(stored)
        capped = (
            self._frequency.capped(
                batch.tenant_id, [m for mid, m in stored.items() if mid not in opted_out], self._now()
            )
            if self._frequency is not None
            else set()
        )

        def one(message_id: str) -> None:
            if message_id in opted_out:
                refused = self._refuse_opted_out(batch.tenant_id, stored[message_id], report)
                if refused is not None:
                    report.outcomes[message_id] = refused
                    return
            if message_id in capped:
                refused = self._refuse(
                    batch.tenant_id,
                    stored[message_id],
                    report,
                    PermanentFailure(FREQUENCY_CAPPED, f"{FREQUENCY_CAPPED}: the recipient is over the tenant's cap"),
                    Outcome.FREQUENCY_CAPPED,
                )
                if refused is not None:
                    report.outcomes[message_id] = refused
                    return
            outcome = self._deliver_one(
                batch.tenant_id,
                message_id,
                stored.get(message_id),
                report,
                pacer,
                remaining_seconds,
                final_receive,
                batch.slots.get(message_id),
            )
            report.outcomes[message_id] = outcome

        if self._workers <= 1 or len(ids) <= 1:
            for message_id in ids:
                one(message_id)
        else:
            with ThreadPoolExecutor(max_workers=min(self._workers, len(ids))) as pool:
                list(pool.map(one, ids))  # list() re-raises the first unexpected error

        self._send_deferred(batch, report)
        if settle:
            self.settle([report])
        return report

    def plan(self, batches: Sequence[QueueBatch]) -> InvocationPlan:
        """Read the messages of every record of the invocation once and size each sender's one reservation: the
        waiting messages that do not hold a slot already."""
        ids = list(dict.fromkeys(mid for batch in batches for mid in batch.message_ids))
        stored = self._store.load(ids)
        held = {mid for batch in batches for mid in batch.slots}
        demand = Counter(
            (self.sender_of(m.provider).key, m.tenant_id)
            for m in stored.values()
            if m.status not in TERMINAL and m.message_id not in held
        )
        return InvocationPlan(stored, Pacer(self._gate, demand, clock=lambda: self._now().timestamp(), rng=self._rng))

    def settle(self, reports: Sequence[DeliveryReport]) -> None:
        """The accumulated failures of these records become FAILED and are refunded together: one transaction per
        tenant and campaign (smscore.dal.message_store.fail_all), instead of one per record on the tenant item.
        Each message's write is still fenced by its claim, so it is refunded exactly once; one that was taken over
        meanwhile is left to its new owner (LOST_LEASE). Then each record's exhausted messages are dead-lettered."""
        reports = [report for report in reports if not report.settled]
        pending = [(report, item, outcome) for report in reports for item, outcome in report.to_fail]
        if pending:
            failed = set(self._store.fail_all([item for _, item, _ in pending], self._now()))
            for report, item, outcome in pending:
                message = item.message
                if message.message_id in failed:
                    report.refunded_messages += 1
                    report.refunded_credits += message.credits
                    report.outcomes[message.message_id] = outcome
                else:
                    log.error(
                        "failure not recorded: the claim was taken over", extra={"message_id": message.message_id}
                    )
                    report.outcomes[message.message_id] = Outcome.LOST_LEASE
        for report in reports:
            report.settled = True
            if report.exhausted and report.batch is not None:
                self._dead_letters.send(
                    QueueBatch(
                        tenant_id=report.batch.tenant_id, queue_id=report.batch.queue_id, message_ids=report.exhausted
                    ),
                    reason="retries exhausted",
                )

    def _opted_out(self, stored: dict[str, StoredMessage]) -> set[str]:
        """Ids of the record's messages whose recipient opted out of their sender since the campaign was sent:
        checked right before the record's sends start (one bulk read per sender), so a STOP that arrives in the
        middle of a campaign stops the rest of it."""
        if self._suppressions is None:
            return set()
        by_sender: dict[str, list[StoredMessage]] = {}
        for message in stored.values():
            if message.status not in TERMINAL:
                by_sender.setdefault(self.sender_of(message.provider).key, []).append(message)
        opted_out: set[str] = set()
        for sender, messages in by_sender.items():
            blocked = self._suppressions.suppressed([m.recipient for m in messages], sender, consistent=False)
            opted_out |= {m.message_id for m in messages if m.recipient in blocked}
        return opted_out

    def _refuse_opted_out(self, tenant_id: str, message: StoredMessage, report: DeliveryReport) -> Outcome | None:
        """Claim the message (so one consumer decides) and fail it OPTED_OUT, refunded with the record's failures.
        None when it is not ours to decide (another tenant's, terminal, leased): the normal path answers that."""
        sender = self.sender_of(message.provider).key
        failure = PermanentFailure(OPTED_OUT, f"{OPTED_OUT}: the recipient opted out of sender {sender}")
        return self._refuse(tenant_id, message, report, failure, Outcome.OPTED_OUT)

    def _refuse(
        self,
        tenant_id: str,
        message: StoredMessage,
        report: DeliveryReport,
        failure: PermanentFailure,
        outcome: Outcome,
    ) -> Outcome | None:
        """Claim the message (so one consumer decides) and fail it with `failure`, refunded with the record's
        failures. None when it is not ours to decide (another tenant's, terminal, leased): the normal path answers."""
        now = self._now()
        leased = message.status == MessageStatus.SENDING and message.lease_until and message.lease_until > now
        not_due = message.status == MessageStatus.SCHEDULED and (message.due_at is None or message.due_at > now)
        if message.tenant_id != tenant_id or message.status in TERMINAL or leased or not_due:
            return None  # not due: the scheduler's until then, and checked again when delivered
        claimed = self._store.claim(message, now, now + timedelta(seconds=self._policy.lease_seconds))
        if claimed is None:
            return Outcome.LEASED_ELSEWHERE  # someone else moved it: the record comes back and is checked again
        log.info("left out before sending, to refund", extra={"message_id": claimed.message_id, "code": failure.code})
        return report.fail(FailedSend(claimed, claimed.provider, failure), outcome)

    def _text_of(self, message: StoredMessage) -> str:
        """The text the recipient receives: the stored one, with this message's opt-out link code in its footer
        (smscore.domain.opt_out_links; the secret is read only for a text that has the link)."""
        if self._link_codes is None or not message.body.endswith(LINK_MARKER):
            return message.body
        return personal_text(message.body, message.message_id, self._link_codes())

    def _send_deferred(self, batch: QueueBatch, report: DeliveryReport) -> None:
        """The waiting messages go back as new records with a delay, so this one completes: those holding a send
        slot grouped by when their slots come (one record per MAX_SLOT_WAIT_SECONDS of slots, back just before
        its first slot, carrying the slots), the others together after the shortest wait among them. Without a
        deferred queue (or if the re-send fails) they are redelivered with this record."""
        waiting = [mid for mid, outcome in report.outcomes.items() if outcome == Outcome.DEFERRED]
        if not waiting:
            return
        if self._deferred is None:
            for mid in waiting:
                report.outcomes[mid] = Outcome.RETRY_LATER
            return
        groups: dict[int, list[str]] = {}
        for mid in waiting:
            slot = report.deferred_slots.get(mid)
            groups.setdefault(-1 if slot is None else int(slot // MAX_SLOT_WAIT_SECONDS), []).append(mid)
        for key, mids in sorted(groups.items()):
            delay = min(report.deferred_seconds.get(mid, 1.0) for mid in mids)
            rounded = math.floor(delay) if key >= 0 else math.ceil(delay)  # for a slot: rather early than late
            delay_seconds = int(min(MAX_QUEUE_DELAY_SECONDS, max(1, rounded)))
            slots = {mid: report.deferred_slots[mid] for mid in mids if mid in report.deferred_slots}
            self._deferred.send_later(
                QueueBatch(tenant_id=batch.tenant_id, queue_id=batch.queue_id, message_ids=mids, slots=slots),
                delay_seconds,
            )

    # -- one message -------------------------------------------------------------------------------------

    def _expires_at(self, message: StoredMessage, sender: Sender) -> datetime | None:
        if message.created_at is None:
            return None
        return message.created_at + timedelta(seconds=sender.validity_seconds)

    def _deliver_one(
        self,
        tenant_id: str,
        message_id: str,
        message: StoredMessage | None,
        report: DeliveryReport,
        pacer: Pacer,
        remaining_seconds: Callable[[], float],
        final_receive: bool,
        held: float | None = None,
    ) -> Outcome:
        races = 0
        while True:
            if message is None:
                log.error("message not found", extra={"message_id": message_id})
                return Outcome.NOT_FOUND
            if message.tenant_id != tenant_id:
                # A record naming another tenant's message is never acted upon.
                log.error("message belongs to another tenant", extra={"message_id": message_id})
                return Outcome.NOT_FOUND
            if message.status in TERMINAL:
                return Outcome.ALREADY_DONE
            now = self._now()
            if message.status == MessageStatus.SENDING and message.lease_until and message.lease_until > now:
                return Outcome.LEASED_ELSEWHERE
            if message.status == MessageStatus.SCHEDULED and (message.due_at is None or message.due_at > now):
                return Outcome.SCHEDULED  # not due: the scheduler enqueues it when it is
            if self._windows is not None and message.status in (MessageStatus.QUEUED, MessageStatus.SCHEDULED):
                # The send window is checked again right before sending: a campaign still going when it closes
                # pauses (SCHEDULED until the next opening, no attempt used) and resumes when it opens.
                opening = self._windows.opening(message, now)
                if opening > now:
                    if self._windows.reschedule(message, opening, now):
                        return Outcome.SCHEDULED
                    races += 1
                    if races > MAX_CLAIM_RACES:
                        return Outcome.LEASED_ELSEWHERE
                    message = self._store.load([message_id]).get(message_id)
                    continue
            sender = self.sender_of(message.provider)
            expires_at = self._expires_at(message, sender)
            if expires_at is not None and expires_at <= now:
                outcome = self._expire(message, report)
                if outcome is not None:
                    return outcome
                races += 1
                if races > MAX_CLAIM_RACES:
                    return Outcome.LEASED_ELSEWHERE
                message = self._store.load([message_id]).get(message_id)
                continue
            if remaining_seconds() < self._policy.provider_timeout_seconds + SAFETY_MARGIN_SECONDS:
                # Not claimed, no time to finish an attempt: it waits (re-sent shortly), like a message without a
                # slot, rather than for the record's visibility timeout. Without a deferred queue: RETRY_LATER.
                return report.defer(message_id, MIN_WAIT_SECONDS)

            # The send slot is taken before the claim: the claim-to-send gap stays minimal.
            horizon = min(
                MAX_SLOT_WAIT_SECONDS,
                remaining_seconds() - self._policy.provider_timeout_seconds - SAFETY_MARGIN_SECONDS,
            )
            grant = pacer.acquire(sender, horizon, held=held, tenant=tenant_id)
            if isinstance(grant, Later):
                # Its slot is reserved, further than this invocation waits: back to the queue until just before it.
                delay = grant.at - self._now().timestamp() - SLOT_LEAD_SECONDS
                return report.defer(message_id, self._bounded_wait(delay, expires_at, now), slot=grant.at)
            held = None  # a retry after a transient failure takes a new slot
            if not isinstance(grant, Go):
                if grant.paused:
                    with report._lock:
                        report.paused_senders.add(sender.key)
                return report.defer(message_id, self._bounded_wait(grant.seconds, expires_at, now))
            wait = grant.at - self._now().timestamp()
            if wait > 0:
                self._sleep(wait)
            now = self._now()
            claimed = self._store.claim(message, now, now + timedelta(seconds=self._policy.lease_seconds))
            if claimed is None:
                races += 1
                if races > MAX_CLAIM_RACES:
                    return Outcome.LEASED_ELSEWHERE
                message = self._store.load([message_id]).get(message_id)
                continue
            if remaining_seconds() < self._policy.provider_timeout_seconds + SAFETY_MARGIN_SECONDS:
                # The slot's wait and the claim (a slow, retried write under load) used the time the attempt
                # needed: a provider call now could be cut by the timeout after the provider accepted it, leaving
                # the message SENDING for a takeover to send again. The claim is given back unused (a deferral).
                if not self._store.defer(
                    claimed, claimed.provider, TransientFailure(OUT_OF_TIME, OUT_OF_TIME), self._now()
                ):
                    return Outcome.LOST_LEASE
                log.info("claimed too late to send; given back", extra={"message_id": message_id})
                return report.defer(message_id, MIN_WAIT_SECONDS)

            outcome, message = self._attempt(claimed, report, final_receive, remaining_seconds, pacer, grant.probe)
            if outcome is not None:
                return outcome
            # Transient failure, requeued: retry here if there is time for backoff plus one more call.
            assert message is not None
            delay = self._policy.backoff(message.attempts - message.deferrals, self._rng)
            if remaining_seconds() - delay < self._policy.provider_timeout_seconds + SAFETY_MARGIN_SECONDS:
                return Outcome.RETRY_LATER
            self._sleep(delay)

    @staticmethod
    def _bounded_wait(seconds: float, expires_at: datetime | None, now: datetime) -> float:
        """Wait as asked, but come back right after the validity ends, to expire and refund without delay."""
        if expires_at is None:
            return seconds
        return max(1.0, min(seconds, (expires_at - now).total_seconds() + 1))

    def _expire(self, message: StoredMessage, report: DeliveryReport) -> Outcome | None:
        """Its validity ran out while waiting: claim it (so one consumer decides) and fail it, refunded."""
        now = self._now()
        claimed = self._store.claim(message, now, now + timedelta(seconds=self._policy.lease_seconds))
        if claimed is None:
            return None
        validity = self.sender_of(message.provider).validity_seconds
        failure = PermanentFailure(EXPIRED, f"validity period of {validity}s ran out")
        log.warning("validity ran out, to refund", extra={"message_id": message.message_id, "code": EXPIRED})
        return report.fail(FailedSend(claimed, claimed.provider, failure), Outcome.EXPIRED)

    def _attempt(
        self,
        claimed: StoredMessage,
        report: DeliveryReport,
        final_receive: bool,
        remaining_seconds: Callable[[], float],
        pacer: Pacer,
        probe: bool,
    ) -> tuple[Outcome | None, StoredMessage | None]:
        """One provider call under our claim. Returns (final outcome, None) or (None, requeued message)."""
        provider_name = claimed.provider
        sender = self.sender_of(provider_name)
        request = SmsRequest(
            message_id=claimed.message_id,
            tenant_id=claimed.tenant_id,
            recipient=claimed.recipient,
            body=self._text_of(claimed),
            segments=claimed.segments,
        )
        try:
            provider = self._providers.get(provider_name)
        except LookupError:
            failure: ProviderFailure = TransientFailure("PROVIDER_NOT_CONFIGURED", provider_name)
        else:
            started = self._monotonic()
            try:
                accepted = provider.send(request)
            except ProviderFailure as exc:
                failure = exc
            else:
                # The exactly-once window closes here: record SENT before anything else.
                recorded = self._store.mark_sent(claimed, provider_name, accepted, self._now())
                report.provider_latencies_ms.append((provider_name, (self._monotonic() - started) * 1000))
                if probe:
                    pacer.resumed(sender)
                    log.warning("sender resumed: probe accepted", extra={"sender": sender.key})
                if not recorded:
                    log.error("sent, but the claim was taken over", extra={"message_id": claimed.message_id})
                    return Outcome.LOST_LEASE, None
                log.debug("sent", extra={"message_id": claimed.message_id, "recipient": mask(claimed.recipient)})
                self._apply_parked_receipt(claimed.message_id, provider_name, accepted.provider_message_id)
                return Outcome.SENT, None
            report.provider_latencies_ms.append((provider_name, (self._monotonic() - started) * 1000))

        context = {
            "message_id": claimed.message_id,
            "recipient": mask(claimed.recipient),
            "provider": provider_name,
            "code": failure.code,
            "attempt": claimed.attempts,
        }
        if probe and not isinstance(failure, SenderUnavailable):
            pacer.resumed(sender)  # the sender answered about the message, not about itself: it works again
        if isinstance(failure, (Throttled, SenderUnavailable)):
            return self._wait_for_sender(claimed, provider_name, failure, report, pacer, sender, context), None
        if failure.permanent:
            log.warning("permanent failure, to refund", extra=context)
            return report.fail(FailedSend(claimed, provider_name, failure), Outcome.FAILED_PERMANENT), None

        report._add(transient_failures=1)
        exhausted = claimed.attempts - claimed.deferrals >= self._policy.max_attempts
        # On the record's last allowed receive, a message requeued for "later" would reach the DLQ unrefunded:
        # finish it now unless another in-invocation attempt surely fits.
        no_time_for_retry = (
            remaining_seconds() - self._policy.backoff_ceiling(claimed.attempts - claimed.deferrals)
            < self._policy.provider_timeout_seconds + SAFETY_MARGIN_SECONDS
        )
        if exhausted or (final_receive and no_time_for_retry):
            log.warning("transient failures exhausted, to refund and dead-letter", extra=context)
            return report.fail(FailedSend(claimed, provider_name, failure), Outcome.EXHAUSTED), None

        next_provider = self._next_provider(provider_name)
        if not self._store.requeue(claimed, provider_name, next_provider, failure, self._now()):
            return Outcome.LOST_LEASE, None
        report._add(retried=1)
        log.info("transient failure, will retry", extra={**context, "next_provider": next_provider})
        return None, replace(claimed, status=MessageStatus.QUEUED, provider=next_provider, lease_until=None)

    def _apply_parked_receipt(self, message_id: str, provider: str, provider_message_id: str) -> None:
        """A receipt the provider sent before our SENT write was parked (smscore.domain.receipts): apply it now.

        SENT is recorded already, so a failure here must not fail the send; the receipt stays parked, and one
        parked after this look is applied by the webhook that parked it (it looks again after parking)."""
        if self._receipts is None or self._parked is None:
            return
        try:
            outcome = apply_parked(provider, provider_message_id, self._receipts, self._parked, message_id=message_id)
        except Exception:
            log.exception("parked receipt not applied", extra={"message_id": message_id, "provider": provider})
            return
        if outcome is not None:
            log.info("parked receipt applied", extra={"message_id": message_id, "outcome": outcome.value})

    def _wait_for_sender(
        self,
        claimed: StoredMessage,
        provider_name: str,
        failure: ProviderFailure,
        report: DeliveryReport,
        pacer: Pacer,
        sender: Sender,
        context: dict[str, object],
    ) -> Outcome:
        """Throttled, or the sender cannot send: back to QUEUED as a deferral (no attempt used), then wait."""
        now = self._now()
        if not self._store.defer(claimed, provider_name, failure, now):
            return Outcome.LOST_LEASE
        if isinstance(failure, SenderUnavailable):
            until = now.timestamp() + self._pause_seconds
            if pacer.paused(sender, until, failure.code):
                log.error("sender paused by a configuration error", extra={**context, "sender": sender.key})
            with report._lock:
                report.paused_senders.add(sender.key)
            seconds = self._pause_seconds
        else:
            report._add(throttled=1)
            hint = failure.retry_after if isinstance(failure, Throttled) else None
            seconds = hint if hint else self._rng.uniform(*THROTTLE_WAIT_SECONDS)
            log.info("throttled by the provider, waiting", extra=context)
        return report.defer(claimed.message_id, self._bounded_wait(seconds, self._expires_at(claimed, sender), now))

    def _next_provider(self, current: str) -> str:
        """After a transient failure the next attempt goes to the failover provider, when one is configured."""
        return self._failover if self._failover and self._failover != current else current
