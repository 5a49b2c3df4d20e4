"""Webhook endpoints and deliveries in the Webhooks table (smscore.domain.webhook_delivery.WebhookStore).

One partition per tenant: endpoints under "endpoint#<id>", deliveries under "delivery#<endpoint id>#<delivery id>"
(ids sort by the event's time, so a page of the newest is one Query). Deliveries expire with DynamoDB's TTL.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.update import Action

from smscore.dal.tables import WebhookAttemptMap, WebhookDeliveryRecord, WebhookEndpointRecord
from smscore.domain.webhooks import Attempt, Delivery, DeliveryStatus, Endpoint, EventType

DELIVERY_RETENTION = timedelta(days=30)
BATCH_WRITE_ITEMS = 25  # DynamoDB's BatchWriteItem limit
SAVE_WORKERS = 8


def _endpoint_key(endpoint_id: str) -> str:
    return f"endpoint#{endpoint_id}"


def _delivery_key(endpoint_id: str, delivery_id: str) -> str:
    return f"delivery#{endpoint_id}#{delivery_id}"


def _conditional(exc: PutError | UpdateError | DeleteError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def _endpoint(record: WebhookEndpointRecord) -> Endpoint:
    return Endpoint(
        endpoint_id=record.endpoint_id,
        tenant_id=record.tenant_id,
        url=record.url,
        events=frozenset(EventType(e) for e in record.events or set() if e in EventType._value2member_map_),
        description=record.description or "",
        enabled=bool(record.enabled),
        secret=record.secret,
        created_at=record.created_at,
        previous_secret=record.previous_secret,
        previous_secret_expires_at=record.previous_secret_expires_at,
        failing_since=record.failing_since,
        disabled_at=record.disabled_at,
        disabled_reason=record.disabled_reason,
    )


def _endpoint_record(endpoint: Endpoint) -> WebhookEndpointRecord:
    return WebhookEndpointRecord(
        endpoint.tenant_id,
        _endpoint_key(endpoint.endpoint_id),
        endpoint_id=endpoint.endpoint_id,
        url=endpoint.url,
        events={e.value for e in endpoint.events},
        description=endpoint.description or None,
        enabled=endpoint.enabled,
        secret=endpoint.secret,
        previous_secret=endpoint.previous_secret,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
        failing_since=endpoint.failing_since,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
        created_at=endpoint.created_at,
    )


def _delivery(record: WebhookDeliveryRecord) -> Delivery:
    return Delivery(
        delivery_id=record.delivery_id,
        tenant_id=record.tenant_id,
        endpoint_id=record.endpoint_id,
        event_id=record.event_id,
        event_type=record.event_type,
        body=record.body,
        status=DeliveryStatus(record.status),
        created_at=record.created_at,
        attempts=tuple(
            Attempt(
                at=a.at,
                status_code=None if a.status_code is None else int(a.status_code),
                latency_ms=int(a.latency_ms),
                error=a.error,
                response=a.response,
            )
            for a in record.attempts or []
        ),
        attempt_count=int(record.attempt_count or 0),
        first_attempt_at=record.first_attempt_at,
        next_attempt_at=record.next_attempt_at,
    )


def _delivery_record(delivery: Delivery) -> WebhookDeliveryRecord:
    return WebhookDeliveryRecord(
        delivery.tenant_id,
        _delivery_key(delivery.endpoint_id, delivery.delivery_id),
        delivery_id=delivery.delivery_id,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        body=delivery.body,
        status=delivery.status.value,
        attempt_count=delivery.attempt_count,
        attempts=[
            WebhookAttemptMap(
                at=a.at, status_code=a.status_code, latency_ms=a.latency_ms, error=a.error, response=a.response
            )
            for a in delivery.attempts
        ]
        or None,
        first_attempt_at=delivery.first_attempt_at,
        next_attempt_at=delivery.next_attempt_at,
        created_at=delivery.created_at,
        expires_at=delivery.created_at + DELIVERY_RETENTION,
    )


class DynamoWebhookStore:
    def endpoints(self, tenant_id: str) -> list[Endpoint]:
        query = WebhookEndpointRecord.query(tenant_id, WebhookEndpointRecord.item_key.startswith("endpoint#"))
        return sorted((_endpoint(r) for r in query), key=lambda e: e.created_at)

    def endpoint(self, tenant_id: str, endpoint_id: str) -> Endpoint | None:
        try:
            return _endpoint(WebhookEndpointRecord.get(tenant_id, _endpoint_key(endpoint_id), consistent_read=True))
        except WebhookEndpointRecord.DoesNotExist:
            return None

    def add_endpoint(self, endpoint: Endpoint) -> None:
        _endpoint_record(endpoint).save(condition=WebhookEndpointRecord.item_key.does_not_exist())

    def save_endpoint(self, endpoint: Endpoint) -> bool:
        try:
            _endpoint_record(endpoint).save(condition=WebhookEndpointRecord.item_key.exists())
        except PutError as exc:
            if not _conditional(exc):
                raise
            return False
        return True

    def delete_endpoint(self, tenant_id: str, endpoint_id: str) -> bool:
        try:
            WebhookEndpointRecord(tenant_id, _endpoint_key(endpoint_id)).delete(
                condition=WebhookEndpointRecord.item_key.exists()
            )
        except DeleteError as exc:
            if not _conditional(exc):
                raise
            return False
        return True

    def set_health(
        self,
        tenant_id: str,
        endpoint_id: str,
        failing_since: datetime | None,
        disabled_at: datetime | None = None,
        disabled_reason: str | None = None,
    ) -> None:
        record = WebhookEndpointRecord(tenant_id, _endpoint_key(endpoint_id))
        actions: list[Action] = [
            WebhookEndpointRecord.failing_since.set(failing_since)
            if failing_since is not None
            else WebhookEndpointRecord.failing_since.remove()
        ]
        if disabled_at is not None:
            actions += [
                WebhookEndpointRecord.enabled.set(False),
                WebhookEndpointRecord.disabled_at.set(disabled_at),
                WebhookEndpointRecord.disabled_reason.set(disabled_reason or "disabled"),
            ]
        try:
            record.update(actions=actions, condition=WebhookEndpointRecord.item_key.exists())
        except UpdateError as exc:
            if not _conditional(exc):
                raise  # deleted meanwhile: nothing to track

    def add_delivery(self, delivery: Delivery) -> bool:
        try:
            _delivery_record(delivery).save(condition=WebhookDeliveryRecord.item_key.does_not_exist())
        except PutError as exc:
            if not _conditional(exc):
                raise
            return False
        return True

    def delivery(self, tenant_id: str, endpoint_id: str, delivery_id: str) -> Delivery | None:
        try:
            return _delivery(
                WebhookDeliveryRecord.get(tenant_id, _delivery_key(endpoint_id, delivery_id), consistent_read=True)
            )
        except WebhookDeliveryRecord.DoesNotExist:
            return None

    def deliveries_by_key(self, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], Delivery]:
        """BatchGetItem (100 keys a call, consistent) of (tenant, endpoint, delivery id) keys: the ones that exist."""
        wanted = {
            (tenant, _delivery_key(endpoint, delivery)): (tenant, endpoint, delivery)
            for tenant, endpoint, delivery in keys
        }
        found: dict[tuple[str, str, str], Delivery] = {}
        for record in WebhookDeliveryRecord.batch_get(list(wanted), consistent_read=True):
            found[wanted[(record.tenant_id, record.item_key)]] = _delivery(record)
        return found

    def deliveries(self, tenant_id: str, endpoint_id: str, limit: int, before: str | None) -> list[Delivery]:
        condition = (
            WebhookDeliveryRecord.item_key.between(f"delivery#{endpoint_id}#", _delivery_key(endpoint_id, before))
            if before
            else WebhookDeliveryRecord.item_key.startswith(f"delivery#{endpoint_id}#")
        )
        records = WebhookDeliveryRecord.query(tenant_id, condition, scan_index_forward=False, limit=limit + 1)
        found = [_delivery(r) for r in records if r.delivery_id != before]
        return found[:limit]

    def save_delivery(self, delivery: Delivery) -> None:
        _delivery_record(delivery).save()

    def save_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Many unconditional puts in BatchWriteItem calls of 25 (PynamoDB retries the unprocessed items), up to
        SAVE_WORKERS calls in flight: a large batch's writes wait for DynamoDB side by side, not in turn."""

        def save(chunk: Sequence[Delivery]) -> None:
            with WebhookDeliveryRecord.batch_write() as batch:
                for delivery in chunk:
                    batch.save(_delivery_record(delivery))

        chunks = [deliveries[i : i + BATCH_WRITE_ITEMS] for i in range(0, len(deliveries), BATCH_WRITE_ITEMS)]
        if len(chunks) <= 1:
            for chunk in chunks:
                save(chunk)
            return
        with ThreadPoolExecutor(max_workers=min(SAVE_WORKERS, len(chunks))) as pool:
            list(pool.map(save, chunks))  # re-raises the first failure
