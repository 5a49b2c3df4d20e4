"""Twilio status callbacks: checked, parsed into a Receipt
(smscore.providers.twilio) and put on the receipts queue, before any DynamoDB read or write. The receipts consumer
(functions/receipts) applies them, with AWS End User Messaging SMS delivery events, which EventBridge sends to the
same queue: a burst of callbacks waits in SQS instead of throttling on the tables, and Twilio (which does not retry
a refused callback) is answered at once.

Twilio is given this function's URL (FunctionUrlConfig, `TwilioStatusCallbackUrl`): no API Gateway request charge
and no REST API account rate in front of 3 callbacks per message; the function's concurrency is the throttle
(README, "Capacity"). `POST /api/webhooks/twilio/status` on the REST API stays for callbacks of messages sent with
the earlier URL. Both verify X-Twilio-Signature over the URL Twilio called, rebuilt from the request.

Also Twilio's incoming-message webhook (POST /api/webhooks/twilio/inbound): opt-out and opt-in keyword replies
(smscore.domain.inbound), answered with TwiML.

Twilio's callbacks bypass the bearer-token authorizer: their signature is the gate, checked before
anything is read. No `from __future__ import annotations` here: Powertools reads the annotations at runtime.
"""

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import urlencode

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import (
    APIGatewayRestResolver,
    LambdaFunctionUrlResolver,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from smscore import wiring
from smscore.api.errors import documented_error, register_error_handlers
from smscore.api.invocation import InvocationDeps
from smscore.domain.inbound import Confirmations, InboundSms, handle_inbound
from smscore.domain.keywords import KeywordAction
from smscore.domain.ports import CredentialsUnavailable
from smscore.domain.receipts import ReceiptOutcome
from smscore.observability import quiet_empty_metrics
from smscore.providers import twilio
from smscore.wiring import WebhookDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
app = APIGatewayRestResolver(enable_validation=True)
url_app = LambdaFunctionUrlResolver()  # the status callback on the function URL (payload format 2.0)
invocation_deps: InvocationDeps[WebhookDeps] = InvocationDeps("webhooks_deps")
register_error_handlers(app)
register_error_handlers(url_app)


class ReceiptAck(BaseModel):
    outcome: ReceiptOutcome | None = None


def request_deps() -> WebhookDeps:
    deps: WebhookDeps = invocation_deps.get()
    return deps


def twilio_auth_token() -> str | None:
    """The account's Auth Token, from the same SSM/Secrets Manager JSON the Twilio provider sends with (cached by
    Powertools for 5 min). Twilio signs callbacks with it even when messages are sent with an API key."""
    try:
        token = request_deps().twilio_credentials().auth_token
    except CredentialsUnavailable:
        # Nothing to verify against: refuse (and alarm through the log) rather than accept unverified receipts.
        logger.exception("Twilio callback refused: the credentials parameter cannot be read")
        return None
    if token is None:
        logger.error(
            "Twilio callback refused: the credentials hold no account Auth Token (API-key mode needs `auth_token` "
            "next to `api_key_sid` and `api_key_secret`; README, 'Twilio credentials')"
        )
    return token


def callback_url() -> str:
    """The URL Twilio signed: the configured StatusCallback URL (else this request's public URL), with the query
    this request came with (our message id, which the deliver function added and Twilio signed)."""
    return request_url(request_deps().status_callback_url)


def request_url(base: str | None = None) -> str:
    """The URL Twilio called: `base` (a configured URL) or this request's public URL, plus its query."""
    event = app.current_event
    if not base:
        # Powertools' headers are case-insensitive: one lookup finds "Host" and "host" alike.
        proto = event.headers.get("X-Forwarded-Proto") or "https"
        host = event.headers.get("Host") or event.request_context.domain_name or ""
        base = f"{proto}://{host}{event.request_context.path or event.path}"
    query = event.multi_value_query_string_parameters
    return f"{base}?{urlencode(query, doseq=True)}" if query else base


def function_url() -> str:
    """The function URL Twilio called: https://<host><rawPath>?<rawQueryString>, exactly as sent (Twilio signs it
    whole, our message id in the query included)."""
    event = url_app.current_event
    proto = event.headers.get("x-forwarded-proto") or "https"
    host = event.headers.get("host") or event.request_context.domain_name or ""
    base = f"{proto}://{host}{event.raw_path or '/'}"
    return f"{base}?{event.raw_query_string}" if event.raw_query_string else base


def signed_form(signature: str | None, url: str, event: BaseProxyEvent | None = None) -> dict[str, str]:
    """This request's form parameters, once X-Twilio-Signature checks out over `url` and the body (403 otherwise)."""
    body = (event or app.current_event).decoded_body or ""
    return twilio.verified_callback_params(body, signature, url, twilio_auth_token)


BAD_SIGNATURE: Any = documented_error("Missing or invalid signature")


def twilio_form(*fields: str) -> dict[str, Any]:
    """The OpenAPI request body of a Twilio webhook: a required form of these string fields (Twilio sends more)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": {field: {"type": "string"} for field in fields}}
                }
            },
        }
    }


@app.post(
    "/api/webhooks/twilio/status",
    summary="Twilio status callback (signed with X-Twilio-Signature; no bearer token)",
    tags=["Receipts"],
    responses={
        200: {
            "description": "Queued for the receipts consumer (ACCEPTED), or an intermediate status ignored (null)",
            "content": {"application/json": {"model": ReceiptAck}},
        },
        403: BAD_SIGNATURE,
    },
    openapi_extensions=twilio_form("MessageSid", "MessageStatus", "ErrorCode"),
)
@tracer.capture_method(capture_response=False)
def twilio_status(
    signature: Annotated[str | None, Header(alias="X-Twilio-Signature")] = None,
) -> Response[Any]:
    return queue_status_callback(app.current_event, signature, callback_url())


@url_app.post("/")
@tracer.capture_method(capture_response=False)
def twilio_status_url() -> Response[Any]:
    """The same callback at the function URL (what the deliver function gives Twilio)."""
    event = url_app.current_event
    return queue_status_callback(event, event.headers.get("x-twilio-signature"), function_url())


def queue_status_callback(event: BaseProxyEvent, signature: str | None, url: str) -> Response[Any]:
    """A signed status callback, put on the receipts queue (an intermediate status is answered and dropped)."""
    params = signed_form(signature, url, event)
    # Read only now: the query is part of the URL the signature covered, so the id is Twilio's word too.
    message_id = event.get_query_string_value(twilio.CALLBACK_MESSAGE_ID_PARAMETER)
    receipt = twilio.receipt_from_callback(params, datetime.now(UTC), message_id=message_id)
    if receipt is None:
        return Response(HTTPStatus.OK.value, content_types.APPLICATION_JSON, ReceiptAck().model_dump_json())
    # Queued, not applied: the receipts consumer applies it (or parks it until SENT). A SendMessage that still fails
    # after botocore's retries raises: an error of this function (TwilioStatusErrorsAlarm), the one receipt lost.
    request_deps().receipt_buffer.put(receipt)
    metrics.add_metric(name="ReceiptAccepted", unit=MetricUnit.Count, value=1)
    outcome = ReceiptOutcome.ACCEPTED
    return Response(HTTPStatus.OK.value, content_types.APPLICATION_JSON, ReceiptAck(outcome=outcome).model_dump_json())


@app.post(
    "/api/webhooks/twilio/inbound",
    summary="Twilio incoming-message webhook: opt-out/opt-in keywords (X-Twilio-Signature; no bearer token)",
    tags=["Receipts"],
    responses={
        200: {
            "description": "TwiML: one <Message> confirming a keyword Twilio does not confirm itself, else empty",
            "content": {"application/xml": {"schema": {"type": "string"}}},
        },
        403: BAD_SIGNATURE,
    },
    openapi_extensions=twilio_form("MessageSid", "From", "To", "Body", "MessagingServiceSid"),
)
@tracer.capture_method(capture_response=False)
def twilio_inbound(
    signature: Annotated[str | None, Header(alias="X-Twilio-Signature")] = None,
) -> Response[Any]:
    # Signed like status callbacks, over the URL configured on the number (this request's own URL).
    params = signed_form(signature, request_url())
    message = twilio.inbound_from_webhook(params)
    reply: str | None = None
    if message is not None:
        deps = (request_deps().inbound or wiring.inbound_deps)()
        now = datetime.now(UTC)
        result = handle_inbound(
            InboundSms(
                provider=twilio.PROVIDER_NAME,
                sender=deps.sender_of(twilio.PROVIDER_NAME, message.sender_addresses),
                from_number=message.from_number,
                body=message.body,
                received_at=now,  # Twilio's webhook carries no time: ordered by our receipt
                reference=message.message_sid,
            ),
            keywords=deps.keywords,
            suppressions=deps.suppressions,
            confirmations=Confirmations(
                deps.opt_out_confirmation, deps.opt_in_confirmation, twilio.TWILIO_CONFIRMED_KEYWORDS
            ),
            now=now,
            consent=deps.consent,
        )
        record_keyword(result.as_json())
        reply = result.reply
    # Always 200 once signed: a non-2xx makes Twilio report an error on the number, and retrying changes nothing.
    # A replayed or redelivered MessageSid is answered the same way, with an empty <Response/>: no second reply.
    return Response(HTTPStatus.OK.value, "application/xml", twilio.twiml_reply(reply))


def record_keyword(result: dict[str, object]) -> None:
    if result["duplicate"]:
        metrics.add_metric(name="KeywordDuplicate", unit=MetricUnit.Count, value=1)
    elif result["action"] != KeywordAction.NONE.value:
        metrics.add_metric(
            name=f"Keyword{str(result['action']).title().replace('_', '')}", unit=MetricUnit.Count, value=1
        )
    logger.info("Inbound SMS processed", extra={"inbound": result})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def twilio_handler(event: dict[str, Any], context: LambdaContext, deps: WebhookDeps | None = None) -> dict[str, Any]:
    invocation_deps.bind(deps or wiring.webhook_deps())
    if event.get("version") == "2.0":  # a function URL's event (REST API events carry no version)
        return url_app.resolve(event, context)
    return app.resolve(event, context)
