"""Capacity model: every DynamoDB write the real code makes on moto, replayed against AWS's documented limits.

moto has no partitions and no throughput limits, so it cannot say what throttles first on DynamoDB. This
module captures every write the real handlers make -- from botocore's `before-call` / `after-call` events on
every client created while the capture runs, so PynamoDB's and boto3's code paths are observed unchanged --
with the item as it was before and after the write (read from moto's backend, under a lock that makes the
pair exact), and replays that stream against the rules below. Tables, indexes, projections and warm
throughput come from template.yaml, so a key, projection or throughput change moves the figures by itself.

The scenarios: (a) the 50,000-recipient POST; (b) one campaign's whole life on the immediate and the scheduled
path (bench.lifecycle), which also feeds the platform model (bench.capacity_model: physical partitions, Lambda CPU
with AWS answered locally, API Gateway, dollars per million delivered).

Rules (AWS documentation behind each, also listed in the README's "Capacity" section):
- Item size: attribute names + values; strings UTF-8 bytes, numbers 1 byte per 2 significant digits + 1,
  booleans and nulls 1 byte, lists and maps 3 bytes + 1 byte per element.
  [Item sizes and formats: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html]
- Write units: 1 per KB rounded up, on the larger of the item's size before and after the write; a failed
  condition still consumes the units of the item as it is.
  [Read/write capacity unit consumption: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html]
- Index writes: a new entry is one put, a changed index key is a delete plus a put, a change of projected
  attributes only is one write, nothing when the index entry is unchanged or absent before and after. The
  index entry is the index key, the table key and the projection (KEYS_ONLY / INCLUDE / ALL), plus 100 bytes.
  [Provisioned throughput considerations for GSIs / Storage considerations:
   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations]
- Transactions: two writes per item written (counted double, index writes included, conservatively).
  [Capacity management for transactions:
   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling]
- Partitions: at most 1,000 write units/s per partition key value, for the table and for each index (a
  partition split does not happen within one request); an index that falls behind throttles the table.
  [Partition key design: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
   GSI write back-pressure:
   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes]
- Table throughput: a new on-demand table (and each of its indexes) sustains 4,000 write units/s until it
  has grown; `WarmThroughput` pre-warms it to the declared rate.
  [On-demand initial throughput:
   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html#on-demand-capacity-mode-initial
   Warm throughput: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html]
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import botocore.session

from bench.harness import Row

KB = 1024
PARTITION_WCU_PER_SECOND = 1_000
NEW_TABLE_WCU_PER_SECOND = 4_000
INDEX_ENTRY_OVERHEAD = 100
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})

Item = dict[str, dict[str, Any]]  # DynamoDB JSON: {"name": {"S": "..."}}


# -- item sizes --------------------------------------------------------------------------------------------


def _number_size(text: str) -> int:
    digits = str(Decimal(text)).lstrip("-").replace(".", "").split("E")[0].strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """Size of one DynamoDB JSON value, without its name (Item sizes and formats)."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner) if isinstance(inner, bytes) else math.ceil(len(str(inner)) * 3 / 4)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


# -- schema, from template.yaml ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexSchema:
    name: str
    hash_key: str
    range_key: str | None
    projection: str  # KEYS_ONLY | INCLUDE | ALL
    non_key: frozenset[str]
    warm_wcu: int | None

    def entry(self, item: Item | None, table_keys: tuple[str, ...]) -> Item | None:
        """The index entry of `item`: None when the item lacks an index key attribute (sparse index)."""
        if not item or self.hash_key not in item or (self.range_key and self.range_key not in item):
            return None
        if self.projection == "ALL":
            return dict(item)
        names = {self.hash_key, *table_keys, *([self.range_key] if self.range_key else [])}
        if self.projection == "INCLUDE":
            names |= self.non_key
        return {name: value for name, value in item.items() if name in names}

    def key_of(self, entry: Item) -> tuple[str, ...]:
        return tuple(json.dumps(entry[k], sort_keys=True) for k in (self.hash_key, self.range_key) if k)


@dataclass(frozen=True)
class TableSchema:
    logical_id: str
    table_name: str
    keys: tuple[str, ...]
    indexes: tuple[IndexSchema, ...]
    warm_wcu: int | None
    warm_rcu: int | None = None  # declared warm read units/s (WarmThroughput.ReadUnitsPerSecond)

    def key_of(self, item: Item) -> Item:
        return {k: item[k] for k in self.keys}


def _warm(props: dict[str, Any], resolve: Callable[[Any], Any]) -> int | None:
    warm = resolve(props.get("WarmThroughput"))
    if not isinstance(warm, dict) or warm.get("WriteUnitsPerSecond") is None:
        return None
    return int(resolve(warm["WriteUnitsPerSecond"]))


def _warm_reads(props: dict[str, Any], resolve: Callable[[Any], Any]) -> int | None:
    warm = resolve(props.get("WarmThroughput"))
    if not isinstance(warm, dict) or warm.get("ReadUnitsPerSecond") is None:
        return None
    return int(resolve(warm["ReadUnitsPerSecond"]))


def schemas_from_template(names: Any) -> dict[str, TableSchema]:
    """Every table of template.yaml by its physical name in this stack, with indexes and warm throughput."""
    from smsdev.template import Resolver, load_template, resources_of_type

    template = load_template()
    resolver = Resolver(template, names)
    schemas: dict[str, TableSchema] = {}
    for logical_id, resource in resources_of_type("AWS::DynamoDB::Table", template).items():
        props = resource["Properties"]
        indexes = tuple(
            IndexSchema(
                name=index["IndexName"],
                hash_key=next(k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == "HASH"),
                range_key=next((k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == "RANGE"), None),
                projection=index["Projection"]["ProjectionType"],
                non_key=frozenset(index["Projection"].get("NonKeyAttributes", [])),
                warm_wcu=_warm(index, resolver.resolve),
            )
            for index in props.get("GlobalSecondaryIndexes", [])
        )
        keys = tuple(k["AttributeName"] for k in sorted(props["KeySchema"], key=lambda k: k["KeyType"]))
        table_name = names.physical(logical_id)
        schemas[table_name] = TableSchema(
            logical_id, table_name, keys, indexes, _warm(props, resolver.resolve), _warm_reads(props, resolver.resolve)
        )
    return schemas


# -- the rules ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    """Write units charged to one partition key value of a table or index."""

    target: str  # "Messages" or "Messages/by_queue"
    partition: str
    units: int


def _partition(value: dict[str, Any]) -> str:
    (_, inner), *_ = value.items()
    return str(inner)


def attribute_sizes(item: Item | None) -> dict[str, int]:
    """Each attribute's share of the item size: its name's bytes plus its value's."""
    return {name: len(name.encode()) + value_size(value) for name, value in (item or {}).items()}


def writes_for(
    schema: TableSchema,
    before: Item | None,
    after: Item | None,
    *,
    transactional: bool = False,
    condition_failed: bool = False,
) -> list[Write]:
    """What one item write costs on the table and each of its indexes, by the rules in the module docstring."""
    factor = 2 if transactional else 1
    item = after or before
    if item is None:
        return []
    table_key = _partition(item[schema.keys[0]])
    size_before, size_after = attribute_sizes(before), attribute_sizes(after)
    if condition_failed:
        return [Write(schema.logical_id, table_key, factor * write_units(sum(size_before.values())))]
    units = write_units(max(sum(size_before.values()), sum(size_after.values())))
    writes = [Write(schema.logical_id, table_key, factor * units)]
    for index in schema.indexes:
        target = f"{schema.logical_id}/{index.name}"
        old, new = index.entry(before, schema.keys), index.entry(after, schema.keys)
        if old == new:
            continue  # absent before and after, or nothing the index holds changed
        old_size = sum(size_before[name] for name in old) + INDEX_ENTRY_OVERHEAD if old is not None else 0
        new_size = sum(size_after[name] for name in new) + INDEX_ENTRY_OVERHEAD if new is not None else 0
        if old is not None and new is not None and index.key_of(old) == index.key_of(new):
            writes.append(Write(target, _partition(new[index.hash_key]), factor * write_units(max(old_size, new_size))))
            continue
        # a new, removed or re-keyed entry: a delete of the old one and/or a put of the new one
        if old is not None:
            writes.append(Write(target, _partition(old[index.hash_key]), factor * write_units(old_size)))
        if new is not None:
            writes.append(Write(target, _partition(new[index.hash_key]), factor * write_units(new_size)))
    return writes


READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan"})


@dataclass(frozen=True)
class Read:
    """One item read by key (`key`: its key attributes as (name, value) pairs), or one Query/Scan call (no key)."""

    operation: str
    table: str
    key: tuple[tuple[str, str], ...]
    consistent: bool

    def partition(self, schema: TableSchema) -> str:
        return dict(self.key)[schema.keys[0]]


def _key(key: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, _partition(value)) for name, value in key.items()))


def reads_of(operation: str, params: dict[str, Any]) -> list[Read]:
    """The reads one DynamoDB call makes: one per key asked for, or one per Query/Scan call."""
    if operation == "GetItem":
        return [Read(operation, params["TableName"], _key(params["Key"]), bool(params.get("ConsistentRead")))]
    if operation == "BatchGetItem":
        return [
            Read(operation, table, _key(key), bool(request.get("ConsistentRead")))
            for table, request in params["RequestItems"].items()
            for key in request["Keys"]
        ]
    if operation == "TransactGetItems":
        return [
            Read(operation, entry["Get"]["TableName"], _key(entry["Get"]["Key"]), True)
            for entry in params["TransactItems"]
        ]
    return [Read(operation, params["TableName"], (), bool(params.get("ConsistentRead")))]


@dataclass
class Tally:
    """Write units by table/index and by partition key value, for one captured stream."""

    units: Counter[str] = field(default_factory=Counter)
    partitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)  # item writes by table and operation
    reads: list[Read] = field(default_factory=list)  # every item read by key, Query and Scan (bench.reads)

    def add(self, writes: list[Write]) -> None:
        for write in writes:
            self.units[write.target] += write.units
            self.partitions[(write.target, write.partition)] += write.units

    @property
    def total(self) -> int:
        return sum(self.units.values())

    def hottest(self) -> tuple[tuple[str, str], int]:
        return self.partitions.most_common(1)[0]

    def throughput(self, target: str, schemas: dict[str, TableSchema], *, warm: bool) -> int:
        """Write units/s a table or index sustains: 4,000 when new, or its declared warm throughput."""
        if not warm:
            return NEW_TABLE_WCU_PER_SECOND
        table, _, index_name = target.partition("/")
        schema = next(s for s in schemas.values() if s.logical_id == table)
        declared = (
            schema.warm_wcu if not index_name else next(i.warm_wcu for i in schema.indexes if i.name == index_name)
        )
        return max(NEW_TABLE_WCU_PER_SECOND, declared or 0)

    def seconds(self, schemas: dict[str, TableSchema], *, warm: bool) -> tuple[float, str]:
        """The shortest time DynamoDB could absorb this stream in, and what bounds it."""
        bounds = {f"{t} throughput": u / self.throughput(t, schemas, warm=warm) for t, u in self.units.items()}
        (target, partition), units = self.hottest()
        bounds[f"{target} partition {describe_key(partition)}"] = units / PARTITION_WCU_PER_SECOND
        limit = max(bounds, key=lambda name: bounds[name])
        return bounds[limit], limit

    def ceiling(self, messages: int, schemas: dict[str, TableSchema], *, warm: bool = True) -> tuple[float, str]:
        """Messages/s this stream can be repeated at: the hottest key (1,000 units/s) or a table's throughput."""
        (target, partition), units = self.hottest()
        bounds = {f"{target} partition {describe_key(partition)}": PARTITION_WCU_PER_SECOND * messages / units}
        for t, u in self.units.items():
            bounds[f"{t} throughput"] = self.throughput(t, schemas, warm=warm) * messages / u
        limit = min(bounds, key=lambda name: bounds[name])
        return bounds[limit], limit


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PHONE = re.compile(r"\+\d{6,}")


def describe_key(partition: str) -> str:
    """A partition key value for the report: ids as <id>, phone numbers masked."""
    from smscore.domain.masking import mask

    return _PHONE.sub(lambda m: mask(m.group()), _UUID.sub("<id>", partition))


# -- capture -----------------------------------------------------------------------------------------------


def _moto_item(table_name: str, key: Item) -> Item | None:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    found = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_item(table_name, key)
    return None if found is None else {name: value.to_regular_json() for name, value in found.attrs.items()}


@dataclass
class _Pending:
    table: str
    key: Item
    before: Item | None
    transactional: bool


class WriteCapture:
    """Every DynamoDB item write made by clients created while active, tallied by the rules above.

    DynamoDB calls are serialised while the capture runs (a lock from `before-call` to `after-call`), so the
    before and after images of each write are exact even with the code's own thread pools.
    """

    def __init__(self, schemas: dict[str, TableSchema]) -> None:
        self.schemas = schemas
        self.tally = Tally()
        self._lock = threading.RLock()
        self._original: Callable[..., Any] | None = None

    def _pending(self, operation: str, params: dict[str, Any]) -> list[_Pending]:
        items: list[tuple[str, Item, bool]] = []
        if operation == "PutItem":
            items.append((params["TableName"], params["Item"], False))
        elif operation in ("UpdateItem", "DeleteItem"):
            items.append((params["TableName"], params["Key"], False))
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        items.append((table, request["PutRequest"]["Item"], False))
                    else:
                        items.append((table, request["DeleteRequest"]["Key"], False))
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                for kind in ("Put", "Update", "Delete"):
                    if kind in entry:
                        part = entry[kind]
                        items.append((part["TableName"], part.get("Item") or part["Key"], True))
        pending = []
        for table, item, transactional in items:
            key = self.schemas[table].key_of(item)
            pending.append(_Pending(table, key, _moto_item(table, key), transactional))
        return pending

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if model.name in READ_OPERATIONS:
            self.tally.reads.extend(reads_of(model.name, json.loads(params["body"])))
            return
        if model.name not in WRITE_OPERATIONS:
            return
        self._lock.acquire()
        context["capacity_pending"] = self._pending(model.name, json.loads(params["body"]))

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        pending: list[_Pending] | None = context.pop("capacity_pending", None)
        if pending is None:
            return
        try:
            error = parsed.get("Error", {}).get("Code", "") if isinstance(parsed, dict) else ""
            if error == "TransactionCanceledException":
                return  # nothing written
            unprocessed = parsed.get("UnprocessedItems") or {}
            for write in pending:
                if error == "ConditionalCheckFailedException":
                    self.tally.add(writes_for(self.schemas[write.table], write.before, None, condition_failed=True))
                    continue
                if unprocessed.get(write.table):
                    continue  # moto never throttles; a real retry would be captured as its own call
                after = _moto_item(write.table, write.key)
                self.tally.writes[f"{self.schemas[write.table].logical_id} {model.name}"] += 1
                self.tally.add(
                    writes_for(self.schemas[write.table], write.before, after, transactional=write.transactional)
                )
        finally:
            self._lock.release()

    def _after_error(self, context: dict[str, Any], **_: Any) -> None:
        if context.pop("capacity_pending", None) is not None:
            self._lock.release()

    def __enter__(self) -> WriteCapture:
        original = botocore.session.Session.create_client
        self._original = original
        capture = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            client.meta.events.register("before-call.dynamodb.*", capture._before)
            client.meta.events.register("after-call.dynamodb.*", capture._after)
            client.meta.events.register("after-call-error.dynamodb.*", capture._after_error)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign,assignment]
        _forget_clients()
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.session.Session.create_client = self._original  # type: ignore[method-assign,assignment]
        _forget_clients()


def _forget_clients() -> None:
    """Clients created before the capture would not report to it: drop every cached one."""
    from smscore import wiring
    from smscore.dal.tables import all_models

    wiring.reset()
    for _setting, model in all_models():
        model._connection = None


@contextmanager
def captured(schemas: dict[str, TableSchema]) -> Iterator[Tally]:
    with WriteCapture(schemas) as capture:
        yield capture.tally


# -- the scenarios, through the real handlers ----------------------------------------------------------------

TARGET_UNITS_PER_MESSAGE = 12
TARGET_POST_SECONDS = 10.0
TARGET_CEILING = 3_000


@dataclass
class Stream:
    schemas: dict[str, TableSchema]
    tally: Tally
    messages: int


def capture_post(recipients: int) -> tuple[Stream, int, int]:
    """(a) One POST /api/messages/sms/tags to `recipients` contacts through the send handler; returns the stream,
    the response body's size in bytes and the process's peak RSS growth during the request (this is the suite's
    one large POST: the send suite's memory and response-size rows are measured here rather than by a second one)."""
    from bench.harness import RssSampler, moto_stack
    from bench.send_path import _invoke, _seed

    with moto_stack() as stack:
        sender = _seed(recipients)
        schemas = schemas_from_template(stack.names)
        with captured(schemas) as tally, RssSampler() as rss:
            response = _invoke(sender)
    created = json.loads(response["body"])["messages"]
    assert len(created) == recipients, f"{len(created)} messages for {recipients} recipients"
    return Stream(schemas, tally, recipients), len(response["body"].encode()), rss.growth


def _per_message(tally: Tally, messages: int) -> dict[str, float]:
    return {target: round(units / messages, 2) for target, units in sorted(tally.units.items())}


def per_message_row(lifecycle: Any) -> Row:
    """`capacity: write units per delivered message` on one path (bench.lifecycle), from the POST to DELIVERED."""
    value = lifecycle.per_message()
    return Row(
        name=f"capacity: write units per delivered message, {lifecycle.path} path",
        value=round(value, 2),
        unit="WCU",
        baseline=TARGET_UNITS_PER_MESSAGE,
        target=f"<= {TARGET_UNITS_PER_MESSAGE} (POST through DELIVERED, indexes and counters)",
        passed=value <= TARGET_UNITS_PER_MESSAGE,
        details={
            "messages": lifecycle.messages,
            "per_message_by_stage": {
                stage: _per_message(tally, lifecycle.messages) for stage, tally in lifecycle.stages.items()
            },
            "item_writes": dict(lifecycle.item_writes()),
            "message_item_bytes_when_delivered": max(lifecycle.item_bytes_delivered),
            "before": BEFORE_UNITS_PER_MESSAGE[lifecycle.path],
        },
    )


# The figures before issue 20, item 9's cuts (bench/results, 2026-12-06): a counter ADD per status change, items
# over 1 KB from the SENT write on.
BEFORE_UNITS_PER_MESSAGE: dict[str, object] = {"immediate": 13.12, "scheduled": "about 17 (the issue's count)"}


def combined(*tallies: Tally) -> Tally:
    total = Tally()
    for tally in tallies:
        total.units.update(tally.units)
        total.partitions.update(tally.partitions)
        total.writes.update(tally.writes)
        total.reads.extend(tally.reads)
    return total


def measure(post_recipients: int = 50_000, delivered: int = 200) -> list[Row]:
    from bench import lifecycle

    post, response_bytes, rss_growth = capture_post(post_recipients)
    immediate = lifecycle.capture(delivered)
    scheduled = lifecycle.capture(delivered, scheduled=True)
    schemas = post.schemas
    delivery = Stream(schemas, combined(immediate.stages["deliver"], immediate.stages["receipts"]), immediate.messages)

    warm_seconds, warm_bound = post.tally.seconds(schemas, warm=True)
    new_seconds, new_bound = post.tally.seconds(schemas, warm=False)
    (hot_target, hot_key), hot_units = post.tally.hottest()
    post_row = Row(
        name=f"capacity: {post_recipients:,}-recipient POST, modelled DynamoDB seconds on AWS limits",
        value=round(warm_seconds, 2),
        unit="s",
        baseline=TARGET_POST_SECONDS,
        target=f"<= {TARGET_POST_SECONDS:g} s (template's warm throughput)",
        passed=warm_seconds <= TARGET_POST_SECONDS,
        details={
            "bound_by": warm_bound,
            "hottest_partition_key": f"{hot_target} {describe_key(hot_key)}",
            "hottest_partition_key_write_units": hot_units,
            "hottest_partition_key_wcu_per_second": round(hot_units / warm_seconds, 1),
            "as_a_new_table_seconds": round(new_seconds, 2),
            "as_a_new_table_bound_by": new_bound,
            "write_units_by_target": dict(sorted(post.tally.units.items())),
            "response_bytes_per_recipient": round(response_bytes / post_recipients, 1),
        },
    )

    hot_ceiling, hot_bound = delivery.tally.ceiling(delivered, schemas, warm=True)
    (d_target, d_key), d_units = delivery.tally.hottest()
    new_ceiling, new_ceiling_bound = delivery.tally.ceiling(delivered, schemas, warm=False)
    ceiling_row = Row(
        name="capacity: campaign delivery ceiling, msg/s",
        value=round(hot_ceiling),
        unit="msg/s",
        baseline=TARGET_CEILING,
        target=f">= {TARGET_CEILING:,} (hottest item incl. counters; warm tables)",
        passed=hot_ceiling >= TARGET_CEILING,
        details={
            "bound_by": hot_bound,
            "hottest_item": f"{d_target} {describe_key(d_key)}",
            "hottest_item_write_units_per_message": round(d_units / delivered, 3),
            "as_new_tables_msg_per_second": round(new_ceiling),
            "as_new_tables_bound_by": new_ceiling_bound,
            "delivery_write_units_per_message": _per_message(delivery.tally, delivered),
        },
    )
    from bench import opt_out_reads, refund_settlement

    opt_out_rows = [
        opt_out_reads.measure_send_check(),
        opt_out_reads.delivery_read_row(delivery.tally.reads, delivered, schemas),
        refund_settlement.measure(),
    ]
    from bench import capacity_model

    return [
        per_message_row(immediate),
        per_message_row(scheduled),
        *capacity_model.measure(immediate, scheduled),
        post_row,
        ceiling_row,
        *opt_out_rows,
        *send_size_rows(post_recipients, rss_growth, response_bytes),
    ]


def send_size_rows(recipients: int, rss_growth: int, response_bytes: int) -> list[Row]:
    """What the largest allowed POST costs the function: memory (half its MemorySize in the template, as moto's
    copy of every item and this suite's write capture are counted too) and the response (Lambda's 6 MB)."""
    from smsdev.template import load_template

    memory_mib = int(load_template()["Resources"]["SendByTagsFunction"]["Properties"]["MemorySize"])
    budget_mib = memory_mib // 2
    return [
        Row(
            name=f"send: peak RSS growth during the request, {recipients:,} recipients (incl. moto's copy, capture)",
            value=round(rss_growth / 2**20, 1),
            unit="MiB",
            baseline=budget_mib,
            target=f"< {budget_mib} MiB (half the function's {memory_mib} MB)",
            passed=rss_growth < budget_mib * 2**20,
        ),
        Row(
            name=f"send: response size, {recipients:,} recipients",
            value=round(response_bytes / 2**20, 2),
            unit="MiB",
            baseline=6,
            target="< 6 MiB (Lambda response limit)",
            passed=response_bytes < 6 * 2**20,
        ),
    ]
