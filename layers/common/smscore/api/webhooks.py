"""/api/webhooks at the HTTP edge: endpoints (the secret shown once), rotation, deliveries and replay."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from smscore.domain.errors import FieldIssue, InvalidRequest, NotFound
from smscore.domain.webhook_delivery import WebhookDeliverer, WebhookStore
from smscore.domain.webhooks import (
    MAX_DESCRIPTION_LENGTH,
    MAX_ENDPOINTS_PER_TENANT,
    MAX_URL_LENGTH,
    PREVIOUS_SECRET_VALIDITY,
    Delivery,
    DeliveryStatus,
    Endpoint,
    EventType,
    new_secret,
    parse_url,
)

MAX_DELIVERY_PAGE = 100
DELIVERY_ID_PATTERN = r"^\d{13}-[0-9a-f-]{36}$"


class _Dto(BaseModel):
    model_config = ConfigDict(
        defer_build=True, alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


class _Request(_Dto):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="ignore")


Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH, description="https only; a public host")]
Events = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType))]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION_LENGTH)]


class EndpointRequest(_Request):
    """POST /api/webhooks."""

    url: Url
    events: Events
    description: Description = ""
    enabled: bool = True


class EndpointPatch(_Request):
    """PATCH /api/webhooks/{id}: only the fields given change."""

    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = None


class EndpointDto(_Dto):
    id: str
    url: str
    events: list[EventType]
    description: str
    enabled: bool
    created_at: datetime
    failing_since: datetime | None = Field(default=None, description="Every attempt has failed since then")
    disabled_at: datetime | None = None
    disabled_reason: str | None = Field(
        default=None, description="webhook.disabled: why the endpoint was turned off (after 3 days of failures)"
    )


class EndpointWithSecretDto(EndpointDto):
    secret: str = Field(description="The signing secret. Shown only in this answer")


class EndpointListDto(_Dto):
    items: list[EndpointDto]


class AttemptDto(_Dto):
    at: datetime
    status_code: int | None = Field(description="The HTTP status answered, or null when there was no answer")
    latency_ms: int
    error: str | None = None
    response: str | None = Field(default=None, description="At most the first 1 KB of the answer")


class DeliveryDto(_Dto):
    id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    created_at: datetime
    attempt_count: int
    next_attempt_at: datetime | None = None
    attempts: list[AttemptDto]
    payload: dict[str, Any] = Field(description="The event exactly as sent: {id, type, createdAt, tenantId, data}")


class DeliveryPageDto(_Dto):
    items: list[DeliveryDto]
    next_cursor: str | None = None


class ReplayDto(_Dto):
    delivery_id: str
    status: DeliveryStatus


def endpoint_dto(endpoint: Endpoint) -> EndpointDto:
    return EndpointDto(
        id=endpoint.endpoint_id,
        url=endpoint.url,
        events=sorted(endpoint.events),
        description=endpoint.description,
        enabled=endpoint.enabled,
        created_at=endpoint.created_at,
        failing_since=endpoint.failing_since,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
    )


def delivery_dto(delivery: Delivery) -> DeliveryDto:
    return DeliveryDto(
        id=delivery.delivery_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status,
        created_at=delivery.created_at,
        attempt_count=delivery.attempt_count,
        next_attempt_at=delivery.next_attempt_at,
        attempts=[
            AttemptDto(at=a.at, status_code=a.status_code, latency_ms=a.latency_ms, error=a.error, response=a.response)
            for a in reversed(delivery.attempts)
        ],
        payload=json.loads(delivery.body),
    )


def _check_description(description: str) -> str:
    cleaned = " ".join(description.split())
    if not cleaned.isprintable():
        raise InvalidRequest("description holds a control character", details=[FieldIssue("description", "control")])
    return cleaned


class WebhooksApi:
    def __init__(self, store: WebhookStore, deliverer: WebhookDeliverer, allow_loopback: bool = False) -> None:
        self._store = store
        self._deliverer = deliverer
        self._allow_loopback = allow_loopback

    def _endpoint(self, tenant_id: str, endpoint_id: str) -> Endpoint:
        endpoint = self._store.endpoint(tenant_id, endpoint_id)
        if endpoint is None:
            raise NotFound("No such webhook endpoint")
        return endpoint

    def create(self, tenant_id: str, request: EndpointRequest, now: datetime | None = None) -> EndpointWithSecretDto:
        parse_url(request.url, self._allow_loopback)
        description = _check_description(request.description)
        if len(self._store.endpoints(tenant_id)) >= MAX_ENDPOINTS_PER_TENANT:
            raise InvalidRequest(
                f"At most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints per tenant",
                details=[FieldIssue("url", "too many endpoints")],
            )
        endpoint = Endpoint(
            endpoint_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            url=request.url,
            events=frozenset(request.events),
            description=description,
            enabled=request.enabled,
            secret=new_secret(),
            created_at=now or datetime.now(UTC),
        )
        self._store.add_endpoint(endpoint)
        return EndpointWithSecretDto(**endpoint_dto(endpoint).model_dump(), secret=endpoint.secret)

    def list(self, tenant_id: str) -> EndpointListDto:
        return EndpointListDto(items=[endpoint_dto(e) for e in self._store.endpoints(tenant_id)])

    def get(self, tenant_id: str, endpoint_id: str) -> EndpointDto:
        return endpoint_dto(self._endpoint(tenant_id, endpoint_id))

    def update(self, tenant_id: str, endpoint_id: str, patch: EndpointPatch) -> EndpointDto:
        endpoint = self._endpoint(tenant_id, endpoint_id)
        if patch.url is not None:
            parse_url(patch.url, self._allow_loopback)
        changed = replace(
            endpoint,
            url=patch.url if patch.url is not None else endpoint.url,
            events=frozenset(patch.events) if patch.events is not None else endpoint.events,
            description=_check_description(patch.description)
            if patch.description is not None
            else endpoint.description,
        )
        if patch.enabled is not None:
            changed = replace(changed, enabled=patch.enabled)
            if patch.enabled:  # turned back on: a fresh start, the disabled note cleared
                changed = replace(changed, failing_since=None, disabled_at=None, disabled_reason=None)
        if not self._store.save_endpoint(changed):
            raise NotFound("No such webhook endpoint")
        return endpoint_dto(changed)

    def delete(self, tenant_id: str, endpoint_id: str) -> None:
        if not self._store.delete_endpoint(tenant_id, endpoint_id):
            raise NotFound("No such webhook endpoint")

    def rotate_secret(self, tenant_id: str, endpoint_id: str, now: datetime | None = None) -> EndpointWithSecretDto:
        """A new secret, shown once; the old one still signs (a second v1) for 24 h."""
        now = now or datetime.now(UTC)
        endpoint = self._endpoint(tenant_id, endpoint_id)
        rotated = replace(
            endpoint,
            secret=new_secret(),
            previous_secret=endpoint.secret,
            previous_secret_expires_at=now + PREVIOUS_SECRET_VALIDITY,
        )
        if not self._store.save_endpoint(rotated):
            raise NotFound("No such webhook endpoint")
        return EndpointWithSecretDto(**endpoint_dto(rotated).model_dump(), secret=rotated.secret)

    def deliveries(self, tenant_id: str, endpoint_id: str, limit: int, cursor: str | None) -> DeliveryPageDto:
        self._endpoint(tenant_id, endpoint_id)
        page = self._store.deliveries(tenant_id, endpoint_id, limit, cursor)
        next_cursor = page[-1].delivery_id if len(page) == limit else None
        return DeliveryPageDto(items=[delivery_dto(d) for d in page], next_cursor=next_cursor)

    def replay(self, tenant_id: str, endpoint_id: str, delivery_id: str) -> ReplayDto:
        self._endpoint(tenant_id, endpoint_id)
        delivery = self._store.delivery(tenant_id, endpoint_id, delivery_id)
        if delivery is None:
            raise NotFound("No such delivery")
        self._deliverer.replay(delivery)
        return ReplayDto(delivery_id=delivery_id, status=DeliveryStatus.PENDING)
