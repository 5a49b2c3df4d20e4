"""Loading the RNE exclusion list: 5,000,000 numbers must load in minutes (issue 22).

The load (`smscore.domain.exclusions.load_snapshot` writing through `DynamoExclusionList`, as the
ExclusionsImportFunction runs it) is measured on a sample: its CPU from the CSV lines to botocore's serialised
BatchWriteItem requests, every call answered in-process (botocore `before-send`, nothing reaches moto or the
network), then scaled to 5,000,000 numbers. The time on AWS is modelled: the writes are I/O the worker threads wait
on while the main thread parses, so the load takes the longer of the CPU and the writes; the writes go at the lower
of the table's warm throughput (ExclusionsTable WarmThroughput) and what the threads keep in flight.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from bench.harness import Row, moto_stack
from bench.request_cpu import _every_new_client, _moto_off, _response

TOTAL_NUMBERS = 5_000_000
SAMPLE_NUMBERS = 200_000
TARGET_SECONDS = 600.0  # "in minutes": ten at most, well inside the function's 900 s Timeout
# The model's assumptions (stated in the row's details).
TABLE_WARM_WCU_PER_SECOND = 40_000  # template.yaml ExclusionsTable WarmThroughput
BATCH_WRITE_LATENCY_SECONDS = 0.015  # one 25-item BatchWriteItem, same region, typical
LAMBDA_VCPU = 1.0  # 2048 MB is about 1.15 vCPU: counted as one


def _lines(count: int) -> list[str]:
    """The CRC's file as it comes: national mobiles, some with the channel column."""
    return [f"3{n:09d}" if n % 3 else f"3{n:09d},sms" for n in range(count)]


def measure(sample: int = SAMPLE_NUMBERS) -> list[Row]:
    from smscore.dal.exclusion_store import DynamoExclusionList
    from smscore.domain.exclusions import WRITE_BATCH, load_snapshot
    from smscore.wiring import bound_settings

    calls = {"BatchWriteItem": 0}

    def before_send(request: Any, event_name: str, **_: Any) -> Any:
        operation = event_name.split(".", 2)[2]
        calls[operation] = calls.get(operation, 0) + 1
        return _response(b'{"UnprocessedItems": {}}' if operation == "BatchWriteItem" else b"{}")

    lines = _lines(sample)
    with moto_stack():
        bound_settings()
        store = DynamoExclusionList(workers=32)
        with (
            _moto_off(),
            _every_new_client(lambda client: client.meta.events.register_first("before-send.*.*", before_send)),
        ):
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            snapshot = load_snapshot(lines, date(2026, 12, 1), store, now=datetime.now(UTC))
            cpu = time.process_time() - started_cpu
            wall = time.perf_counter() - started_wall
    assert snapshot.count == sample, snapshot
    cpu_per_number = cpu / sample
    cpu_total = cpu_per_number * TOTAL_NUMBERS / LAMBDA_VCPU
    in_flight_rate = 32 * WRITE_BATCH / BATCH_WRITE_LATENCY_SECONDS
    write_rate = min(TABLE_WARM_WCU_PER_SECOND, in_flight_rate)
    write_seconds = TOTAL_NUMBERS / write_rate
    modelled = max(cpu_total, write_seconds)
    return [
        frequency_row(),
        Row(
            name="exclusions: RNE snapshot of 5,000,000 numbers loaded, modelled on AWS (s)",
            value=round(modelled, 1),
            unit="s",
            baseline=round(write_seconds, 1),
            target=f"<= {TARGET_SECONDS:.0f} s (minutes; Timeout 900 s)",
            passed=modelled <= TARGET_SECONDS,
            details={
                "sample_numbers": sample,
                "sample_cpu_seconds": round(cpu, 3),
                "sample_wall_seconds": round(wall, 3),
                "cpu_microseconds_per_number": round(cpu_per_number * 1e6, 2),
                "cpu_seconds_for_5m": round(cpu_total, 1),
                "write_seconds_for_5m": round(write_seconds, 1),
                "batch_write_calls_in_sample": calls["BatchWriteItem"],
                "assumptions": {
                    "table_warm_wcu_per_second": TABLE_WARM_WCU_PER_SECOND,
                    "batch_write_latency_seconds": BATCH_WRITE_LATENCY_SECONDS,
                    "writer_threads": 32,
                    "lambda_vcpu": LAMBDA_VCPU,
                    "one_write_unit_per_number": True,
                },
            },
        ),
    ]


def frequency_row() -> Row:
    """The frequency counter a paid marketing message writes (smscore.dal.frequency_store), at its largest: a whole
    week of days, the longest E.164 number, a UUID tenant. One write unit is 1 KB."""
    from bench.capacity import item_size, write_units

    item = {
        "key": {"S": "3f2b8a1e-5c4d-4e6f-9a0b-1c2d3e4f5a6b#+573001234567890"},
        "week": {"S": "2026-W49"},
        "total": {"N": "70"},
        "days": {"M": {f"2026-12-{day:02d}": {"N": "10"} for day in range(1, 8)}},
        "expires_at": {"N": "1767225600"},
    }
    size = item_size(item)
    units = write_units(size)
    return Row(
        name="frequency cap: write units per marketing message (counter item, modelled)",
        value=units,
        unit="WCU",
        baseline=1,
        target="<= 1 write unit per message",
        passed=units <= 1,
        details={"largest_item_bytes": size, "reads": "one BatchGetItem key per recipient (0.5 RCU, eventual)"},
    )
