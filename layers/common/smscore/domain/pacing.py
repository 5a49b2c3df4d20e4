"""Fleet-wide pacing per sender: each invocation takes send slots from a shared bucket, a slice at a time.

A sender is what the carrier rate-limits (a Twilio From number or Messaging Service, an AWS origination
identity, the sandbox). Its bucket lives in DynamoDB (smscore.dal.sender_gate) as the next free send time: a
reservation of `n` slots moves it `n / rate` seconds ahead in one conditional update, so the slots of every
invocation of the fleet are disjoint and `1 / rate` apart, and no second holds more than rate + 1 of them. An
invocation takes up to `rate x SLICE_SECONDS` slots per update (never more than it has messages waiting), so
the bucket costs about one write per second of sending per invocation, not one per message.

A slot further away than the invocation can wait for (its horizon) is not taken: the message waits on the
queue instead (smscore.domain.delivery defers it with a delay), as it does while the sender is paused.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from smscore.domain.ports import Reservation, SenderGate

SLICE_SECONDS = 1.0  # slots taken per update: one second of the sender's rate
UNLIMITED_CHECK_SECONDS = 5.0  # how often an invocation re-reads the breaker of an unlimited sender
MIN_WAIT_SECONDS = 1.0
PROBE_LEASE_SECONDS = 30.0  # a half-open probe's hold on a paused sender; a crashed prober frees it after this


@dataclass(frozen=True)
class Sender:
    """One rate-limited sender: its key in the gate, fleet-wide messages/second (0 = unlimited), validity."""

    key: str
    rate: float
    validity_seconds: int


@dataclass(frozen=True)
class Go:
    """Send no earlier than `at` (epoch seconds). `probe`: this message tests a paused sender."""

    at: float
    probe: bool = False


@dataclass(frozen=True)
class Wait:
    """No slot within the horizon (or the sender is paused): put the message back for `seconds`."""

    seconds: float
    paused: bool = False


@dataclass
class _SenderState:
    slots: deque[float] = field(default_factory=deque)
    paused_until: float = 0.0
    unlimited_checked_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Pacer:
    """One invocation's view of the senders' buckets: slots reserved in slices, handed out to its workers."""

    def __init__(self, gate: SenderGate, demand: Counter[str], clock: Callable[[], float]) -> None:
        self._gate = gate
        self._demand = demand  # messages of this invocation still to send, per sender key
        self._clock = clock
        self._states: dict[str, _SenderState] = {}
        self._lock = threading.Lock()
        self.reservations = 0

    def _state(self, key: str) -> _SenderState:
        with self._lock:
            return self._states.setdefault(key, _SenderState())

    def acquire(self, sender: Sender, horizon: float) -> Go | Wait:
        state = self._state(sender.key)
        with state.lock:
            now = self._clock()
            if state.paused_until > now:
                return Wait(max(MIN_WAIT_SECONDS, state.paused_until - now), paused=True)
            if sender.rate <= 0 and state.unlimited_checked_until > now:
                return Go(now)
            if state.slots:
                self._demand[sender.key] -= 1
                return Go(state.slots.popleft())
            count = max(1, min(math.ceil(sender.rate * SLICE_SECONDS), self._demand[sender.key]))
            reservation = self._gate.reserve(sender.key, sender.rate, count, now, max(0.0, horizon))
            self.reservations += 1
            if reservation.probe:
                state.paused_until = now + PROBE_LEASE_SECONDS  # the others wait for the probe's answer
                self._demand[sender.key] -= 1
                return Go(reservation.slots[0] if reservation.slots else now, probe=True)
            if sender.rate <= 0 and not reservation.paused:
                state.unlimited_checked_until = now + UNLIMITED_CHECK_SECONDS
                return Go(now)
            if reservation.slots:
                state.slots.extend(reservation.slots)
                self._demand[sender.key] -= 1
                return Go(state.slots.popleft())
            if reservation.paused:
                state.paused_until = reservation.retry_at
            return Wait(max(MIN_WAIT_SECONDS, reservation.retry_at - now), paused=reservation.paused)

    def paused(self, sender: Sender, until: float, code: str) -> bool:
        """A sender configuration error: open the fleet-wide breaker; True when this opened it (alarm)."""
        state = self._state(sender.key)
        with state.lock:
            state.paused_until = until
            state.slots.clear()
        return self._gate.pause(sender.key, until, code, self._clock())

    def resumed(self, sender: Sender) -> None:
        """The probe went through: close the breaker for the fleet and for this invocation."""
        self._gate.resume(sender.key)
        state = self._state(sender.key)
        with state.lock:
            state.paused_until = 0.0


class InProcessSenderGate:
    """The SenderGate of one process (the default of a Deliverer built without one, and the tests' fake): the
    same bucket and breaker rules as the DynamoDB gate, kept in a dict. tests/contract holds both to them."""

    def __init__(self) -> None:
        self._next_free: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}
        self._codes: dict[str, str] = {}
        self._lock = threading.Lock()

    def reserve(self, sender: str, rate: float, count: int, now: float, horizon: float) -> Reservation:
        with self._lock:
            paused_until = self._paused_until.get(sender)
            if paused_until is not None:
                if paused_until > now:
                    return Reservation(retry_at=paused_until, paused=True)
                # Half-open: this caller probes; the others wait for its answer (or for its hold to lapse).
                self._paused_until[sender] = now + PROBE_LEASE_SECONDS
                if rate > 0:
                    self._next_free[sender] = max(self._next_free.get(sender, 0.0), now) + 1 / rate
                return Reservation(slots=(now,), paused=True, probe=True)
            if rate <= 0:
                return Reservation()
            start = max(self._next_free.get(sender, 0.0), now)
            if start > now and start >= now + horizon:
                return Reservation(retry_at=start - horizon)
            interval = 1 / rate
            self._next_free[sender] = start + count * interval
            return Reservation(slots=tuple(start + i * interval for i in range(count)))

    def pause(self, sender: str, until: float, code: str, now: float) -> bool:
        with self._lock:
            current = self._paused_until.get(sender)
            self._paused_until[sender] = max(until, current or 0.0)
            self._codes[sender] = code
            # Closed before, or the hold of a probe (which ends before the cool-down it would have set): alarm.
            return current is None or current <= now + PROBE_LEASE_SECONDS

    def resume(self, sender: str) -> None:
        with self._lock:
            self._paused_until.pop(sender, None)
            self._codes.pop(sender, None)

    def paused_until(self, sender: str) -> float | None:
        with self._lock:
            return self._paused_until.get(sender)
