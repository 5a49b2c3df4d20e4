"""The limiter under a backlog (issue 20, item 2): 50,000 messages waiting for one sender paced at 50 msg/s.

The real deliver path (Deliverer.plan + deliver + settle, as the deliver handler runs them) and the real DynamoDB
sender gate on moto, on a virtual clock: the 1,000 records of 50 arrive at once, invocations take them 10 at a
time as the event source does, every invocation starts as soon as its records are visible (no concurrency
limit: the worst case for the limiter), and its waits (for a slot, for the queue's delay) advance virtual time
instead of the wall clock. Messages live in the in-memory store; the delay queue stands in for SQS.

Row: the most UpdateItem calls (failed conditions included: each is a write) on the sender's item in any one
second of the drain; target <= 100. Before this change each waiting message came back every second for a failed
conditional write and a consistent read: about 1,500-2,000 writes/s at 20 concurrent invocations (the issue).
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import boto3

from bench.harness import Row, moto_stack
from smscore.domain.model import QueueBatch, StoredMessage
from smscore.domain.ports import Accepted, Reservation, SmsProvider, SmsRequest

MESSAGES = 50_000
RATE = 50.0
PER_RECORD = 50
RECORDS_PER_INVOCATION = 10
INVOCATION_SECONDS = 55.0
TARGET = 100
T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


@dataclass
class VirtualClock:
    t: float  # seconds since T0

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.t)

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


@dataclass
class VirtualQueue:
    """SQS in virtual time: a record is visible from a time on."""

    heap: list[tuple[float, int, QueueBatch]] = field(default_factory=list)
    seq: itertools.count[int] = field(default_factory=itertools.count)
    clock: VirtualClock | None = None  # the invocation sending (its time is "now" for a delay)
    resent: int = 0

    def put(self, batch: QueueBatch, at: float) -> None:
        heapq.heappush(self.heap, (at, next(self.seq), batch))

    def send_later(self, batch: QueueBatch, delay_seconds: int) -> None:
        assert self.clock is not None
        self.resent += 1
        self.put(batch, self.clock.t + delay_seconds)

    def take(self, limit: int) -> tuple[float, list[QueueBatch]]:
        at, _, first = heapq.heappop(self.heap)
        taken = [first]
        while self.heap and self.heap[0][0] <= at and len(taken) < limit:
            taken.append(heapq.heappop(self.heap)[2])
        return at, taken


class CountingGate:
    """The DynamoDB gate, its writes counted by the virtual second they happen in."""

    def __init__(self, inner: object) -> None:
        from smscore.dal.sender_gate import DynamoSenderGate

        assert isinstance(inner, DynamoSenderGate)
        self.inner = inner
        self.writes_by_second: Counter[int] = Counter()
        self.breaker_reads = 0

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
        before = self.inner.writes
        reservation = self.inner.reserve(
            sender, rate, count, now, horizon, tenant=tenant, holding_horizon=holding_horizon
        )
        self.writes_by_second[int(now - T0.timestamp())] += self.inner.writes - before
        return reservation

    def pause(self, sender: str, until: float, code: str, now: float) -> bool:
        return self.inner.pause(sender, until, code, now)

    def resume(self, sender: str) -> None:
        self.inner.resume(sender)

    def paused_until(self, sender: str) -> float | None:
        self.breaker_reads += 1
        return self.inner.paused_until(sender)


class ClockedCarrier(SmsProvider):
    """Accepts every message and notes the virtual time it did."""

    name = "sandbox"
    character_limit = 1600

    def __init__(self) -> None:
        self.clock: VirtualClock | None = None
        self.accepted: dict[str, float] = {}

    def send(self, request: SmsRequest) -> Accepted:
        assert self.clock is not None
        self.accepted.setdefault(request.message_id, self.clock.t)
        return Accepted(provider_message_id=f"sim-{request.message_id}")


def measure(messages: int = MESSAGES) -> Row:
    from smscore.dal.sender_gate import DynamoSenderGate
    from smscore.domain.delivery import Deliverer, Outcome, RetryPolicy
    from smscore.domain.model import MessageStatus
    from smscore.domain.pacing import Sender
    from tests.delivery_fakes import InMemoryMessageStore, ListDeadLetters, Providers

    with moto_stack() as stack:
        table = stack.environment("DeliverFunction")["SENDERS_TABLE"]
        gate = CountingGate(DynamoSenderGate(boto3.client("dynamodb", region_name=stack.names.region), table))
        store = InMemoryMessageStore()
        ids = [str(uuid.uuid4()) for _ in range(messages)]
        for i, message_id in enumerate(ids):
            store.add(
                StoredMessage(
                    message_id,
                    "tenant",
                    "queue",
                    f"+57301{i:07d}",
                    "Hola",
                    1,
                    1,
                    MessageStatus.QUEUED,
                    "sandbox",
                    created_at=T0,
                )
            )
        queue = VirtualQueue()
        for start in range(0, messages, PER_RECORD):
            queue.put(QueueBatch("tenant", "queue", ids[start : start + PER_RECORD]), 0.0)
        carrier = ClockedCarrier()
        senders = {"sandbox": Sender("sandbox", rate=RATE, validity_seconds=4 * 3600)}
        invocations = 0
        outcomes: Counter[str] = Counter()
        while queue.heap:
            start, batches = queue.take(RECORDS_PER_INVOCATION)
            clock = VirtualClock(start)
            queue.clock = carrier.clock = clock
            deliverer = Deliverer(
                store,
                Providers({"sandbox": carrier}),
                ListDeadLetters(),
                RetryPolicy(),
                workers=1,
                senders=senders,
                gate=gate,
                deferred=queue,
                now=clock.now,
                sleep=clock.sleep,
            )
            invocations += 1
            plan = deliverer.plan(batches)
            reports = []
            for batch in batches:
                report = deliverer.deliver(
                    batch,
                    remaining_seconds=lambda s=start, c=clock: INVOCATION_SECONDS - (c.t - s),
                    settle=False,
                    plan=plan,
                )
                reports.append(report)
                outcomes.update(o.value for o in report.outcomes.values())
                assert not report.needs_redelivery, report.needs_redelivery
            deliverer.settle(reports)
        statuses = Counter(m.status.value for m in store.messages.values())
    accepted = sorted(carrier.accepted.values())
    per_second = Counter(int(t) for t in accepted)
    drain_seconds = accepted[-1] - accepted[0]
    busiest = max(gate.writes_by_second.values())
    passed = busiest <= TARGET and statuses == Counter({"SENT": messages}) and max(per_second.values()) <= RATE + 1
    return Row(
        name="pacing: limiter writes/s on one sender, 50,000 waiting at 50 msg/s",
        value=busiest,
        unit="writes/s",
        baseline=TARGET,
        target=f"<= {TARGET} (busiest second; all SENT once, <= rate + 1 a second)",
        passed=passed,
        details={
            "messages": messages,
            "limiter_writes_total": sum(gate.writes_by_second.values()),
            "seconds_with_limiter_writes": len(gate.writes_by_second),
            "breaker_reads_total": gate.breaker_reads,
            "invocations": invocations,
            "records_re_sent_with_a_delay": queue.resent,
            "deferrals": outcomes.get(Outcome.DEFERRED.value, 0),
            "statuses": dict(statuses),
            "drain_seconds_virtual": round(drain_seconds, 1),
            "achieved_rate": round((len(accepted) - 1) / drain_seconds, 2) if drain_seconds else None,
            "max_accepted_in_one_second": max(per_second.values()),
            "before": "about 1,500-2,000 writes/s at 20 concurrent invocations (a failed write + a read per message/s)",
        },
    )
