"""Shared pieces: an in-process moto stack with the template's resources, AWS call counting, result rows."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import botocore.session

from smsdev.testing import MOTO_ACCOUNT_ENV, MotoStack
from smsdev.testing import LambdaContextStub as LambdaContext
from smsdev.testing import moto_stack as template_stack
from smsdev.testing import serialised_moto as serialised_moto

__all__ = ["LambdaContext", "MotoStack", "serialised_moto"]

# The table, not the logs.
BENCH_ENV = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
# A whole fake account for subprocesses (smsctl, cold-start imports): moto's credentials and the quiet logs.
FAKE_AWS = {**MOTO_ACCOUNT_ENV, **BENCH_ENV}


@dataclass
class Row:
    """One line of the table: a figure, its floor or baseline, and whether the target holds."""

    name: str
    value: float
    unit: str
    baseline: float | None
    target: str
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


@contextlib.contextmanager
def moto_stack(extra_env: dict[str, str] | None = None) -> Iterator[MotoStack]:
    """A fresh in-process moto account holding template.yaml's tables and queues, with the functions' env set."""
    with template_stack("bench", {**BENCH_ENV, **(extra_env or {})}) as stack:
        reset_caches()
        try:
            yield stack
        finally:
            reset_caches()


@contextlib.contextmanager
def seeding_into_moto_tables() -> Iterator[None]:
    """Seed data written straight into in-process moto's tables while the block runs: `DynamoAdminStore`'s batch
    saves put each item (the same PynamoDB models, serialised as BatchWriteItem would send them) through moto's
    own `Table.put_item`, without botocore serialising and moto parsing a request per 25 items.

    Only for building a benchmark's data set (the search row's 50,000 contacts are about 300,000 items: most of
    the suite's time went to the requests that carry them); what a row measures still goes through the API.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from smsdev.admin_store import DynamoAdminStore

    def put_directly(records: Any) -> None:
        items = list(records)
        if not items:
            return
        meta = type(items[0]).Meta
        backend = dynamodb_backends[os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)][meta.region]
        table = backend.get_table(meta.table_name)
        for item in items:
            table.put_item(item.serialize())

    original = DynamoAdminStore.__dict__["_batch_save"]
    DynamoAdminStore._batch_save = staticmethod(put_directly)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        DynamoAdminStore._batch_save = original  # type: ignore[method-assign]


def reset_caches() -> None:
    """Forget settings, adapters and Powertools' cached parameters: a suite's Twilio credentials must not answer the
    next suite's fresh account (the cache outlives the moto account it was read from, for 5 minutes)."""
    from aws_lambda_powertools.utilities import parameters

    from smscore import wiring

    wiring.reset()
    parameters.clear_caches()


class AwsCallCounter:
    """Counts AWS API calls by operation, through a botocore `before-call` hook on every client created."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._original: Callable[..., Any] | None = None

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def __enter__(self) -> AwsCallCounter:
        original = botocore.session.Session.create_client
        self._original = original
        counter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            client.meta.events.register("before-call.*.*", counter._count)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.session.Session.create_client = self._original  # type: ignore[method-assign]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


class RssSampler:
    """Peak resident memory above the starting level while the block runs, sampled every 20 ms from /proc.

    tracemalloc would slow the measured code several times over; RSS is also what Lambda bills and caps.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.start_bytes = 0
        self.peak_bytes = 0

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_bytes = max(self.peak_bytes, self._rss())

    @staticmethod
    def _release_free_memory() -> None:
        """Hand freed heap back to the OS first: otherwise the block reuses what earlier work (seeding 50,000
        contacts) freed, and the growth reads near zero however much the block needs."""
        gc.collect()
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)

    def __enter__(self) -> RssSampler:
        self._release_free_memory()
        self.start_bytes = self.peak_bytes = self._rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._rss())

    @property
    def growth(self) -> int:
        return self.peak_bytes - self.start_bytes


def drain_sqs_records(url: str) -> list[dict[str, Any]]:
    """Every message on the queue as the Lambda SQS event source hands it over (and removed from the queue)."""
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    records: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in got:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "0",
                        "SenderId": "bench",
                        "ApproximateFirstReceiveTimestamp": "0",
                    },
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench-DeliveryQueue",
                    "awsRegion": "us-east-1",
                }
            )
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return records
