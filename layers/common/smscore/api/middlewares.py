"""Request guards that must run before Powertools parses and validates a body.

Powertools parses a JSON body with `json.loads` as soon as a route has a body parameter, and catches only
`JSONDecodeError`: a body nested 10,000 levels deep (`RecursionError`) or an integer of 4,301 digits (Python's
int-digits `ValueError`) escapes as a 5xx. Media types are case-insensitive, so `APPLICATION/JSON` and
`application/vnd.x+json` are JSON, but Powertools compares them case-sensitively and answers its own 415 shape.
So every body is checked here first, and a JSON media type is handed on as plain `application/json`.

Every body must be UTF-8 (smscore.domain.encoding, the rule uploads follow too): API Gateway hands a function the
bytes `Mar\\xeda` as the text `Mar\\ufffda`, so a body holding U+FFFD, or bytes that are not UTF-8 when the body
comes base64-encoded, is a 400 naming the byte offset (`byteOffset`) instead of text stored with a character lost.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from smscore.api.errors import PayloadTooLarge, UnsupportedMediaType, domain_error_response
from smscore.domain.encoding import UndecodableText, decode_text
from smscore.domain.errors import DomainError, FieldIssue, InvalidRequest

Handler = TypeVar("Handler", bound=Callable[[dict[str, Any], Any], dict[str, Any]])

JSON = "application/json"
# Deeper than any body of this API, far below Python's recursion limit.
MAX_JSON_DEPTH = 32
# Longer than any number a field of this API accepts, far below Python's 4,300-digit int limit.
MAX_NUMBER_DIGITS = 64

# RFC 9110 media type: type "/" subtype, both tokens.
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(rf"^{_TCHARS}/{_TCHARS}$")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_LONG_NUMBER = re.compile(rf"\d{{{MAX_NUMBER_DIGITS + 1},}}")


def media_type(content_type: str) -> str:
    """The media type of a Content-Type value, lowercased; '' when it is not `type/subtype`."""
    candidate = content_type.split(";", 1)[0].strip().lower()
    return candidate if _MEDIA_TYPE.match(candidate) else ""


def is_json(media: str) -> bool:
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


def check_json_shape(body: str) -> None:
    """Refuse what json.loads cannot take safely: nesting past MAX_JSON_DEPTH, numbers past MAX_NUMBER_DIGITS.

    Strings are blanked first, so brackets and digits inside them do not count. Malformed JSON is left to the
    parser, which reports it as a 400 on its own.
    """
    outside_strings = _JSON_STRING.sub('""', body)
    depth = 0
    for bracket in _BRACKET.finditer(outside_strings):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise InvalidRequest(
                f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels",
                details=[FieldIssue("body", f"at most {MAX_JSON_DEPTH} levels of nesting")],
            )
    if _LONG_NUMBER.search(outside_strings):
        raise InvalidRequest(
            f"The JSON body has a number longer than {MAX_NUMBER_DIGITS} digits",
            details=[FieldIssue("body", f"numbers have at most {MAX_NUMBER_DIGITS} digits")],
        )


def request_body_bytes(event: dict[str, Any]) -> bytes:
    """The body as sent: base64-decoded when API Gateway encoded it, else the text it passed, in UTF-8."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode("utf-8", "surrogatepass")  # a lone surrogate stays a byte sequence decoding refuses
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise InvalidRequest(
            "The request body is not valid base64", details=[FieldIssue("body", "not valid base64")]
        ) from exc


def body_text(data: bytes) -> str:
    """A body's bytes as text by the one UTF-8 rule (smscore.domain.encoding); a 400 naming the byte offset."""
    try:
        return decode_text(data)
    except UndecodableText as exc:
        raise InvalidRequest(
            f"The request body is not valid UTF-8: {exc.what}",
            details=[FieldIssue("body", f"not valid UTF-8: {exc.what}")],
            byteOffset=exc.offset,
        ) from None


def _set_content_type(event: dict[str, Any], value: str) -> None:
    """Replace every spelling of the Content-Type header, in both header maps API Gateway sends."""
    for field, wrap in (("headers", lambda v: v), ("multiValueHeaders", lambda v: [v])):
        headers = event.get(field) or {}
        for key in [k for k in headers if k.lower() == "content-type"]:
            del headers[key]
        headers["Content-Type"] = wrap(value)
        event[field] = headers


def check_json_body(event: dict[str, Any], max_bytes: int, other_media_types: Collection[str] = ()) -> None:
    """A JSON API refuses other media types (415), oversized bodies (413) and hostile JSON (400) up front.

    `other_media_types` names the non-JSON types a route also takes as they are (text/csv for an import).
    A JSON body reaches Powertools with Content-Type `application/json`, whatever spelling the client used.
    """
    content_type = APIGatewayProxyEvent(event).headers.get("content-type")
    media = media_type(content_type) if content_type is not None else JSON
    if not event.get("body"):
        # Nothing to refuse, but Powertools would still parse "nothing" by the declared type (an empty multipart
        # body without a boundary raises): an empty body is an empty JSON body, which validation then answers.
        if content_type is not None and not is_json(media) and media not in other_media_types:
            _set_content_type(event, JSON)
        return
    if not media:
        raise UnsupportedMediaType(f"{content_type!r} is not a media type; send the body as {JSON}")
    if media not in other_media_types and not is_json(media):
        raise UnsupportedMediaType(f"Send the body as {JSON}, not {media}")
    data = request_body_bytes(event)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"Request body is larger than {max_bytes} bytes")
    if media in other_media_types:
        return  # a file (text/csv) is decoded by its own reader, in the encoding it was saved in
    body = body_text(data)
    check_json_shape(body)
    if media != JSON or content_type != JSON:
        _set_content_type(event, JSON)


def refusal_response(check: Callable[[], None]) -> dict[str, Any] | None:
    """The REST proxy response of the error `check` raises for a body (413, 415, 400, ...), else None."""
    try:
        check()
    except DomainError as refused:
        response = domain_error_response(refused)
        return {
            "statusCode": response.status_code,
            "headers": {"Content-Type": JSON},
            "multiValueHeaders": {"Content-Type": [JSON]},
            "body": response.body,
            "isBase64Encoded": False,
        }
    return None


def json_body_guard(
    max_bytes: Callable[[], int], other_media_types: Collection[str] = ()
) -> Callable[[Handler], Handler]:
    """Decorate a REST proxy handler so that unreadable bodies get their JSON error before routing."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def guarded(event: dict[str, Any], context: Any) -> dict[str, Any]:
            refused = refusal_response(lambda: check_json_body(event, max_bytes(), other_media_types))
            return refused if refused is not None else handler(event, context)

        return guarded  # type: ignore[return-value]

    return decorate
