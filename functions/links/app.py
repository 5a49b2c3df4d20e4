"""GET/HEAD /l/{code}: a tracked short link (smscore.domain.links). Public (no bearer token: the person who got the
SMS clicks it); a code we did not issue is 404, so it never redirects anywhere a caller chose.

No `from __future__ import annotations` here: Powertools reads the parameter annotations at runtime.
"""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.api.errors import documented_error, register_error_handlers
from smscore.api.invocation import InvocationDeps
from smscore.domain.errors import NotFound
from smscore.domain.links import follow
from smscore.observability import quiet_empty_metrics
from smscore.wiring import LinksDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
app = APIGatewayRestResolver(enable_validation=True)
invocation_deps: InvocationDeps[LinksDeps] = InvocationDeps("links_deps")
register_error_handlers(app)

# Unconstrained on purpose: anything that is not a code we issued is the same 404, whatever its length.
Code = Annotated[str, Path(description="The short link's code")]

RESPONSES: dict[int, Any] = {
    302: {
        "description": "Redirect to the URL the campaign's text had (Location); a person's GET is counted as a click, "
        "a HEAD request or a link preview (WhatsApp, facebookexternalhit, Slackbot, ...) is not",
        "headers": {"Location": {"description": "The original URL", "schema": {"type": "string"}}},
    },
    404: documented_error("Not a short link we issued, or expired with its campaign (code NOT_FOUND)"),
}


def _redirect(code: str) -> Response[None]:
    deps: LinksDeps = invocation_deps.get()
    event = app.current_event
    redirect = follow(code, event.http_method, event.headers.get("User-Agent"), deps.links, deps.events)
    if redirect is None:
        metrics.add_metric(name="ShortLinksNotFound", unit=MetricUnit.Count, value=1)
        raise NotFound("No such link")
    if redirect.counted:
        metrics.add_metric(name="ShortLinkClicks", unit=MetricUnit.Count, value=1)
    if redirect.first:
        metrics.add_metric(name="ShortLinkUniqueClicks", unit=MetricUnit.Count, value=1)
    # Never cached: each GET is a click to count, and the code is the recipient's own.
    headers = {"Location": redirect.location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Response(status_code=302, body=None, headers=headers)


@app.get("/l/<code>", summary="Follow a tracked short link", responses=RESPONSES, tags=["Links"])
@tracer.capture_method(capture_response=False)
def follow_link(code: Code) -> Response[None]:
    return _redirect(code)


@app.head(
    "/l/<code>", summary="Follow a tracked short link without counting a click", responses=RESPONSES, tags=["Links"]
)
@tracer.capture_method(capture_response=False)
def peek_link(code: Code) -> Response[None]:
    return _redirect(code)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: LinksDeps | None = None) -> dict[str, Any]:
    invocation_deps.bind(deps or wiring.links_deps())
    return app.resolve(event, context)
