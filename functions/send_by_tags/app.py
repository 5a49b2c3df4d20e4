"""POST /api/messages/sms/tags: parse, call the campaign service, shape the response."""

from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore.api.campaigns import Caller, CampaignService
from smscore.api.errors import register_error_handlers
from smscore.api.models import MessageEnqueueResultDto, SmsTagsMessagePayload
from smscore.domain.errors import PayloadTooLarge
from smscore.wiring import bound_settings, campaign_limits, campaign_store, delivery_queue, idempotency_store

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app)


def limit_body_size(router: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    body = router.current_event.body or ""
    if len(body.encode()) > bound_settings().max_body_bytes:
        raise PayloadTooLarge(f"Request body is larger than {bound_settings().max_body_bytes} bytes")
    return next_middleware(router)


app.use(middlewares=[limit_body_size])


@cache
def campaigns() -> CampaignService:
    settings = bound_settings()
    return CampaignService(
        store=campaign_store(),
        queue=delivery_queue(),
        limits=campaign_limits(settings),
        idempotency_store=idempotency_store(),
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
        metrics=metrics,
        phase=lambda name: tracer.provider.in_subsegment(f"## {name}"),
    )


def caller() -> Caller:
    authorizer = app.current_event.request_context.authorizer
    return Caller(tenant_id=authorizer["tenantId"], member_id=authorizer["memberId"])


@app.post("/api/messages/sms/tags", summary="Send an SMS to every contact carrying any of the tags")
@tracer.capture_method(capture_response=False)
def send_sms_by_tags(
    payload: Annotated[SmsTagsMessagePayload, Body()],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> Response[MessageEnqueueResultDto]:
    outcome = campaigns().send(caller(), payload, idempotency_key, app.lambda_context)
    return Response(
        status_code=outcome.status.value,
        content_type=content_types.APPLICATION_JSON,
        body=outcome.body,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
