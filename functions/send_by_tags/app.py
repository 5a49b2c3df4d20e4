"""POST /api/messages/sms/tags, its preview, and a campaign's resend: parse, call the campaign service, shape the
response."""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.api.access import fresh_access_guard
from smscore.api.campaigns import Caller, Outcome
from smscore.api.errors import documented_error, register_error_handlers
from smscore.api.invocation import InvocationDeps
from smscore.api.links import public_api_url
from smscore.api.middlewares import json_body_guard
from smscore.api.models import (
    CampaignPreviewDto,
    CancelResultDto,
    MessageEnqueueResultDto,
    ResendPayload,
    SmsTagsMessagePayload,
    TestSendPayload,
)
from smscore.gc_pause import paused_collection
from smscore.observability import quiet_empty_metrics
from smscore.wiring import SendDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
app = APIGatewayRestResolver(enable_validation=True)
invocation_deps: InvocationDeps[SendDeps] = InvocationDeps("send_by_tags_deps")
register_error_handlers(app)


Route = TypeVar("Route", bound=Callable[..., Any])

QUEUE_ID_MAX_LENGTH = 64
QueueId = Annotated[str, Path(min_length=1, max_length=QUEUE_ID_MAX_LENGTH)]

SEND_RESPONSES: dict[int, Any] = {
    201: {
        "description": "Messages persisted and enqueued, one per distinct valid number",
        "content": {"application/json": {"model": MessageEnqueueResultDto}},
    },
    200: {
        "description": "No valid recipient: empty queueId and messages, nothing debited",
        "content": {"application/json": {"model": MessageEnqueueResultDto}},
    },
    202: {
        "description": "More recipients than MaxSyncRecipients (up to MaxRecipients): accepted; messages is empty, "
        "the Location header names GET /api/messages/queues/{queueId}, and the messages are paged with GET "
        "/api/messages?queueId=. When the tags hold more than MaxSyncRecipients contacts the request does not read "
        "them: `planning: true`, totalMessages is the tags' contacts (an upper bound) and creditsDebited 0; the "
        "fan-out workers plan the audience and debit the exact credits (the queue's status shows planning, "
        "totalMessages and creditsDebited; without enough credits planning ends FAILED, nothing charged). "
        "Otherwise (a resend, or trackLinks) the request planned it: totalMessages and "
        "creditsDebited are exact and debited",
        "content": {"application/json": {"model": MessageEnqueueResultDto}},
        "headers": {"Location": {"description": "/api/messages/queues/{queueId}", "schema": {"type": "string"}}},
    },
    400: documented_error(
        "Invalid body (code VALIDATION_ERROR), or above MaxSyncRecipients without an Idempotency-Key "
        "(code IDEMPOTENCY_KEY_REQUIRED: recipients, maxSyncRecipients; nothing debited), or a trackLinks campaign "
        "or a resend larger than its request can plan in time, 200,000 (code AUDIENCE_TOO_LARGE_FOR_REQUEST: "
        "recipients, limit, reason; nothing read, written or debited)"
    ),
    401: documented_error("Token revoked or member disabled since the cached authorization (code UNAUTHORIZED)"),
    402: documented_error("Balance below segments x recipients (code INSUFFICIENT_CREDITS: required, available)"),
    403: documented_error("Current terms not accepted (TERMS_NOT_ACCEPTED) or tenant gone (TENANT_NOT_FOUND)"),
    409: documented_error(
        "Idempotency-Key reused with another body, or still running; marketing to CO without a sender name "
        "(SENDER_NAME_REQUIRED), without a current RNE exclusion list (EXCLUSION_LIST_STALE: snapshotDate), or "
        "through a route without two-way SMS there and no LinkBaseUrl for the opt-out link (OPT_OUT_LINK_UNAVAILABLE)"
    ),
    413: documented_error("Body too large (code PAYLOAD_TOO_LARGE)"),
    415: documented_error("Body is not application/json (code UNSUPPORTED_MEDIA_TYPE)"),
    422: documented_error("More recipients than allowed (code TOO_MANY_RECIPIENTS)"),
    503: documented_error("Failed after the debit; not-enqueued messages refunded (code ENQUEUE_FAILED)"),
}


def request_deps() -> SendDeps:
    """This invocation's dependencies (see lambda_handler)."""
    deps: SendDeps = invocation_deps.get()
    return deps


def caller() -> Caller:
    authorizer = app.current_event.request_context.authorizer
    return Caller(tenant_id=authorizer["tenantId"], member_id=authorizer["memberId"])


def messaging_route(path: str, responses: dict[int, Any], *, summary: str) -> Callable[[Route], Route]:
    """POST `path`, documented under Messaging with these responses, traced without its response."""

    def register(route: Route) -> Route:
        traced: Route = tracer.capture_method(capture_response=False)(route)
        return app.post(path, summary=summary, tags=["Messaging"], responses=responses)(traced)

    return register


def spending_caller() -> tuple[SendDeps, Caller]:
    """This invocation's dependencies and caller (the fresh access check of every write ran before routing:
    `resolve`)."""
    return request_deps(), caller()


def enqueue_response(outcome: Outcome) -> Response[str]:
    """A send's or resend's answer: 201 with the enqueued messages, 200 when nobody qualified, or 202 (above
    MaxSyncRecipients) pointing at the campaign's status. The body is already JSON (Outcome.json: the documented
    MessageEnqueueResultDto, written without a model per message); the routes' documented responses name the model."""
    headers = {"Location": f"/api/messages/queues/{outcome.queue_id}"} if outcome.status == 202 else None
    return Response(
        status_code=outcome.status.value,
        content_type=content_types.APPLICATION_JSON,
        body=outcome.json(),
        headers=headers,
    )


@messaging_route(
    "/api/messages/sms/tags", SEND_RESPONSES, summary="Send an SMS to every contact carrying any of the tags"
)
def send_sms_by_tags(
    payload: Annotated[SmsTagsMessagePayload, Body()],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> Response[str]:
    deps, who = spending_caller()
    return enqueue_response(
        deps.campaigns.send(who, payload, idempotency_key, app.lambda_context, public_api_url(app.current_event))
    )


PREVIEW_RESPONSES: dict[int, Any] = {
    200: {
        "description": "What a send of this body would reach and debit now; nothing written, nothing debited",
        "content": {"application/json": {"model": CampaignPreviewDto}},
    },
    **{status: SEND_RESPONSES[status] for status in (400, 403, 413, 415, 422)},
    409: documented_error(
        "Marketing to CO without a sender name (SENDER_NAME_REQUIRED), without a current RNE exclusion list "
        "(EXCLUSION_LIST_STALE: snapshotDate), or through a route without two-way SMS there and no LinkBaseUrl "
        "(OPT_OUT_LINK_UNAVAILABLE)"
    ),
}

RESEND_RESPONSES: dict[int, Any] = {
    **SEND_RESPONSES,
    201: {
        "description": "A new campaign (resendOf = this queueId) to the recipients whose messages ended FAILED or "
        "UNDELIVERED, except invalid numbers, opt-outs and (unless force) those an earlier resend of this campaign "
        "already targeted: skippedAlreadyResent",
        "content": {"application/json": {"model": MessageEnqueueResultDto}},
    },
    200: {
        "description": "Nobody qualifies: empty queueId and messages, nothing debited (skippedAlreadyResent: how "
        "many an earlier resend already targeted)",
        "content": {"application/json": {"model": MessageEnqueueResultDto}},
    },
    404: documented_error("No campaign with this queueId, or another tenant's (code QUEUE_NOT_FOUND)"),
    409: documented_error(
        "Idempotency-Key reused with another body, or still running; or other resends of this campaign kept being "
        "recorded meanwhile (code CONCURRENT_UPDATE: retry)"
    ),
}


@messaging_route(
    "/api/messages/sms/tags/preview",
    PREVIEW_RESPONSES,
    summary="What sending this body would reach and cost, without sending",
)
def preview_sms_by_tags(payload: Annotated[SmsTagsMessagePayload, Body()]) -> CampaignPreviewDto:
    return request_deps().campaigns.preview(caller(), payload, public_api_url(app.current_event))


TEST_RESPONSES: dict[int, Any] = {
    **SEND_RESPONSES,
    201: {
        "description": "Sent now to the numbers (a campaign marked test, left out of the campaign list)",
        "content": {"application/json": {"model": MessageEnqueueResultDto}},
    },
    200: {
        "description": "No number is valid, or all are opted out: nothing debited",
        "content": {"application/json": {"model": MessageEnqueueResultDto}},
    },
    404: documented_error("contactId names no contact of this tenant (code NOT_FOUND)"),
    429: documented_error("The member's test messages of the day are used up (code TEST_SEND_LIMIT: limit)"),
}


@messaging_route(
    "/api/messages/sms/test",
    TEST_RESPONSES,
    summary="Send the message now to at most 5 numbers to see it, rendered with a chosen contact (charged)",
)
def send_test_message(
    payload: Annotated[TestSendPayload, Body()],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> Response[str]:
    deps, who = spending_caller()
    return enqueue_response(deps.campaigns.test_send(who, payload, idempotency_key, app.lambda_context))


@messaging_route(
    "/api/messages/queues/<queueId>/resend",
    RESEND_RESPONSES,
    summary="Send a campaign's text again to its recipients whose messages failed",
)
def resend_to_failed(
    queueId: QueueId,  # noqa: N803
    payload: Annotated[ResendPayload | None, Body()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> Response[str]:
    deps, who = spending_caller()
    return enqueue_response(
        deps.campaigns.resend(
            who,
            queueId,
            payload or ResendPayload(),
            idempotency_key,
            app.lambda_context,
            public_api_url(app.current_event),
        )
    )


CANCEL_RESPONSES: dict[int, Any] = {
    200: {
        "description": "Messages not yet claimed by delivery (SCHEDULED, QUEUED) cancelled and refunded; 0 and 0 when "
        "there are none left (a repeated cancel)",
        "content": {"application/json": {"model": CancelResultDto}},
    },
    400: documented_error("Invalid queue id (code VALIDATION_ERROR)"),
    401: documented_error("Token revoked or member disabled since the cached authorization (code UNAUTHORIZED)"),
    403: documented_error("Current terms not accepted (TERMS_NOT_ACCEPTED) or tenant gone (TENANT_NOT_FOUND)"),
    404: documented_error("No such queue for this tenant (code QUEUE_NOT_FOUND)"),
    409: documented_error("The campaign is still being enqueued (code REQUEST_IN_PROGRESS): retry shortly"),
}


@messaging_route(
    "/api/messages/queues/<queueId>/cancel",
    CANCEL_RESPONSES,
    summary="Cancel a campaign's messages that delivery has not claimed yet, and refund them",
)
def cancel_campaign(
    queueId: QueueId,  # noqa: N803
) -> CancelResultDto:
    deps, who = spending_caller()
    return deps.campaigns.cancel(who, queueId)


@json_body_guard(lambda: request_deps().max_body_bytes)
@fresh_access_guard(wiring.fresh_access)
def resolve(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Bodies the resolver cannot parse are refused first (413/415), with this function's size limit; then a write
    whose caller lost access since the authorizer's cached Allow (401/403: the token, its member and the current
    terms, re-read)."""
    return app.resolve(event, context)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: SendDeps | None = None) -> dict[str, Any]:
    invocation_deps.bind(deps or wiring.send_deps())
    with paused_collection():  # a large send's allocations would trigger full collections (smscore.gc_pause)
        return resolve(event, context)
