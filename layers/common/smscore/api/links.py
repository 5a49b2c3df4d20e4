"""The API's public URL as a request reached it: the base of tracked short links when LinkBaseUrl is not set."""

from __future__ import annotations

from typing import Any


def public_api_url(event: Any) -> str:
    """`proto://host/stage` from API Gateway's proxy event (Powertools' APIGatewayProxyEvent): the Host header
    (API Gateway routes by it, so it is the API's own or its custom domain's), X-Forwarded-Proto, and the stage
    prefix of the path as called (`/dev/api/...` on an execute-api URL, none on a custom domain)."""
    proto = event.headers.get("X-Forwarded-Proto") or "https"
    host = event.headers.get("Host") or event.request_context.domain_name or ""
    if not host:
        return ""
    called = event.request_context.path or event.path or ""
    resource = event.path or ""
    prefix = called[: -len(resource)] if resource and called.endswith(resource) else ""
    return f"{proto}://{host}{prefix}"
