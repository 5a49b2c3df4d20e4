"""API Gateway (REST API, Lambda proxy integration, TOKEN authorizer) as the local stack plays it.

Everything comes from template.yaml: the routes of each function's Api events, the API's default
authorizer (its identity header, validation expression and result TTL), the stage, and the gateway
responses (status codes and JSON bodies). Like API Gateway, it answers 504 when an integration takes
longer than 29 s (the function keeps running until its own Timeout), and a function that fails or
times out before that is a 502.
`ApiGateway.handle` is plain Python over a small request/response pair so that its decisions (route
matching, authorizer call, policy evaluation, caching, proxy event, response mapping) can be tested
without sockets; `serve` puts it behind werkzeug.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from smsdev.admin_ui import is_admin_path, serve_admin
from smsdev.lambdas import InvocationError, InvocationTimeout
from smsdev.openapi_doc import DOCUMENT_PATH
from smsdev.template import Resolver, functions, resources_of_type
from smsdev.wsgi import BackgroundServer

log = logging.getLogger("smsdev.gateway")

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload quota
INTEGRATION_TIMEOUT_SECONDS = 29.0  # API Gateway's default (and, without a quota increase, largest) integration timeout
INVOKE_ACTION = "execute-api:Invoke"

# Status and message API Gateway uses for each response type when the API does not override them.
DEFAULT_RESPONSES: dict[str, tuple[int, str | None]] = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "User is not authorized to access this resource"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "AUTHORIZER_FAILURE": (500, None),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "INTEGRATION_FAILURE": (504, "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
    "LAMBDA_ERROR": (502, "Internal server error"),  # not a real type: a failed or malformed proxy integration
}


# ---------------------------------------------------------------------------------------------- IAM policy
def _wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM wildcards: `*` any run of characters (slashes and colons too), `?` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def policy_allows(policy_document: Mapping[str, Any], method_arn: str) -> bool:
    """IAM evaluation of an authorizer's policy for one method ARN: an explicit Deny wins, no Allow is a deny."""
    allowed = False
    for statement in _as_list(policy_document.get("Statement")):
        actions = _as_list(statement.get("Action"))
        if not any(_wildcard(str(a), ignore_case=True).fullmatch(INVOKE_ACTION) for a in actions):
            continue
        if not any(_wildcard(str(r)).fullmatch(method_arn) for r in _as_list(statement.get("Resource"))):
            continue
        effect = str(statement.get("Effect", ""))
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


def method_arn(region: str, account_id: str, api_id: str, stage: str, method: str, path: str) -> str:
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{method}{path}"


# ---------------------------------------------------------------------------------------------- routes
@dataclass(frozen=True)
class ApiRoute:
    method: str  # GET, POST, ... or ANY
    resource: str  # "/api/contacts/{contactId}", "/{proxy+}"
    function_id: str
    authorized: bool

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = []
        for segment in self.resource.strip("/").split("/"):
            greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
            param = re.fullmatch(r"\{(\w+)\}", segment)
            if greedy:
                parts.append(f"(?P<{greedy.group(1)}>.+)")
            elif param:
                parts.append(f"(?P<{param.group(1)}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        return re.compile("/" + "/".join(parts))

    @property
    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers literal segments over {param}, and {param} over {proxy+}."""
        segments = self.resource.strip("/").split("/")
        return (
            -sum(s.endswith("+}") for s in segments),
            -sum(s.startswith("{") for s in segments),
            len(segments),
        )


def match_route(routes: list[ApiRoute], method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
    for route in sorted(routes, key=lambda r: r.specificity, reverse=True):
        found = route.pattern.fullmatch(path)
        if found and route.method in (method, "ANY"):
            return route, dict(found.groupdict())
    return None


# ---------------------------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class GatewayResponse:
    status: int | None
    template: str | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiConfig:
    api_id: str
    stage: str
    region: str
    account_id: str
    routes: list[ApiRoute]
    authorizer_function: str | None  # logical id of the TOKEN authorizer's function
    identity_header: str
    identity_validation: str | None  # the authorizer's ValidationExpression: a token that fails it is a 401
    authorizer_ttl_seconds: int
    responses: dict[str, GatewayResponse]
    function_names: dict[str, str]  # logical id -> physical name
    binary_media_types: tuple[str, ...] = ()  # BinaryMediaTypes ("text/csv"): such bodies reach the function base64


def authorizer_function_id(arn: Any) -> str:
    """The logical id behind the authorizer's FunctionArn: `!GetAtt F.Arn`, or `!Ref F.Alias` (the deployed
    authorizer is invoked through its alias, docs/operations.md#safe-deploys; locally there is one version)."""
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        return str(arn["Fn::GetAtt"][0])
    if isinstance(arn, dict) and "Ref" in arn:
        return str(arn["Ref"]).removesuffix(".Alias")
    return str(arn)


def api_config(resolver: Resolver, api_id: str = "local0api1") -> ApiConfig:
    """The REST API as template.yaml declares it (one AWS::Serverless::Api)."""
    (_api_id, api), *_ = resources_of_type("AWS::Serverless::Api", resolver.template).items()
    props = api["Properties"]
    auth = props.get("Auth", {})
    default = auth.get("DefaultAuthorizer")
    authorizer_function, header, ttl, validation = None, "Authorization", 300, None
    if default and default != "NONE":
        spec = auth["Authorizers"][default]
        arn = spec["FunctionArn"]
        authorizer_function = authorizer_function_id(arn)
        identity = spec.get("Identity", {})
        header = identity.get("Header", header)
        validation = identity.get("ValidationExpression")
        ttl = int(resolver.resolve(identity.get("ReauthorizeEvery", ttl)))
    responses = {}
    for response_type, spec in resolver.resolve(props.get("GatewayResponses", {})).items():
        templates = spec.get("ResponseTemplates", {})
        headers = {k: str(v).strip("'") for k, v in spec.get("ResponseParameters", {}).get("Headers", {}).items()}
        responses[response_type] = GatewayResponse(
            status=int(spec["StatusCode"]) if "StatusCode" in spec else None,
            template=templates.get("application/json"),
            headers=headers,
        )
    specs = functions(resolver)
    return ApiConfig(
        api_id=api_id,
        stage=str(resolver.resolve(props.get("StageName", "Prod"))),
        region=resolver.names.region,
        account_id=resolver.names.account_id,
        routes=[ApiRoute(r.method, r.path, r.function_id, r.authorized) for s in specs.values() for r in s.routes],
        authorizer_function=authorizer_function,
        identity_header=header,
        identity_validation=validation,
        authorizer_ttl_seconds=ttl,
        responses=responses,
        function_names={logical_id: resolver.names.physical(logical_id) for logical_id in specs},
        binary_media_types=tuple(str(t).replace("~1", "/").lower() for t in props.get("BinaryMediaTypes", [])),
    )


# ---------------------------------------------------------------------------------------------- HTTP in/out
@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: list[tuple[str, str]]
    query: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    scheme: str = "https"  # what the client used: API Gateway passes it on as X-Forwarded-Proto


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _CachedPolicy:
    principal_id: str
    policy_document: dict[str, Any]
    context: dict[str, str]
    expires_at: float


class AuthorizerCache:
    """Policies by token for the TTL; API Gateway evaluates a cached policy against every later method ARN."""

    def __init__(self, ttl_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: dict[str, _CachedPolicy] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> _CachedPolicy | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is not None and entry.expires_at <= self._clock():
                del self._entries[token]
                entry = None
            return entry

    def put(self, token: str, principal_id: str, document: dict[str, Any], context: dict[str, str]) -> _CachedPolicy:
        entry = _CachedPolicy(principal_id, document, context, self._clock() + self.ttl_seconds)
        if self.ttl_seconds > 0:
            with self._lock:
                self._entries[token] = entry
        return entry


class AuthorizerConfigurationError(Exception):
    """The authorizer returned something API Gateway cannot use (no principal, no policy, nested context)."""


def _policy_from(result: Any) -> tuple[str, dict[str, Any], dict[str, str]]:
    if not isinstance(result, dict) or not isinstance(result.get("policyDocument"), dict):
        raise AuthorizerConfigurationError("the authorizer returned no policyDocument")
    principal = result.get("principalId")
    if not isinstance(principal, str) or not principal:
        raise AuthorizerConfigurationError("the authorizer returned no principalId")
    context: dict[str, str] = {}
    for key, value in (result.get("context") or {}).items():
        if isinstance(value, bool):
            context[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            context[key] = str(value)
        elif value is not None:
            raise AuthorizerConfigurationError(f"context value {key!r} is not a string, number or boolean")
    return principal, result["policyDocument"], context


Invoke = Callable[[str, dict[str, Any]], Any]


class IntegrationTimeout(Exception):
    """The integration did not answer within the gateway's timeout (the function may still be running)."""


class ApiGateway:
    def __init__(
        self,
        config: ApiConfig,
        invoke: Invoke,
        clock: Callable[[], float] = time.monotonic,
        integration_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        self.config = config
        self._invoke = invoke
        self.cache = AuthorizerCache(config.authorizer_ttl_seconds, clock)
        self.integration_timeout_seconds = integration_timeout_seconds
        self._token_format = re.compile(config.identity_validation) if config.identity_validation else None
        # Integrations run here so that the gateway can stop waiting at its timeout while the function runs on.
        self._integrations = ThreadPoolExecutor(max_workers=64, thread_name_prefix="integration")

    def close(self) -> None:
        self._integrations.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ gateway responses
    def gateway_response(self, response_type: str, request_id: str, message: str | None = None) -> HttpResponse:
        """A gateway response as the deployed API renders it: the API's own type, else DEFAULT_4XX/5XX, else AWS's."""
        default_status, default_message = DEFAULT_RESPONSES[response_type]
        message = default_message if message is None else message
        aws_type = "DEFAULT_5XX" if response_type == "LAMBDA_ERROR" else response_type
        custom = self.config.responses.get(aws_type)
        family = "DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX"
        fallback = self.config.responses.get(family)
        status = (custom.status if custom and custom.status else None) or default_status
        template = (custom.template if custom else None) or (fallback.template if fallback else None)
        headers = {**(fallback.headers if fallback else {}), **(custom.headers if custom else {})}
        if template is None:
            body = json.dumps({"message": message})
        else:
            body = (
                template.replace("$context.error.messageString", json.dumps(message))
                .replace("$context.error.message", "" if message is None else message)
                .replace("$context.error.responseType", aws_type)
                .replace("$context.requestId", request_id)
            )
        return HttpResponse(
            status,
            [("Content-Type", "application/json"), ("x-amzn-ErrorType", _error_type(aws_type)), *headers.items()],
            body.encode(),
        )

    # ------------------------------------------------------------------ request flow
    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return self.gateway_response("REQUEST_TOO_LARGE", request_id)
        path = route_path(self.config, request.path)
        matched = match_route(self.config.routes, request.method, path)
        if matched is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", request_id)
        route, path_parameters = matched
        config = self.config
        arn = method_arn(config.region, config.account_id, config.api_id, config.stage, request.method, path)
        authorizer_context: dict[str, Any] | None = None
        if route.authorized and self.config.authorizer_function:
            decision = self._authorize(request, arn, request_id)
            if isinstance(decision, HttpResponse):
                return decision
            authorizer_context = decision
        event = proxy_event(self.config, request, route, path_parameters, authorizer_context, request_id, started)
        try:
            result = self._integrate(route.function_id, event)
        except IntegrationTimeout:
            log.error("%s: no answer within %.0f s: 504", route.function_id, self.integration_timeout_seconds)
            return self.gateway_response("INTEGRATION_TIMEOUT", request_id)
        except InvocationTimeout as exc:
            log.error("%s: %s", route.function_id, exc)
            return self.gateway_response("LAMBDA_ERROR", request_id)
        except InvocationError as exc:
            log.error("%s failed: %s\n%s", route.function_id, exc, "".join(exc.stack_trace).rstrip())
            return self.gateway_response("LAMBDA_ERROR", request_id)
        response = proxy_response(result)
        if response is None:
            log.error("%s returned a malformed proxy response", route.function_id)
            return self.gateway_response("LAMBDA_ERROR", request_id)
        return HttpResponse(
            response.status,
            [*response.headers, ("x-amzn-RequestId", request_id)],
            response.body,
        )

    def _integrate(self, function_id: str, event: dict[str, Any]) -> Any:
        """The function's result, or IntegrationTimeout once the gateway stops waiting for it."""
        future = self._integrations.submit(self._invoke, function_id, event)
        try:
            return future.result(timeout=self.integration_timeout_seconds)
        except FutureTimeout as exc:
            raise IntegrationTimeout(function_id) from exc

    def _authorize(self, request: HttpRequest, arn: str, request_id: str) -> dict[str, Any] | HttpResponse:
        """The requestContext.authorizer for this request, or the gateway response that ends it."""
        token = _header(request.headers, self.config.identity_header)
        if not token:
            return self.gateway_response("UNAUTHORIZED", request_id)
        if self._token_format is not None and self._token_format.fullmatch(token) is None:
            return self.gateway_response("UNAUTHORIZED", request_id)  # the authorizer is not invoked
        started = time.monotonic()
        cached = self.cache.get(token)
        if cached is None:
            event = {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}
            try:
                result = self._invoke(self.config.authorizer_function or "", event)
            except InvocationError as exc:
                if exc.error_message == "Unauthorized":  # API Gateway's contract for a TOKEN authorizer's 401
                    log.debug("authorizer: Unauthorized")  # expected: the request line says 401, no traceback
                    return self.gateway_response("UNAUTHORIZED", request_id)
                log.error("authorizer failed: %s\n%s", exc, "".join(exc.stack_trace).rstrip())
                return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", request_id)
            except InvocationTimeout as exc:
                log.error("authorizer: %s", exc)
                return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", request_id)
            try:
                principal, document, context = _policy_from(result)
            except AuthorizerConfigurationError as exc:
                log.error("authorizer configuration error: %s", exc)
                return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", request_id)
            cached = self.cache.put(token, principal, document, context)
        if not policy_allows(cached.policy_document, arn):
            return self.gateway_response("ACCESS_DENIED", request_id)
        latency = int((time.monotonic() - started) * 1000)
        return {**cached.context, "principalId": cached.principal_id, "integrationLatency": latency}


def _error_type(response_type: str) -> str:
    return {
        "UNAUTHORIZED": "UnauthorizedException",
        "ACCESS_DENIED": "AccessDeniedException",
        "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
        "AUTHORIZER_FAILURE": "AuthorizerFailureException",
        "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
        "REQUEST_TOO_LARGE": "RequestTooLargeException",
    }.get(response_type, "InternalServerErrorException")


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    found = None
    for key, value in headers:
        if key.lower() == name.lower():
            found = value
    return found


def route_path(config: ApiConfig, called_path: str) -> str:
    """The path without the stage: `/dev/api/x` as on an execute-api URL, or `/api/x` as on a custom domain."""
    prefix = f"/{config.stage}/"
    return called_path[len(prefix) - 1 :] if called_path.startswith(prefix) else called_path


def proxy_event(
    config: ApiConfig,
    request: HttpRequest,
    route: ApiRoute,
    path_parameters: dict[str, str],
    authorizer: dict[str, Any] | None,
    request_id: str,
    started: float,
) -> dict[str, Any]:
    """The Lambda proxy integration event (REST API, payload format 1.0) for this request.

    As on API Gateway: Host passes through, X-Forwarded-Proto/Port are what the client really used (never what
    it claimed), the client's address is appended to X-Forwarded-For, `path` is the resource path without the
    stage and `requestContext.path` the path as called, so a function can rebuild the URL the client called.
    """
    now = datetime.now(UTC)
    host = _header(request.headers, "Host") or "127.0.0.1"
    _, colon, port = host.rpartition(":")
    claimed_for = _header(request.headers, "X-Forwarded-For")
    forwarded = {
        "X-Forwarded-For": f"{claimed_for}, {request.source_ip}" if claimed_for else request.source_ip,
        "X-Forwarded-Port": port if colon and port.isdigit() else ("443" if request.scheme == "https" else "80"),
        "X-Forwarded-Proto": request.scheme,
    }
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for key, value in request.headers:
        if key.lower() in {k.lower() for k in forwarded}:
            continue
        headers[key] = value
        multi_headers.setdefault(key, []).append(value)
    trace = {"X-Amzn-Trace-Id": f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}"}
    for key, value in {**forwarded, **trace}.items():
        if key.lower() not in {k.lower() for k in headers}:
            headers[key] = value
            multi_headers[key] = [value]
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in request.query:
        query[key] = value
        multi_query.setdefault(key, []).append(value)
    user_agent = _header(request.headers, "User-Agent")
    path = route_path(config, request.path)
    request_context: dict[str, Any] = {
        "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, route.resource).hex[:6],
        "resourcePath": route.resource,
        "httpMethod": request.method,
        "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:10]).decode(),
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "path": request.path,
        "accountId": config.account_id,
        "protocol": "HTTP/1.1",
        "stage": config.stage,
        "domainPrefix": host.split(".")[0].split(":")[0],
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "requestId": request_id,
        "identity": {
            "cognitoIdentityPoolId": None,
            "accountId": None,
            "cognitoIdentityId": None,
            "caller": None,
            "sourceIp": request.source_ip,
            "principalOrgId": None,
            "accessKey": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            "userArn": None,
            "userAgent": user_agent,
            "user": None,
        },
        "domainName": host,
        "apiId": config.api_id,
    }
    if authorizer is not None:
        request_context["authorizer"] = authorizer
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": request_context,
        **proxy_body(config, request),
    }


def proxy_body(config: ApiConfig, request: HttpRequest) -> dict[str, Any]:
    """The body as API Gateway hands it on: base64 for a binary media type (the bytes intact, e.g. a Windows-1252
    CSV), otherwise as UTF-8 text, with U+FFFD where bytes are not UTF-8."""
    if not request.body:
        return {"body": None, "isBase64Encoded": False}
    media_type = (_header(request.headers, "Content-Type") or "").split(";", 1)[0].strip().lower()
    if media_type and media_type in config.binary_media_types:
        return {"body": base64.b64encode(request.body).decode("ascii"), "isBase64Encoded": True}
    return {"body": request.body.decode("utf-8", errors="replace"), "isBase64Encoded": False}


def proxy_response(result: Any) -> HttpResponse | None:
    """The HTTP response a Lambda proxy result stands for; None when API Gateway would call it malformed."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return None
    allowed = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if set(result) - allowed:
        return None
    headers: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    for key, values in multi.items():
        headers.extend((key, str(v)) for v in values)
    for key, value in (result.get("headers") or {}).items():
        if key not in multi:
            headers.append((key, str(value)))
    body = result.get("body") or ""
    if not isinstance(body, str):
        return None
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return HttpResponse(result["statusCode"], headers, raw)


# ---------------------------------------------------------------------------------------------- werkzeug
OPENAPI_ROUTE = "/api/openapi.json"


class GatewayServer(BackgroundServer):
    """ApiGateway on http://host:port, one thread per connection (handlers run in Lambda environments)."""

    def __init__(
        self, gateway: ApiGateway, port: int, host: str = "127.0.0.1", aws_endpoint: str | None = None
    ) -> None:
        super().__init__(port, host, name="api-gateway")
        self.gateway = gateway
        self.aws_endpoint = aws_endpoint  # where the admin page's presigned uploads go (its CSP names it)

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = WerkzeugRequest(environ)
        if is_admin_path(request.path):  # the admin SPA's static files, on the API's origin (as CloudFront does)
            return serve_admin(environ, start_response, self.aws_endpoint)
        if request.method == "GET" and request.path == OPENAPI_ROUTE:
            # The checked-in document (generated from the handlers' models), served like a static asset.
            document = WerkzeugResponse(DOCUMENT_PATH.read_bytes(), status=200, content_type="application/json")
            return document(environ, start_response)
        body = request.get_data(cache=False)
        started = time.monotonic()
        response = self.gateway.handle(
            HttpRequest(
                method=request.method.upper(),
                path=request.path,
                headers=list(request.headers.items()),
                query=list(request.args.items(multi=True)),
                body=body,
                source_ip=request.remote_addr or "127.0.0.1",
                scheme=request.scheme,
            )
        )
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info("%s %s -> %d (%.0f ms)", request.method, request.path, response.status, elapsed_ms)
        out = WerkzeugResponse(response.body, status=response.status)
        out.headers.clear()
        for key, value in response.headers:
            out.headers.add(key, value)
        return out(environ, start_response)

    def start(self) -> None:
        self.serve(self._wsgi)

    def stop(self) -> None:
        super().stop()
        self.gateway.close()
