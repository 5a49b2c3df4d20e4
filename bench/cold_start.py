"""Cold start: import time of each handler module in a fresh interpreter, next to a bare `import boto3`."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.harness import FAKE_AWS, Row

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = sorted(
    f"functions.{p.parent.name}.app" for p in (ROOT / "functions").glob("*/app.py") if p.parent.name != "__pycache__"
)


def _lambda_environment(task_root: str) -> dict[str, str]:
    """What the Lambda runtime sets: the X-Ray SDK and Powertools take their Lambda code paths on these."""
    env = {**os.environ, **FAKE_AWS}
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    env.update(
        LAMBDA_TASK_ROOT=task_root,
        AWS_LAMBDA_FUNCTION_NAME="bench-function",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.13",
        _X_AMZN_TRACE_ID="Root=1-6745a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
    )
    return env


def _import_ms(module: str, runs: int = 5) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    env = _lambda_environment(str(ROOT))
    samples = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout)
        for _ in range(runs)
    ]
    return statistics.median(samples)


def measure() -> list[Row]:
    bare = _import_ms("boto3")
    rows = []
    for module in HANDLERS:
        ms = _import_ms(module)
        rows.append(
            Row(
                name=f"cold start: import {module}",
                value=round(ms, 1),
                unit="ms",
                baseline=round(bare, 1),
                target="<= 2x import boto3",
                passed=ms <= 2 * bare,
            )
        )
    return rows
