"""SIGTERM / SIGINT for the local stack's long-running processes, which run many threads."""

from __future__ import annotations

import signal
import time
from types import FrameType


class StopSignals:
    """Records the stop signals from the moment it is made; `wait` returns once one came.

    The handler only records, and the main thread polls with a short sleep. The kernel may hand a signal sent to
    the process to any of its threads, and Python runs the handler only when the main thread next runs bytecode,
    which a `threading.Event.wait()` without a timeout never does: a test's stack, busy delivering, ignored its
    SIGTERM until it was killed 60 s later. Setting an Event from the handler could also deadlock on the Event's own
    lock, which the interrupted main thread may hold.
    """

    def __init__(self, *signals: signal.Signals, poll_seconds: float = 0.5) -> None:
        self.received: list[int] = []
        self._poll_seconds = poll_seconds
        for stop_signal in signals:
            signal.signal(stop_signal, self._record)

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)

    def wait(self) -> int:
        while not self.received:
            time.sleep(self._poll_seconds)
        return self.received[0]
