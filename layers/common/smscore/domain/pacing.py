"""Fleet-wide pacing per sender: each invocation reserves the send slots of all its messages in one update.

A sender is what the carrier rate-limits (a Twilio From number or Messaging Service, an AWS origination
identity, the sandbox). Its bucket lives in DynamoDB (smscore.dal.sender_gate) as the next free send time: a
reservation of `n` slots moves it `n / rate` seconds ahead in one conditional update, so the slots of every
invocation of the fleet are disjoint and `1 / rate` apart, and no second holds more than rate + 1 of them.

One reservation per invocation and sender (issue 20, item 2): the first message of a sender asks for as many
slots as the invocation has messages of that sender waiting (its `demand`, every record of the invocation), as
far ahead as the sender's backlog goes (up to the messages' validity). A slot within what the invocation can wait
for (its horizon) is waited for here (`Go`); a later one is kept by its message, which goes back to the queue
with a delay that brings it back just before its slot (`Later`; smscore.domain.delivery carries the slot in the
re-sent record). A message that comes back holding its slot does not touch the bucket again. So a backlog of
50,000 messages costs the bucket one write per invocation of 500 when it arrives, and none while it waits,
instead of a failed conditional write and a read for every waiting message every second.

Fairness between tenants sharing a sender: a reservation reaches at most a fairness window W ahead (default
10 s, at least 3 slots' worth at the sender's rate; `Sender.fairness_window_seconds`), not up to the validity. A
tenant still holding slots (its last reservation ends after now) starts a new one only within W/3 and takes at
most W/3 of slots, so the bucket's reserved backlog never reaches past 2W/3 on its account; a tenant holding
nothing (a newcomer) may start anywhere within W, so its first slot is within W of its arrival whatever the other
tenants have waiting. Messages beyond the window wait on the queue (`Wait`) until the bucket is back within
reach, plus a random share of W so that waiting records do not come back together; an invocation asks the
bucket once per sender and tenant, and its other messages wait with the first.

A paused sender (the circuit breaker) is waiting without a slot (`Wait`), as before.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from smscore.domain.ports import Reservation, SenderGate

SLOT_LEAD_SECONDS = 2.0  # a message holding a later slot comes back this long before it (SQS delay granularity)
UNLIMITED_CHECK_SECONDS = 5.0  # how often an invocation re-reads the breaker of an unlimited sender
MIN_WAIT_SECONDS = 1.0
PROBE_LEASE_SECONDS = 30.0  # a half-open probe's hold on a paused sender; a crashed prober frees it after this
FAIRNESS_WINDOW_SECONDS = 10.0  # how far ahead a reservation may start: a newcomer tenant's first slot is within it


@dataclass(frozen=True)
class Sender:
    """One rate-limited sender: its key in the gate, fleet-wide messages/second (0 = unlimited), validity."""

    key: str
    rate: float
    validity_seconds: int
    fairness_window_seconds: float = 0.0  # 0: FAIRNESS_WINDOW_SECONDS, widened to 3 slots at a slow rate

    @property
    def window(self) -> float:
        """How far ahead a tenant holding nothing may start a reservation (W); a holding tenant: W/3."""
        base = self.fairness_window_seconds or FAIRNESS_WINDOW_SECONDS
        return max(base, 3 / self.rate) if self.rate > 0 else base


@dataclass(frozen=True)
class Go:
    """Send no earlier than `at` (epoch seconds). `probe`: this message tests a paused sender."""

    at: float
    probe: bool = False


@dataclass(frozen=True)
class Later:
    """A slot is reserved at `at` (epoch seconds), beyond the horizon: the message waits on the queue, holding it."""

    at: float


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
    breaker_read: bool = False  # messages holding slots read the breaker once per invocation
    waiting_until: float = 0.0  # the bucket is out of reach until then (jittered): the others wait without asking
    lock: threading.Lock = field(default_factory=threading.Lock)


class Pacer:
    """One invocation's view of the senders' buckets: slots reserved in slices, handed out to its workers."""

    def __init__(
        self,
        gate: SenderGate,
        demand: Counter[tuple[str, str]],
        clock: Callable[[], float],
        rng: random.Random | None = None,
    ) -> None:
        self._gate = gate
        self._demand = demand  # messages of this invocation still to send, per (sender key, tenant)
        self._clock = clock
        self._rng = rng or random.Random()
        self._states: dict[tuple[str, str], _SenderState] = {}
        self._lock = threading.Lock()
        self.reservations = 0

    def _state(self, key: tuple[str, str]) -> _SenderState:
        with self._lock:
            return self._states.setdefault(key, _SenderState())

    def acquire(
        self, sender: Sender, horizon: float, held: float | None = None, tenant: str | None = None
    ) -> Go | Later | Wait:
        """A slot for one message of `tenant`: `held` is the slot it already holds (it came back for it), if any."""
        key = (sender.key, tenant or "")
        state = self._state(key)
        with state.lock:
            now = self._clock()
            if held is not None and sender.rate > 0:
                return self._held(sender, state, held, now, horizon)
            if state.paused_until > now:
                return Wait(max(MIN_WAIT_SECONDS, state.paused_until - now), paused=True)
            if sender.rate <= 0 and state.unlimited_checked_until > now:
                return Go(now)
            if state.slots:
                self._demand[key] -= 1
                return self._slot(state.slots.popleft(), now, horizon)
            if state.waiting_until > now:
                return Wait(max(MIN_WAIT_SECONDS, state.waiting_until - now))
            window = sender.window
            count = max(1, self._demand[key])
            if sender.rate > 0:
                count = min(count, max(1, int(sender.rate * window / 3)))  # a holder's share: W/3 of slots
            reservation = self._gate.reserve(
                sender.key, sender.rate, count, now, window, tenant=tenant, holding_horizon=window / 3
            )
            self.reservations += 1
            if reservation.probe:
                state.paused_until = now + PROBE_LEASE_SECONDS  # the others wait for the probe's answer
                self._demand[key] -= 1
                return Go(reservation.slots[0] if reservation.slots else now, probe=True)
            if sender.rate <= 0 and not reservation.paused:
                state.unlimited_checked_until = now + UNLIMITED_CHECK_SECONDS
                return Go(now)
            if reservation.slots:
                state.slots.extend(reservation.slots)
                self._demand[key] -= 1
                return self._slot(state.slots.popleft(), now, horizon)
            if reservation.paused:
                state.paused_until = reservation.retry_at
                return Wait(max(MIN_WAIT_SECONDS, reservation.retry_at - now), paused=True)
            # Out of reach: back when the bucket is within reach again, plus a random share of the window (no herd).
            state.waiting_until = max(now + MIN_WAIT_SECONDS, reservation.retry_at) + self._rng.uniform(0, window)
            return Wait(state.waiting_until - now)

    @staticmethod
    def _slot(at: float, now: float, horizon: float) -> Go | Later:
        return Go(at) if at <= now + max(0.0, horizon) else Later(at)

    def _held(self, sender: Sender, state: _SenderState, held: float, now: float, horizon: float) -> Go | Later | Wait:
        """A message back for the slot it holds: no reservation, only the breaker, read once per invocation. A
        paused sender voids the slot (the message reserves again once the breaker closes)."""
        if not state.breaker_read:
            state.breaker_read = True
            paused_until = self._gate.paused_until(sender.key)
            if paused_until is not None:
                state.paused_until = max(state.paused_until, paused_until)
        if state.paused_until > 0:  # open, or half-open waiting for its probe (made by a message that reserves)
            return Wait(max(MIN_WAIT_SECONDS, state.paused_until - now), paused=True)
        return self._slot(held, now, horizon)

    def _states_of(self, sender: Sender) -> list[_SenderState]:
        with self._lock:
            return [state for (key, _), state in self._states.items() if key == sender.key]

    def paused(self, sender: Sender, until: float, code: str) -> bool:
        """A sender configuration error: open the fleet-wide breaker; True when this opened it (alarm)."""
        self._state((sender.key, ""))
        for state in self._states_of(sender):
            with state.lock:
                state.paused_until = until
                state.slots.clear()
        return self._gate.pause(sender.key, until, code, self._clock())

    def resumed(self, sender: Sender) -> None:
        """The probe went through: close the breaker for the fleet and for this invocation."""
        self._gate.resume(sender.key)
        for state in self._states_of(sender):
            with state.lock:
                state.paused_until = 0.0


class InProcessSenderGate:
    """The SenderGate of one process (the default of a Deliverer built without one, and the tests' fake): the
    same bucket and breaker rules as the DynamoDB gate, kept in a dict. tests/contract holds both to them."""

    def __init__(self) -> None:
        self._next_free: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}
        self._codes: dict[str, str] = {}
        self._held_until: dict[tuple[str, str], float] = {}  # (sender, tenant): where its last reservation ends
        self._lock = threading.Lock()

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
            fair = tenant is not None and holding_horizon is not None and holding_horizon < horizon
            reach = horizon
            if fair and self._held_until.get((sender, tenant or ""), 0.0) >= now:
                assert holding_horizon is not None
                reach = holding_horizon  # this tenant still holds slots: newcomers keep the room up to `horizon`
            if start > now and start >= now + reach:
                return Reservation(retry_at=start - reach)
            interval = 1 / rate
            self._next_free[sender] = start + count * interval
            if fair:
                # As the DynamoDB gate records it: the exact end when idle, else the latest a slice may end.
                end = start + count * interval
                self._held_until[(sender, tenant or "")] = end if start <= now else now + horizon + count * interval
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
