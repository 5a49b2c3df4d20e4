"""The template's `Schedule` / `ScheduleV2` events, run locally at their rate.

An EventBridge rule (`Schedule`) invokes its function asynchronously with a "Scheduled Event"; EventBridge
Scheduler (`ScheduleV2`) sends the schedule's `Input` (an empty object without one). Each schedule fires
first one period after the stack starts, then every period, whether or not the previous run finished, as
EventBridge does. Lambda's asynchronous retries are not played: a failed run is logged and the next period
runs again. `cron(...)` expressions are reported and not run.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from smsdev.lambdas import InvocationError, InvocationTimeout, RuntimeStopped
from smsdev.template import LocalNames, ScheduleSpec

log = logging.getLogger("smsdev.scheduler")

Invoke = Callable[[str, dict[str, Any]], Any]


def scheduled_event(schedule: ScheduleSpec, names: LocalNames, now: datetime | None = None) -> dict[str, Any]:
    """What the function receives for one run of this schedule."""
    if schedule.input is not None:
        payload: dict[str, Any] = json.loads(schedule.input)
        return payload
    if schedule.event_type == "ScheduleV2":
        return {}
    now = now or datetime.now(UTC)
    rule = names.physical(f"{schedule.function_id}{schedule.event_name}")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": names.account_id,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": names.region,
        "resources": [f"arn:aws:events:{names.region}:{names.account_id}:rule/{rule}"],
        "detail": {},
    }


class Scheduler:
    """One timer thread per enabled rate schedule; each run is an invocation on its own thread."""

    def __init__(
        self,
        schedules: list[ScheduleSpec],
        invoke: Invoke,
        names: LocalNames,
        period_override_seconds: float | None = None,
    ) -> None:
        self.schedules = schedules
        self._invoke = invoke
        self._names = names
        self._override = period_override_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def period_of(self, schedule: ScheduleSpec) -> float | None:
        rate = schedule.rate_seconds
        if rate is None:
            return None
        return self._override if self._override is not None else float(rate)

    def start(self) -> None:
        for schedule in self.schedules:
            period = self.period_of(schedule)
            if not schedule.enabled:
                continue
            if period is None:
                log.warning(
                    "%s %s: %s is not run locally", schedule.function_id, schedule.event_name, schedule.expression
                )
                continue
            log.info("%s runs every %g s (%s)", schedule.function_id, period, schedule.expression)
            thread = threading.Thread(
                target=self._run, args=(schedule, period), name=f"schedule-{schedule.function_id}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _run(self, schedule: ScheduleSpec, period: float) -> None:
        while not self._stop.wait(period):
            threading.Thread(target=self.fire, args=(schedule,), daemon=True).start()

    def fire(self, schedule: ScheduleSpec) -> None:
        """One run of the schedule, now."""
        try:
            self._invoke(schedule.function_id, scheduled_event(schedule, self._names))
        except InvocationError as exc:
            log.error("%s (scheduled) failed: %s\n%s", schedule.function_id, exc, "".join(exc.stack_trace).rstrip())
        except InvocationTimeout as exc:
            log.error("%s (scheduled): %s", schedule.function_id, exc)
        except RuntimeStopped:
            log.debug("%s (scheduled): the stack stopped first", schedule.function_id)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
