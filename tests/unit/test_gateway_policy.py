"""The local API Gateway's decisions, on the real template's API and fake functions (no sockets, no processes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from smsdev.gateway import (
    MAX_PAYLOAD_BYTES,
    ApiConfig,
    ApiGateway,
    ApiRoute,
    HttpRequest,
    api_config,
    match_route,
    method_arn,
    policy_allows,
)
from smsdev.lambdas import InvocationError, InvocationTimeout
from smsdev.template import LocalNames, Resolver, load_template
from tests.conftest import load_event

ARN = "arn:aws:execute-api:us-east-1:123456789012:local0api1/dev/POST/api/messages/sms/tags"
SEND_PATH = "/api/messages/sms/tags"


def statement(effect: str, resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# ---------------------------------------------------------------------------------------------- IAM evaluation
@pytest.mark.parametrize(
    ("document", "allowed"),
    [
        (policy(statement("Allow", ARN)), True),
        (policy(statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local0api1/dev/*")), True),
        (policy(statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local0api1/dev/*/*")), True),
        (policy(statement("Allow", "arn:aws:execute-api:*:*:local0api1/dev/P?ST/api/messages/sms/tags")), True),
        (policy(statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local0api1/dev/GET/*")), False),
        (policy(statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:local0api1/prod/*")), False),
        (policy(statement("Allow", [ARN.replace("POST", "GET"), ARN])), True),
        (policy(statement("Allow", "*"), statement("Deny", ARN)), False),
        (policy(statement("Deny", "*"), statement("Allow", ARN)), False),
        (policy(statement("Deny", ARN.replace("POST", "GET")), statement("Allow", "*")), True),
        (policy(), False),
        (policy(statement("Allow", ARN, action="execute-api:*")), True),
        (policy(statement("Allow", ARN, action="*")), True),
        (policy(statement("Allow", ARN, action="execute-api:ManageConnections")), False),
        ({"Version": "2012-10-17", "Statement": statement("Allow", ARN)}, True),  # a single statement object
        (policy(statement("Allow", ARN.lower())), False),  # resources match case-sensitively
    ],
)
def test_policy_evaluation_follows_iam(document: dict[str, Any], allowed: bool) -> None:
    assert policy_allows(document, ARN) is allowed


def test_the_real_authorizer_policies_allow_what_they_mean() -> None:
    # Given the policies smscore.api.authorization returns for a full and a read-only member
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerResponse,
    )

    full = APIGatewayAuthorizerResponse.from_route_arn(ARN, principal_id="m")
    full.allow_all_routes()
    read_only = APIGatewayAuthorizerResponse.from_route_arn(ARN, principal_id="m")
    read_only.allow_route("GET", "*")
    get_arn = ARN.replace("POST", "GET").replace("sms/tags", "abc")
    # Then the full one opens every route, the read-only one only GETs
    assert policy_allows(full.asdict()["policyDocument"], ARN)
    assert policy_allows(read_only.asdict()["policyDocument"], get_arn)
    assert not policy_allows(read_only.asdict()["policyDocument"], ARN)


# ---------------------------------------------------------------------------------------------- routes
def test_routes_prefer_literal_segments_then_parameters_then_greedy() -> None:
    routes = [
        ApiRoute("ANY", "/{proxy+}", "Catch", authorized=True),
        ApiRoute("GET", "/api/messages/{messageId}", "One", authorized=True),
        ApiRoute("GET", "/api/messages/stats", "Stats", authorized=True),
    ]
    assert match_route(routes, "GET", "/api/messages/stats") == (routes[2], {})
    assert match_route(routes, "GET", "/api/messages/abc") == (routes[1], {"messageId": "abc"})
    assert match_route(routes, "POST", "/api/messages/abc") == (routes[0], {"proxy": "api/messages/abc"})
    assert match_route(routes[1:], "GET", "/api/messages/abc/def") is None
    assert match_route(routes[1:], "DELETE", "/api/messages/abc") is None


def test_method_arn_has_api_stage_method_and_path() -> None:
    assert method_arn("us-east-1", "123456789012", "local0api1", "dev", "POST", SEND_PATH) == ARN


# ---------------------------------------------------------------------------------------------- the gateway
class FakeFunctions:
    """Stands in for the Lambda runtime: function logical id -> handler, every invocation recorded."""

    def __init__(self, **handlers: Callable[[dict[str, Any]], Any]) -> None:
        self.handlers = handlers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, function_id: str, event: dict[str, Any]) -> Any:
        self.calls.append((function_id, event))
        return self.handlers[function_id](event)

    def called(self, function_id: str) -> list[dict[str, Any]]:
        return [event for fid, event in self.calls if fid == function_id]


def allow_all(event: dict[str, Any]) -> dict[str, Any]:
    prefix = event["methodArn"].split("/", 2)[0] + "/" + event["methodArn"].split("/")[1]
    return {
        "principalId": "member-1",
        "policyDocument": policy(statement("Allow", prefix + "/*")),
        "context": {"tenantId": "tenant-1", "memberId": "member-1", "access": "FULL"},
    }


def deny_posts(event: dict[str, Any]) -> dict[str, Any]:
    return {**allow_all(event), "policyDocument": policy(statement("Allow", "*"), statement("Deny", "*/POST/*"))}


def unauthorized(event: dict[str, Any]) -> Any:
    raise InvocationError("Unauthorized", "Unauthorized")


def created(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps({"ok": True}),
        "isBase64Encoded": False,
    }


@pytest.fixture(scope="module")
def config() -> ApiConfig:
    return api_config(Resolver(load_template(), LocalNames()))


BEARER = "Bearer sms_abc"


def post(token: str | None = BEARER, body: bytes = b"{}", path: str = SEND_PATH) -> HttpRequest:
    headers = [("Content-Type", "application/json"), ("User-Agent", "curl/8.5.0")]
    if token is not None:
        headers.append(("Authorization", token))
    return HttpRequest("POST", path, headers, [("dryRun", "1"), ("tag", "a"), ("tag", "b")], body, "203.0.113.10")


def template_body(config: ApiConfig, response_type: str) -> Any:
    template = config.responses[response_type].template
    assert template is not None
    return json.loads(template)


def test_the_template_declares_the_send_route_behind_the_token_authorizer(config: ApiConfig) -> None:
    assert ApiRoute("POST", SEND_PATH, "SendByTagsFunction", authorized=True) in config.routes
    assert config.authorizer_function == "AuthorizerFunction"
    assert config.identity_header == "Authorization"
    assert config.authorizer_ttl_seconds == int(load_template()["Parameters"]["AuthorizerCacheTtl"]["Default"])
    assert config.responses["UNAUTHORIZED"].status == 401


def test_no_token_is_401_without_calling_the_authorizer(config: ApiConfig) -> None:
    functions = FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=created)
    response = ApiGateway(config, functions).handle(post(token=None))
    assert response.status == 401
    assert response.json() == template_body(config, "UNAUTHORIZED")
    assert functions.calls == []


def test_an_authorizer_that_says_unauthorized_is_401(config: ApiConfig) -> None:
    functions = FakeFunctions(AuthorizerFunction=unauthorized, SendByTagsFunction=created)
    response = ApiGateway(config, functions).handle(post())
    assert response.status == 401
    assert response.json() == template_body(config, "UNAUTHORIZED")
    assert functions.called("SendByTagsFunction") == []


@pytest.mark.parametrize(
    "failure",
    [InvocationError("RuntimeError", "table missing"), InvocationTimeout("slow")],
)
def test_an_authorizer_that_fails_otherwise_is_500_authorizer_failure(config: ApiConfig, failure: Exception) -> None:
    def broken(event: dict[str, Any]) -> Any:
        raise failure

    response = ApiGateway(config, FakeFunctions(AuthorizerFunction=broken)).handle(post())
    assert response.status == 500
    assert response.json() == template_body(config, "AUTHORIZER_FAILURE")


def test_a_policy_without_principal_is_an_authorizer_configuration_error(config: ApiConfig) -> None:
    functions = FakeFunctions(AuthorizerFunction=lambda e: {"policyDocument": policy()})
    response = ApiGateway(config, functions).handle(post())
    assert response.status == 500
    assert response.json()["code"] == "INTERNAL_ERROR"  # DEFAULT_5XX: the template has no specific body


def test_a_denied_method_is_403_with_the_templates_access_denied_body(config: ApiConfig) -> None:
    functions = FakeFunctions(AuthorizerFunction=deny_posts, SendByTagsFunction=created)
    response = ApiGateway(config, functions).handle(post())
    assert response.status == 403
    assert response.json() == template_body(config, "ACCESS_DENIED")
    assert functions.called("SendByTagsFunction") == []


def test_an_allowed_request_reaches_the_function_as_a_rest_proxy_event(config: ApiConfig) -> None:
    # Given an authorizer that allows everything and a function that answers 201
    functions = FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=created)
    # When a request comes in
    response = ApiGateway(config, functions).handle(post(body=b'{"message": "hi"}'))
    # Then the authorizer saw a TOKEN event with this method's ARN
    (auth_event,) = functions.called("AuthorizerFunction")
    assert auth_event == {"type": "TOKEN", "authorizationToken": "Bearer sms_abc", "methodArn": ARN}
    # And the function got an event shaped like the recorded API Gateway event, carrying the policy's context
    (event,) = functions.called("SendByTagsFunction")
    recorded = load_event("apigw_send_by_tags.json")
    assert set(event) == set(recorded)
    assert set(event["requestContext"]) == set(recorded["requestContext"])
    assert set(event["requestContext"]["identity"]) == set(recorded["requestContext"]["identity"])
    assert event["resource"] == event["path"] == SEND_PATH
    assert event["httpMethod"] == "POST"
    assert event["body"] == '{"message": "hi"}'
    assert event["headers"]["Authorization"] == "Bearer sms_abc"
    assert event["multiValueHeaders"]["Authorization"] == ["Bearer sms_abc"]
    assert event["queryStringParameters"] == {"dryRun": "1", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"dryRun": ["1"], "tag": ["a", "b"]}
    assert event["pathParameters"] is None
    context = event["requestContext"]
    assert context["stage"] == "dev"
    assert context["path"] == "/dev" + SEND_PATH
    assert context["identity"]["sourceIp"] == "203.0.113.10"
    assert context["authorizer"]["tenantId"] == "tenant-1"
    assert context["authorizer"]["principalId"] == "member-1"
    # And its proxy response came back as HTTP, multi-value headers included
    assert response.status == 201
    assert response.json() == {"ok": True}
    assert ("Set-Cookie", "a=1") in response.headers
    assert ("Set-Cookie", "b=2") in response.headers
    assert ("Content-Type", "application/json") in response.headers


def test_policies_are_cached_per_token_for_the_ttl(config: ApiConfig) -> None:
    # Given a gateway with a controllable clock
    now = [1000.0]
    functions = FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=created)
    gateway = ApiGateway(config, functions, clock=lambda: now[0])
    # When one token calls twice within the TTL, and once after it
    gateway.handle(post())
    gateway.handle(post())
    now[0] += config.authorizer_ttl_seconds + 1
    gateway.handle(post())
    # Then the authorizer ran for the first and the third call only; another token is authorized on its own
    assert len(functions.called("AuthorizerFunction")) == 2
    gateway.handle(post(token="Bearer sms_other"))
    assert len(functions.called("AuthorizerFunction")) == 3
    assert len(functions.called("SendByTagsFunction")) == 4


def test_a_ttl_of_zero_authorizes_every_request(config: ApiConfig) -> None:
    functions = FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=created)
    gateway = ApiGateway(replace(config, authorizer_ttl_seconds=0), functions)
    gateway.handle(post())
    gateway.handle(post())
    assert len(functions.called("AuthorizerFunction")) == 2


def test_a_route_with_auth_none_skips_the_authorizer(config: ApiConfig) -> None:
    open_route = ApiRoute("POST", "/webhooks/{provider}", "HookFunction", authorized=False)
    functions = FakeFunctions(HookFunction=created)
    gateway = ApiGateway(replace(config, routes=[*config.routes, open_route]), functions)
    response = gateway.handle(post(token=None, path="/webhooks/twilio"))
    assert response.status == 201
    (event,) = functions.called("HookFunction")
    assert event["pathParameters"] == {"provider": "twilio"}
    assert event["resource"] == "/webhooks/{provider}"
    assert "authorizer" not in event["requestContext"]


def test_an_unknown_route_is_403_missing_authentication_token_through_default_4xx(config: ApiConfig) -> None:
    functions = FakeFunctions()
    response = ApiGateway(config, functions).handle(post(path="/api/nowhere"))
    assert response.status == 403
    assert response.json() == {"code": "BAD_REQUEST", "message": "Missing Authentication Token", "details": []}
    assert functions.calls == []


def test_a_body_over_10_mb_is_413_with_the_templates_body(config: ApiConfig) -> None:
    response = ApiGateway(config, FakeFunctions()).handle(post(body=b"x" * (MAX_PAYLOAD_BYTES + 1)))
    assert response.status == 413
    assert response.json() == template_body(config, "REQUEST_TOO_LARGE")


@pytest.mark.parametrize(
    "handler",
    [
        lambda e: (_ for _ in ()).throw(InvocationError("ValueError", "boom")),
        lambda e: {"body": "no status code"},
        lambda e: {"statusCode": 200, "body": {"not": "a string"}},
        lambda e: {"statusCode": 200, "unexpected": True},
    ],
    ids=["raised", "no-status", "body-not-string", "unknown-key"],
)
def test_a_failed_or_malformed_function_result_is_502(config: ApiConfig, handler: Callable[..., Any]) -> None:
    functions = FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=handler)
    response = ApiGateway(config, functions).handle(post())
    assert response.status == 502
    assert response.json() == {"code": "INTERNAL_ERROR", "message": "Internal server error", "details": []}


def test_a_function_timeout_is_504(config: ApiConfig) -> None:
    def slow(event: dict[str, Any]) -> Any:
        raise InvocationTimeout("29 s")

    response = ApiGateway(config, FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=slow)).handle(post())
    assert response.status == 504
    assert response.json()["message"] == "Endpoint request timed out"
