"""The local API Gateway's decisions, on the real template's API and fake functions (no sockets, no processes)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from smscore.domain.auth import issue_token
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


BEARER = "Bearer sms_" + "a" * 43  # the shape of an issued token: "sms_" + token_urlsafe(32)
OTHER_BEARER = "Bearer sms_" + "b" * 43


def post(
    token: str | None = BEARER,
    body: bytes = b"{}",
    path: str = SEND_PATH,
    extra_headers: list[tuple[str, str]] | None = None,
    scheme: str = "https",
) -> HttpRequest:
    headers = [("Content-Type", "application/json"), ("User-Agent", "curl/8.5.0"), *(extra_headers or [])]
    if token is not None:
        headers.append(("Authorization", token))
    query = [("dryRun", "1"), ("tag", "a"), ("tag", "b")]
    return HttpRequest("POST", path, headers, query, body, "203.0.113.10", scheme)


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
    [InvocationError("RuntimeError", "table missing"), InvocationTimeout("Task timed out after 10.00 seconds")],
    ids=["crash", "timeout"],
)
def test_an_authorizer_that_crashes_is_the_documented_500_authorizer_failure(
    config: ApiConfig, failure: Exception
) -> None:
    # Given an authorizer function that raises something other than "Unauthorized", or times out
    def broken(event: dict[str, Any]) -> Any:
        raise failure

    functions = FakeFunctions(AuthorizerFunction=broken, SendByTagsFunction=created)
    # When a request comes in
    response = ApiGateway(config, functions).handle(post())
    # Then API Gateway's AUTHORIZER_CONFIGURATION_ERROR, rendered with the documented AUTHORIZER_FAILURE body
    assert response.status == 500
    assert response.json() == template_body(config, "AUTHORIZER_CONFIGURATION_ERROR")
    assert response.json()["code"] == "AUTHORIZER_FAILURE"
    assert ("x-amzn-ErrorType", "AuthorizerConfigurationException") in response.headers
    assert functions.called("SendByTagsFunction") == []


def test_a_policy_without_principal_is_an_authorizer_configuration_error(config: ApiConfig) -> None:
    functions = FakeFunctions(AuthorizerFunction=lambda e: {"policyDocument": policy()})
    response = ApiGateway(config, functions).handle(post())
    assert response.status == 500
    assert response.json()["code"] == "AUTHORIZER_FAILURE"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer sms_abc",  # too short
        "Bearer sms_" + "a" * 44,  # too long
        "bearer sms_" + "a" * 43,  # the scheme exactly as documented
        "Bearer  sms_" + "a" * 43,
        "Bearer sms_" + "a" * 42 + "+",  # not base64url
        "Bearer " + "a" * 47,  # no prefix
        "Token sms_" + "a" * 43,
        "Bearer sms_" + "a" * 43 + ", Bearer sms_" + "b" * 43,
    ],
)
def test_a_malformed_token_is_401_without_invoking_the_authorizer(config: ApiConfig, authorization: str) -> None:
    # Given the template's identity validation expression
    functions = FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=created)
    # When a token that cannot have been issued comes in
    response = ApiGateway(config, functions).handle(post(token=authorization))
    # Then API Gateway itself answers 401, and no function ran
    assert response.status == 401
    assert response.json() == template_body(config, "UNAUTHORIZED")
    assert functions.calls == []


def test_every_issued_token_passes_the_identity_validation_expression(config: ApiConfig) -> None:
    functions = FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=created)
    gateway = ApiGateway(replace(config, authorizer_ttl_seconds=0), functions)
    tokens = [issue_token().token for _ in range(200)]
    assert all(gateway.handle(post(token=f"Bearer {token}")).status == 201 for token in tokens)
    assert len(functions.called("AuthorizerFunction")) == len(tokens)


def test_an_expected_401_logs_one_line_and_a_crash_logs_its_stack_trace(
    config: ApiConfig, caplog: pytest.LogCaptureFixture
) -> None:
    stack = ("Traceback (most recent call last):\n", '  File "app.py", line 1\n', "KeyError: 'table'\n")

    def crash(event: dict[str, Any]) -> Any:
        raise InvocationError("KeyError", "'table'", stack)

    caplog.set_level(logging.DEBUG, logger="smsdev.gateway")
    # When the authorizer refuses a token
    ApiGateway(config, FakeFunctions(AuthorizerFunction=unauthorized)).handle(post())
    # Then nothing above DEBUG is logged, and no stack trace at all
    assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []
    assert "Traceback" not in caplog.text
    # When it crashes instead
    caplog.clear()
    ApiGateway(config, FakeFunctions(AuthorizerFunction=crash)).handle(post())
    # Then one error carries the function's stack trace
    (error,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "KeyError: 'table'" in error.getMessage()
    assert "Traceback" in error.getMessage()


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
    assert auth_event == {"type": "TOKEN", "authorizationToken": BEARER, "methodArn": ARN}
    # And the function got an event shaped like the recorded API Gateway event, carrying the policy's context
    (event,) = functions.called("SendByTagsFunction")
    recorded = load_event("apigw_send_by_tags.json")
    assert set(event) == set(recorded)
    assert set(event["requestContext"]) == set(recorded["requestContext"])
    assert set(event["requestContext"]["identity"]) == set(recorded["requestContext"]["identity"])
    assert event["resource"] == event["path"] == SEND_PATH
    assert event["httpMethod"] == "POST"
    assert event["body"] == '{"message": "hi"}'
    assert event["headers"]["Authorization"] == BEARER
    assert event["multiValueHeaders"]["Authorization"] == [BEARER]
    assert event["queryStringParameters"] == {"dryRun": "1", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"dryRun": ["1"], "tag": ["a", "b"]}
    assert event["pathParameters"] is None
    context = event["requestContext"]
    assert context["stage"] == "dev"
    assert context["path"] == SEND_PATH  # as called: no stage in the URL, as on a custom domain
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
    gateway.handle(post(token=OTHER_BEARER))
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


def test_a_function_that_times_out_before_the_gateway_is_502(config: ApiConfig) -> None:
    # Lambda ends the invocation with "Task timed out": for API Gateway that is a failed integration
    def slow(event: dict[str, Any]) -> Any:
        raise InvocationTimeout("Task timed out after 10.00 seconds")

    response = ApiGateway(config, FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=slow)).handle(post())
    assert response.status == 502
    assert response.json() == {"code": "INTERNAL_ERROR", "message": "Internal server error", "details": []}


def test_no_answer_within_the_integration_timeout_is_504_with_the_templates_body(config: ApiConfig) -> None:
    # Given a function still running when the gateway's integration timeout (29 s on AWS; 0.2 s here) runs out
    release = threading.Event()

    def still_running(event: dict[str, Any]) -> Any:
        release.wait(10)
        return created(event)

    functions = FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=still_running)
    gateway = ApiGateway(config, functions, integration_timeout_seconds=0.2)
    # When a request comes in
    response = gateway.handle(post())
    release.set()
    gateway.close()
    # Then 504 with the template's INTEGRATION_TIMEOUT body and its stable code
    assert response.status == 504
    assert response.json() == template_body(config, "INTEGRATION_TIMEOUT")
    assert response.json()["code"] == "GATEWAY_TIMEOUT"


def test_the_stage_prefixed_url_reaches_the_same_route_with_the_path_as_called(config: ApiConfig) -> None:
    # Given the execute-api form of the URL (https://{api}.execute-api.{region}.amazonaws.com/{stage}/...)
    functions = FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=created)
    response = ApiGateway(config, functions).handle(post(path="/dev" + SEND_PATH))
    # Then the route and method ARN are the stage-less ones, and requestContext.path keeps the stage
    assert response.status == 201
    (auth_event,) = functions.called("AuthorizerFunction")
    assert auth_event["methodArn"] == ARN
    (event,) = functions.called("SendByTagsFunction")
    assert event["path"] == SEND_PATH
    assert event["requestContext"]["path"] == "/dev" + SEND_PATH


def test_forwarded_headers_say_what_the_client_really_used(config: ApiConfig) -> None:
    # Given a plain-HTTP request to 127.0.0.1:3411 that claims to have come over https
    functions = FakeFunctions(AuthorizerFunction=allow_all, SendByTagsFunction=created)
    claimed = [("Host", "127.0.0.1:3411"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-For", "198.51.100.7")]
    ApiGateway(config, functions).handle(post(extra_headers=claimed, scheme="http"))
    # Then the function sees the real scheme and port, the Host as sent, and the client's address appended
    (event,) = functions.called("SendByTagsFunction")
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["multiValueHeaders"]["X-Forwarded-Proto"] == ["http"]
    assert event["headers"]["X-Forwarded-Port"] == "3411"
    assert event["headers"]["X-Forwarded-For"] == "198.51.100.7, 203.0.113.10"
    assert event["headers"]["Host"] == "127.0.0.1:3411"
    assert event["requestContext"]["domainName"] == "127.0.0.1:3411"
