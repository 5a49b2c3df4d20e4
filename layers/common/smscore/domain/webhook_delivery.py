"""Delivering events to endpoints: fan-out, one signed attempt, retries on the queue, disabling a dead endpoint.

Everything travels on one SQS queue (at-least-once, so every step is idempotent):
- `{"kind": "event", "event": <body>}`: an event a store published (smscore.domain.events). Each enabled
  endpoint that wants its type gets a delivery (a conditional put keyed by the event: a redelivered event makes
  none twice) and its first attempt at once.
- `{"kind": "completion", ...}`: a check of whether a campaign is complete (smscore.domain.completion), which
  fans out campaign.completed once it is.
- `{"kind": "attempt", ...}`: a retry or a replay. SQS delays a message by 15 minutes at most, so a later retry
  carries `notBefore` and is put back with the remaining delay (up to 15 minutes a hop) until it is due.
A 2xx within 5 s is success; anything else is retried with exponential backoff and jitter until 24 h after the
first attempt. Ordering is not guaranteed. An endpoint that has failed without a success for 3 days is disabled
(`webhook.disabled`: logged, counted in the WebhookEndpointsDisabled metric, shown on the endpoint).
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from smscore.domain.completion import COMPLETION_KIND, CompletionChecks, CompletionStore
from smscore.domain.events import Event, iso
from smscore.domain.webhooks import (
    DEFAULT_BACKOFF_BASE_SECONDS,
    DISABLE_AFTER,
    MAX_ATTEMPTS_KEPT,
    SIGNATURE_HEADER,
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    delivery_id_for,
    is_success,
    next_attempt_at,
    signature_header,
)

MAX_QUEUE_DELAY_SECONDS = 900
# Attempts of one batch in flight at once: an attempt mostly waits (the receiver, the store), so a few threads
# overlap those waits; each attempt still resolves, checks and pins its own connection (SafePoster).
BATCH_WORKERS = 8
DISABLED_NOTE = "webhook.disabled"


class WebhookStore(Protocol):
    def endpoints(self, tenant_id: str) -> list[Endpoint]: ...

    def endpoint(self, tenant_id: str, endpoint_id: str) -> Endpoint | None: ...

    def add_endpoint(self, endpoint: Endpoint) -> None: ...

    def save_endpoint(self, endpoint: Endpoint) -> bool:
        """Overwrite the endpoint's settings (url, events, description, enabled, secrets); False when gone."""
        ...

    def delete_endpoint(self, tenant_id: str, endpoint_id: str) -> bool: ...

    def set_health(
        self,
        tenant_id: str,
        endpoint_id: str,
        failing_since: datetime | None,
        disabled_at: datetime | None = None,
        disabled_reason: str | None = None,
    ) -> None:
        """Record the endpoint's failing streak (None: healthy); with `disabled_at`, disable it too."""
        ...

    def add_delivery(self, delivery: Delivery) -> bool:
        """Create the delivery; False when it exists (the same event for the same endpoint)."""
        ...

    def delivery(self, tenant_id: str, endpoint_id: str, delivery_id: str) -> Delivery | None: ...

    def deliveries_by_key(self, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], Delivery]:
        """The deliveries that exist among (tenant, endpoint, delivery id) keys (one batched read)."""
        ...

    def deliveries(self, tenant_id: str, endpoint_id: str, limit: int, before: str | None) -> list[Delivery]:
        """Newest first; `before`: only deliveries whose id sorts before it (the next page)."""
        ...

    def save_delivery(self, delivery: Delivery) -> None: ...

    def save_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Unconditional puts, batched (the attempts of one queue batch)."""
        ...


class WebhookQueue(Protocol):
    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None: ...


class WebhookPoster(Protocol):
    def post(self, url: str, headers: dict[str, str], body: bytes) -> Attempt:
        """POST once, within the timeout, to a public address only, without following redirects."""
        ...


class DisabledListener(Protocol):
    def __call__(self, endpoint: Endpoint, reason: str) -> None: ...


class WebhookDeliverer:
    def __init__(
        self,
        store: WebhookStore,
        queue: WebhookQueue,
        poster: WebhookPoster,
        *,
        backoff_base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        on_disabled: DisabledListener | None = None,
        completion: CompletionStore | None = None,
    ) -> None:
        self._store = store
        self._queue = queue
        self._poster = poster
        self._base = backoff_base_seconds
        self._now = now
        self._rng = rng or random.Random()
        self._on_disabled = on_disabled
        self._batch_endpoints: dict[str, list[Endpoint]] | None = None
        # The batch's looked-up deliveries, and the events they were looked up for (a campaign.completed found by
        # a check in the batch was not: it takes the conditional put as outside a batch).
        self._batch_existing: dict[tuple[str, str, str], Delivery] | None = None
        self._batch_events: set[str] = set()
        self._deferred: list[tuple[int, Delivery, dict[str, Any] | None, int]] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._completion = None if completion is None else CompletionChecks(completion, queue, self.fan_out, now)

    def handle_all(self, messages: Sequence[dict[str, Any]], workers: int = BATCH_WORKERS) -> list[Exception | None]:
        """Handle one batch of queue messages, their attempts concurrently; each message's outcome on its own
        (None: handled; an exception: that message alone failed and comes back from the queue).

        Within a batch a tenant's endpoints are read once (again after a health change), the deliveries its events
        would make are looked up together (one BatchGetItem: an event already delivered to an endpoint is not
        attempted again), and the attempts' delivery records are written together (BatchWriteItem) before their
        retries are queued: one write per delivery, none before its attempt. A message whose records could not
        be written fails, so SQS brings its event back and the unrecorded attempt is made again (at least once,
        as always). The same message twice in a batch is handled once."""
        self._batch_endpoints = {}
        self._deferred = []
        first_of: dict[str, int] = {}
        for index, message in enumerate(messages):
            first_of.setdefault(json.dumps(message, sort_keys=True), index)
        unique = sorted(set(first_of.values()))
        outcome: dict[int, Exception | None] = {}
        try:
            self._batch_existing = self._existing([messages[index] for index in unique])
        except Exception as exc:  # noqa: BLE001 - the store could not be read: every message comes back
            self._batch_endpoints = None
            self._batch_existing = None
            return [exc for _ in messages]

        def one(index: int) -> None:
            self._local.index = index
            try:
                self.handle(messages[index])
            except Exception as exc:  # noqa: BLE001 - handed back to the batch processor, which fails this record
                outcome[index] = exc

        try:
            if workers <= 1 or len(unique) <= 1:
                for index in unique:
                    one(index)
            else:
                with ThreadPoolExecutor(max_workers=min(workers, len(unique))) as pool:
                    list(pool.map(one, unique))
            self._flush(outcome)
        finally:
            self._batch_endpoints = None
            self._batch_existing = None
            self._batch_events = set()
            self._deferred = []
            self._local = threading.local()
        return [outcome.get(first_of[json.dumps(message, sort_keys=True)]) for message in messages]

    def _flush(self, outcome: dict[int, Exception | None]) -> None:
        deferred = [item for item in self._deferred if outcome.get(item[0]) is None]
        if not deferred:
            return
        try:
            self._store.save_deliveries([delivery for _, delivery, _, _ in deferred])
        except Exception as exc:  # noqa: BLE001 - each message of the failed write fails alone (re-raised per record)
            for index, _, _, _ in deferred:
                outcome[index] = exc
            return
        for index, _, retry, delay in deferred:
            if retry is None:
                continue
            try:
                self._queue.send(retry, delay_seconds=delay)
            except Exception as exc:  # noqa: BLE001 - as above: this message fails, its event comes back
                outcome[index] = exc

    def _record(self, delivery: Delivery, retry: dict[str, Any] | None, delay: int) -> None:
        """Write an attempt's delivery and queue its retry: at once, or with the batch (handle_all)."""
        index = getattr(self._local, "index", None) if self._batch_endpoints is not None else None
        if index is None:
            self._store.save_delivery(delivery)
            if retry is not None:
                self._queue.send(retry, delay_seconds=delay)
            return
        with self._lock:
            self._deferred.append((index, delivery, retry, delay))

    def _existing(self, messages: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str], Delivery]:
        """The deliveries the batch's events would make that exist already (redelivered events)."""
        keys = []
        self._batch_events = set()
        for message in messages:
            if message.get("kind") != "event":
                continue
            try:
                event = Event.from_body(str(message["event"]))
            except (KeyError, TypeError, ValueError):
                continue  # fails on its own when handled
            self._batch_events.add(event.event_id)
            for endpoint in self._endpoints(event.tenant_id):
                if endpoint.wants(event.event_type):
                    delivery_id = delivery_id_for(event.created_at, event.event_id)
                    keys.append((event.tenant_id, endpoint.endpoint_id, delivery_id))
        return self._store.deliveries_by_key(keys) if keys else {}

    def _endpoints(self, tenant_id: str) -> list[Endpoint]:
        cache = self._batch_endpoints
        if cache is None:
            return self._store.endpoints(tenant_id)
        with self._lock:
            found = cache.get(tenant_id)
        if found is None:
            found = self._store.endpoints(tenant_id)
            with self._lock:
                cache[tenant_id] = found
        return found

    def _forget_endpoints(self, tenant_id: str) -> None:
        cache = self._batch_endpoints
        if cache is not None:
            with self._lock:
                cache.pop(tenant_id, None)

    def handle(self, message: dict[str, Any]) -> None:
        if message.get("kind") == "event":
            self.fan_out(Event.from_body(str(message["event"])))
        elif message.get("kind") == "attempt":
            self.scheduled_attempt(message)
        elif message.get("kind") == COMPLETION_KIND and self._completion is not None:
            self._completion.check(message)
        else:
            raise ValueError("unknown webhook queue message kind")

    # ------------------------------------------------------------------------------------------ fan-out

    def fan_out(self, event: Event) -> list[Delivery]:
        done = []
        for endpoint in self._endpoints(event.tenant_id):
            if not endpoint.wants(event.event_type):
                continue
            delivery = Delivery(
                delivery_id=delivery_id_for(event.created_at, event.event_id),
                tenant_id=event.tenant_id,
                endpoint_id=endpoint.endpoint_id,
                event_id=event.event_id,
                event_type=event.event_type,
                body=event.body(),
                status=DeliveryStatus.PENDING,
                created_at=self._now(),
            )
            known = self._batch_existing
            # In a batch the event's deliveries were looked up together; the record is written after the attempt.
            if known is not None and event.event_id in self._batch_events:
                existing = known.get((event.tenant_id, endpoint.endpoint_id, delivery.delivery_id))
                if existing is not None and (existing.status is not DeliveryStatus.PENDING or existing.attempt_count):
                    continue  # the event came again: attempt only what a crash left unattempted
                delivery = existing or delivery
            elif not self._store.add_delivery(delivery):
                existing = self._store.delivery(event.tenant_id, endpoint.endpoint_id, delivery.delivery_id)
                # The event came again: attempt only what a crash left unattempted.
                if existing is None or existing.status is not DeliveryStatus.PENDING or existing.attempt_count:
                    continue
                delivery = existing
            done.append(self.attempt(endpoint, delivery))
        return done

    # ------------------------------------------------------------------------------------------ attempts

    def scheduled_attempt(self, message: dict[str, Any]) -> Delivery | None:
        not_before = datetime.fromisoformat(str(message["notBefore"])) if message.get("notBefore") else None
        now = self._now()
        if not_before is not None and now < not_before:
            self._queue.send(message, delay_seconds=_delay(not_before, now))  # the next hop of a long wait
            return None
        tenant_id, endpoint_id = str(message["tenantId"]), str(message["endpointId"])
        delivery = self._store.delivery(tenant_id, endpoint_id, str(message["deliveryId"]))
        replay = bool(message.get("replay"))
        if delivery is None:
            return None
        if not replay and (delivery.status is not DeliveryStatus.RETRYING or delivery.next_attempt_at != not_before):
            return None  # a duplicate of a retry already made (or superseded)
        endpoint = self._store.endpoint(tenant_id, endpoint_id)
        if endpoint is None or not endpoint.enabled:
            finished = replace(delivery, status=DeliveryStatus.FAILED, next_attempt_at=None)
            self._store.save_delivery(finished)
            return finished
        return self.attempt(endpoint, delivery, retry=not replay)

    def attempt(self, endpoint: Endpoint, delivery: Delivery, retry: bool = True) -> Delivery:
        """One signed POST; record it; schedule the next one or finish; track the endpoint's health."""
        now = self._now()
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "sms-by-tags-webhooks/1",
            SIGNATURE_HEADER: signature_header(endpoint.secrets_in_force(now), int(now.timestamp()), body),
            "Sms-Event-Id": delivery.event_id,
            "Sms-Event-Type": delivery.event_type,
        }
        result = self._poster.post(endpoint.url, headers, body)
        first = delivery.first_attempt_at or now
        failures = delivery.attempt_count + 1
        succeeded = is_success(result.status_code) and result.error is None
        following = None if succeeded or not retry else next_attempt_at(first, failures, now, self._rng, self._base)
        if following is not None:  # to the millisecond: what the queue message carries back (`notBefore`)
            following = following.replace(microsecond=following.microsecond // 1000 * 1000)
        if succeeded:
            status = DeliveryStatus.SUCCEEDED
        else:
            status = DeliveryStatus.RETRYING if following else DeliveryStatus.FAILED
        recorded = replace(
            delivery,
            status=status,
            attempts=(*delivery.attempts, result)[-MAX_ATTEMPTS_KEPT:],
            attempt_count=delivery.attempt_count + 1,
            first_attempt_at=first,
            next_attempt_at=following,
        )
        retry_message = None
        if following is not None:
            retry_message = {
                "kind": "attempt",
                "tenantId": delivery.tenant_id,
                "endpointId": delivery.endpoint_id,
                "deliveryId": delivery.delivery_id,
                "notBefore": iso(following),
            }
        self._record(recorded, retry_message, _delay(following, now) if following is not None else 0)
        self._track_health(endpoint, succeeded, now)
        return recorded

    def _track_health(self, endpoint: Endpoint, succeeded: bool, now: datetime) -> None:
        if succeeded:
            if endpoint.failing_since is not None:
                self._store.set_health(endpoint.tenant_id, endpoint.endpoint_id, None)
                self._forget_endpoints(endpoint.tenant_id)
            return
        if endpoint.failing_since is None:
            self._store.set_health(endpoint.tenant_id, endpoint.endpoint_id, now)
            self._forget_endpoints(endpoint.tenant_id)
            return
        if now - endpoint.failing_since >= DISABLE_AFTER:
            reason = f"{DISABLED_NOTE}: every attempt failed since {iso(endpoint.failing_since)}"
            self._store.set_health(endpoint.tenant_id, endpoint.endpoint_id, endpoint.failing_since, now, reason)
            self._forget_endpoints(endpoint.tenant_id)
            if self._on_disabled is not None:
                self._on_disabled(endpoint, reason)

    # ------------------------------------------------------------------------------------------ replay

    def replay(self, delivery: Delivery) -> None:
        """Send a delivery again (same event id and body), once, through the queue."""
        self._store.save_delivery(replace(delivery, status=DeliveryStatus.PENDING, next_attempt_at=None))
        self._queue.send(
            {
                "kind": "attempt",
                "tenantId": delivery.tenant_id,
                "endpointId": delivery.endpoint_id,
                "deliveryId": delivery.delivery_id,
                "replay": True,
            }
        )


def _delay(at: datetime, now: datetime) -> int:
    return max(0, min(MAX_QUEUE_DELAY_SECONDS, math.ceil((at - now).total_seconds())))


class SubscribedEvents(Protocol):
    def __call__(self, tenant_id: str) -> frozenset[str]: ...


class QueuedEventSink:
    """The EventSink of the functions whose stores emit: events of a type some enabled endpoint of the tenant
    wants go onto the webhook queue; others are dropped here, so tenants without webhooks cost nothing."""

    def __init__(self, queue: WebhookQueue, subscribed: SubscribedEvents) -> None:
        self._queue = queue
        self._subscribed = subscribed

    def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            if event.event_type in self._subscribed(event.tenant_id):
                self._queue.send({"kind": "event", "event": event.body()})
