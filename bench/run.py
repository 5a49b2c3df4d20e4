"""`make bench`: run every benchmark, print one table (figure, floor, ratio, target, PASS/MISS), save JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Row

RESULTS = Path(__file__).resolve().parent / "results"
BUDGET_SECONDS = 600  # `make bench` on a quiet 2-core machine (docs/performance.md, "Time budgets")


def _suites(quick: bool) -> dict[str, Callable[[], list[Row]]]:
    from bench import cold_start, numbers, send_path

    # The 50,000-recipient POST runs once, in the capacity suite (with its memory and response-size rows); the
    # AWS calls row counts the calls of the 10,000-recipient POST that the send suite times (one seeding, one POST).
    suites: dict[str, Callable[[], list[Row]]] = {
        "send": lambda: send_path.measure(sizes=(1_000, 10_000), calls_at=10_000),
        "numbers": lambda: [numbers.measure()],
        "cold_start": cold_start.measure,
    }
    try:
        from bench import delivery

        suites["delivery"] = lambda: [delivery.measure_engine(), *delivery.measure()]
    except ImportError:
        pass
    from bench import capacity

    suites["capacity"] = lambda: capacity.measure(10_000 if quick else 50_000)
    from bench import capacity_async

    # Issue 20's asynchronous paths: the receipts webhook and consumer, the scheduled release (modelled).
    suites["capacity_async"] = capacity_async.measure
    from bench import scheduler_fairness

    # Issue 20, items 6-7: the scheduled release at one opening, a small tenant beside a large one (modelled).
    suites["scheduler"] = scheduler_fairness.measure
    from bench import request_cpu

    # The same POST's CPU with every AWS call answered in-process (no moto), and its time modelled on AWS.
    suites["request_cpu"] = lambda: request_cpu.measure(10_000 if quick else 50_000)
    try:
        from bench import pacing

        suites["pacing"] = pacing.measure
    except ImportError:
        pass
    try:
        from bench import contacts_import

        # smsctl imports through the contacts layer (one transaction per chunk, idempotent): on the serialised
        # emulator that is ~2.5x slower than bare batch writes: 100,000 rows would take most of the bench budget.
        suites["import"] = lambda: [contacts_import.measure(5_000 if quick else 20_000)]
    except ImportError:
        pass
    from bench import contacts_api

    suites["contacts"] = lambda: contacts_api.measure(5_000 if quick else 20_000)
    from bench import exclusions

    suites["exclusions"] = lambda: exclusions.measure(50_000 if quick else 200_000)  # the RNE load, modelled
    from bench import webhooks

    suites["webhooks"] = lambda: webhooks.measure(100 if quick else 200)  # events to a local receiver, one invocation
    from bench import links

    suites["links"] = links.measure  # the short link's 302 on the local stack, and its write units per click
    from bench import admin_ui

    suites["admin"] = admin_ui.measure  # a few seconds: two page loads in headless Chromium
    return suites


def _print_table(rows: list[Row]) -> None:
    header = f"{'benchmark':<78} {'value':>12} {'floor/base':>12} {'ratio':>7}  {'target':<42} result"
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        baseline = f"{row.baseline:g}" if row.baseline is not None else "-"
        value = f"{row.value:g} {row.unit}"
        print(
            f"{row.name:<78} {value:>12} {baseline:>12} {ratio:>7}  {row.target:<42} {'PASS' if row.passed else 'MISS'}"
        )


def _cpu_seconds() -> float:
    """CPU used so far by this process and its finished subprocesses (smsctl, cold-start probes, the fake Twilio):
    unlike wall time, it barely moves with what else the machine runs, so suites compare across loaded runs."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="run only these suites")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (skips the 50,000-recipient case)")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    suites = _suites(args.quick)
    rows: list[Row] = []
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for name, suite in suites.items():
        if args.only and name not in args.only:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        rows.extend(suite())
        timings[name] = round(time.perf_counter() - start, 1)
        cpu[name] = round(_cpu_seconds() - cpu_start, 1)
        print(f"  {name}: {timings[name]:.0f}s ({cpu[name]:.0f}s CPU)", file=sys.stderr, flush=True)
    _print_table(rows)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "at": stamp,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "suite_seconds": timings,
        "suite_cpu_seconds": cpu,
        "rows": [row.as_dict() for row in rows],
    }
    # latest.json is the last full run: a run of some suites (--only) is saved under its stamp only.
    paths = [RESULTS / f"bench-{stamp}.json", *([] if args.only else [RESULTS / "latest.json"])]
    for path in paths:
        path.write_text(json.dumps(report, indent=2))
    missed = [row.name for row in rows if not row.passed]
    total, total_cpu = sum(timings.values()), sum(cpu.values())
    print(f"\n{len(rows) - len(missed)} PASS, {len(missed)} MISS in {total:.0f}s ({total_cpu:.0f}s CPU); {paths[-1]}")
    if not args.only:
        # docs/performance.md, "Time budgets": a whole run within 10 minutes on a quiet 2-core machine.
        verdict = "within" if total <= BUDGET_SECONDS else "OVER"
        print(f"whole run {total / 60:.1f} min: {verdict} the {BUDGET_SECONDS // 60}-minute budget (quiet 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
