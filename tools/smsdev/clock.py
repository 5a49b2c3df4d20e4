"""A local stack whose clock reads a fixed instant (tests only): `python -m smsdev.dev --clock 2026-12-08T10:00-05:00`.

Tests of what depends on the time of day (send windows, holidays) must never depend on the wall clock. The dev
process and every Lambda execution environment it spawns shift their clock by the same offset (`time_machine`,
ticking from there), so they agree with each other: the offset travels in SMSDEV_CLOCK_OFFSET_SECONDS, which the
execution environments inherit.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

CLOCK_OFFSET_ENV = "SMSDEV_CLOCK_OFFSET_SECONDS"


def set_clock(instant: datetime) -> None:
    """From now on this process (and the environments it starts) read `instant`, ticking."""
    if instant.tzinfo is None:
        raise ValueError("--clock needs an offset, such as 2026-12-08T10:00:00-05:00")
    os.environ[CLOCK_OFFSET_ENV] = str((instant - datetime.now(UTC)).total_seconds())
    shift_clock_from_env()


def shift_clock_from_env() -> None:
    """Shift this process's clock by SMSDEV_CLOCK_OFFSET_SECONDS, when set (a no-op otherwise)."""
    offset = os.environ.get(CLOCK_OFFSET_ENV)
    if not offset:
        return
    import time_machine  # a development dependency: only a stack started with --clock needs it

    time_machine.travel(datetime.now(UTC) + timedelta(seconds=float(offset)), tick=True).start()
