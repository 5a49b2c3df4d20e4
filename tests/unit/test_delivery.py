"""The delivery policy on in-memory fakes: exactly once, retries, refunds, dead letters, failover, rate limit."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from smscore.domain.delivery import Deliverer, Outcome, RetryPolicy
from smscore.domain.model import MessageStatus, QueueBatch, StoredMessage
from smscore.domain.pacing import InProcessSenderGate, Sender
from smscore.domain.ports import (
    OutcomeUnknown,
    PermanentFailure,
    SenderUnavailable,
    Throttled,
    TransientFailure,
)
from tests.delivery_fakes import InMemoryMessageStore, ListDeadLetters, Providers, ScriptedProvider

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TENANT = "t-1"


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> InMemoryMessageStore:
    return InMemoryMessageStore()


@pytest.fixture
def sandbox() -> ScriptedProvider:
    return ScriptedProvider("sandbox")


@pytest.fixture
def dead() -> ListDeadLetters:
    return ListDeadLetters()


def message(n: int, status: MessageStatus = MessageStatus.QUEUED, **changes: object) -> StoredMessage:
    base = StoredMessage(
        message_id=f"m-{n}",
        tenant_id=TENANT,
        queue_id="q-1",
        recipient=f"+5730012345{n:02d}",
        body="hola",
        segments=2,
        credits=2,
        status=status,
        provider="sandbox",
    )
    return StoredMessage(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def deliverer(
    store: InMemoryMessageStore,
    providers: dict[str, ScriptedProvider],
    dead: ListDeadLetters,
    clock: Clock,
    **kwargs: object,
) -> Deliverer:
    policy = kwargs.pop("policy", RetryPolicy(max_attempts=3, backoff_base_seconds=0.1, backoff_cap_seconds=1))
    return Deliverer(
        store,
        Providers(dict(providers)),
        dead,
        policy,  # type: ignore[arg-type]
        now=clock,
        sleep=clock.sleep,
        rng=random.Random(7),
        **kwargs,  # type: ignore[arg-type]
    )


def batch(*ids: str) -> QueueBatch:
    return QueueBatch(tenant_id=TENANT, queue_id="q-1", message_ids=list(ids))


def test_each_message_is_sent_once_even_when_the_record_comes_twice(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given 20 queued messages, and a record that names one of them twice
    for n in range(20):
        store.add(message(n))
    ids = [f"m-{n}" for n in range(20)]
    worker = deliverer(store, {"sandbox": sandbox}, dead, clock, workers=8)
    # When the record is delivered, then delivered again (SQS at-least-once, or a DLQ replay)
    first = worker.deliver(batch(*ids, "m-3"))
    second = worker.deliver(batch(*ids))
    # Then every message reached the provider exactly once and is SENT
    assert sorted(c.message_id for c in sandbox.calls) == sorted(ids)
    assert first.count(Outcome.SENT) == 20
    assert second.count(Outcome.ALREADY_DONE) == 20
    assert {m.status for m in store.messages.values()} == {MessageStatus.SENT}
    assert store.counters["SENT"] == 20
    assert store.counters["QUEUED"] == 0
    assert store.counters["SENDING"] == 0
    assert not first.needs_redelivery
    assert not second.needs_redelivery


def test_a_live_lease_is_left_to_its_owner_and_the_record_comes_back(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given a message another invocation is sending right now
    store.add(message(1, MessageStatus.SENDING, attempts=1, lease_until=T0 + timedelta(seconds=60)))
    # When a duplicate of its record is delivered
    report = deliverer(store, {"sandbox": sandbox}, dead, clock).deliver(batch("m-1"))
    # Then nothing is sent and the record is asked back (in case the owner dies)
    assert sandbox.calls == []
    assert report.needs_redelivery == ["m-1"]


def test_an_expired_lease_is_taken_over_and_sent(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given a message claimed by an invocation that crashed before calling the provider
    store.add(message(1, MessageStatus.SENDING, attempts=1, lease_until=T0 - timedelta(seconds=1)))
    # When its record comes back
    report = deliverer(store, {"sandbox": sandbox}, dead, clock).deliver(batch("m-1"))
    # Then it is sent once, as the second attempt
    assert report.outcomes == {"m-1": Outcome.SENT}
    assert len(sandbox.calls) == 1
    assert store.messages["m-1"].attempts == 2


def test_permanent_failure_is_refunded_once_and_not_retried(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given an invalid number at the provider
    store.add(message(1))
    store.add(message(2))
    sandbox.always_fail(message(1).recipient, PermanentFailure("21211", "invalid To"))
    # When delivered (twice, as a replay would)
    worker = deliverer(store, {"sandbox": sandbox}, dead, clock)
    report = worker.deliver(batch("m-1", "m-2"))
    worker.deliver(batch("m-1", "m-2"))
    # Then it was tried once, FAILED with the provider's code, and its 2 credits came back once
    assert report.outcomes == {"m-1": Outcome.FAILED_PERMANENT, "m-2": Outcome.SENT}
    assert sandbox.calls_for("m-1") == 1
    assert store.messages["m-1"].status == MessageStatus.FAILED
    assert store.details["m-1"] == {"code": "21211", "permanent": True}
    assert [e for e in store.ledger if e[2] == "REFUND"] == [(TENANT, 2, "REFUND", ["m-1"])]
    assert store.balance[TENANT] == store.ledger_sum(TENANT) == -2
    assert report.refunded_credits == 2
    assert dead.batches == []


def test_transient_failures_are_retried_with_growing_jittered_backoff(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given a provider that throttles twice, then accepts
    store.add(message(1))
    sandbox.fail(message(1).recipient, TransientFailure("20429", "slow down"), OutcomeUnknown("TIMEOUT", "read"))
    # When delivered
    report = deliverer(store, {"sandbox": sandbox}, dead, clock).deliver(batch("m-1"))
    # Then the third attempt sent it, after two waits within 0.1s and 0.2s ceilings
    assert report.outcomes == {"m-1": Outcome.SENT}
    assert sandbox.calls_for("m-1") == 3
    assert store.messages["m-1"].attempts == 3
    assert len(clock.slept) == 2
    assert 0 <= clock.slept[0] <= 0.1
    assert 0 <= clock.slept[1] <= 0.2
    assert report.retried == 2
    assert report.transient_failures == 2
    assert store.balance[TENANT] == -2


def test_exhausted_retries_fail_refund_and_dead_letter(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given a provider that is down for one number
    store.add(message(1))
    store.add(message(2))
    sandbox.always_fail(message(1).recipient, TransientFailure("20503", "unavailable"))
    # When delivered with 3 attempts allowed
    report = deliverer(store, {"sandbox": sandbox}, dead, clock).deliver(batch("m-1", "m-2"))
    # Then it was attempted 3 times, FAILED, refunded, and only its id went to the DLQ
    assert report.outcomes["m-1"] == Outcome.EXHAUSTED
    assert sandbox.calls_for("m-1") == 3
    assert store.messages["m-1"].status == MessageStatus.FAILED
    assert store.details["m-1"] == {"code": "20503", "permanent": False}
    assert dead.batches == [batch("m-1")]
    assert store.balance[TENANT] == store.ledger_sum(TENANT) == -2
    assert not report.needs_redelivery


def test_without_time_for_another_attempt_the_message_waits_for_sqs(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given an invocation with 8 seconds left and a provider timeout of 5 seconds
    store.add(message(1))
    sandbox.fail(message(1).recipient, TransientFailure("20429", "slow down"))
    policy = RetryPolicy(max_attempts=3, backoff_base_seconds=2, backoff_cap_seconds=2, provider_timeout_seconds=5)
    worker = deliverer(store, {"sandbox": sandbox}, dead, clock, policy=policy)
    remaining = iter([8.0, 8.0, 8.0, 0.5, 0.5])
    # When the first attempt fails transiently
    report = worker.deliver(batch("m-1"), remaining_seconds=lambda: next(remaining))
    # Then it is requeued (still paid) and the record is asked back, no refund
    assert report.outcomes == {"m-1": Outcome.RETRY_LATER}
    assert store.messages["m-1"].status == MessageStatus.QUEUED
    assert store.balance[TENANT] == -2
    # And when SQS brings the record back, the second attempt sends it
    again = worker.deliver(batch("m-1"))
    assert again.outcomes == {"m-1": Outcome.SENT}
    assert sandbox.calls_for("m-1") == 2


def test_on_the_last_receive_a_transient_failure_without_time_is_final(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given the record's last allowed receive and no time for another attempt
    store.add(message(1))
    sandbox.fail(message(1).recipient, TransientFailure("20429", "slow down"))
    policy = RetryPolicy(max_attempts=3, backoff_base_seconds=2, backoff_cap_seconds=2, provider_timeout_seconds=5)
    worker = deliverer(store, {"sandbox": sandbox}, dead, clock, policy=policy)
    # When it fails transiently
    report = worker.deliver(batch("m-1"), remaining_seconds=lambda: 8.0, final_receive=True)
    # Then it is not left QUEUED in the DLQ unrefunded: FAILED, refunded, dead-lettered
    assert report.outcomes == {"m-1": Outcome.EXHAUSTED}
    assert store.balance[TENANT] == 0
    assert dead.batches == [batch("m-1")]


def test_failover_sends_the_next_attempt_through_the_secondary(
    store: InMemoryMessageStore, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given a tenant on Twilio, Twilio throttling, and the sandbox configured as failover
    twilio, backup = ScriptedProvider("twilio"), ScriptedProvider("sandbox")
    store.add(message(1, provider="twilio"))
    twilio.always_fail(message(1).recipient, TransientFailure("20429", "slow down"))
    worker = deliverer(store, {"twilio": twilio, "sandbox": backup}, dead, clock, failover_provider="sandbox")
    # When delivered
    report = worker.deliver(batch("m-1"))
    # Then the second attempt went to the secondary, which sent it
    assert report.outcomes == {"m-1": Outcome.SENT}
    assert len(twilio.calls) == 1
    assert len(backup.calls) == 1
    assert store.messages["m-1"].provider == "sandbox"


def test_unknown_message_and_other_tenants_message_are_not_sent(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    store.add(message(1, tenant_id="someone-else"))
    report = deliverer(store, {"sandbox": sandbox}, dead, clock).deliver(batch("m-1", "m-404"))
    assert report.outcomes == {"m-1": Outcome.NOT_FOUND, "m-404": Outcome.NOT_FOUND}
    assert sandbox.calls == []


class ListDeferred:
    def __init__(self) -> None:
        self.batches: list[tuple[QueueBatch, int]] = []

    def send_later(self, batch: QueueBatch, delay_seconds: int) -> None:
        self.batches.append((batch, delay_seconds))


def test_sends_of_one_sender_are_spaced_at_its_rate(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given a sender limited to 2 messages/second and 5 queued messages
    for n in range(5):
        store.add(message(n))
    senders = {"sandbox": Sender("sandbox", rate=2, validity_seconds=3600)}
    worker = deliverer(store, {"sandbox": sandbox}, dead, clock, senders=senders, workers=1)
    # When the record is delivered
    report = worker.deliver(batch(*[f"m-{n}" for n in range(5)]))
    # Then all are sent, the clock moved half a second per message after the first
    assert report.count(Outcome.SENT) == 5
    assert clock.now - T0 == timedelta(seconds=2)


def test_a_slot_beyond_the_horizon_is_held_while_the_message_waits_on_the_queue(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given a sender at 1 message/second (a fairness window of 90 s) whose bucket other invocations have filled
    # for the next minute
    gate = InProcessSenderGate()
    gate.reserve("sandbox", 1, 60, T0.timestamp(), horizon=60)
    store.add(message(1))
    deferred = ListDeferred()
    senders = {"sandbox": Sender("sandbox", rate=1, validity_seconds=3600, fairness_window_seconds=90)}
    worker = deliverer(store, {"sandbox": sandbox}, dead, clock, senders=senders, gate=gate, deferred=deferred)
    # When its record is delivered
    report = worker.deliver(batch("m-1"))
    # Then the message takes the slot after the backlog (T0 + 60 s) and goes back to the queue holding it, until
    # 2 s before it; unclaimed and not sent; the record is done
    assert report.outcomes == {"m-1": Outcome.DEFERRED}
    assert report.needs_redelivery == []
    (back, delay), *others = deferred.batches
    assert (back.message_ids, back.slots, delay, others) == (["m-1"], {"m-1": T0.timestamp() + 60}, 58, [])
    assert store.messages["m-1"].status == MessageStatus.QUEUED
    assert store.messages["m-1"].attempts == 0
    assert sandbox.calls == []
    # When it comes back with its slot, 58 s later / Then it is sent at its slot without a new reservation
    clock.now = T0 + timedelta(seconds=58)
    again = worker.deliver(back)
    assert again.outcomes == {"m-1": Outcome.SENT}
    assert clock.now == T0 + timedelta(seconds=60)
    assert gate.reserve("sandbox", 1, 1, T0.timestamp() + 60, horizon=60).slots == (T0.timestamp() + 61,)


def test_provider_throttling_defers_without_using_an_attempt(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given a provider that throttles a message 5 times (more than max_attempts = 3), then accepts it
    store.add(message(1))
    sandbox.fail("+573001234501", *[Throttled("20429", "Too Many Requests", retry_after=2)] * 5)
    deferred = ListDeferred()
    worker = deliverer(store, {"sandbox": sandbox}, dead, clock, deferred=deferred)
    # When the record comes back each time it was deferred
    outcomes = []
    for _ in range(6):
        outcomes.append(worker.deliver(batch("m-1")).outcomes["m-1"])
    # Then it waited 5 times (2 s each, the provider's hint) and was sent on the 6th, nothing refunded
    assert outcomes == [Outcome.DEFERRED] * 5 + [Outcome.SENT]
    assert [delay for _, delay in deferred.batches] == [2] * 5
    assert (store.messages["m-1"].attempts, store.messages["m-1"].deferrals) == (6, 5)
    assert store.balance[TENANT] == -2
    assert dead.batches == []


def test_a_message_past_its_validity_is_failed_expired_and_refunded_once(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given a message created 2 hours ago, with a validity of 1 hour
    store.add(message(1, created_at=T0 - timedelta(hours=2)))
    senders = {"sandbox": Sender("sandbox", rate=0, validity_seconds=3600)}
    worker = deliverer(store, {"sandbox": sandbox}, dead, clock, senders=senders)
    # When its record is delivered, twice
    first = worker.deliver(batch("m-1"))
    second = worker.deliver(batch("m-1"))
    # Then it is FAILED with EXPIRED, never sent, refunded exactly once
    assert (first.outcomes, second.outcomes) == ({"m-1": Outcome.EXPIRED}, {"m-1": Outcome.ALREADY_DONE})
    assert store.messages["m-1"].status == MessageStatus.FAILED
    assert store.details["m-1"]["code"] == "EXPIRED"
    assert sandbox.calls == []
    assert store.balance[TENANT] == store.ledger_sum(TENANT) == 0


def test_a_sender_configuration_error_pauses_the_sender_then_a_probe_resumes_it(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given a sender whose From number cannot send (Twilio 21606) once, and 3 queued messages
    for n in range(3):
        store.add(message(n))
    sandbox.fail("+573001234500", SenderUnavailable("21606", "The From phone number is not valid for this account"))
    gate = InProcessSenderGate()
    deferred = ListDeferred()
    worker = deliverer(
        store, {"sandbox": sandbox}, dead, clock, gate=gate, deferred=deferred, pause_seconds=300, workers=1
    )
    # When the record is delivered
    report = worker.deliver(batch("m-0", "m-1", "m-2"))
    # Then the failing message and those after it wait, nothing is refunded, the sender is paused for the fleet
    assert report.outcomes == {"m-0": Outcome.DEFERRED, "m-1": Outcome.DEFERRED, "m-2": Outcome.DEFERRED}
    assert report.paused_senders == {"sandbox"}
    assert gate.paused_until("sandbox") == (T0 + timedelta(seconds=300)).timestamp()
    assert len(sandbox.calls) == 1
    assert store.balance[TENANT] == -6
    # When the record comes back before the cool-down ends: nothing is sent
    clock.now += timedelta(seconds=100)
    assert set(worker.deliver(batch("m-0", "m-1", "m-2")).outcomes.values()) == {Outcome.DEFERRED}
    assert len(sandbox.calls) == 1
    # When it comes back after the cool-down: the first message probes, succeeds, the breaker closes, the rest follow
    clock.now += timedelta(seconds=201)
    again = worker.deliver(batch("m-0", "m-1", "m-2"))
    assert again.outcomes == {"m-0": Outcome.SENT, "m-1": Outcome.SENT, "m-2": Outcome.SENT}
    assert gate.paused_until("sandbox") is None
    assert len(sandbox.calls) == 4
    assert all(store.messages[f"m-{n}"].attempts - store.messages[f"m-{n}"].deferrals == 1 for n in range(3))


def test_backoff_has_full_jitter_under_a_capped_exponential_ceiling() -> None:
    policy = RetryPolicy(backoff_base_seconds=0.2, backoff_cap_seconds=1.0)
    assert [policy.backoff_ceiling(n) for n in (1, 2, 3, 4, 5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    rng = random.Random(1)
    samples = [policy.backoff(3, rng) for _ in range(200)]
    assert all(0 <= s <= 0.8 for s in samples)
    assert min(samples) < 0.2
    assert max(samples) > 0.6


def test_character_limits_come_from_the_provider_classes() -> None:
    from smscore.providers.aws_sms import AwsSmsProvider
    from smscore.providers.limits import CHARACTER_LIMITS
    from smscore.providers.sandbox import SandboxProvider
    from smscore.providers.twilio import TwilioProvider

    assert {
        "sandbox": SandboxProvider.character_limit,
        "aws_sms": AwsSmsProvider.character_limit,
        "twilio": TwilioProvider.character_limit,
    } == CHARACTER_LIMITS


def test_the_failures_of_a_record_are_refunded_together_once(
    store: InMemoryMessageStore, sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given a record of 6 messages, 4 of them to numbers the provider refuses for good
    for n in range(6):
        store.add(message(n))
    for n in range(4):
        sandbox.always_fail(f"+5730012345{n:02d}", PermanentFailure("21211", "invalid To"))
    worker = deliverer(store, {"sandbox": sandbox}, dead, clock, workers=4)
    # When it is delivered, and delivered again
    report = worker.deliver(batch(*[f"m-{n}" for n in range(6)]))
    worker.deliver(batch(*[f"m-{n}" for n in range(6)]))
    # Then the 4 are FAILED with one refund entry naming all of them; balance = ledger
    assert report.count(Outcome.FAILED_PERMANENT) == 4
    assert (report.refunded_messages, report.refunded_credits) == (4, 8)
    refunds = [(amount, sorted(ids)) for _, amount, kind, ids in store.ledger if kind == "REFUND"]
    assert refunds == [(8, ["m-0", "m-1", "m-2", "m-3"])]
    assert store.balance[TENANT] == store.ledger_sum(TENANT) == -4


class SlowClaimStore(InMemoryMessageStore):
    """A claim that takes `seconds` of the invocation (a throttled write retried under load)."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        super().__init__()
        self._clock = clock
        self._seconds = seconds

    def claim(self, message: StoredMessage, now: datetime, lease_until: datetime) -> StoredMessage | None:
        self._clock.sleep(self._seconds)
        return super().claim(message, now, lease_until)


def test_a_claim_that_leaves_too_little_time_is_given_back_without_calling_the_provider(
    sandbox: ScriptedProvider, dead: ListDeadLetters, clock: Clock
) -> None:
    # Given an invocation with 10 s left, a provider timeout of 5 s (an attempt needs 7 s with the margin), and a
    # claim that takes 4 s under load
    store = SlowClaimStore(clock, seconds=4)
    store.add(message(1))
    policy = RetryPolicy(max_attempts=3, backoff_base_seconds=1, backoff_cap_seconds=1, provider_timeout_seconds=5)
    worker = deliverer(store, {"sandbox": sandbox}, dead, clock, policy=policy, deferred=ListDeferred())

    def remaining() -> float:
        return 10 - (clock.now - T0).total_seconds()

    # When its record is delivered
    report = worker.deliver(batch("m-1"), remaining_seconds=remaining)
    # Then the provider is never called with 6 s left: the claim is given back (QUEUED, a deferral, no attempt
    # used, still paid) and the message comes back
    assert sandbox.calls == []
    assert report.outcomes == {"m-1": Outcome.DEFERRED}
    stored = store.messages["m-1"]
    assert (stored.status, stored.attempts - stored.deferrals) == (MessageStatus.QUEUED, 0)
    assert store.balance[TENANT] == -2
    # And when it comes back to an invocation with time, it is sent once
    again = worker.deliver(batch("m-1"))
    assert again.outcomes == {"m-1": Outcome.SENT}
    assert sandbox.calls_for("m-1") == 1
