"""Self-serve API keys (and, as they land, webhooks out, exports and usage reports): thin routes.

Every write is re-checked fresh before routing (smscore.api.access.fresh_access_guard): a revoked key gets 401 at
once, a `read` key 403 INSUFFICIENT_SCOPE. No `from __future__ import annotations`: Powertools reads the parameter
annotations at runtime.
"""

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.api.access import fresh_access_guard
from smscore.api.api_keys import KeyListDto, KeyRequest, NewKeyDto
from smscore.api.errors import BAD_REQUEST, NOT_JSON, TOO_LARGE, register_error_handlers
from smscore.api.errors import documented_error as error
from smscore.api.errors import documented_ok as success
from smscore.api.exports import ExportJobDto, job_dto
from smscore.api.invocation import InvocationDeps
from smscore.api.middlewares import check_json_body, refusal_response
from smscore.api.reports import UsageReportDto
from smscore.api.webhooks import (
    DELIVERY_ID_PATTERN,
    MAX_DELIVERY_PAGE,
    DeliveryPageDto,
    EndpointDto,
    EndpointListDto,
    EndpointPatch,
    EndpointRequest,
    EndpointWithSecretDto,
    ReplayDto,
)
from smscore.domain.api_keys import KeyCaller
from smscore.domain.exports import ExportJob, Exports
from smscore.observability import quiet_empty_metrics, report_unparseable
from smscore.wiring import IntegrationsDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
app = APIGatewayRestResolver(enable_validation=True)
invocation_deps: InvocationDeps[IntegrationsDeps] = InvocationDeps("integrations_deps")
register_error_handlers(app)


NOT_FOUND = error("No such item, or not one the caller may manage (code NOT_FOUND)")
WRITE_SCOPE = error(
    "A read-scope API key asked to write (code INSUFFICIENT_SCOPE), or the terms are not accepted (TERMS_NOT_ACCEPTED)"
)
NO_CONTENT: Any = {"description": "Revoked"}


def deps() -> IntegrationsDeps:
    current: IntegrationsDeps = invocation_deps.get()
    return current


def key_caller() -> KeyCaller:
    authorizer = app.current_event.request_context.authorizer
    return KeyCaller(tenant_id=authorizer["tenantId"], member_id=authorizer["memberId"])


# ---------------------------------------------------------------------------------------------- API keys


@app.post(
    "/api/keys",
    summary="Create an API key of your own: name, scope (full or read), optional expiry; the token is shown once",
    tags=["API keys"],
    responses={
        **success(NewKeyDto, "The key, with its token (shown only here)", 201),
        400: BAD_REQUEST,
        403: WRITE_SCOPE,
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def create_key(request: Annotated[KeyRequest, Body()]) -> Response[NewKeyDto]:
    created = deps().keys.create(key_caller(), request)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=created)


@app.get(
    "/api/keys",
    summary="Your live API keys (an admin sees every live key of the tenant); never the tokens",
    tags=["API keys"],
    responses={**success(KeyListDto, "The keys, oldest first"), 404: NOT_FOUND},
)
def list_keys() -> KeyListDto:
    return deps().keys.list(key_caller())


@app.delete(
    "/api/keys/<keyId>",
    summary="Revoke an API key: its writes are refused at once (401), its reads within the authorizer cache window",
    tags=["API keys"],
    responses={204: NO_CONTENT, 400: BAD_REQUEST, 403: WRITE_SCOPE, 404: NOT_FOUND},
)
def revoke_key(keyId: Annotated[UUID, Path()]) -> Response[None]:  # noqa: N803
    deps().keys.revoke(key_caller(), str(keyId))
    return Response(status_code=204, body=None)


# ---------------------------------------------------------------------------------------------- webhooks out

WebhookId = Annotated[UUID, Path()]
DeliveryId = Annotated[str, Path(min_length=50, max_length=50, pattern=DELIVERY_ID_PATTERN)]
ENDPOINT_REFUSED = error(
    "Invalid body (code VALIDATION_ERROR): a URL that is not https, names a private, loopback, link-local or "
    "metadata address, or carries credentials; an unknown event type; more than 10 endpoints"
)


def tenant_id() -> str:
    tenant: str = app.current_event.request_context.authorizer["tenantId"]
    return tenant


def created[T](body: T) -> Response[T]:
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


@app.post(
    "/api/webhooks",
    summary="Add a webhook endpoint: an https URL and the events it wants; the signing secret is shown once",
    tags=["Webhooks"],
    responses={
        **success(EndpointWithSecretDto, "The endpoint, with its secret (shown only here)", 201),
        400: ENDPOINT_REFUSED,
        403: WRITE_SCOPE,
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def create_webhook(request: Annotated[EndpointRequest, Body()]) -> Response[EndpointWithSecretDto]:
    return created(deps().webhooks.create(tenant_id(), request))


@app.get(
    "/api/webhooks",
    summary="The tenant's webhook endpoints (never their secrets)",
    tags=["Webhooks"],
    responses=success(EndpointListDto, "The endpoints, oldest first"),
)
def list_webhooks() -> EndpointListDto:
    return deps().webhooks.list(tenant_id())


@app.get(
    "/api/webhooks/<webhookId>",
    summary="One webhook endpoint: its events, whether it is enabled, and since when it fails",
    tags=["Webhooks"],
    responses={**success(EndpointDto, "The endpoint"), 400: BAD_REQUEST, 404: NOT_FOUND},
)
def get_webhook(webhookId: WebhookId) -> EndpointDto:  # noqa: N803
    return deps().webhooks.get(tenant_id(), str(webhookId))


@app.patch(
    "/api/webhooks/<webhookId>",
    summary="Change an endpoint's URL, events, description or enabled (enabling again clears webhook.disabled)",
    tags=["Webhooks"],
    responses={
        **success(EndpointDto, "The endpoint as changed"),
        400: ENDPOINT_REFUSED,
        403: WRITE_SCOPE,
        404: NOT_FOUND,
        413: TOO_LARGE,
        415: NOT_JSON,
    },
)
def update_webhook(webhookId: WebhookId, request: Annotated[EndpointPatch, Body()]) -> EndpointDto:  # noqa: N803
    return deps().webhooks.update(tenant_id(), str(webhookId), request)


@app.delete(
    "/api/webhooks/<webhookId>",
    summary="Delete an endpoint: nothing more is sent to it",
    tags=["Webhooks"],
    responses={204: {"description": "Deleted"}, 400: BAD_REQUEST, 403: WRITE_SCOPE, 404: NOT_FOUND},
)
def delete_webhook(webhookId: WebhookId) -> Response[None]:  # noqa: N803
    deps().webhooks.delete(tenant_id(), str(webhookId))
    return Response(status_code=204, body=None)


@app.post(
    "/api/webhooks/<webhookId>/secret",
    summary="Rotate the signing secret: the new one is shown once, the old one keeps signing for 24 h",
    tags=["Webhooks"],
    responses={
        **success(EndpointWithSecretDto, "The endpoint with its new secret (shown only here)"),
        400: BAD_REQUEST,
        403: WRITE_SCOPE,
        404: NOT_FOUND,
    },
)
def rotate_webhook_secret(webhookId: WebhookId) -> EndpointWithSecretDto:  # noqa: N803
    return deps().webhooks.rotate_secret(tenant_id(), str(webhookId))


@app.get(
    "/api/webhooks/<webhookId>/deliveries",
    summary="An endpoint's deliveries, newest first: status, every attempt's response code and latency, payload",
    tags=["Webhooks"],
    responses={**success(DeliveryPageDto, "One page of deliveries"), 400: BAD_REQUEST, 404: NOT_FOUND},
)
def list_deliveries(
    webhookId: WebhookId,  # noqa: N803
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERY_PAGE)] = 20,
    cursor: Annotated[str | None, Query(min_length=50, max_length=50, pattern=DELIVERY_ID_PATTERN)] = None,
) -> DeliveryPageDto:
    return deps().webhooks.deliveries(tenant_id(), str(webhookId), limit, cursor)


@app.post(
    "/api/webhooks/<webhookId>/deliveries/<deliveryId>/replay",
    summary="Send a delivery again (same event id and body, newly signed), once",
    tags=["Webhooks"],
    responses={**success(ReplayDto, "Queued", 202), 400: BAD_REQUEST, 403: WRITE_SCOPE, 404: NOT_FOUND},
)
def replay_delivery(webhookId: WebhookId, deliveryId: DeliveryId) -> Response[ReplayDto]:  # noqa: N803
    replay = deps().webhooks.replay(tenant_id(), str(webhookId), deliveryId)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=replay)


# ---------------------------------------------------------------------------------------------- exports

CSV_RESPONSE: Any = {
    "description": "The CSV file (UTF-8 with a BOM; `;`-separated unless delimiter=comma; formula-safe cells)",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


def exports() -> Exports:
    factory = deps().exports
    if factory is None:
        raise RuntimeError("exports are not configured")
    return factory()


@app.get(
    "/api/messages/queues/<queueId>/export",
    summary="A campaign's messages as CSV: recipient, status, error code, segments, credits, sent/delivered, clicks",
    description="Up to 10,000 messages the file is the answer; above, 202 with a job: GET /api/exports/{jobId} "
    "gives its presigned downloadUrl when READY.",
    tags=["Status"],
    responses={
        200: CSV_RESPONSE,
        **success(ExportJobDto, "A large campaign: the export job (PENDING)", 202),
        400: BAD_REQUEST,
        404: NOT_FOUND,
    },
)
def export_campaign(
    queueId: Annotated[str, Path(min_length=1, max_length=64)],  # noqa: N803
    delimiter: Annotated[Literal["semicolon", "comma"], Query()] = "semicolon",
) -> Response[Any]:
    result = exports().export(tenant_id(), queueId, delimiter, datetime.now(UTC))
    if isinstance(result, ExportJob):
        return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=job_dto(result))
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=result.text,
        headers={"Content-Disposition": f'attachment; filename="{result.filename}"'},
    )


@app.get(
    "/api/exports/<jobId>",
    summary="A large export's job: PENDING, then READY with a presigned downloadUrl (an hour)",
    tags=["Status"],
    responses={**success(ExportJobDto, "The job"), 400: BAD_REQUEST, 404: NOT_FOUND},
)
def get_export(jobId: Annotated[UUID, Path()]) -> ExportJobDto:  # noqa: N803
    job, url = exports().job(tenant_id(), str(jobId))
    return job_dto(job, url)


# ---------------------------------------------------------------------------------------------- reports


@app.get(
    "/api/reports/usage",
    summary="Usage by day (Bogotá): sends, deliveries, failures by code, credits spent and refunded",
    description="Campaigns count on the day they were created, credits on the day they moved; at most 366 days.",
    tags=["Reports"],
    responses={**success(UsageReportDto, "Every day of the range, and the totals"), 400: BAD_REQUEST},
)
def usage_report(
    from_: Annotated[date, Query(alias="from", description="First day, YYYY-MM-DD")],
    to: Annotated[date, Query(description="Last day, YYYY-MM-DD (inclusive)")],
    granularity: Annotated[Literal["day"], Query()] = "day",
) -> UsageReportDto:
    return wiring.reports().usage(tenant_id(), from_, to)


# ---------------------------------------------------------------------------------------------- handler


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: IntegrationsDeps | None = None
) -> dict[str, Any]:
    deps = deps or wiring.integrations_deps()
    refused = refusal_response(lambda: check_json_body(event, deps.max_body_bytes))
    if refused is not None:
        return refused
    invocation_deps.bind(deps)
    return resolve(event, context)


@fresh_access_guard(wiring.fresh_access)
def resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A write whose caller lost access (or holds a read key) is refused before routing."""
    return app.resolve(event, context)


def export_job(record: dict[str, Any]) -> tuple[str, str] | None:
    """(tenant id, job id) of an export queue record; None, logged once at ERROR and counted, for a body that is
    not one (AWS's "Hello from SQS!" sample, say): a retry cannot fix it, so it is not retried into the DLQ."""
    try:
        message = json.loads(record.get("body") or "")
        return str(message["tenantId"]), str(message["jobId"])
    except (ValueError, TypeError, KeyError) as exc:
        reason = f"the body is not an export job ({type(exc).__name__})"
        report_unparseable(logger, metrics, source="export-queue", message_id=record.get("messageId"), reason=reason)
        return None


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def export_handler(
    event: dict[str, Any], context: LambdaContext, deps: IntegrationsDeps | None = None
) -> dict[str, Any]:
    """The export queue: write each job's file (a batch of one record; a failure is retried by SQS)."""
    deps = deps or wiring.integrations_deps()
    factory = deps.exports
    if factory is None:
        raise RuntimeError("exports are not configured")
    done = []
    for record in event.get("Records", []):
        message = export_job(record)
        if message is None:
            continue
        job = factory().run(message[0], message[1])
        if job is not None:
            logger.info("Export written", extra={"job_id": job.job_id, "rows": job.rows})
            done.append(job.job_id)
    return {"jobs": done}
