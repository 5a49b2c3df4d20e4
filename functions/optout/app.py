"""The opt-out link's page: GET and POST {LinkBaseUrl}/o/{code} (smscore.domain.opt_out_links).

Public: no bearer token (the route has no authorizer), the code is the credential (96 bits of MAC). GET shows one
button; POST opts the number out of the tenant's marketing and of the sender the message came from, and answers the
same page however often it is posted. Throttled by API Gateway on its own route (OptOutPageRateLimit, and per IP
by the WAF when on).
No `from __future__ import annotations` here: Powertools reads the annotations at runtime.
"""

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.api.invocation import InvocationDeps
from smscore.api.opt_out_page import HEADERS, ask_page, done_page, unknown_page
from smscore.domain.opt_out_links import LinkOutcome
from smscore.observability import quiet_empty_metrics
from smscore.wiring import OptOutLinkDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
app = APIGatewayRestResolver(enable_validation=True)
invocation_deps: InvocationDeps[OptOutLinkDeps] = InvocationDeps("opt_out_link_deps")

HTML_PAGE: Any = {"description": "An HTML page (es-CO, then English)", "content": {"text/html": {}}}
UNKNOWN: Any = {
    "description": "Not a code of ours, or its message is gone: an HTML page saying so",
    "content": {"text/html": {}},
}


def html(status: HTTPStatus, page: str) -> Response[str]:
    return Response(status_code=status, body=page, headers=dict(HEADERS))


@app.not_found
def no_route(_error: Exception) -> Response[str]:
    """A code with characters no route matches (Powertools' own 404 is JSON): the same HTML page as any unknown."""
    metrics.add_metric(name="OptOutLinkUnknown", unit=MetricUnit.Count, value=1)
    return html(HTTPStatus.NOT_FOUND, unknown_page())


@app.get(
    "/o/<code>",
    summary="The opt-out link's page: one button (public; the code is the credential)",
    tags=["Opt-out link"],
    responses={200: HTML_PAGE, 404: UNKNOWN},
)
def show(code: str) -> Response[str]:
    deps = invocation_deps.get()
    target = deps.links.resolve(code)
    if target is None:
        metrics.add_metric(name="OptOutLinkUnknown", unit=MetricUnit.Count, value=1)
        return html(HTTPStatus.NOT_FOUND, unknown_page())
    return html(HTTPStatus.OK, ask_page(deps.sender_name_of(target.tenant_id), target.number))


@app.post(
    "/o/<code>",
    summary="Opt out by link: the number leaves the tenant's marketing and the sender's messages (idempotent)",
    tags=["Opt-out link"],
    responses={200: HTML_PAGE, 404: UNKNOWN},
)
def opt_out(code: str) -> Response[str]:
    deps = invocation_deps.get()
    target = deps.links.resolve(code)
    if target is None or deps.links.opt_out(code, datetime.now(UTC)) is LinkOutcome.UNKNOWN:
        metrics.add_metric(name="OptOutLinkUnknown", unit=MetricUnit.Count, value=1)
        return html(HTTPStatus.NOT_FOUND, unknown_page())
    metrics.add_metric(name="OptOutLinkUsed", unit=MetricUnit.Count, value=1)
    return html(HTTPStatus.OK, done_page(deps.sender_name_of(target.tenant_id), target.number))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: OptOutLinkDeps | None = None) -> dict[str, Any]:
    invocation_deps.bind(deps or wiring.opt_out_link_deps())
    return app.resolve(event, context)
