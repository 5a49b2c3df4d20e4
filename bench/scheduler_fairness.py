"""Issue 20, items 6 and 7: the scheduled release at one opening, and one tenant's small campaign while another's
large one drains. Both rows are models: their inputs come from template.yaml, one measurement (a release
worker's CPU per message, every AWS call answered in-process as bench.request_cpu does) and the AWS latencies and
limits below; each row's details say which bound decides.

`capacity: scheduled release rate, 5M due at one opening, msg/s modelled`: 5,000,000 messages due at one 07:00
opening, from 100 tenants of 50,000 (6,400 due keys) or from one tenant alone (its 64 keys; the worse is the row).
The minute's run hands each key to a release worker (smscore.domain.scheduler); the sustained rate is the least of
- the workers: SchedulerReleaseConcurrency x one worker's rate (its measured CPU per message on the function's
  one vCPU, or its WRITE_WORKERS UpdateItems in flight at DYNAMODB_UPDATE_MS, whichever is slower);
- the due index's physical partitions: the keys in flight hashed onto the partitions its declared warm write
  throughput implies (1,000 write units/s each); a partition gives each of its keys' workers a share of that;
- the Messages table's warm write throughput over the write units of one release (a scheduled message's item as
  the send path stores it, measured).

`capacity: tenant B first delivery while tenant A drains 1,000,000, modelled s`: the delivery queue carries each
record with MessageGroupId = its tenant, which makes it an SQS fair queue: SQS returns a quiet tenant's messages
ahead of a noisy tenant's backlog (AWS, "Amazon SQS fair queues"). B's first message then waits for its POST, the
event source's batching window, the longest deliver invocation already in flight (the first poller to free up
takes B's record) and its own first send. Without the group, B's records sit behind A's queued ones: A's backlog
over the fleet's delivery rate. On one shared rate-limited sender (senders are paced fleet-wide,
smscore.domain.pacing) B's first message also waits for its slot: a reservation reaches at most the fairness
window W ahead, and a tenant holding slots only W/3, so B (holding none) gets a slot within W. That wait is
measured with the real Pacer and the in-process gate on a virtual clock while A's 1,000,000 messages (2,000
invocations of 500) keep asking at 50 msg/s; the pollers there are free after a waiting invocation's records
(A's waiting invocations end at once), not after a sending one. The row is the worse of both cases.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import uuid
import zlib
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bench.harness import Row, moto_stack, serialised_moto

TARGET_RELEASE_PER_SECOND = 20_000
TARGET_FIRST_DELIVERY_SECONDS = 10.0
DUE_AT_ONE_OPENING = 5_000_000
TENANTS_AT_ONE_OPENING = 100
A_CAMPAIGN = 1_000_000
MEASURED_RELEASES = 4_000

# AWS limits and latencies (same region, warm connections).
PARTITION_WRITE_UNITS = 1_000  # per physical partition (DynamoDB service quotas)
DYNAMODB_UPDATE_MS = 8.0
POST_SECONDS = 0.6  # a 10-recipient POST, answered 201 with its messages enqueued (bench send suite: ~0.2-0.6 s)
PROVIDER_ROUND_TRIP_SECONDS = 0.35  # one provider API call (Twilio / AWS End User Messaging), typical
RECORD_STORE_SECONDS = 0.03  # a record's claim, SENT writes and counters around its concurrent sends
FLEET_MSG_PER_SECOND = 3_000  # the delivery ceiling the figures use (the model's platform rows go higher)


def _template() -> dict[str, Any]:
    from smsdev.template import load_template

    return load_template()


def _parameter(name: str) -> int:
    return int(_template()["Parameters"][name]["Default"])


def _scheduler_env() -> dict[str, str]:
    return {
        k: str(v)
        for k, v in _template()["Resources"]["SchedulerFunction"]["Properties"]["Environment"]["Variables"].items()
        if not isinstance(v, dict)
    }


# -- a release worker's CPU per message, every AWS call answered in-process ---------------------------------------


class _LocalAws:
    """Answers the worker's calls (`before-send`, registered first): its key's Query pages, UpdateItem (the lease,
    each release, the counters), SendMessageBatch; nothing reaches moto or the network."""

    def __init__(self, key: str, messages: int, tenant_id: str, queue_id: str) -> None:
        self.key = key
        self.items = [
            {
                "message_id": {"S": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-{n}"))},
                "due_shard": {"S": key},
                "due_at": {"S": "2027-03-08T12:00:00.000000+0000"},
                "tenant_id": {"S": tenant_id},
                "queue_id": {"S": queue_id},
            }
            for n in range(messages)
        ]
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _answer(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        if operation == "Query":
            start = 0
            if "ExclusiveStartKey" in request:
                start = int(request["ExclusiveStartKey"]["bench_position"]["N"])
            limit = int(request.get("Limit", 1_000))
            page = self.items[start : start + limit]
            answer: dict[str, Any] = {"Items": page, "Count": len(page), "ScannedCount": len(page)}
            if start + limit < len(self.items):
                answer["LastEvaluatedKey"] = {**page[-1], "bench_position": {"N": str(start + limit)}}
            return answer
        if operation == "UpdateItem":
            return {"Attributes": {name: value for name, value in request["Key"].items()}}
        if operation == "SendMessageBatch":
            return {
                "Successful": [
                    {"Id": e["Id"], "MessageId": str(uuid.uuid4()), "MD5OfMessageBody": "0" * 32}
                    for e in request["Entries"]
                ],
                "Failed": [],
            }
        raise RuntimeError(f"no local answer for {operation}")

    def _before_send(self, request: Any, event_name: str, **_: Any) -> Any:
        from bench.request_cpu import _response

        operation = event_name.split(".", 2)[2]
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        with self._lock:
            self.calls[operation] += 1
        return _response(json.dumps(self._answer(operation, json.loads(body or b"{}"))).encode())

    def register(self, client: Any) -> None:
        client.meta.events.register_first("before-send.*.*", self._before_send)


def _worker_cpu_ms(messages: int = MEASURED_RELEASES) -> dict[str, Any]:
    """One worker's release of one key's `messages` (enqueue + conditional release each), CPU per message."""
    from bench.request_cpu import _every_new_client, _moto_off

    env = {"POWERTOOLS_METRICS_DISABLED": "true"}
    with moto_stack(env) as stack, serialised_moto():
        os.environ.update(stack.environment("SchedulerFunction"))
        os.environ.update(env)
        from smscore import wiring
        from smscore.dal import dispatch_counts

        tenant_id, queue_id = str(uuid.uuid4()), str(uuid.uuid4())
        key = f"due#20270308T1200#{tenant_id}#0"
        local = _LocalAws(key, messages, tenant_id, queue_id)
        warm = _LocalAws(key, 200, tenant_id, queue_id)
        with _moto_off():
            with _every_new_client(warm.register):
                deps = wiring.scheduler_deps()
                with dispatch_counts.batched():
                    assert deps.scheduler.release(key, 200).released == 200  # imports, clients, pools
            with _every_new_client(local.register):
                deps = wiring.scheduler_deps()
                started, wall = time.process_time(), time.perf_counter()
                with dispatch_counts.batched():
                    result = deps.scheduler.release(key, messages)
                cpu = time.process_time() - started
                wall = time.perf_counter() - wall
        wiring.reset()
    assert result.released == messages, result
    return {
        "cpu_ms_per_message": round(cpu * 1000 / messages, 3),
        "local_wall_ms_per_message": round(wall * 1000 / messages, 3),
        "calls": dict(local.calls),
        "threads": int(_scheduler_env().get("WRITE_WORKERS", 8)),
    }


def _release_write_units() -> int:
    """Write units of one release: the larger of a scheduled message's item before and after (UpdateItem)."""
    from bench.capacity import item_size, write_units
    from smscore.dal.tables import MessageRecord, StatusChange

    now = datetime(2027, 3, 8, 12, tzinfo=UTC)
    record = MessageRecord(
        str(uuid.uuid4()),
        tenant_id=str(uuid.uuid4()),
        queue_id=str(uuid.uuid4()),
        recipient="+573001234567",
        contact_id=str(uuid.uuid4()),
        body="Acme: " + "x" * 120 + "\nResponde SALIR para no recibir mas",
        segments=1,
        encoding="GSM-7",
        credits=1,
        status="QUEUED",
        provider="twilio",
        created_at=now,
        updated_at=now,
        purpose="marketing",
        valid_from=now,
        last_write=str(uuid.uuid4()),
        expires_at=now,
        history=[
            StatusChange(
                status="SCHEDULED", at=now, detail="outside the send window, waiting until " + now.isoformat()
            ),
            StatusChange(status="QUEUED", at=now, detail="due: released to delivery"),
        ],
    )
    return write_units(item_size(record.serialize()))


def _busiest_keys_per_partition(keys: list[str], partitions: int) -> Counter[int]:
    """How many of `keys` land on each partition: hashed as DynamoDB spreads key values (uniformly, here crc32)."""
    return Counter(zlib.crc32(key.encode()) % partitions for key in keys)


def release_row(measured: dict[str, Any] | None = None) -> Row:
    from smscore.dal.tables import DUE_SHARDS

    measured = measured or _worker_cpu_ms()
    env = _scheduler_env()
    memory_mb = int(_template()["Resources"]["SchedulerFunction"]["Properties"]["MemorySize"])
    vcpu = min(1.0, memory_mb / 1769)  # Lambda: one full vCPU at 1,769 MB
    workers = _parameter("SchedulerReleaseConcurrency")
    cpu_rate = 1000 / measured["cpu_ms_per_message"] * vcpu
    latency_rate = measured["threads"] * 1000 / DYNAMODB_UPDATE_MS
    per_worker = min(cpu_rate, latency_rate)
    index_wcu = _parameter("DueIndexWarmWriteUnitsPerSecond")
    partitions = max(1, index_wcu // PARTITION_WRITE_UNITS)
    table_rate = _parameter("MessagesWarmWriteUnitsPerSecond") / _release_write_units()

    scenarios: dict[str, dict[str, Any]] = {}
    for name, tenants in (("100 tenants x 50,000", TENANTS_AT_ONE_OPENING), ("1 tenant x 5,000,000", 1)):
        keys = [f"due#20270308T1200#tenant-{t:03d}#{s}" for t in range(tenants) for s in range(DUE_SHARDS)]
        in_flight = keys[:workers] if len(keys) > workers else keys  # SQS hands out tasks in no set order
        spread = _busiest_keys_per_partition(in_flight, partitions)
        # Each partition serves its keys' workers up to its 1,000 write units/s (one unit per removed entry).
        index_rate = sum(min(PARTITION_WRITE_UNITS, count * per_worker) for count in spread.values())
        limits = {
            "release_workers": round(len(in_flight) * per_worker),
            "due_index_partitions": round(index_rate),
            "messages_table_warm_throughput": round(table_rate),
        }
        scenarios[name] = {
            "keys": len(keys),
            "workers_in_flight": len(in_flight),
            "busiest_partition_keys": max(spread.values()),
            "limits_msg_per_second": limits,
            "rate": min(limits.values()),
            "bottleneck": min(limits, key=lambda k: limits[k]),
        }
    worst = min(scenarios, key=lambda n: scenarios[n]["rate"])
    rate = scenarios[worst]["rate"]
    return Row(
        name="capacity: scheduled release rate, 5M due at one opening, msg/s modelled",
        value=round(rate),
        unit="msg/s",
        baseline=TARGET_RELEASE_PER_SECOND,
        target=f">= {TARGET_RELEASE_PER_SECOND:,}",
        passed=rate >= TARGET_RELEASE_PER_SECOND,
        details={
            **measured,
            "per_worker_msg_per_second": round(per_worker),
            "worker_vcpu": vcpu,
            "due_index_partitions": partitions,
            "release_write_units": _release_write_units(),
            "scenarios": scenarios,
            "worst": worst,
            "minutes_to_release_5m": round(DUE_AT_ONE_OPENING / rate / 60, 1),
            "before": "333 msg/s: one fenced run a minute released at most 20,000 from 16 platform-wide due#n keys "
            "(5M in over 4 h)",
            "assumptions": {
                "dynamodb_update_ms": DYNAMODB_UPDATE_MS,
                "partition_write_units": PARTITION_WRITE_UNITS,
                "scheduler_max_messages": int(env.get("SCHEDULER_MAX_MESSAGES", 0)),
            },
        },
    )


def fairness_row() -> Row:
    """Tenant B's first delivery while tenant A's 1,000,000 drain, with and without the tenant's message group."""
    events = _template()["Resources"]["DeliverFunction"]["Properties"]["Events"]
    (mapping,) = [e["Properties"] for e in events.values() if e["Type"] == "SQS"]
    window = float(mapping.get("MaximumBatchingWindowInSeconds", 0))
    records = int(mapping["BatchSize"])
    per_record = _parameter("RecipientsPerQueueMessage")
    in_flight_per_record = min(per_record, _parameter("DeliveryWorkers"))
    # One deliver invocation: its records one after another, each one's messages sent concurrently.
    record_seconds = math.ceil(per_record / in_flight_per_record) * PROVIDER_ROUND_TRIP_SECONDS + RECORD_STORE_SECONDS
    invocation_seconds = records * record_seconds
    first_send = PROVIDER_ROUND_TRIP_SECONDS + RECORD_STORE_SECONDS
    unshared = POST_SECONDS + window + invocation_seconds + first_send
    slot = shared_sender_first_slot()
    waiting_invocation = records * RECORD_STORE_SECONDS  # read its records, ask the bucket once, re-send them
    shared = POST_SECONDS + window + waiting_invocation + slot["b_first_slot_wait_max_seconds"] + first_send
    fair = max(unshared, shared)
    fifo = POST_SECONDS + A_CAMPAIGN / FLEET_MSG_PER_SECOND + first_send
    return Row(
        name="capacity: tenant B first delivery while tenant A drains 1,000,000, modelled s",
        value=round(fair, 1),
        unit="s",
        baseline=TARGET_FIRST_DELIVERY_SECONDS,
        target=f"<= {TARGET_FIRST_DELIVERY_SECONDS:g} s",
        passed=fair <= TARGET_FIRST_DELIVERY_SECONDS and slot["b_first_slot_wait_max_seconds"] <= slot["window_s"],
        details={
            "design": "delivery-queue records carry MessageGroupId = tenant (SQS fair queue): a quiet tenant's "
            "records are returned ahead of a noisy tenant's backlog",
            "post_seconds": POST_SECONDS,
            "batching_window_seconds": window,
            "longest_invocation_in_flight_seconds": round(invocation_seconds, 2),
            "first_send_seconds": round(first_send, 2),
            "before_fifo_seconds": round(fifo),
            "fleet_msg_per_second": FLEET_MSG_PER_SECOND,
            "records_per_invocation": records,
            "messages_per_record": per_record,
            "unshared_sender_seconds": round(unshared, 1),
            "shared_rate_limited_sender_seconds": round(shared, 1),
            "shared_sender": slot,
        },
    )


def shared_sender_first_slot(rate: float = 50.0, per_invocation: int = 500, probes: int = 20) -> dict[str, Any]:
    """B's first slot on a sender A's 1,000,000 messages share, paced at `rate`: A's invocations arrive at once and
    keep coming back after their waits (virtual time); a newcomer tenant (B1, B2, ...) asks every 6 s."""
    import heapq
    import random
    from collections import Counter

    from smscore.domain.pacing import Go, InProcessSenderGate, Later, Pacer, Sender, Wait

    sender = Sender("shared", rate=rate, validity_seconds=4 * 3600)
    gate = InProcessSenderGate()
    rng = random.Random(7)
    events = [(0.0, i, per_invocation) for i in range(A_CAMPAIGN // per_invocation)]
    heapq.heapify(events)
    waits: list[float] = []
    asks = 0
    for n in range(probes):
        arrival = 3.0 + 6.0 * n
        while events and events[0][0] <= arrival:
            t, i, left = heapq.heappop(events)
            pacer = Pacer(gate, Counter({(sender.key, "A"): left}), clock=lambda t=t: t, rng=rng)
            asks += 1
            while left:
                grant = pacer.acquire(sender, horizon=20.0, tenant="A")
                if isinstance(grant, Wait):
                    heapq.heappush(events, (t + grant.seconds, i, left))  # the rest of it waits on the queue
                    break
                left -= 1
        pacer = Pacer(gate, Counter({(sender.key, f"B{n}"): 10}), clock=lambda a=arrival: a, rng=rng)
        grant = pacer.acquire(sender, horizon=20.0, tenant=f"B{n}")
        assert isinstance(grant, Go | Later), grant
        waits.append(grant.at - arrival)
    return {
        "rate_msg_per_second": rate,
        "window_s": sender.window,
        "holder_reach_s": round(sender.window / 3, 2),
        "b_first_slot_wait_max_seconds": round(max(waits), 2),
        "b_first_slot_wait_mean_seconds": round(sum(waits) / len(waits), 2),
        "newcomers_probed": probes,
        "a_invocations_asking": asks,
        "before": "B's first slot after all of A's reserved backlog (up to the 4 h validity)",
    }


def measure() -> list[Row]:
    return [release_row(), fairness_row()]
