"""Lambda function URLs (`FunctionUrlConfig` in template.yaml) as the local stack plays them.

On AWS a function URL is its own origin, `https://<url-id>.lambda-url.<region>.on.aws/`, that invokes the function
with the payload format 2.0 event (rawPath, rawQueryString, lower-case headers, a base64 body unless it is text)
and maps its result back: a dict with `statusCode` as given, anything else as a 200 JSON body. Locally each one is
its own server on a free port, so its URL is known before any function environment is built: a function that
names another's URL (`!GetAtt <Function>Url.FunctionUrl`, e.g. the Twilio StatusCallback URL the deliver function
sends) gets the local one. Only `AuthType: NONE` is served (an IAM-signed URL has nothing to check it locally).
[Function URLs: https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html]
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from smsdev.lambdas import InvocationError, InvocationTimeout
from smsdev.wsgi import BackgroundServer

log = logging.getLogger("smsdev.function_urls")

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # a synchronous invocation's request payload quota
# Bodies of these media types reach the function as text; any other body is base64 (isBase64Encoded).
TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml")


def url_functions(template: dict[str, Any]) -> list[str]:
    """Logical ids of the functions with a function URL (AuthType NONE), in template order."""
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        config = resource.get("Properties", {}).get("FunctionUrlConfig")
        if config is None:
            continue
        if config.get("AuthType") != "NONE":
            raise ValueError(f"{logical_id}: only FunctionUrlConfig AuthType NONE is served locally")
        found.append(logical_id)
    return found


def url_event(
    request: WerkzeugRequest, body: bytes, function_name: str, account_id: str, region: str
) -> dict[str, Any]:
    """The payload format 2.0 event a function URL hands its function for this request."""
    now = datetime.now(UTC)
    host = request.host or "127.0.0.1"
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        name = key.lower()
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    headers["x-forwarded-proto"] = request.scheme
    headers["x-forwarded-for"] = request.remote_addr or "127.0.0.1"
    query: dict[str, str] = {}
    for key, value in request.args.items(multi=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    media_type = (request.mimetype or "").lower()
    text = not body or media_type.startswith(TEXT_TYPES)
    request_id = str(uuid.uuid4())
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode("latin-1"),
        "headers": headers,
        **({"queryStringParameters": query} if query else {}),
        "requestContext": {
            "accountId": "anonymous",
            "apiId": function_name,
            "domainName": host,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "http": {
                "method": request.method.upper(),
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": (body.decode("utf-8", errors="replace") if text else base64.b64encode(body).decode("ascii")) or None,
        "isBase64Encoded": not text,
    }


def url_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """What a function URL answers for a result: a dict with statusCode as given, anything else as 200 JSON."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return 200, [("Content-Type", "application/json")], json.dumps(result).encode()
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, raw


Invoke = Callable[[str, dict[str, Any]], Any]


class FunctionUrlServer(BackgroundServer):
    """One function's URL on http://host:port/ (port 0: any free one), invoking it through `invoke`, which may be
    bound after the server starts (the local runtime needs the URL in other functions' environments first)."""

    def __init__(
        self, function_id: str, function_name: str, account_id: str, region: str, port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        super().__init__(port, host, name=f"function-url-{function_id}")
        self.function_id = function_id
        self.function_name = function_name
        self.account_id = account_id
        self.region = region
        self.invoke: Invoke | None = None

    @property
    def function_url(self) -> str:
        return f"{self.url}/"  # AWS's FunctionUrl ends with a slash too

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = WerkzeugRequest(environ)
        body = request.get_data(cache=False)
        started = time.monotonic()
        status, headers, raw = self._answer(request, body)
        log.info(
            "%s %s%s -> %d (%.0f ms)",
            request.method,
            self.function_id,
            request.path,
            status,
            (time.monotonic() - started) * 1000,
        )
        out = WerkzeugResponse(raw, status=status)
        out.headers.clear()
        for key, value in headers:
            out.headers.add(key, value)
        return out(environ, start_response)

    def _answer(self, request: WerkzeugRequest, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        error = [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InternalServerErrorException")]
        if len(body) > MAX_PAYLOAD_BYTES:
            return 413, error, json.dumps({"Message": "Request must be smaller than 6291456 bytes"}).encode()
        if self.invoke is None:
            return 503, error, json.dumps({"Message": "Service Unavailable"}).encode()
        event = url_event(request, body, self.function_name, self.account_id, self.region)
        try:
            result = self.invoke(self.function_id, event)
        except (InvocationError, InvocationTimeout) as exc:
            log.error("%s failed: %s", self.function_id, exc)
            return 502, error, json.dumps({"Message": "Internal Server Error"}).encode()
        return url_response(result)

    def start(self) -> None:
        self.serve(self._wsgi)
