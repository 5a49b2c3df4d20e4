"""TOKEN authorizer: bearer token -> member and tenant -> IAM policy."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import APIGatewayAuthorizerTokenEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore.api.authorization import authorize
from smscore.dal.identity_store import DynamoIdentityStore
from smscore.wiring import bound_settings

logger = Logger()
tracer = Tracer()


@cache
def identity_store() -> DynamoIdentityStore:
    bound_settings()
    return DynamoIdentityStore()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def lambda_handler(event: APIGatewayAuthorizerTokenEvent, context: LambdaContext) -> dict[str, Any]:
    return authorize(event.authorization_token, event.method_arn, identity_store())
