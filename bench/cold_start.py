"""Cold start: each handler module imported in a fresh interpreter, next to a bare `import boto3`.

Two rows per function:
- import time: `import boto3` and the handler, interleaved in one loop (boto3, handler A, boto3, handler B, ...),
  each in a fresh subprocess, the minimum of RUNS runs each; the handler's row is held against the boto3 runs made
  right before it (same number of samples, same moment of the machine's load);
- modules imported at init: len(sys.modules) once the handler module is imported, against `import boto3` alone.
  Deterministic, so it moves only when the imports do, whatever the machine's load.

The subprocesses get what the Lambda runtime sets (the X-Ray SDK and Powertools take their Lambda code paths on it)
and see only the packages the function has there: the layer's requirements (layers/common/requirements.txt) and
what they require, plus the project's own code. The dev environment also holds moto, the SAM CLI and the rest, whose
packages (requests, awscrt, ...) botocore, the X-Ray SDK and Powertools would import when they are installed: the
subprocess hides them, so the figures are the function's, not the dev machine's.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import NamedTuple

from packaging.markers import default_environment
from packaging.requirements import Requirement

from bench.harness import FAKE_AWS, Row

ROOT = Path(__file__).resolve().parents[1]
LAYER_REQUIREMENTS = ROOT / "layers" / "common" / "requirements.txt"
HANDLERS = sorted(
    f"functions.{p.parent.name}.app" for p in (ROOT / "functions").glob("*/app.py") if p.parent.name != "__pycache__"
)
SHIPPED_PACKAGES = frozenset({"smscore", "functions"})  # the layer's package and the functions' code
RUNS = 7
TIME_FACTOR = 2.0
MODULES_FACTOR = 1.8


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


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def layer_distributions() -> set[str]:
    """The distributions `sam build` puts in the layer: its requirements and everything they require (extras
    and environment markers evaluated as pip would for this interpreter)."""
    lines = (line.split("#", 1)[0].strip() for line in LAYER_REQUIREMENTS.read_text().splitlines())
    pending = [Requirement(line) for line in lines if line]
    extras_of: dict[str, set[str]] = {}
    while pending:
        requirement = pending.pop()
        name = _canonical(requirement.name)
        if name in extras_of and requirement.extras <= extras_of[name]:
            continue
        extras = extras_of.setdefault(name, set())
        extras |= requirement.extras
        for text in importlib.metadata.requires(requirement.name) or []:
            needed = Requirement(text)
            if needed.marker is None or any(
                needed.marker.evaluate({**default_environment(), "extra": extra}) for extra in extras | {""}
            ):
                pending.append(needed)
    return set(extras_of)


@cache
def hidden_packages() -> frozenset[str]:
    """Top-level packages installed here that the function's Lambda would not have."""
    layer = layer_distributions()
    return frozenset(
        package
        for package, distributions in importlib.metadata.packages_distributions().items()
        if package not in SHIPPED_PACKAGES and not any(_canonical(d) in layer for d in distributions)
    )


# Run in the subprocess: hide what the Lambda would not have, then time the import and count the modules loaded.
_PROBE = """\
import sys, time
hidden = frozenset({hidden!r})
refused = set()
class LayerOnly:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in hidden:
            refused.add(name.partition(".")[0])
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in the layer)", name=name)
        return None
sys.meta_path.insert(0, LayerOnly())
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
print(elapsed * 1000, len(sys.modules), ",".join(sorted(refused)) or "-")
"""


class Probe(NamedTuple):
    milliseconds: float
    modules: int  # len(sys.modules) after the import
    hidden: tuple[str, ...]  # installed here, not in the layer: what the import tried and did not get


def probe(module: str) -> Probe:
    """Import `module` in a fresh interpreter with the Lambda's environment and packages."""
    code = _PROBE.format(hidden=sorted(hidden_packages()), module=module)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=_lambda_environment(str(ROOT)),
        cwd=ROOT,
    )
    milliseconds, modules, hidden = result.stdout.split()
    return Probe(float(milliseconds), int(modules), tuple(hidden.split(",")) if hidden != "-" else ())


def measure(runs: int = RUNS) -> list[Row]:
    bare: dict[str, list[Probe]] = {module: [] for module in HANDLERS}  # the boto3 runs made before each handler's
    handler: dict[str, list[Probe]] = {module: [] for module in HANDLERS}
    for _ in range(runs):
        for module in HANDLERS:
            bare[module].append(probe("boto3"))
            handler[module].append(probe(module))
    bare_counts = {p.modules for runs_ in bare.values() for p in runs_}
    assert len(bare_counts) == 1, f"import boto3 loaded {sorted(bare_counts)} modules in different runs"
    (bare_modules,) = bare_counts
    time_rows, module_rows = [], []
    for module in HANDLERS:
        ms = min(p.milliseconds for p in handler[module])
        bare_ms = min(p.milliseconds for p in bare[module])
        time_rows.append(
            Row(
                name=f"cold start: import {module}",
                value=round(ms, 1),
                unit="ms",
                baseline=round(bare_ms, 1),
                target=f"<= {TIME_FACTOR:g}x import boto3",
                passed=ms <= TIME_FACTOR * bare_ms,
                details={
                    "runs": runs,
                    "handler_ms": sorted(round(p.milliseconds, 1) for p in handler[module]),
                    "boto3_ms": sorted(round(p.milliseconds, 1) for p in bare[module]),
                },
            )
        )
        counts = {p.modules for p in handler[module]}
        assert len(counts) == 1, f"{module} loaded {sorted(counts)} modules in different runs"
        (count,) = counts
        module_rows.append(
            Row(
                name=f"cold start: modules imported at init, {module.split('.')[1]}",
                value=count,
                unit="modules",
                baseline=bare_modules,
                target=f"<= {MODULES_FACTOR:g}x import boto3",
                passed=count <= MODULES_FACTOR * bare_modules,
                details={
                    "module": module,
                    "hidden_not_in_the_layer": list(handler[module][0].hidden),
                    "boto3_hidden_not_in_the_layer": list(bare[module][0].hidden),
                },
            )
        )
    return [*time_rows, *module_rows]
