"""Request guards that must run before Powertools parses and validates a body."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from smscore.api.errors import domain_error_response
from smscore.domain.errors import DomainError, PayloadTooLarge, UnsupportedMediaType

Handler = TypeVar("Handler", bound=Callable[[dict[str, Any], Any], dict[str, Any]])


def _header(event: dict[str, Any], name: str) -> str:
    headers = event.get("headers") or {}
    return next((str(value) for key, value in headers.items() if key.lower() == name), "")


def check_json_body(event: dict[str, Any], max_bytes: int) -> None:
    """A JSON API refuses other media types (415) and oversized bodies (413) up front.

    Powertools' request validation runs before any resolver middleware and would try form or multipart parsing
    on other content types, failing with a 5xx on a malformed multipart header.
    """
    body = event.get("body")
    if not body:
        return
    content_type = _header(event, "content-type").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"Send the body as application/json, not {content_type}")
    if len(body.encode()) > max_bytes:
        raise PayloadTooLarge(f"Request body is larger than {max_bytes} bytes")


def json_body_guard(max_bytes: Callable[[], int]) -> Callable[[Handler], Handler]:
    """Decorate a REST proxy handler so that unreadable bodies get their JSON error before routing."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def guarded(event: dict[str, Any], context: Any) -> dict[str, Any]:
            try:
                check_json_body(event, max_bytes())
            except DomainError as refused:
                response = domain_error_response(refused)
                return {
                    "statusCode": response.status_code,
                    "headers": {"Content-Type": "application/json"},
                    "multiValueHeaders": {"Content-Type": ["application/json"]},
                    "body": response.body,
                    "isBase64Encoded": False,
                }
            return handler(event, context)

        return guarded  # type: ignore[return-value]

    return decorate
