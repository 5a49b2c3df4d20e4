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
"""

from __future__ import annotations

import logging
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
from smscore.domain.masking import mask
from smscore.domain.model import MessageStatus, QueueBatch, StoredMessage
from smscore.domain.ports import (
    DeadLetters,
    MessageStore,
    ProviderFailure,
    ProviderLookup,
    SmsRequest,
    TransientFailure,
)

log = logging.getLogger(__name__)

TERMINAL = frozenset({MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED})
SAFETY_MARGIN_SECONDS = 2.0
MAX_CLAIM_RACES = 3


class Outcome(StrEnum):
    SENT = "SENT"
    FAILED_PERMANENT = "FAILED_PERMANENT"
    EXHAUSTED = "EXHAUSTED"  # FAILED after transient failures, refunded, sent to the DLQ
    RETRY_LATER = "RETRY_LATER"  # requeued; the SQS record must come back
    LEASED_ELSEWHERE = "LEASED_ELSEWHERE"  # another consumer owns it right now; the SQS record must come back
    ALREADY_DONE = "ALREADY_DONE"  # terminal before we looked: duplicate delivery or replay
    NOT_FOUND = "NOT_FOUND"
    LOST_LEASE = "LOST_LEASE"  # our outcome write was fenced off: someone took over (should not happen)


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


class RateLimiter:
    """At most `rate` acquisitions per second in this process, spaced evenly (rate <= 0: unlimited).

    Per execution environment: the fleet-wide rate is this times the number of concurrent deliver
    invocations (bounded by the event source's MaximumConcurrency), so configure rate = provider limit / that.
    """

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


@dataclass
class DeliveryReport:
    """What happened to one SQS record's messages; the handler turns it into metrics and a batch response."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    provider_latencies_ms: list[tuple[str, float]] = field(default_factory=list)
    transient_failures: int = 0
    retried: int = 0
    refunded_messages: int = 0
    refunded_credits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)

    def counts(self) -> Counter[str]:
        return Counter(o.value for o in self.outcomes.values())

    @property
    def needs_redelivery(self) -> list[str]:
        return [mid for mid, o in self.outcomes.items() if o in NEEDS_REDELIVERY]

    @property
    def exhausted(self) -> list[str]:
        return [mid for mid, o in self.outcomes.items() if o == Outcome.EXHAUSTED]

    def _add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


class RedeliveryNeeded(Exception):
    """Raised for a record with messages left for later, so the batch processor reports it as failed."""

    def __init__(self, message_ids: Sequence[str]) -> None:
        super().__init__(f"{len(message_ids)} message(s) need another delivery of this record")
        self.message_ids = list(message_ids)


class Deliverer:
    """Sends the messages of one SQS record concurrently, under the exactly-once and retry rules above."""

    def __init__(
        self,
        store: MessageStore,
        providers: ProviderLookup,
        dead_letters: DeadLetters,
        policy: RetryPolicy,
        *,
        workers: int = 16,
        failover_provider: str | None = None,
        rate_limits: dict[str, float] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._store = store
        self._providers = providers
        self._dead_letters = dead_letters
        self._policy = policy
        self._workers = workers
        self._failover = failover_provider
        self._limiters = {name: RateLimiter(rate, sleep=sleep) for name, rate in (rate_limits or {}).items()}
        self._now = now
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._monotonic = monotonic

    def deliver(
        self,
        batch: QueueBatch,
        *,
        remaining_seconds: Callable[[], float] = lambda: float("inf"),
        final_receive: bool = False,
    ) -> DeliveryReport:
        """Deliver every message of the record; dead-letter the exhausted ones. Never raises for a provider
        problem: the report says which messages need this record again (see RedeliveryNeeded)."""
        report = DeliveryReport()
        ids = list(dict.fromkeys(batch.message_ids))
        stored = self._store.load(ids)

        def one(message_id: str) -> None:
            outcome = self._deliver_one(
                batch.tenant_id, message_id, stored.get(message_id), report, remaining_seconds, final_receive
            )
            report.outcomes[message_id] = outcome

        if self._workers <= 1 or len(ids) <= 1:
            for message_id in ids:
                one(message_id)
        else:
            with ThreadPoolExecutor(max_workers=min(self._workers, len(ids))) as pool:
                list(pool.map(one, ids))  # list() re-raises the first unexpected error

        if report.exhausted:
            self._dead_letters.send(
                QueueBatch(tenant_id=batch.tenant_id, queue_id=batch.queue_id, message_ids=report.exhausted),
                reason="retries exhausted",
            )
        return report

    # -- one message -------------------------------------------------------------------------------------

    def _deliver_one(
        self,
        tenant_id: str,
        message_id: str,
        message: StoredMessage | None,
        report: DeliveryReport,
        remaining_seconds: Callable[[], float],
        final_receive: bool,
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
            if remaining_seconds() < self._policy.provider_timeout_seconds + SAFETY_MARGIN_SECONDS:
                return Outcome.RETRY_LATER  # not claimed: no time to finish an attempt

            limiter = self._limiters.get(message.provider)
            if limiter is not None:
                limiter.acquire()  # before the claim: the claim-to-send gap stays minimal
            now = self._now()
            claimed = self._store.claim(message, now, now + timedelta(seconds=self._policy.lease_seconds))
            if claimed is None:
                races += 1
                if races > MAX_CLAIM_RACES:
                    return Outcome.LEASED_ELSEWHERE
                message = self._store.load([message_id]).get(message_id)
                continue

            outcome, message = self._attempt(claimed, report, final_receive, remaining_seconds)
            if outcome is not None:
                return outcome
            # Transient failure, requeued: retry here if there is time for backoff plus one more call.
            assert message is not None
            delay = self._policy.backoff(message.attempts, self._rng)
            if remaining_seconds() - delay < self._policy.provider_timeout_seconds + SAFETY_MARGIN_SECONDS:
                return Outcome.RETRY_LATER
            self._sleep(delay)

    def _attempt(
        self,
        claimed: StoredMessage,
        report: DeliveryReport,
        final_receive: bool,
        remaining_seconds: Callable[[], float],
    ) -> tuple[Outcome | None, StoredMessage | None]:
        """One provider call under our claim. Returns (final outcome, None) or (None, requeued message)."""
        provider_name = claimed.provider
        request = SmsRequest(
            message_id=claimed.message_id,
            tenant_id=claimed.tenant_id,
            recipient=claimed.recipient,
            body=claimed.body,
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
                if not recorded:
                    log.error("sent, but the claim was taken over", extra={"message_id": claimed.message_id})
                    return Outcome.LOST_LEASE, None
                log.debug("sent", extra={"message_id": claimed.message_id, "recipient": mask(claimed.recipient)})
                return Outcome.SENT, None
            report.provider_latencies_ms.append((provider_name, (self._monotonic() - started) * 1000))

        context = {
            "message_id": claimed.message_id,
            "recipient": mask(claimed.recipient),
            "provider": provider_name,
            "code": failure.code,
            "attempt": claimed.attempts,
        }
        if failure.permanent:
            if not self._store.mark_failed(claimed, provider_name, failure, self._now()):
                return Outcome.LOST_LEASE, None
            report._add(refunded_messages=1, refunded_credits=claimed.credits)
            log.warning("permanent failure, refunded", extra=context)
            return Outcome.FAILED_PERMANENT, None

        report._add(transient_failures=1)
        exhausted = claimed.attempts >= self._policy.max_attempts
        # On the record's last allowed receive, a message requeued for "later" would reach the DLQ unrefunded:
        # finish it now unless another in-invocation attempt surely fits.
        no_time_for_retry = (
            remaining_seconds() - self._policy.backoff_ceiling(claimed.attempts)
            < self._policy.provider_timeout_seconds + SAFETY_MARGIN_SECONDS
        )
        if exhausted or (final_receive and no_time_for_retry):
            if not self._store.mark_failed(claimed, provider_name, failure, self._now()):
                return Outcome.LOST_LEASE, None
            report._add(refunded_messages=1, refunded_credits=claimed.credits)
            log.warning("transient failures exhausted, refunded, dead-lettered", extra=context)
            return Outcome.EXHAUSTED, None

        next_provider = self._next_provider(provider_name)
        if not self._store.requeue(claimed, provider_name, next_provider, failure, self._now()):
            return Outcome.LOST_LEASE, None
        report._add(retried=1)
        log.info("transient failure, will retry", extra={**context, "next_provider": next_provider})
        return None, replace(claimed, status=MessageStatus.QUEUED, provider=next_provider, lease_until=None)

    def _next_provider(self, current: str) -> str:
        """After a transient failure the next attempt goes to the failover provider, when one is configured."""
        return self._failover if self._failover and self._failover != current else current
