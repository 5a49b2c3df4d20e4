"""GET /api/messages/queues/{queueId}, GET /api/messages/{id}, GET /api/messages: thin handlers over MessageAudit.

No `from __future__ import annotations` here: Powertools reads the parameter annotations at runtime.
"""

from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.api.access import fresh_access_guard
from smscore.api.errors import documented_error, register_error_handlers
from smscore.api.invocation import InvocationDeps
from smscore.api.messages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, IsoDateTime, MessageAudit
from smscore.api.models import MessageDto, MessagePageDto, QueueStatusDto
from smscore.api.pagination import MAX_CURSOR_LENGTH
from smscore.domain.model import MessageStatus
from smscore.domain.reports import uncounted_failures
from smscore.observability import quiet_empty_metrics
from smscore.wiring import MessagesDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
app = APIGatewayRestResolver(enable_validation=True)
invocation_deps: InvocationDeps[MessagesDeps] = InvocationDeps("messages_deps")
register_error_handlers(app)

ID_MAX_LENGTH = 64


def _ok(model: type, description: str) -> dict[int, Any]:
    return {
        200: {"description": description, "content": {"application/json": {"model": model}}},
        400: documented_error("Invalid parameters (code VALIDATION_ERROR)"),
        404: documented_error("Not found, or owned by another tenant (code NOT_FOUND)"),
    }


def audit() -> MessageAudit:
    """The read use cases over this invocation's data access (see lambda_handler)."""
    deps: MessagesDeps = invocation_deps.get()
    return MessageAudit(deps.queries, deps.names, deps.quiet_hours_of)


def tenant_id() -> str:
    tenant: str = app.current_event.request_context.authorizer["tenantId"]
    return tenant


@app.get(
    "/api/messages/queues/<queueId>",
    summary="Status of one campaign: counts by status and credits",
    responses=_ok(QueueStatusDto, "The campaign"),
    tags=["Status"],
)
@tracer.capture_method(capture_response=False)
def get_queue(queueId: Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH)]) -> QueueStatusDto:  # noqa: N803
    status = audit().queue_status(tenant_id(), queueId)
    failures = invocation_deps.get().failures
    if failures is not None and (status.counts.FAILED or status.counts.UNDELIVERED):  # one BatchGetItem, only then
        reasons = failures.codes(tenant_id(), [queueId]).get(queueId, {})
        counts = {MessageStatus.FAILED: status.counts.FAILED, MessageStatus.UNDELIVERED: status.counts.UNDELIVERED}
        status = status.model_copy(
            update={
                "failure_reasons": dict(sorted(reasons.items())),
                "failures_uncounted": uncounted_failures(counts, reasons),
            }
        )
    return status


@app.get(
    "/api/messages/<id>",
    summary="One message with its provider metadata and status history",
    responses=_ok(MessageDto, "The message"),
    tags=["Status"],
)
@tracer.capture_method(capture_response=False)
def get_message(id: Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH)]) -> MessageDto:
    return audit().message(tenant_id(), id)


@app.get(
    "/api/messages",
    summary="The tenant's messages, newest first, filtered and paginated",
    responses=_ok(MessagePageDto, "One page of messages"),
    tags=["Status"],
)
@tracer.capture_method(capture_response=False)
def list_messages(
    queue_id: Annotated[str | None, Query(alias="queueId", min_length=1, max_length=ID_MAX_LENGTH)] = None,
    status: Annotated[MessageStatus | None, Query()] = None,
    recipient: Annotated[
        str | None, Query(min_length=1, max_length=32, description="E.164, or as typed (read in the default country)")
    ] = None,
    created_from: Annotated[IsoDateTime | None, Query(alias="from", description="ISO 8601, inclusive")] = None,
    created_to: Annotated[IsoDateTime | None, Query(alias="to", description="ISO 8601, inclusive")] = None,
    channel: Annotated[Literal["sms"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(min_length=1, max_length=MAX_CURSOR_LENGTH)] = None,
) -> MessagePageDto:
    return audit().list_messages(
        tenant_id(),
        queue_id=queue_id,
        status=status,
        recipient=recipient,
        created_from=created_from,
        created_to=created_to,
        channel=channel,
        limit=limit,
        cursor=cursor,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: MessagesDeps | None = None) -> dict[str, Any]:
    invocation_deps.bind(deps or wiring.messages_deps())
    return resolve(event, context)


@fresh_access_guard(wiring.fresh_access)
def resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Only reads today; a write added later is re-checked fresh like every other (smscore.api.access)."""
    return app.resolve(event, context)
