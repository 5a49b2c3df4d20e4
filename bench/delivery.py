"""Delivery: messages per second through the deliver handler against a fake Twilio answering after 50 ms on
loopback, next to one-by-one sending (one worker) in the same run; every send to the provider counted."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3

from bench.harness import LambdaContext, Row, drain_sqs_records, moto_stack, serialised_moto
from smsdev.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID

LATENCY_MS = 50


def _enqueue_campaign(recipients: int) -> tuple[str, list[dict[str, Any]]]:
    """A campaign through the real send path; returns its queueId and the SQS records it produced."""
    from bench.send_path import _invoke, _seed

    sender = _seed(recipients)
    from smscore.dal.tables import TenantRecord

    TenantRecord(sender.tenant_id).update(actions=[TenantRecord.provider.set("twilio")])
    queue_id = json.loads(_invoke(sender)["body"])["queueId"]
    return queue_id, drain_sqs_records(os.environ["DELIVERY_QUEUE_URL"])


def _run(recipients: int, workers: int, per_queue_message: int) -> tuple[float, int, Counter[str], int]:
    """Deliver one campaign as the SQS event source would (batches of 10 records); returns rate and counts."""
    env = {
        "DELIVERY_WORKERS": str(workers),
        "RECIPIENTS_PER_QUEUE_MESSAGE": str(per_queue_message),
        "PROVIDER_RATE_LIMITS": '{"twilio": 0}',  # the engine's throughput, not a sender's pace (bench/pacing.py)
    }
    with moto_stack(env) as stack, serialised_moto(), _remote_fake_twilio() as fake_url:
        from functions.deliver import app as deliver
        from smsdev.provision import function_environment

        deliver_env = function_environment(stack.names, "DeliverFunction")
        os.environ.update(
            {**deliver_env, **env, "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
        )
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name=deliver_env["TWILIO_CREDENTIALS_PARAMETER"],
            Type="SecureString",
            Value=json.dumps({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}),
        )
        os.environ.update(TWILIO_API_BASE_URL=fake_url, TWILIO_MESSAGING_SERVICE_SID=MESSAGING_SERVICE_SID)
        queue_id, records = _enqueue_campaign(recipients)
        start = time.perf_counter()
        failures = 0
        for i in range(0, len(records), 10):
            result = deliver.lambda_handler(
                {"Records": records[i : i + 10]}, LambdaContext("bench-deliver", 1024, 60_000)
            )
            failures += len(result["batchItemFailures"])
        seconds = time.perf_counter() - start
        from smscore.dal.message_queries import queue_messages  # the queue index is sharded
        from smscore.dal.tables import MessageRecord

        statuses = Counter(m.status for m in MessageRecord.batch_get([mid for mid, _ in queue_messages(queue_id)]))
        sends = _received(fake_url)
    duplicates = sum(count - 1 for count in sends.values() if count > 1)
    return recipients / seconds, duplicates, statuses, failures + (recipients - len(sends))


def measure(recipients: int = 200) -> list[Row]:
    parallel_rate, parallel_dupes, parallel_status, parallel_lost = _run(recipients, workers=50, per_queue_message=50)
    serial_rate, serial_dupes, _, serial_lost = _run(recipients // 4, workers=1, per_queue_message=50)
    return [
        Row(
            name=f"delivery: msg/s through the deliver handler on moto, Twilio at {LATENCY_MS} ms ({recipients} msgs)",
            value=round(parallel_rate, 1),
            unit="msg/s",
            baseline=round(serial_rate, 1),
            target="report: moto's serialised CPU per transaction bounds it",
            passed=set(parallel_status) == {"SENT"},
            details={"statuses": dict(parallel_status)},
        ),
        Row(
            name="delivery: duplicate sends (same number twice at the provider)",
            value=parallel_dupes + serial_dupes,
            unit="sends",
            baseline=None,
            target="0",
            passed=parallel_dupes + serial_dupes == 0,
        ),
        Row(
            name="delivery: messages not sent or left for redelivery",
            value=parallel_lost + serial_lost,
            unit="msgs",
            baseline=None,
            target="0",
            passed=parallel_lost + serial_lost == 0 and set(parallel_status) == {"SENT"},
        ),
    ]


@contextlib.contextmanager
def _remote_fake_twilio() -> Iterator[str]:
    """The fake Twilio in its own process, like a real remote provider: its 50 ms and its request parsing must
    not share the client's interpreter lock."""
    process = subprocess.Popen(
        [sys.executable, "-m", "smsdev.fake_twilio", "--latency-ms", str(LATENCY_MS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(10)


def _received(url: str) -> Counter[str]:
    with urllib.request.urlopen(f"{url}/__fake/requests", timeout=10) as response:  # noqa: S310 - loopback
        return Counter(json.loads(response.read()))


def _engine_rate(messages: int, workers: int) -> tuple[float, int]:
    """The delivery engine alone: Deliverer with an in-memory store and the real Twilio provider over HTTP.

    Isolates what the deliver function adds (claiming, concurrency, fencing) from the emulator's CPU cost per
    DynamoDB transaction, which on moto is serialised and dominates the end-to-end figure.
    """
    from smscore.domain.delivery import Deliverer, RetryPolicy
    from smscore.domain.model import MessageStatus, QueueBatch, StoredMessage
    from smscore.providers.twilio import TwilioConfig, TwilioCredentials, TwilioProvider
    from tests.delivery_fakes import InMemoryMessageStore, ListDeadLetters, Providers

    with _remote_fake_twilio() as url:
        provider = TwilioProvider(
            TwilioConfig(api_base_url=url, messaging_service_sid=MESSAGING_SERVICE_SID),
            lambda: TwilioCredentials(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN),
        )
        store = InMemoryMessageStore()
        ids = []
        for i in range(messages):
            message_id = str(uuid.uuid4())
            ids.append(message_id)
            store.add(
                StoredMessage(
                    message_id, "tenant", "queue", f"+57300{i:07d}", "Hi", 1, 1, MessageStatus.QUEUED, "twilio"
                )
            )
        deliverer = Deliverer(
            store=store,
            providers=Providers({"twilio": provider}),
            dead_letters=ListDeadLetters(),
            policy=RetryPolicy(),
            workers=workers,
        )
        started = time.perf_counter()
        for start in range(0, messages, 50):
            deliverer.deliver(QueueBatch("tenant", "queue", ids[start : start + 50]))
        seconds = time.perf_counter() - started
        sends = _received(url)
    assert sum(sends.values()) >= messages, "not every message reached the provider"
    return messages / seconds, sum(count - 1 for count in sends.values() if count > 1)


def measure_engine(messages: int = 800) -> Row:
    parallel, parallel_dupes = _engine_rate(messages, workers=50)
    serial, serial_dupes = _engine_rate(messages // 8, workers=1)
    return Row(
        name=f"delivery engine: msg/s, in-memory store + Twilio over HTTP at {LATENCY_MS} ms",
        value=round(parallel, 1),
        unit="msg/s",
        baseline=round(serial, 1),
        target=">= 10x one-by-one, 0 duplicates",
        passed=parallel >= 10 * serial and parallel_dupes + serial_dupes == 0,
        details={"duplicates": parallel_dupes + serial_dupes},
    )
