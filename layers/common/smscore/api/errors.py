"""Domain exceptions mapped to HTTP, once, for every route of every resolver."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from smscore.api.error_models import ErrorBody, ErrorDetail
from smscore.domain import errors

logger = Logger(child=True)


class PayloadTooLarge(errors.DomainError):
    """The request body is larger than the route accepts: an HTTP concern, refused before any parsing."""

    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(errors.DomainError):
    """The request body's media type is not one the route reads: an HTTP concern, refused before any parsing."""

    code = "UNSUPPORTED_MEDIA_TYPE"


STATUS_BY_ERROR: dict[type[errors.DomainError], HTTPStatus] = {
    errors.InvalidRequest: HTTPStatus.BAD_REQUEST,
    errors.IdempotencyKeyRequired: HTTPStatus.BAD_REQUEST,
    errors.AudienceTooLargeForRequest: HTTPStatus.BAD_REQUEST,
    PayloadTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    UnsupportedMediaType: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    errors.InsufficientCredits: HTTPStatus.PAYMENT_REQUIRED,
    errors.TooManyRecipients: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.TenantNotFound: HTTPStatus.FORBIDDEN,
    errors.AccessRevoked: HTTPStatus.UNAUTHORIZED,
    errors.TermsNotAccepted: HTTPStatus.FORBIDDEN,
    errors.InsufficientScope: HTTPStatus.FORBIDDEN,
    errors.InvalidSignature: HTTPStatus.FORBIDDEN,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.TagExists: HTTPStatus.CONFLICT,
    errors.ContactExists: HTTPStatus.CONFLICT,
    errors.ConcurrentUpdate: HTTPStatus.CONFLICT,
    errors.IdempotencyKeyReused: HTTPStatus.CONFLICT,
    errors.RequestInProgress: HTTPStatus.CONFLICT,
    errors.SenderNameRequired: HTTPStatus.CONFLICT,
    errors.OptOutLinkUnavailable: HTTPStatus.CONFLICT,
    errors.ExclusionListStale: HTTPStatus.CONFLICT,
    errors.NoTermsPublished: HTTPStatus.CONFLICT,
    errors.EnqueueFailure: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.TestSendLimit: HTTPStatus.TOO_MANY_REQUESTS,
}


def documented_error(description: str) -> Any:
    """An error entry of a route's `responses=` for the OpenAPI document: every error has the ErrorBody shape.
    (Any: Powertools types the entries as its OpenAPIResponse TypedDict, which a plain dict is not to mypy.)"""
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


def documented_ok(model: type, description: str, status: int = 200) -> dict[int, Any]:
    """A route's success entry of `responses=`: `status` with a JSON body of `model`."""
    return {status: {"description": description, "content": {"application/json": {"model": model}}}}


# The error entries every JSON route shares (each function's own ones stay beside its routes).
BAD_REQUEST = documented_error("Invalid parameters or body (code VALIDATION_ERROR)")
TOO_LARGE = documented_error("Body too large (code PAYLOAD_TOO_LARGE)")
NOT_JSON = documented_error("Body is not application/json (code UNSUPPORTED_MEDIA_TYPE)")


def error_response(status: HTTPStatus, body: ErrorBody) -> Response[str]:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(),
    )


def _field_name(location: Sequence[Any]) -> str:
    parts = [str(p) for p in location if p != "body"]
    return ".".join(parts) or "body"


def validation_details(raw_errors: Sequence[Any]) -> list[ErrorDetail]:
    details = []
    for error in raw_errors:
        if error.get("type") == "json_invalid":
            return [ErrorDetail(field="body", message="Request body is not valid JSON")]
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        details.append(ErrorDetail(field=_field_name(error.get("loc", ())), message=message))
    return details


def domain_error_response(exc: errors.DomainError) -> Response[str]:
    status = next(
        (code for kind, code in STATUS_BY_ERROR.items() if isinstance(exc, kind)), HTTPStatus.INTERNAL_SERVER_ERROR
    )
    details = [ErrorDetail(field=d.field, message=d.message) for d in exc.details]
    return error_response(status, ErrorBody.of(exc.code, exc.message, details, **exc.extra))


def register_error_handlers(app: ApiGatewayResolver) -> None:
    """Install the one mapping from exceptions to JSON error bodies on a resolver."""

    @app.exception_handler(errors.DomainError)
    def _domain(exc: errors.DomainError) -> Response[str]:
        logger.info("Request refused", extra={"code": exc.code})
        return domain_error_response(exc)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_media_type(_exc: RequestUnsupportedContentType) -> Response[str]:
        # Normally caught earlier by smscore.api.middlewares; kept so that no route ever answers Powertools' shape.
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            ErrorBody.of("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json"),
        )

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response[str]:
        details = validation_details(exc.errors())
        summary = "; ".join(f"{d.field}: {d.message}" for d in details)
        return error_response(
            HTTPStatus.BAD_REQUEST, ErrorBody.of("VALIDATION_ERROR", f"Invalid request: {summary}", details)
        )

    @app.not_found
    def _not_found(_exc: Exception) -> Response[str]:
        return error_response(HTTPStatus.NOT_FOUND, ErrorBody.of("NOT_FOUND", "No such route"))
