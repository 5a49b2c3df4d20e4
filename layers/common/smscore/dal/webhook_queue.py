"""The webhook queue on SQS, and the cached view of which event types a tenant's endpoints want."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from smscore.dal.tables import WebhookEndpointRecord

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

logger = Logger(child=True)
MAX_DELAY_SECONDS = 900
SUBSCRIPTIONS_TTL_SECONDS = 60.0


class SqsWebhookQueue:
    """One SendMessage per queue message; the client is created on the first send (most invocations of an
    emitting function send none)."""

    def __init__(self, region: str, queue_url: str, client: SQSClient | None = None) -> None:
        self._region = region
        self._queue_url = queue_url
        self._client = client

    def _sqs(self) -> SQSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs", region_name=self._region)
        return self._client

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        self._sqs().send_message(
            QueueUrl=self._queue_url,
            MessageBody=json.dumps(message, separators=(",", ":")),
            DelaySeconds=max(0, min(MAX_DELAY_SECONDS, delay_seconds)),
        )


class TolerantQueue:
    """What emitting functions send events through: a queue error is logged and counted, never raised, since the
    state change the event reports is recorded already (docs/integrations.md: the one gap of at-least-once)."""

    def __init__(self, inner: SqsWebhookQueue, on_error: Callable[[], None] | None = None) -> None:
        self._inner = inner
        self._on_error = on_error

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        try:
            self._inner.send(message, delay_seconds)
        except (BotoCoreError, ClientError) as exc:
            logger.error("Webhook event not queued", extra={"reason": type(exc).__name__})
            if self._on_error is not None:
                self._on_error()


class CachedSubscriptions:
    """The event types a tenant's enabled endpoints want, read once a minute per tenant per process: an emitting
    function does not read the Webhooks table for every state change, and a new endpoint is live within a minute."""

    def __init__(self, ttl_seconds: float = SUBSCRIPTIONS_TTL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, tenant_id: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        wanted: set[str] = set()
        query = WebhookEndpointRecord.query(tenant_id, WebhookEndpointRecord.item_key.startswith("endpoint#"))
        for record in query:
            if record.enabled:
                wanted |= set(record.events or ())
        result = frozenset(wanted)
        with self._lock:
            self._cache[tenant_id] = (now, result)
        return result
