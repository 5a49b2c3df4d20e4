"""Opt-out reads in the capacity model (issue 20, item 1): the send check and the delivery check, on AWS's limits.

Both checks are observed on moto through the real code (`DynamoSuppressionList`, the deliver handler), every
DynamoDB call captured by bench.capacity's WriteCapture (which also records reads), then priced by these rules:

- Read units: an item read by key costs 1 unit per 4 KB (an opt-out item is about 150 bytes: 1), halved when
  eventually consistent; a key with no item costs the same minimum.
  [Read/write capacity unit consumption:
   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html]
- A partition serves at most 3,000 read units/s and 1,000 write units/s.
  [Partition key design: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html]
- Physical partitions: a table holds at least ceil(reads/3,000 + writes/1,000) partitions for the throughput it
  is declared for (here the template's WarmThroughput), and DynamoDB places each partition key value by a hash of
  it. Keys are hashed here (MD5) onto that many equal ranges, and the busiest partition is reported, not the
  busiest key.
  [Partitions and data distribution:
   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.Partitions.html
   Warm throughput: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html]
- A table (not warm) sustains 12,000 read units/s when new; warm, what it declares.
  [On-demand initial throughput:
   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html#on-demand-capacity-mode-initial]
- BatchGetItem: 100 keys per call; each call assumed to take BATCH_GET_SECONDS (a round trip of a 100-key batch
  of small items in-region), READ_WORKERS of them in flight (smscore.dal.suppression_store).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bench.capacity import Read, TableSchema
from bench.harness import Row

READ_UNITS_PER_PARTITION = 3_000
WRITE_UNITS_PER_PARTITION = 1_000
NEW_TABLE_READ_UNITS_PER_SECOND = 12_000
BATCH_GET_SECONDS = 0.020
SUPPRESSIONS = "SuppressionsTable"

SEND_AUDIENCE = 50_000
SENDER_OPT_OUTS = 1_000_000
TARGET_SEND_CHECK_SECONDS = 1.0
DELIVERY_RATE = 30_000
TARGET_DELIVERY_READ_UNITS = 0.5
TARGET_PARTITION_SHARE = 0.5


def physical_partitions(read_units: int, write_units: int) -> int:
    return max(1, math.ceil(read_units / READ_UNITS_PER_PARTITION + write_units / WRITE_UNITS_PER_PARTITION))


def partition_of(key: str, partitions: int) -> int:
    """Which of `partitions` equal hash ranges a partition key value falls in."""
    digest = int.from_bytes(hashlib.md5(key.encode()).digest()[:8], "big")  # noqa: S324 - placement, not security
    return digest * partitions >> 64


def busiest_partition(keys: Iterable[str], partitions: int) -> int:
    """The most keys any one partition receives."""
    counts = Counter(partition_of(key, partitions) for key in keys)
    return max(counts.values())


def read_units(reads: Iterable[Read]) -> float:
    return sum(1.0 if read.consistent else 0.5 for read in reads)


def _colombian_numbers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return sorted({f"+573{rng.randrange(10**9):09d}" for _ in range(count * 2)})[:count]


def _suppressions_schema(schemas: dict[str, TableSchema]) -> TableSchema:
    return next(s for s in schemas.values() if s.logical_id == SUPPRESSIONS)


def _partitions(schema: TableSchema) -> int:
    return physical_partitions(schema.warm_rcu or NEW_TABLE_READ_UNITS_PER_SECOND, schema.warm_wcu or 4_000)


def measure_send_check(audience: int = 2_000, opt_outs: int = 5_000) -> Row:
    """The real send check on moto (`audience` numbers, `opt_outs` on the sender, a quarter of the audience among
    them), then its calls and read units scaled to 50,000 numbers and priced on AWS's limits."""
    from bench.capacity import captured, schemas_from_template
    from bench.harness import moto_stack
    from smscore.dal.suppression_store import BATCH_GET_KEYS, READ_WORKERS, DynamoSuppressionList
    from smscore.dal.tables import SuppressionRecord
    from smscore.wiring import bound_settings

    sender = "twilio:+15550001111"

    listed = _colombian_numbers(opt_outs, seed=1)
    others = [n.replace("+573", "+572", 1) for n in _colombian_numbers(audience, seed=2)]
    wanted = listed[: audience // 4] + others[: audience - audience // 4]
    with moto_stack() as stack:
        bound_settings()
        schemas = schemas_from_template(stack.names)
        at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
        with SuppressionRecord.batch_write() as batch:
            for number in listed:
                batch.save(
                    SuppressionRecord(
                        number=number, sender=sender, opted_out=True, keyword="STOP", changed_at=at, provider="twilio"
                    )
                )
        with captured(schemas) as tally:
            found = DynamoSuppressionList().suppressed(wanted, sender)
    assert found == set(listed[: audience // 4]), f"{len(found)} found"
    schema = _suppressions_schema(schemas)
    reads = [r for r in tally.reads if r.table == schema.table_name]
    operations = Counter(r.operation for r in reads)
    assert operations == Counter({"BatchGetItem": len(wanted)}), operations  # by key: no Query of the sender
    units_per_number = read_units(reads) / len(wanted)

    units = units_per_number * SEND_AUDIENCE
    calls = math.ceil(SEND_AUDIENCE / BATCH_GET_KEYS)
    partitions = _partitions(schema)
    busiest = busiest_partition(_colombian_numbers(SEND_AUDIENCE, seed=3), partitions)
    table_throughput = schema.warm_rcu or NEW_TABLE_READ_UNITS_PER_SECOND
    bounds = {
        f"latency: {calls} BatchGetItem x {BATCH_GET_SECONDS * 1000:g} ms / {READ_WORKERS} in flight": math.ceil(
            calls / READ_WORKERS
        )
        * BATCH_GET_SECONDS,
        f"table read throughput ({table_throughput:,}/s warm)": units / table_throughput,
        f"busiest of {partitions} partitions ({busiest:,} keys)": busiest * units_per_number / READ_UNITS_PER_PARTITION,
    }
    bound = max(bounds, key=lambda name: bounds[name])
    seconds = bounds[bound]
    return Row(
        name=(
            f"capacity: opt-out check at send, {SEND_AUDIENCE:,} audience, {SENDER_OPT_OUTS:,} opt-outs on the "
            "sender, modelled s"
        ),
        value=round(seconds, 2),
        unit="s",
        baseline=TARGET_SEND_CHECK_SECONDS,
        target=f"<= {TARGET_SEND_CHECK_SECONDS:g} s",
        passed=seconds <= TARGET_SEND_CHECK_SECONDS,
        details={
            "bound_by": bound,
            "bounds_seconds": {name: round(value, 3) for name, value in bounds.items()},
            "observed_on_moto": {
                "audience": len(wanted),
                "opt_outs_on_the_sender": opt_outs,
                "keys_read_by_operation": dict(operations),
                "read_units_per_number": units_per_number,
            },
            "sender_opt_outs_enter_the_model": (
                "no: every read is by an audience key; 1,000,000 opt-outs are about 150 MB, far below a "
                "partition's 10 GB"
            ),
            "before": "one Query of the sender's partition: 1,000,000 items x ~150 B = ~37,000 units, 12 s or more",
            "read_units": units,
        },
    )


def delivery_read_row(reads: list[Read], delivered: int, schemas: dict[str, TableSchema]) -> Row:
    """The delivery check's reads per delivered message (from the capacity suite's delivery capture), and the
    busiest physical partition of the Suppressions table at 30,000 msg/s."""
    schema = _suppressions_schema(schemas)
    mine = [r for r in reads if r.table == schema.table_name]
    queries = [r for r in mine if not r.key]
    per_message = read_units(mine) / delivered
    partitions = _partitions(schema)
    per_second_units = per_message * DELIVERY_RATE
    # One second at 30,000 msg/s: 30,000 distinct recipients, placed by hash (a campaign sends to each number once).
    busiest = busiest_partition(_colombian_numbers(DELIVERY_RATE, seed=4), partitions)
    busiest_units = busiest * per_message
    share = busiest_units / READ_UNITS_PER_PARTITION
    passed = per_message <= TARGET_DELIVERY_READ_UNITS and share <= TARGET_PARTITION_SHARE and not queries
    details: dict[str, Any] = {
        "messages": delivered,
        "reads": dict(Counter(f"{r.operation} {'consistent' if r.consistent else 'eventual'}" for r in mine)),
        "physical_partitions": partitions,
        "read_units_per_second_at_30000_msg_s": round(per_second_units),
        "busiest_partition_read_units_per_second": round(busiest_units),
        "busiest_partition_share": round(share, 3),
        "before": "strongly consistent, 1 unit per message, all on the sender's one partition: 3,000 msg/s at most",
    }
    return Row(
        name="capacity: opt-out read units per delivered message",
        value=round(per_message, 3),
        unit="RCU",
        baseline=TARGET_DELIVERY_READ_UNITS,
        target=f"<= {TARGET_DELIVERY_READ_UNITS:g}; busiest partition <= 50% at {DELIVERY_RATE:,} msg/s",
        passed=passed,
        details=details,
    )
