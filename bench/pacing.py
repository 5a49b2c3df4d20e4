"""Pacing: 1,000 messages through the real Deliverer and its fleet-wide limiter (the DynamoDB sender gate on moto),
on 4 concurrent "invocations" (threads, each with its own Deliverer, as separate execution environments), against
the sandbox playing a carrier with a capacity (429 above it in any calendar second).

Messages live in the in-memory store (their own DynamoDB cost is measured by the delivery rows); the queue is an
in-memory delay queue standing in for SQS: deferred messages come back after their delay, as a delayed re-send.
Rows:
- achieved / configured rate (steady pace, 5th to 95th percentile acceptance), and the most acceptances in one
  calendar second (<= rate + 1; the sliding-window maximum is reported too: on a loaded machine a thread woken late
  shifts its send, which the limiter's slots do not control);
- messages failed when the configured rate is above the carrier's capacity (0: everything delivered, later);
- the limiter's DynamoDB write units per 1,000 messages next to the messages' own writes (claim, SENT, counters).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import boto3

from bench import pacing_backlog
from bench.harness import Row, moto_stack, serialised_moto
from smscore.domain.model import QueueBatch, StoredMessage
from smscore.domain.ports import SmsRequest
from smscore.providers.sandbox import OutboxEntry

MESSAGES = 1_000
INVOCATIONS = 4
PER_RECORD = 50
INVOCATION_SECONDS = 55.0  # the deliver function's Timeout (60) less a margin
MESSAGE_OWN_WRITES = 3  # claim, SENT, campaign counter ADD: the floor a message costs in DynamoDB


@dataclass
class DelayQueue:
    """SQS as the deliverer sees it: records visible at a time, taken by one consumer."""

    _heap: list[tuple[float, int, QueueBatch]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def put(self, batch: QueueBatch, delay: float = 0.0) -> None:
        with self._lock:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), batch))
            self._lock.notify()

    def send_later(self, batch: QueueBatch, delay_seconds: int) -> None:
        self.put(batch, float(delay_seconds))

    def take(self, timeout: float) -> QueueBatch | None:
        with self._lock:
            if self._heap and self._heap[0][0] <= time.monotonic():
                return heapq.heappop(self._heap)[2]
            wait = timeout if not self._heap else min(timeout, max(0.0, self._heap[0][0] - time.monotonic()))
            self._lock.wait(wait)
            if self._heap and self._heap[0][0] <= time.monotonic():
                return heapq.heappop(self._heap)[2]
            return None


@dataclass
class TimedOutbox:
    """The sandbox's outbox, keeping when the carrier accepted each message."""

    accepted_at: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: SmsRequest, provider_message_id: str, accepted_at: datetime | None = None) -> OutboxEntry:
        with self._lock:
            first = request.message_id not in self.accepted_at
            if first:
                self.accepted_at[request.message_id] = (accepted_at or datetime.now(UTC)).timestamp()
        return OutboxEntry(provider_message_id=provider_message_id, send_count=1 if first else 2)


def _max_sliding_window(times: list[float]) -> int:
    """The most acceptances in any 1-second window [t, t + 1) starting at an acceptance."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered)), default=0)


def _max_second(times: list[float]) -> int:
    """The most acceptances in one calendar second (what `smsctl outbox` acceptedAt shows, and the carrier counts)."""
    return max(Counter(int(t) for t in times).values(), default=0)


def _steady_rate(times: list[float]) -> float:
    """Messages/second between the 5th and 95th percentile acceptances: the pace, without start-up and tail."""
    ordered = sorted(times)
    low, high = len(ordered) // 20, len(ordered) - 1 - len(ordered) // 20
    span = ordered[high] - ordered[low]
    return (high - low) / span if span > 0 else 0.0


@dataclass
class RunResult:
    seconds: float
    achieved_rate: float
    max_second: int
    max_sliding_window: int
    statuses: Counter[str]
    throttled: int
    gate_writes: int


def _run(rate: float, capacity: int, messages: int = MESSAGES) -> RunResult:
    from smscore.dal.sender_gate import DynamoSenderGate
    from smscore.domain.delivery import Deliverer, RetryPolicy
    from smscore.domain.model import MessageStatus
    from smscore.domain.pacing import Sender
    from smscore.providers.sandbox import InProcessCapacity, SandboxProvider
    from tests.delivery_fakes import InMemoryMessageStore, ListDeadLetters, Providers

    with moto_stack() as stack, serialised_moto():
        table = stack.environment("DeliverFunction")["SENDERS_TABLE"]
        gate = DynamoSenderGate(boto3.client("dynamodb", region_name=stack.names.region), table)
        outbox = TimedOutbox()
        provider = SandboxProvider(outbox, capacity_mps=capacity, capacity=InProcessCapacity())
        call_lock = threading.Lock()
        store = InMemoryMessageStore()
        now = datetime.now(UTC)
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
                    created_at=now,
                )
            )
        queue = DelayQueue()
        for start in range(0, messages, PER_RECORD):
            queue.put(QueueBatch("tenant", "queue", ids[start : start + PER_RECORD]))
        senders = {"sandbox": Sender("sandbox", rate=rate, validity_seconds=4 * 3600)}
        throttled = [0]
        done = threading.Event()

        def finished() -> bool:
            counts = store.counters
            return counts["SENT"] + counts["FAILED"] >= messages

        def invocation_loop() -> None:
            deliverer = Deliverer(
                store,
                Providers({"sandbox": provider}),
                ListDeadLetters(),
                RetryPolicy(),
                workers=PER_RECORD,
                senders=senders,
                gate=gate,
                deferred=queue,
            )
            while not done.is_set():
                batch = queue.take(timeout=0.2)
                if batch is None:
                    if finished():
                        done.set()
                    continue
                started = time.monotonic()
                report = deliverer.deliver(
                    batch, remaining_seconds=lambda s=started: INVOCATION_SECONDS - (time.monotonic() - s)
                )
                with call_lock:
                    throttled[0] += report.throttled
                if report.needs_redelivery:  # SQS would bring the record back after its visibility timeout
                    queue.put(QueueBatch("tenant", "queue", report.needs_redelivery), delay=1.0)

        started = time.perf_counter()
        threads = [threading.Thread(target=invocation_loop) for _ in range(INVOCATIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        times = sorted(outbox.accepted_at.values())
        return RunResult(
            seconds=seconds,
            achieved_rate=_steady_rate(times),
            max_second=_max_second(times),
            max_sliding_window=_max_sliding_window(times),
            statuses=Counter(m.status.value for m in store.messages.values()),
            throttled=throttled[0],
            gate_writes=gate.writes,
        )


def measure() -> list[Row]:
    rate = 50.0
    # Row 1: the carrier takes anything (capacity 0), so the pace measured is the limiter's alone.
    paced = _run(rate=rate, capacity=0)
    over = _run(rate=60.0, capacity=40)
    writes_per_1000 = paced.gate_writes * 1000 / MESSAGES
    ratio = round(paced.achieved_rate / rate, 2)
    return [
        Row(
            name=f"pacing: achieved / configured rate ({MESSAGES} msgs, {INVOCATIONS} invocations, {rate:g}/s)",
            value=round(paced.achieved_rate, 2),
            unit="msg/s",
            baseline=rate,
            target="0.9-1.0x; max per second <= rate + 1",
            passed=0.9 <= ratio <= 1.0
            and paced.max_second <= rate + 1
            and paced.statuses == Counter({"SENT": MESSAGES}),
            details={
                "max_per_calendar_second": paced.max_second,
                "max_sliding_1s_window": paced.max_sliding_window,
                "statuses": dict(paced.statuses),
                "seconds": round(paced.seconds, 1),
            },
        ),
        Row(
            name="pacing: messages failed by throttling (configured 60/s, carrier capacity 40/s)",
            value=over.statuses.get("FAILED", 0),
            unit="msgs",
            baseline=None,
            target="0 failed, all SENT (later)",
            passed=over.statuses == Counter({"SENT": MESSAGES}),
            details={
                "statuses": dict(over.statuses),
                "carrier_429s_deferred": over.throttled,
                "achieved_rate": round(over.achieved_rate, 1),
                "max_per_calendar_second": over.max_second,
                "seconds": round(over.seconds, 1),
            },
        ),
        Row(
            name="pacing: limiter write units per 1,000 messages (vs the messages' own writes)",
            value=round(writes_per_1000, 1),
            unit="WCU",
            baseline=MESSAGE_OWN_WRITES * 1000,
            target="<= 0.05x the messages' own writes",
            passed=writes_per_1000 <= 0.05 * MESSAGE_OWN_WRITES * 1000,
            details={"gate_updates": paced.gate_writes, "messages": MESSAGES},
        ),
        pacing_backlog.measure(),
    ]
