"""Twilio Programmable Messaging: sending over its REST API, and its two inbound wire formats.

Sending (urllib3's pool, already in the runtime with botocore: no SDK in the layer):
POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP Basic auth (Account SID or API key
SID : secret), form-encoded `To`, `Body`, `MessagingServiceSid` (preferred) or `From`, optional `StatusCallback`.
Reply 201 JSON with `sid`, `status`, `price` (null until the carrier bills: Twilio reports price late, through
the status callback or a later GET), `num_segments`, `error_code`. Errors are JSON `{"code", "message",
"more_info", "status"}`.

Classification is by HTTP status and Twilio's numeric code, never by message text:
- 429 (code 20429), 5xx, 401/403/404 (credentials or account problems we can fix and retry): transient;
- any other 4xx (21211 invalid To, 21610 unsubscribed, 21612 unroutable, 21614 not a mobile, ...): permanent;
- cannot connect: transient; no reply within the timeout, or a connection dropped once the request may have
  been written: OutcomeUnknown.

Twilio offers no idempotency key for message creation, so this provider is not idempotent: a retry after
OutcomeUnknown may duplicate the SMS (the documented window in smscore.domain.delivery).

Inbound: status callbacks (form-encoded `MessageSid`, `MessageStatus`, `ErrorCode`) are signed with
X-Twilio-Signature, an HMAC-SHA1 keyed with the account's auth token over the full URL Twilio called followed
by every POST parameter as name then value, sorted by name (and by value for a repeated name); base64 of the
digest is what the header carries. `verified_callback_params` checks it before anything in the callback is
trusted, and `receipt_from_callback` turns a final status into a provider-neutral Receipt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, ReadTimeoutError

from smscore.domain.errors import InvalidSignature
from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.ports import (
    Accepted,
    CredentialsUnavailable,
    OutcomeUnknown,
    PermanentFailure,
    SmsProvider,
    SmsRequest,
    TransientFailure,
)

PROVIDER_NAME = "twilio"
CONNECT_TIMEOUT_SECONDS = 2.0
TRANSIENT_HTTP_STATUSES = frozenset({401, 403, 404, 408, 409, 429})
FAILED_STATUSES = frozenset({"failed", "undelivered", "canceled"})


@dataclass(frozen=True)
class TwilioCredentials:
    """Read from SSM / Secrets Manager through Powertools parameters (see smscore.providers.registry)."""

    account_sid: str
    auth_token: str  # or an API key secret, with `api_key_sid` set
    api_key_sid: str | None = None


@dataclass(frozen=True)
class TwilioConfig:
    api_base_url: str = "https://api.twilio.com"
    messaging_service_sid: str | None = None
    from_number: str | None = None
    status_callback_url: str | None = None
    timeout_seconds: float = 5.0
    max_connections: int = 10  # keep-alive connections kept: as many as concurrent sends (DELIVERY_WORKERS)


class TwilioProvider(SmsProvider):
    name: ClassVar[str] = PROVIDER_NAME
    character_limit: ClassVar[int] = 1600
    idempotent: ClassVar[bool] = False
    reports_price_at_send: ClassVar[bool] = False  # `price` is null at creation; it arrives with receipts

    def __init__(self, config: TwilioConfig, credentials: Callable[[], TwilioCredentials]) -> None:
        if not (config.messaging_service_sid or config.from_number):
            raise ValueError("Twilio needs a Messaging Service SID or a From number")
        self._config = config
        self._credentials = credentials
        self._base_url = config.api_base_url.rstrip("/")
        # Thread-safe keep-alive pool; no retries: a retried POST could send the SMS twice (delivery decides).
        self._pool = urllib3.PoolManager(
            maxsize=config.max_connections,
            retries=False,
            timeout=urllib3.Timeout(
                connect=min(CONNECT_TIMEOUT_SECONDS, config.timeout_seconds), read=config.timeout_seconds
            ),
        )

    def _form(self, request: SmsRequest) -> dict[str, str]:
        form = {"To": request.recipient, "Body": request.body}
        if self._config.messaging_service_sid:
            form["MessagingServiceSid"] = self._config.messaging_service_sid
        else:
            form["From"] = self._config.from_number or ""
        if self._config.status_callback_url:
            form["StatusCallback"] = self._config.status_callback_url
        return form

    def send(self, request: SmsRequest) -> Accepted:
        try:
            creds = self._credentials()
        except CredentialsUnavailable as exc:
            raise TransientFailure("CREDENTIALS_UNAVAILABLE", type(exc).__name__) from exc
        user = creds.api_key_sid or creds.account_sid
        auth = base64.b64encode(f"{user}:{creds.auth_token}".encode()).decode()
        url = f"{self._base_url}/2010-04-01/Accounts/{creds.account_sid}/Messages.json"
        headers = {
            "Authorization": f"Basic {auth}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        status, payload = self._post(url, urlencode(self._form(request)), headers)
        return self._interpret(status, payload)

    def _post(self, url: str, body: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            response = self._pool.request("POST", url, body=body.encode(), headers=headers)
        except ConnectTimeoutError as exc:  # NewConnectionError and NameResolutionError too: nothing was sent
            raise TransientFailure("CONNECTION_FAILED", type(exc).__name__) from exc
        except ReadTimeoutError as exc:
            raise OutcomeUnknown("TIMEOUT", type(exc).__name__) from exc
        except HTTPError as exc:  # ProtocolError: the connection dropped, maybe after Twilio took the request
            raise OutcomeUnknown("NO_RESPONSE", type(exc).__name__) from exc
        try:
            payload = json.loads(response.data) if response.data else {}
        except ValueError:
            payload = {}
        return response.status, payload if isinstance(payload, dict) else {}

    @staticmethod
    def _interpret(status: int, payload: dict[str, Any]) -> Accepted:
        if 200 <= status < 300:
            error_code = payload.get("error_code")
            if payload.get("status") in FAILED_STATUSES:
                raise PermanentFailure(str(error_code or payload["status"]), str(payload.get("error_message") or ""))
            segments = payload.get("num_segments")
            return Accepted(
                provider_message_id=str(payload["sid"]),
                price=None if payload.get("price") is None else str(payload["price"]),
                price_unit=payload.get("price_unit"),
                segments=int(segments) if segments and str(segments).isdigit() and int(segments) > 0 else None,
                provider_status=payload.get("status"),
            )
        code = str(payload.get("code") or f"HTTP_{status}")
        reason = str(payload.get("message") or f"HTTP {status}")
        if status >= 500 or status in TRANSIENT_HTTP_STATUSES:
            raise TransientFailure(code, reason)
        raise PermanentFailure(code, reason)


# -- status callbacks ---------------------------------------------------------------------------------------

MAX_CALLBACK_BYTES = 16 * 1024
# MessageStatus values: https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
FINAL_STATUSES: dict[str, MessageStatus] = {
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.UNDELIVERED,
}


def request_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """The X-Twilio-Signature of a POST to `url` with these form parameters."""
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def is_valid_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str, signature: str | None) -> bool:
    """True only for the exact signature; compared in constant time so it cannot be guessed byte by byte."""
    if not signature or not auth_token:
        return False
    expected = request_signature(url, params, auth_token)
    return hmac.compare_digest(expected.encode(), signature.encode())


def verified_callback_params(
    raw_body: str, signature: str | None, url: str, auth_token: Callable[[], str | None]
) -> dict[str, str]:
    """The callback's form parameters, only once its signature checks out; nothing in it is trusted before.

    `auth_token` is asked only for a plausible request, and None (unreadable credentials) refuses it: receipts
    that cannot be verified are never applied.
    """
    if not signature or len(raw_body.encode()) > MAX_CALLBACK_BYTES:
        raise InvalidSignature("Missing or invalid signature")
    token = auth_token()
    params = parse_qsl(raw_body, keep_blank_values=True)
    if token is None or not is_valid_signature(url, params, token, signature):
        raise InvalidSignature("Missing or invalid signature")
    return dict(params)


def receipt_from_callback(params: Mapping[str, str], reported_at: datetime) -> Receipt | None:
    """The receipt in a status callback, or None when it reports an intermediate state (queued, sent...)."""
    provider_status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    status = FINAL_STATUSES.get(provider_status.lower())
    sid = params.get("MessageSid") or params.get("SmsSid")
    if status is None or not sid:
        return None
    error_code = params.get("ErrorCode") or None
    return Receipt(
        provider=PROVIDER_NAME,
        status=status,
        reported_at=reported_at,
        provider_status=provider_status.lower(),
        error_code=error_code if status is MessageStatus.UNDELIVERED else None,
        provider_message_id=sid,
    )
