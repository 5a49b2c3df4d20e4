"""TOKEN authorizer: bearer token -> member and tenant -> IAM policy."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import APIGatewayAuthorizerTokenEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.api.authorization import authorize
from smscore.wiring import AuthorizerDeps

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: AuthorizerDeps | None = None) -> dict[str, Any]:
    token_event = APIGatewayAuthorizerTokenEvent(event)
    deps = deps or wiring.authorizer_deps()
    return authorize(token_event.authorization_token, token_event.method_arn, deps.identities)
