"""Twilio Programmable Messaging over its REST API (stdlib http.client: no SDK in the layer).

Request: POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP Basic auth (Account SID or API key
SID : secret), form-encoded `To`, `Body`, `MessagingServiceSid` (preferred) or `From`, optional `StatusCallback`.
Reply 201 JSON with `sid`, `status`, `price` (null until the carrier bills: Twilio reports price late, through
the status callback or a later GET), `num_segments`, `error_code`. Errors are JSON `{"code", "message",
"more_info", "status"}`.

Classification is by HTTP status and Twilio's numeric code, never by message text:
- 429 (code 20429), 5xx, 401/403/404 (credentials or account problems we can fix and retry): transient;
- any other 4xx (21211 invalid To, 21610 unsubscribed, 21612 unroutable, 21614 not a mobile, ...): permanent;
- no reply within the timeout, or a connection dropped after the request was written: OutcomeUnknown.

Twilio offers no idempotency key for message creation, so this provider is not idempotent: a retry after
OutcomeUnknown may duplicate the SMS (the documented window in smscore.domain.delivery).
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from smscore.providers.base import (
    Accepted,
    CredentialsUnavailable,
    OutcomeUnknown,
    PermanentFailure,
    SmsProvider,
    SmsRequest,
    TransientFailure,
)

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


class TwilioProvider(SmsProvider):
    name: ClassVar[str] = "twilio"
    character_limit: ClassVar[int] = 1600
    idempotent: ClassVar[bool] = False
    reports_price_at_send: ClassVar[bool] = False  # `price` is null at creation; it arrives with receipts

    def __init__(self, config: TwilioConfig, credentials: Callable[[], TwilioCredentials]) -> None:
        if not (config.messaging_service_sid or config.from_number):
            raise ValueError("Twilio needs a Messaging Service SID or a From number")
        self._config = config
        self._credentials = credentials
        target = urlsplit(config.api_base_url)
        self._https = target.scheme == "https"
        self._host = target.hostname or "api.twilio.com"
        self._port = target.port
        self._prefix = target.path.rstrip("/")
        self._local = threading.local()  # one keep-alive connection per worker thread

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._config.timeout_seconds)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

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
        path = f"{self._prefix}/2010-04-01/Accounts/{creds.account_sid}/Messages.json"
        headers = {
            "Authorization": f"Basic {auth}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        status, payload = self._post(path, urlencode(self._form(request)), headers)
        return self._interpret(status, payload)

    def _post(self, path: str, body: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        conn = self._connection()
        try:
            try:
                conn.request("POST", path, body=body, headers=headers)
            except (ConnectionError, OSError) as exc:
                # Nothing (or not all) was written: the request cannot have been accepted.
                self._drop_connection()
                raise TransientFailure("CONNECTION_FAILED", type(exc).__name__) from exc
            response = conn.getresponse()
            raw = response.read()
        except TransientFailure:
            raise
        except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
            self._drop_connection()
            code = "TIMEOUT" if isinstance(exc, TimeoutError) else "NO_RESPONSE"
            raise OutcomeUnknown(code, type(exc).__name__) from exc
        if response.getheader("Connection", "").lower() == "close":
            self._drop_connection()
        try:
            payload = json.loads(raw) if raw else {}
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
