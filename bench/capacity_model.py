"""The platform model (issue 20, item 9): physical partitions, Lambda, API Gateway and the AWS bill per message.

Inputs, all measured or read, none repeated here:
- the write and read streams of one campaign's whole life through the real handlers on moto (bench.lifecycle:
  POST, scheduler release, deliver, Twilio callbacks, receipts consumer), by table/index and partition key value;
- the CPU per message of the deliver function, the status webhook and the receipts consumer with every AWS call
  answered locally (bench.local_answers), and the bytes each writes to its log at the template's LogLevel;
- from template.yaml: tables, indexes and their declared warm throughput, function memory, event-source batch sizes
  and maximum concurrency, the API's throttles, which API (if any) fronts the status callbacks.

Rules:
- Physical partitions. A table or index holds at least ceil(read units/3,000 + write units/1,000) partitions for
  the throughput it is declared for (WarmThroughput; undeclared: a new on-demand table's 12,000 reads and 4,000
  writes), each partition key value placed by a hash of it (MD5 onto equal ranges, bench.opt_out_reads). The
  platform scenario is 100 tenants sending 50,000 each at once: the captured campaign is copied 100 times (its
  tenant, campaign and message ids, contacts and numbers replaced per copy; the Senders table's items are the
  platform's own and stay shared), every copy's keys hashed onto their partitions. A partition's load is
  writes/1,000 + reads/3,000 per second; the ceiling is the rate at which the busiest one reaches 80%.
  [Partitions: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.Partitions.html
   Throughput per partition: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
   Warm throughput: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html]
- Lambda. One vCPU at 1,769 MB, proportionally less below; a deliver invocation runs its records one after
  another, each record's messages concurrently (DeliveryWorkers), so a record lasts the longer of its CPU and one
  message's chain of calls (claim, provider, SENT, parked receipt). Concurrency needed = invocations/s x seconds
  each, against the event source's MaximumConcurrency and the account's concurrency quota; and invocations/s
  against 10 per unit of that quota (Lambda's request rate: 10 requests/s per execution environment, so 10 x the
  concurrency quota; what binds a function of a few milliseconds, such as the status webhook).
  The quota assumed: ACCOUNT_CONCURRENCY_QUOTA = 10,000 concurrent executions in the Region, a raise of the default
  1,000 (Service Quotas, Lambda, "Concurrent executions", L-B99A9384; "can be increased up to tens of thousands").
  The template's own maxima already need a raise (DeliveryMaxConcurrency 600 + ReceiptsMaxConcurrency 800 > 1,000);
  the ceiling row also reports what the default 1,000 holds.
  [Memory and vCPU: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
   Concurrency quota: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
   Requests per second and concurrency: https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html
   and https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html]
- API Gateway. A REST API in an account shares 10,000 requests/s per Region (a quota to raise) and each method's
  throttle; a Lambda function URL has no request rate of its own (the function's concurrency is its throttle).
  Which front Twilio's callbacks reach is read from the template: the deliver function's TWILIO_STATUS_CALLBACK_URL
  (`!GetAtt TwilioStatusFunctionUrl.FunctionUrl`, the webhook's FunctionUrlConfig) or the REST route.
  [API Gateway quotas: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
   Function URLs: https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html]
- Logs. Each invocation's START, END and REPORT lines (420 bytes) are Lambda system logs at INFO: none for a
  function whose LoggingConfig sets SystemLogLevel WARN or above (JSON log format).
  [Log-level filtering: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html]

Prices, us-east-1 list prices (the pages below, read 2026-12), per 1,000,000 delivered messages:
- Lambda (arm64): $0.0000133334 per GB-second, $0.20 per million requests. https://aws.amazon.com/lambda/pricing/
  Function URLs cost nothing beyond the function's requests and duration (same page).
- DynamoDB on-demand (Standard table class): $0.625 per million write request units, $0.125 per million read
  request units. https://aws.amazon.com/dynamodb/pricing/on-demand/
- SQS standard queues: $0.40 per million requests (each 64 KB chunk of a request is one).
  https://aws.amazon.com/sqs/pricing/
- API Gateway: REST APIs $3.50 per million requests (first 333 million); HTTP APIs $1.00 per million.
  https://aws.amazon.com/api-gateway/pricing/
- CloudWatch Logs: $0.50 per GB ingested (Standard class; Lambda's logs are billed as such).
  https://aws.amazon.com/cloudwatch/pricing/
- X-Ray: $5.00 per million traces recorded (functions with Tracing: Active; the default sampling rule records the
  first request each second and 5% of the rest). https://aws.amazon.com/xray/pricing/
- Data transfer out to the internet (the Twilio API call): $0.09 per GB. https://aws.amazon.com/ec2/pricing/on-demand/
- Not counted (excluded): the carrier's and provider's per-message fees (AWS End User Messaging SMS per-message
  and carrier fees, Twilio's per-segment price), phone numbers and sender IDs, EventBridge (AWS service events to
  the default bus are free), KMS (data keys cached by DynamoDB, SQS and Lambda), storage, backups (PITR), the free
  tiers, and fixed monthly costs (alarms, dashboard, custom metrics, idle SQS polling).
"""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.capacity import READ_OPERATIONS, Read, TableSchema, Tally
from bench.harness import Row
from bench.lifecycle import Lifecycle
from bench.opt_out_reads import partition_of

TENANTS = 100
PER_TENANT = 50_000
TARGET_CEILING = 30_000
PARTITION_SHARE_LIMIT = 0.8
WRITE_UNITS_PER_PARTITION = 1_000
READ_UNITS_PER_PARTITION = 3_000
NEW_TABLE_WRITE_UNITS = 4_000
NEW_TABLE_READ_UNITS = 12_000
MESSAGES_IN_THE_SAMPLE = 30_000  # one second at the target, hashed onto the partitions
DEFAULT_ACCOUNT_CONCURRENCY = 1_000  # Lambda's default concurrency quota per Region
ACCOUNT_CONCURRENCY_QUOTA = 10_000  # the raised quota this model assumes (module docstring: L-B99A9384)
REQUESTS_PER_CONCURRENCY = 10  # Lambda's request rate: 10 requests/s per unit of concurrency
REST_ACCOUNT_RPS = 10_000
TWILIO_CALLBACKS_PER_MESSAGE = 3  # queued/sent/delivered (the figure; the webhook queues the final one)

# us-east-1 list prices (module docstring).
LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
DYNAMODB_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_READ_UNIT = 0.125 / 1e6
SQS_REQUEST = 0.40 / 1e6
REST_API_REQUEST = 3.50 / 1e6
HTTP_API_REQUEST = 1.00 / 1e6
LOGS_GB = 0.50
XRAY_TRACE = 5.00 / 1e6
DATA_OUT_GB = 0.09
TARGET_COST = {"aws_sms": 6.0, "twilio": 8.0}

# Latencies added to the measured CPU (same region, warm connections) and the providers' API round trips.
DYNAMODB_WRITE_S = 0.008
DYNAMODB_READ_S = 0.005
SQS_SEND_S = 0.008
PROVIDER_S = {"twilio": 0.200, "aws_sms": 0.060}
TWILIO_REQUEST_BYTES = 1_500  # the HTTPS POST to Twilio and its TLS framing (estimate)
PLATFORM_LOG_BYTES_PER_INVOCATION = 420  # START, END, REPORT and the X-Ray line of a text-format log
ACCESS_LOG_BYTES_PER_REQUEST = 400  # one JSON access-log line of the REST stage (its AccessLogSetting)
XRAY_SAMPLED = 0.05

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PHONE = re.compile(r"\+\d{8,15}")
_HEX = re.compile(r"[0-9a-f]{32}")  # provider message ids (Twilio's SM + 32 hex digits)


def _template() -> dict[str, Any]:
    from smsdev.template import load_template

    return load_template()


def _param(name: str) -> Any:
    return _template()["Parameters"][name]["Default"]


def _resolved(value: Any) -> Any:
    if isinstance(value, dict) and "Ref" in value:
        return _param(value["Ref"])
    return value


def _function(function_id: str) -> dict[str, Any]:
    template = _template()
    props = dict(template["Globals"]["Function"])
    props.update(template["Resources"][function_id]["Properties"])
    return props


def _memory_gb(function_id: str) -> float:
    return int(_resolved(_function(function_id)["MemorySize"])) / 1024


def _vcpu(function_id: str) -> float:
    return min(1.0, int(_resolved(_function(function_id)["MemorySize"])) / 1769)


def platform_log_bytes(function_id: str) -> int:
    """Lambda's START/END/REPORT bytes per invocation: none when the function filters system logs at WARN+."""
    config = _function(function_id).get("LoggingConfig") or {}
    if config.get("LogFormat") == "JSON" and config.get("SystemLogLevel") in ("WARN", "ERROR", "FATAL"):
        return 0
    return PLATFORM_LOG_BYTES_PER_INVOCATION


def _event_props(function_id: str, event: str) -> dict[str, Any]:
    props: dict[str, Any] = _function(function_id)["Events"][event]["Properties"]
    return props


# -- physical partitions -----------------------------------------------------------------------------------------


def partitions_of(schema: TableSchema, index: str | None) -> int:
    """Partitions a table or index holds for its declared throughput (new on-demand table when undeclared)."""
    if index is None:
        wcu, rcu = schema.warm_wcu, schema.warm_rcu
    else:
        wcu, rcu = next(i.warm_wcu for i in schema.indexes if i.name == index), None
    writes = max(NEW_TABLE_WRITE_UNITS, wcu or 0)
    reads = max(NEW_TABLE_READ_UNITS, rcu or 0)
    return max(1, math.ceil(reads / READ_UNITS_PER_PARTITION + writes / WRITE_UNITS_PER_PARTITION))


class Copier:
    """Key values of the captured campaign as copy `n` of the platform scenario would write them."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.tenant, self.queue = lifecycle.tenant_id, lifecycle.queue_id

    def __call__(self, key: str, copy: int, tenant: int) -> str:
        def other(found: re.Match[str]) -> str:
            value = found.group()
            if value == self.tenant:
                return str(uuid.uuid5(uuid.NAMESPACE_OID, f"tenant{tenant}"))
            if value == self.queue:
                return str(uuid.uuid5(uuid.NAMESPACE_OID, f"campaign{tenant}"))
            return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{copy}:{value}"))

        replaced = _HEX.sub(lambda m: uuid.uuid5(uuid.NAMESPACE_OID, f"{copy}:{m.group()}").hex, _UUID.sub(other, key))
        return _PHONE.sub(lambda m: f"+57{copy:04d}{m.group()[-7:]}", replaced)


@dataclass
class Busiest:
    target: str
    partition: int
    partitions: int
    write_units_per_s: float
    read_units_per_s: float

    @property
    def share(self) -> float:
        return self.write_units_per_s / WRITE_UNITS_PER_PARTITION + self.read_units_per_s / READ_UNITS_PER_PARTITION


def _read_units(read: Read) -> float:
    if read.operation == "TransactGetItems":
        return 2.0
    return 1.0 if read.consistent else 0.5


def partition_loads(lifecycle: Lifecycle, stages: tuple[str, ...], rate: float) -> list[Busiest]:
    """Each table/index partition's load at `rate` messages/s, the captured campaign copied onto 100 tenants."""
    schemas = {s.logical_id: s for s in lifecycle.schemas.values()}
    by_name = {s.table_name: s for s in lifecycle.schemas.values()}
    copy_of = Copier(lifecycle)
    copies = max(TENANTS, math.ceil(MESSAGES_IN_THE_SAMPLE / lifecycle.messages))
    scale = rate / (copies * lifecycle.messages)  # sample units -> units per second
    writes: Counter[tuple[str, int]] = Counter()
    reads: Counter[tuple[str, int]] = Counter()
    sizes: dict[str, int] = {}
    tally = Tally()
    for stage in stages:
        # The POST's campaign-level writes (the campaign, its debit, ledger entry, plan) come once per campaign of
        # PER_TENANT messages, not once per captured campaign: scaled down to that.
        for (target, key), units in lifecycle.stages[stage].partitions.items():
            per_campaign = stage == "post" and not target.startswith(("MessagesTable", "SuppressionsTable"))
            tally.partitions[(target, key)] += units * (lifecycle.messages / PER_TENANT if per_campaign else 1)
        tally.reads.extend(lifecycle.stages[stage].reads)
    for (target, key), units in tally.partitions.items():
        table, _, index = target.partition("/")
        count = sizes.setdefault(target, partitions_of(schemas[table], index or None))
        shared = table == "SendersTable"  # the platform's own items (pacing, breakers, run leases)
        for copy in range(copies):
            value = key if shared else copy_of(key, copy, copy % TENANTS)
            writes[(target, partition_of(value, count))] += units
    for read in tally.reads:
        schema = by_name.get(read.table)
        if schema is None:
            continue
        target = schema.logical_id
        count = sizes.setdefault(target, partitions_of(schema, None))
        key = read.partition(schema) if read.key else f"query:{read.table}"
        shared = target == "SendersTable" or not read.key
        for copy in range(copies):
            value = key if shared else copy_of(key, copy, copy % TENANTS)
            reads[(target, partition_of(value, count))] += _read_units(read)
    loads = [
        Busiest(target, part, sizes[target], writes[(target, part)] * scale, reads[(target, part)] * scale)
        for target, part in set(writes) | set(reads)
    ]
    return sorted(loads, key=lambda b: -b.share)


# -- Lambda ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LambdaCost:
    """One function's share of a delivered message: invocations, billed GB-seconds, log bytes."""

    function_id: str
    invocations: float
    seconds: float  # billed duration per message
    log_bytes: float

    @property
    def gb_seconds(self) -> float:
        return _memory_gb(self.function_id) * self.seconds

    @property
    def dollars(self) -> float:
        return self.invocations * LAMBDA_REQUEST + self.gb_seconds * LAMBDA_GB_SECOND


def deliver_seconds_per_message(lifecycle: Lifecycle, provider: str) -> tuple[float, dict[str, float]]:
    """Billed seconds per message of the deliver function: each record lasts the longer of its messages' CPU on the
    function's share of a vCPU and one message's chain of calls (they run concurrently, up to DeliveryWorkers)."""
    per_record = int(_param("RecipientsPerQueueMessage"))
    workers = int(_param("DeliveryWorkers"))
    cpu = lifecycle.cpu_seconds["deliver"] / _vcpu("DeliverFunction")
    chain = DYNAMODB_WRITE_S + PROVIDER_S[provider] + DYNAMODB_WRITE_S + DYNAMODB_READ_S
    waves = math.ceil(per_record / workers)
    record = max(cpu * per_record, chain * waves)
    return record / per_record, {"cpu_s": round(cpu * per_record, 3), "chain_s": round(chain * waves, 3)}


def lambda_costs(lifecycle: Lifecycle, provider: str) -> list[LambdaCost]:
    deliver_batch = int(_event_props("DeliverFunction", "DeliveryQueueEvent")["BatchSize"])
    per_record = int(_param("RecipientsPerQueueMessage"))
    receipts_batch = int(_event_props("ReceiptsFunction", "ReceiptsQueueEvent")["BatchSize"])
    deliver_s, _ = deliver_seconds_per_message(lifecycle, provider)
    consumer_s = lifecycle.cpu_seconds["consumer"] / _vcpu("ReceiptsFunction") + DYNAMODB_READ_S + DYNAMODB_WRITE_S
    costs = [
        LambdaCost(
            "DeliverFunction",
            1 / (deliver_batch * per_record),
            deliver_s,
            lifecycle.log_bytes["deliver"] + platform_log_bytes("DeliverFunction") / (deliver_batch * per_record),
        ),
        LambdaCost(
            "ReceiptsFunction",
            1 / receipts_batch,
            consumer_s,
            lifecycle.log_bytes["consumer"] + platform_log_bytes("ReceiptsFunction") / receipts_batch,
        ),
    ]
    if provider == "twilio":
        # Each callback is one invocation, billed by the millisecond (at least 1 ms); the final one queues.
        callback_s = lifecycle.cpu_seconds["webhook"] / _vcpu("TwilioStatusFunction")
        per_message = TWILIO_CALLBACKS_PER_MESSAGE * max(0.001, callback_s) + SQS_SEND_S
        costs.append(
            LambdaCost(
                "TwilioStatusFunction",
                TWILIO_CALLBACKS_PER_MESSAGE,
                per_message,
                TWILIO_CALLBACKS_PER_MESSAGE
                * (lifecycle.log_bytes["webhook"] + platform_log_bytes("TwilioStatusFunction")),
            )
        )
    return costs


def status_callback_front() -> str:
    """What receives Twilio's callbacks, from the template: 'function-url' when the deliver function gives Twilio
    the status webhook's function URL, else 'rest-api'."""
    function = _template()["Resources"]["TwilioStatusFunction"]
    given = _function("DeliverFunction")["Environment"]["Variables"]["TWILIO_STATUS_CALLBACK_URL"]
    url = {"Fn::GetAtt": ["TwilioStatusFunctionUrl", "FunctionUrl"]}
    if "FunctionUrlConfig" in function["Properties"] and given == url:
        return "function-url"
    return "rest-api"


# -- rows ----------------------------------------------------------------------------------------------------------


def _read_units_per_message(lifecycle: Lifecycle) -> float:
    reads = [r for tally in lifecycle.stages.values() for r in tally.reads]
    return sum(_read_units(r) if r.operation in READ_OPERATIONS else 1.0 for r in reads) / lifecycle.messages


def _sqs_requests_per_message(lifecycle: Lifecycle) -> float:
    """Our SQS calls (captured), plus the event sources' receives and batch deletes (up to 10 messages each) and the
    EventBridge rule's delivery of AWS SMS events (one SendMessage each, instead of the webhook's)."""
    ours = sum(n for calls in lifecycle.aws_calls.values() for op, n in calls.items() if op.startswith("sqs:"))
    ours -= lifecycle.aws_calls.get("consumer", Counter()).get("sqs:ReceiveMessage", 0)  # the bench's own drain
    per_record = int(_param("RecipientsPerQueueMessage"))
    delivery_records = lifecycle.messages / per_record
    polled = 2 * math.ceil(delivery_records / 10) + 2 * math.ceil(lifecycle.messages / 10)
    return (ours + polled) / lifecycle.messages


def cost_row(lifecycle: Lifecycle, provider: str) -> Row:
    """AWS dollars per 1,000,000 delivered messages on one route (module docstring: prices, exclusions)."""
    million = 1e6
    front = status_callback_front()
    lines: dict[str, float] = {}
    lines["DynamoDB writes"] = lifecycle.per_message() * DYNAMODB_WRITE_UNIT * million
    lines["DynamoDB reads"] = _read_units_per_message(lifecycle) * DYNAMODB_READ_UNIT * million
    sqs = _sqs_requests_per_message(lifecycle)
    if provider == "aws_sms":
        webhook_sends = lifecycle.aws_calls.get("webhook", Counter()).get("sqs:SendMessage", 0) / lifecycle.messages
        sqs = sqs - webhook_sends + 1  # the EventBridge rule sends the final event instead
    lines["SQS requests"] = sqs * SQS_REQUEST * million
    functions = lambda_costs(lifecycle, provider)
    for cost in functions:
        lines[f"Lambda {cost.function_id}"] = cost.dollars * million
    log_bytes = sum(c.log_bytes for c in functions)
    invocations = sum(c.invocations for c in functions)
    if provider == "twilio":
        if front == "rest-api":
            lines["API Gateway REST (status callbacks)"] = TWILIO_CALLBACKS_PER_MESSAGE * REST_API_REQUEST * million
            log_bytes += TWILIO_CALLBACKS_PER_MESSAGE * ACCESS_LOG_BYTES_PER_REQUEST
        lines["Data transfer out (Twilio API)"] = TWILIO_REQUEST_BYTES / 1e9 * DATA_OUT_GB * million
    lines["CloudWatch Logs ingestion"] = log_bytes / 1e9 * LOGS_GB * million
    lines["X-Ray traces"] = invocations * XRAY_SAMPLED * XRAY_TRACE * million
    total = sum(lines.values())
    target = TARGET_COST[provider]
    route = "AWS SMS route" if provider == "aws_sms" else "Twilio route (status callbacks included)"
    return Row(
        name=f"capacity: AWS cost per 1M delivered, {route}",
        value=round(total, 2),
        unit="USD",
        baseline=target,
        target=f"<= ${target:g} (us-east-1 list prices; carrier/provider fees excluded)",
        passed=total <= target,
        details={
            "dollars_by_line": {name: round(value, 3) for name, value in sorted(lines.items(), key=lambda kv: -kv[1])},
            "write_units_per_message": round(lifecycle.per_message(), 2),
            "read_units_per_message": round(_read_units_per_message(lifecycle), 2),
            "sqs_requests_per_message": round(sqs, 3),
            "log_bytes_per_message": round(log_bytes),
            "lambda_invocations_per_message": round(invocations, 4),
            "status_callbacks_front": front if provider == "twilio" else "none (EventBridge -> SQS)",
            "prices": "bench/capacity_model.py docstring (Lambda, DynamoDB on-demand, SQS, API Gateway, CloudWatch "
            "Logs, X-Ray, data transfer; us-east-1)",
            "excluded": "carrier and provider per-message fees, numbers/sender IDs, EventBridge (AWS events), KMS, "
            "storage, PITR, free tiers, fixed monthly costs",
            "before": BEFORE_COST[provider],
        },
    )


BEFORE_COST = {
    "aws_sms": "$6.36 measured on 2026-12-06 with a provider-id index entry per message (8.1 write units); about $10 "
    "before (the review's estimate at 13.1 write units per message)",
    "twilio": "$19.83 measured on 2026-12-06 with the callbacks through API Gateway REST ($10.50) and Lambda's "
    "START/END/REPORT lines; about $22 before (the review's estimate)",
}


def lambda_row(lifecycle: Lifecycle) -> Row:
    """Lambda CPU per delivered message (every AWS call answered locally) and the concurrency 30,000 msg/s needs."""
    cpu = lifecycle.cpu_seconds
    per_message_ms = (cpu["deliver"] + cpu["consumer"] + TWILIO_CALLBACKS_PER_MESSAGE * cpu["webhook"]) * 1000
    needs = concurrency_needed(lifecycle, TARGET_CEILING)
    limits = concurrency_limits()
    return Row(
        name="capacity: Lambda CPU ms per delivered message (AWS calls answered locally)",
        value=round(per_message_ms, 2),
        unit="ms",
        baseline=None,
        target="measured (deliver + receipts consumer + 3 Twilio callbacks); concurrency within the template's",
        passed=all(needs[f] <= limits[f] for f in needs),
        details={
            "cpu_ms": {
                "deliver_per_message": round(cpu["deliver"] * 1000, 3),
                "consumer_per_receipt": round(cpu["consumer"] * 1000, 3),
                "webhook_per_callback": round(cpu["webhook"] * 1000, 3),
            },
            "log_bytes": {name: round(value) for name, value in lifecycle.log_bytes.items()},
            "concurrency_needed_at_30000_msg_s": {f: round(n) for f, n in needs.items()},
            "concurrency_allowed": limits,
            "method": "process CPU of the second of two replays of the same invocations, every AWS call answered by "
            "a botocore before-send handler (bench.local_answers); Twilio answered over HTTP by the fake in its own "
            "process",
        },
    )


def concurrency_needed(lifecycle: Lifecycle, rate: float, provider: str = "twilio") -> dict[str, float]:
    deliver_s, _ = deliver_seconds_per_message(lifecycle, provider)
    consumer_s = lifecycle.cpu_seconds["consumer"] / _vcpu("ReceiptsFunction") + DYNAMODB_READ_S + DYNAMODB_WRITE_S
    callbacks_s = TWILIO_CALLBACKS_PER_MESSAGE * lifecycle.cpu_seconds["webhook"] / _vcpu("TwilioStatusFunction")
    return {
        "DeliverFunction": rate * deliver_s,
        "ReceiptsFunction": rate * consumer_s,
        "TwilioStatusFunction": rate * (callbacks_s + SQS_SEND_S),  # the final callback queues the receipt
    }


def concurrency_limits() -> dict[str, int]:
    deliver = _event_props("DeliverFunction", "DeliveryQueueEvent")["ScalingConfig"]["MaximumConcurrency"]
    receipts = _event_props("ReceiptsFunction", "ReceiptsQueueEvent")["ScalingConfig"]["MaximumConcurrency"]
    return {
        "DeliverFunction": int(_resolved(deliver)),
        "ReceiptsFunction": int(_resolved(receipts)),
        "TwilioStatusFunction": ACCOUNT_CONCURRENCY_QUOTA,
    }


def invocations_per_message() -> dict[str, float]:
    """Lambda invocations per delivered message (Twilio route): records per deliver invocation, receipts per
    consumer invocation (the template's batch sizes), one per status callback."""
    deliver_batch = int(_event_props("DeliverFunction", "DeliveryQueueEvent")["BatchSize"])
    per_record = int(_param("RecipientsPerQueueMessage"))
    receipts_batch = int(_event_props("ReceiptsFunction", "ReceiptsQueueEvent")["BatchSize"])
    return {
        "DeliverFunction": 1 / (deliver_batch * per_record),
        "ReceiptsFunction": 1 / receipts_batch,
        "TwilioStatusFunction": float(TWILIO_CALLBACKS_PER_MESSAGE),
    }


def lambda_bounds(lifecycle: Lifecycle, quota: int) -> dict[str, float]:
    """Messages/s each Lambda limit allows with an account concurrency quota of `quota`."""
    needs = concurrency_needed(lifecycle, 1.0)
    bounds = {
        f"{function_id} concurrency {min(limit, quota):,}": min(limit, quota) / needs[function_id]
        for function_id, limit in concurrency_limits().items()
    }
    # The three functions share the account's concurrency quota, and its request rate (10 per unit).
    bounds[f"account concurrency quota {quota:,} (shared)"] = quota / sum(needs.values())
    requests = REQUESTS_PER_CONCURRENCY * quota
    bounds[f"Lambda requests/s {requests:,} (10 x quota; 3 callbacks per message)"] = requests / sum(
        invocations_per_message().values()
    )
    return bounds


def callback_rate_limit() -> tuple[float, str]:
    """Twilio callbacks/s the front admits: the route's throttle and the account's REST quota, or none."""
    if status_callback_front() == "function-url":
        return math.inf, "function URL: no request rate of its own (the function's concurrency)"
    route = int(_param("ReceiptsWebhookRateLimit"))
    return min(route, REST_ACCOUNT_RPS), f"REST API: route throttle {route:,}/s, account {REST_ACCOUNT_RPS:,}/s"


def ceiling_row(lifecycle: Lifecycle) -> Row:
    """`capacity: platform ceiling, msg/s, 100 tenants sending 50,000 each at once`: the smallest of the busiest
    partition at 80%, Lambda concurrency (event-source maximum, account quota) and the callbacks' front."""
    stages = ("post", "deliver", "receipts")  # in steady state every message is created and delivered at the rate
    at_target = partition_loads(lifecycle, stages, TARGET_CEILING)
    busiest = at_target[0]
    bounds: dict[str, float] = {
        f"busiest partition at 80% ({busiest.target} #{busiest.partition} of {busiest.partitions})": TARGET_CEILING
        * PARTITION_SHARE_LIMIT
        / busiest.share
    }
    callbacks, front = callback_rate_limit()
    if math.isfinite(callbacks):
        bounds[f"status callbacks ({front})"] = callbacks / TWILIO_CALLBACKS_PER_MESSAGE
    # The same with the default quota (1,000 concurrent executions, 10,000 requests/s): what a new account holds.
    default = {**bounds, **lambda_bounds(lifecycle, DEFAULT_ACCOUNT_CONCURRENCY)}
    bounds.update(lambda_bounds(lifecycle, ACCOUNT_CONCURRENCY_QUOTA))
    bound = min(bounds, key=lambda name: bounds[name])
    value = bounds[bound]
    default_bound = min(default, key=lambda name: default[name])
    partition_ok = busiest.share < PARTITION_SHARE_LIMIT
    return Row(
        name=f"capacity: platform ceiling, msg/s, {TENANTS} tenants sending {PER_TENANT:,} each at once",
        value=round(value),
        unit="msg/s",
        baseline=TARGET_CEILING,
        target=f">= {TARGET_CEILING:,}, busiest physical partition < 80% of its limits",
        passed=value >= TARGET_CEILING and partition_ok,
        details={
            "bound_by": bound,
            "bounds_msg_per_s": {name: round(v) for name, v in bounds.items()},
            "assumes": f"the account's Lambda concurrency quota raised to {ACCOUNT_CONCURRENCY_QUOTA:,} (Service "
            "Quotas L-B99A9384; default 1,000); DynamoDB warm throughput as declared in template.yaml",
            "status_callbacks_front": front,
            "with_the_default_quota_1000_msg_per_s": f"{default[default_bound]:,.0f} ({default_bound})",
            "busiest_partition_at_30000_msg_s": {
                "target": busiest.target,
                "partition": f"{busiest.partition} of {busiest.partitions}",
                "write_units_per_s": round(busiest.write_units_per_s),
                "read_units_per_s": round(busiest.read_units_per_s),
                "share_of_limits": round(busiest.share, 3),
            },
            "next_busiest": [
                f"{b.target} #{b.partition}/{b.partitions}: {b.share:.0%}"
                for b in _distinct_targets(at_target[1:], busiest.target)[:4]
            ],
            "scenario": f"{TENANTS} tenants x {PER_TENANT:,} messages; the captured {lifecycle.messages}-message "
            "campaign copied per tenant (ids, numbers replaced), POST + deliver + receipts at the same rate",
            "not_modelled": "the providers' own rates (sender numbers, short codes): the carriers' side",
            "before": "3,333 msg/s before the status callbacks moved to a function URL (REST API account rate "
            "10,000/s); 3,000 msg/s before that (opt-outs on one partition per sender)",
        },
    )


def _distinct_targets(loads: list[Busiest], skip: str) -> list[Busiest]:
    seen = {skip}
    out = []
    for load in loads:
        if load.target not in seen:
            seen.add(load.target)
            out.append(load)
    return out


def measure(immediate: Lifecycle, scheduled: Lifecycle) -> list[Row]:
    return [
        ceiling_row(immediate),
        lambda_row(immediate),
        cost_row(immediate, "aws_sms"),
        cost_row(immediate, "twilio"),
    ]
