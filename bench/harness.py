"""Shared pieces: an in-process moto stack with the template's resources, AWS call counting, result rows."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
import botocore.session
from moto import mock_aws

from smsdev.provision import create_queues, create_tables, function_environment
from smsdev.template import LocalNames

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


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


@dataclass
class LambdaContext:
    """What Powertools reads from a Lambda context."""

    function_name: str = "bench"
    memory_limit_in_mb: int = 1024
    timeout_ms: int = 29_000
    aws_request_id: str = "bench"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


@dataclass
class MotoStack:
    names: LocalNames
    queue_urls: dict[str, str]


@contextlib.contextmanager
def moto_stack(extra_env: dict[str, str] | None = None) -> Iterator[MotoStack]:
    """A fresh in-process moto account holding template.yaml's tables and queues, with the functions' env set."""
    saved = dict(os.environ)
    os.environ.update(FAKE_AWS)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with mock_aws():
            names = LocalNames(stack_name="bench", endpoint="https://sqs.us-east-1.amazonaws.com")
            create_tables(boto3.client("dynamodb", region_name=names.region), names)
            urls = create_queues(boto3.client("sqs", region_name=names.region), names)
            os.environ.update(function_environment(names))
            os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the table, not the logs
            os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
            os.environ.update(extra_env or {})
            reset_caches()
            yield MotoStack(names, urls)
    finally:
        reset_caches()
        os.environ.clear()
        os.environ.update(saved)


def reset_caches() -> None:
    from smscore import settings, wiring

    settings.get_settings.cache_clear()
    for factory in (wiring.bound_settings, wiring.campaign_store, wiring.delivery_queue, wiring.idempotency_store):
        factory.cache_clear()
    from functions.deliver import app as deliver_app
    from functions.send_by_tags import app as send_app

    for cached in (send_app.campaigns, deliver_app.deliverer, deliver_app.provider_registry):
        cached.cache_clear()


@contextlib.contextmanager
def serialised_moto() -> Iterator[None]:
    """One moto request at a time: in-process moto applies ADD and transactions as unlocked read-modify-write,
    so concurrent workers would lose counter updates that real DynamoDB never loses (the local stack locks too)."""
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    original = BotocoreStubber.__call__

    def serialised(self: BotocoreStubber, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    BotocoreStubber.__call__ = serialised  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]


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

    def __enter__(self) -> RssSampler:
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
