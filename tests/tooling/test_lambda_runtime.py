"""The local Lambda runtime's execution environments when one dies: before it took an invocation, the invocation
runs in a fresh one (as on Lambda); during one, that invocation fails (Runtime.ExitError) and is never run twice."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from smsdev.lambdas import InvocationError, LambdaRuntime, LocalFunction
from tests.tooling.test_dev_stack import wait_for

PROBE = "ProbeFunction"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LambdaRuntime]:
    probe = LocalFunction(
        function_id=PROBE,
        function_name="probe",
        module="tests.tooling.functions.probe",
        attribute="sleep_handler",
        timeout_seconds=60,
        memory_mb=128,
        environment={"PROBE_DIR": str(tmp_path)},
    )
    runtime = LambdaRuntime([probe], max_environments=1)
    runtime.start(warm=[PROBE])
    yield runtime
    runtime.stop()


def sleep_for(seconds: float) -> dict[str, Any]:
    return {"queryStringParameters": {"seconds": str(seconds)}}


def runs(probe_dir: Path) -> list[int]:
    log = probe_dir / "sleeps.log"
    return [int(line) for line in log.read_text().splitlines()] if log.exists() else []


def pid_of(result: dict[str, Any]) -> int:
    import json

    return int(json.loads(result["body"])["pid"])


def test_an_environment_killed_while_idle_is_replaced_for_the_next_invocation(
    runtime: LambdaRuntime, tmp_path: Path
) -> None:
    warm = pid_of(runtime.invoke(PROBE, sleep_for(0)))
    os.kill(warm, signal.SIGKILL)
    # At once, with no wait for the process to be gone: whichever way the dispatch finds it dead
    fresh = pid_of(runtime.invoke(PROBE, sleep_for(0)))
    assert fresh != warm
    assert runs(tmp_path) == [warm, fresh]


def test_an_environment_killed_during_an_invocation_fails_it_once_and_never_runs_it_again(
    runtime: LambdaRuntime, tmp_path: Path
) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(runtime.invoke, PROBE, sleep_for(60))
        assert wait_for(lambda: len(runs(tmp_path)) == 1)
        os.kill(runs(tmp_path)[0], signal.SIGKILL)
        with pytest.raises(InvocationError) as failed:
            running.result(timeout=60)
    assert failed.value.error_type == "Runtime.ExitError"
    assert len(runs(tmp_path)) == 1  # the handler may have had effects: Lambda does not retry a synchronous call
    # And the next invocation gets a fresh environment
    assert pid_of(runtime.invoke(PROBE, sleep_for(0))) not in runs(tmp_path)[:1]
