"""The local default provider: nothing leaves the machine, every accepted send is written to the Outbox table.

Test numbers (deterministic, like the magic numbers of the big providers' test modes; all valid Colombian
mobiles so that the send API accepts them):

    +573000000001  permanent failure, invalid number    -> FAILED, code SANDBOX_21211, refunded
    +573000000002  transient failure that never clears -> retried, then FAILED SANDBOX_429, refunded, DLQ
    +573000000003  times out (after SANDBOX_TIMEOUT_SECONDS) -> retried like a transient failure, then as above
    +573000000004  permanent failure, opted out at the carrier -> FAILED, code SANDBOX_21610, refunded

Every other number is accepted after SANDBOX_LATENCY_MS. With SANDBOX_CAPACITY_MPS (template parameter
`SandboxCapacityMps`) the sandbox plays a carrier with that capacity for the whole fleet: above it, in any
calendar second, it answers 429 (`Throttled`, code SANDBOX_CAPACITY_429), as a throttling carrier does.

The sandbox is idempotent by message id, as a provider with an idempotency key would be: asking it twice for the
same message returns the first provider id and does not 'deliver' again, while `send_count` counts the requests,
so that a duplicate request is still visible to tests and `smsctl outbox`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar

from smscore.domain.ports import (
    Accepted,
    CarrierCapacity,
    Outbox,
    OutcomeUnknown,
    PermanentFailure,
    SmsProvider,
    SmsRequest,
    Throttled,
    TransientFailure,
)
from smscore.domain.ports import OutboxEntry as OutboxEntry  # re-exported: tests and bench import it from here

PERMANENT_INVALID_NUMBER = "+573000000001"
TRANSIENT_THROTTLED_NUMBER = "+573000000002"
TIMEOUT_NUMBER = "+573000000003"
PERMANENT_OPTED_OUT_NUMBER = "+573000000004"

TEST_NUMBERS: dict[str, str] = {
    PERMANENT_INVALID_NUMBER: "permanent failure: invalid number (SANDBOX_21211)",
    TRANSIENT_THROTTLED_NUMBER: "transient failure: throttled (SANDBOX_429)",
    TIMEOUT_NUMBER: "times out (SANDBOX_TIMEOUT)",
    PERMANENT_OPTED_OUT_NUMBER: "permanent failure: opted out at the carrier (SANDBOX_21610)",
}


class InProcessCapacity:
    """A carrier's capacity counted in this process (tests, benchmarks); the DynamoDB one spans processes."""

    def __init__(self) -> None:
        self.accepted: Counter[int] = Counter()
        self._lock = threading.Lock()

    def admit(self, second: int, capacity: int) -> bool:
        with self._lock:
            if self.accepted[second] >= capacity:
                return False
            self.accepted[second] += 1
            return True


class SandboxProvider(SmsProvider):
    name: ClassVar[str] = "sandbox"
    character_limit: ClassVar[int] = 1600
    idempotent: ClassVar[bool] = True
    reports_price_at_send: ClassVar[bool] = True  # always "0.0000" USD

    def __init__(
        self,
        outbox: Outbox,
        latency_ms: int = 0,
        timeout_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        capacity_mps: float = 0,
        capacity: CarrierCapacity | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._outbox = outbox
        self._latency = latency_ms / 1000
        self._timeout = timeout_seconds
        self._sleep = sleep
        self._capacity_mps = int(capacity_mps)
        self._capacity = capacity if capacity is not None else InProcessCapacity()
        self._clock = clock

    def send(self, request: SmsRequest) -> Accepted:
        if request.recipient == TIMEOUT_NUMBER:
            self._sleep(self._timeout)
            raise OutcomeUnknown("SANDBOX_TIMEOUT", f"no answer within {self._timeout:g}s")
        if self._latency:
            self._sleep(self._latency)
        if request.recipient == PERMANENT_INVALID_NUMBER:
            raise PermanentFailure("SANDBOX_21211", "The 'To' number is not a valid phone number")
        if request.recipient == PERMANENT_OPTED_OUT_NUMBER:
            raise PermanentFailure("SANDBOX_21610", "Attempt to send to unsubscribed recipient")
        if request.recipient == TRANSIENT_THROTTLED_NUMBER:
            raise TransientFailure("SANDBOX_429", "Too many requests")
        accepted_at = self._clock()
        if self._capacity_mps > 0 and not self._capacity.admit(int(accepted_at.timestamp()), self._capacity_mps):
            raise Throttled("SANDBOX_CAPACITY_429", f"Too many requests: over {self._capacity_mps} messages/second")
        entry = self._outbox.record(request, f"sandbox-{uuid.uuid4().hex}", accepted_at)
        return Accepted(
            provider_message_id=entry.provider_message_id,
            price="0.0000",
            price_unit="USD",
            segments=request.segments,
            provider_status="delivered",
        )
