"""Twilio Programmable Messaging: sending over its REST API, and its two inbound wire formats.

Sending (urllib3's pool, already in the runtime with botocore: no SDK in the layer):
POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP Basic auth (Account SID : Auth Token, or API key
SID : API key secret), form-encoded `To`, `Body`, `MessagingServiceSid` (preferred) or `From`, and
`StatusCallback`: the configured URL with our message id in its query (`?messageId=...`), so a receipt finds its
message by primary key (Twilio signs the whole URL, query included, so the id is as trustworthy as the receipt).
Reply 201 JSON with `sid`, `status`, `price` (null until the carrier bills: Twilio reports price late, through
the status callback or a later GET), `num_segments`, `error_code`. Errors are JSON `{"code", "message",
"more_info", "status"}`.

Classification is by HTTP status and Twilio's numeric code, never by message text:
- 429 (code 20429) and 21611 (the From number's queue is full): `Throttled`, the message waits for its sender;
- 401 (code 20003, authentication) and 21606 (From number cannot send): `SenderUnavailable`, the sender pauses;
- 5xx, 403/404 (account problems we can fix and retry): transient;
- any other 4xx (21211 invalid To, 21610 unsubscribed, 21612 unroutable, 21614 not a mobile, ...): permanent;
- cannot connect: transient; no reply within the timeout, or a connection dropped once the request may have
  been written: OutcomeUnknown.

Twilio offers no idempotency key for message creation, so this provider is not idempotent: a retry after
OutcomeUnknown may duplicate the SMS (the documented window in smscore.domain.delivery).

Inbound: status callbacks (form-encoded `MessageSid`, `MessageStatus`, `ErrorCode`) are signed with
X-Twilio-Signature, an HMAC-SHA1 keyed with the account's Auth Token (never an API key secret, even when the
messages are sent with an API key) over the full URL Twilio called followed
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
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit
from xml.sax.saxutils import escape

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, ReadTimeoutError

from smscore.domain.errors import InvalidSignature
from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.ports import (
    Accepted,
    CredentialsUnavailable,
    OutcomeUnknown,
    PermanentFailure,
    SenderUnavailable,
    SmsProvider,
    SmsRequest,
    Throttled,
    TransientFailure,
)

PROVIDER_NAME = "twilio"
CONNECT_TIMEOUT_SECONDS = 2.0
TRANSIENT_HTTP_STATUSES = frozenset({401, 403, 404, 408, 409, 429})
# 20429 too many requests; 21611 this From number's queue exceeds 10 hours of sends: wait, it is the sender's pace.
THROTTLING_CODES = frozenset({"20429", "21611"})
# 20003 authentication failed; 21606 this From number cannot send (to this destination): the sender, not the
# recipient, is wrong. 21211 (invalid To) and 21610 (unsubscribed) stay permanent: they are the recipient's.
SENDER_CONFIGURATION_CODES = frozenset({"20003", "21606"})
FAILED_STATUSES = frozenset({"failed", "undelivered", "canceled"})


CALLBACK_MESSAGE_ID_PARAMETER = "messageId"  # our message id in the StatusCallback URL's query


@dataclass(frozen=True)
class TwilioCredentials:
    """Read from SSM / Secrets Manager through Powertools parameters (see smscore.providers.registry).

    Two secrets with two jobs: messages are sent with the API key (`api_key_sid` + `api_key_secret`) when one is
    configured, else with the Auth Token; status callbacks are always signed by Twilio with the account's Auth
    Token, so `auth_token` is what the webhook verifies with, and without it callbacks are refused.
    """

    account_sid: str
    auth_token: str | None = None  # the account's Auth Token: checks X-Twilio-Signature (and sends without a key)
    api_key_sid: str | None = None  # SK...: sends, with api_key_secret
    api_key_secret: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TwilioCredentials:
        """The credentials JSON (README, "Twilio credentials").

        `{"account_sid", "auth_token"}`: Auth Token mode. `{"account_sid", "auth_token", "api_key_sid",
        "api_key_secret"}`: API-key mode. The earlier API-key shape `{"account_sid", "api_key_sid", "auth_token"}`
        held the key secret under `auth_token`: it still sends, and its callbacks are refused (that value cannot
        verify them) until the account's Auth Token is added. Raises KeyError/ValueError when nothing can send.
        """

        def text(name: str) -> str | None:
            value = data.get(name)
            return str(value) if value else None

        account_sid, auth_token = str(data["account_sid"]), text("auth_token")
        api_key_sid, api_key_secret = text("api_key_sid"), text("api_key_secret")
        if api_key_sid and not api_key_secret:  # the earlier shape: `auth_token` was the API key secret
            api_key_secret, auth_token = auth_token, None
        if not ((api_key_sid and api_key_secret) or auth_token):
            raise ValueError("Twilio credentials need an auth_token, or an api_key_sid with its api_key_secret")
        return cls(account_sid, auth_token, api_key_sid, api_key_secret)

    def basic_auth(self) -> tuple[str, str]:
        """User and password of the REST API: the API key when there is one, else the account and its Auth Token."""
        if self.api_key_sid and self.api_key_secret:
            return self.api_key_sid, self.api_key_secret
        if self.auth_token:
            return self.account_sid, self.auth_token
        raise CredentialsUnavailable("Twilio credentials hold neither an API key nor an Auth Token")


def status_callback_with_message_id(url: str, message_id: str) -> str:
    """The StatusCallback URL that names our message; Twilio signs it whole, query included."""
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}{urlencode({CALLBACK_MESSAGE_ID_PARAMETER: message_id})}"


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
        callback_url = self._config.status_callback_url
        if callback_url:
            form["StatusCallback"] = status_callback_with_message_id(callback_url, request.message_id)
        return form

    def send(self, request: SmsRequest) -> Accepted:
        try:
            creds = self._credentials()
            user, password = creds.basic_auth()
        except CredentialsUnavailable as exc:
            raise TransientFailure("CREDENTIALS_UNAVAILABLE", type(exc).__name__) from exc
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        url = f"{self._base_url}/2010-04-01/Accounts/{creds.account_sid}/Messages.json"
        headers = {
            "Authorization": f"Basic {auth}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        status, payload = self._post(url, urlencode(self._form(request)), headers)
        accepted = self._interpret(status, payload)
        # With our StatusCallback URL, every callback names our message id (signed): no provider-id index entry.
        return replace(accepted, receipts_name_message=bool(self._config.status_callback_url))

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
        if status == 429 or code in THROTTLING_CODES:
            raise Throttled(code, reason)  # wait for the sender's pace: no attempt used
        if status == 401 or code in SENDER_CONFIGURATION_CODES:
            raise SenderUnavailable(code, reason)  # pause the sender (circuit breaker), keep its messages waiting
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


def receipt_from_callback(
    params: Mapping[str, str], reported_at: datetime, message_id: str | None = None
) -> Receipt | None:
    """The receipt in a status callback, or None when it reports an intermediate state (queued, sent...).

    `message_id` is ours, from the signed callback URL's query; callbacks of messages sent before it was there
    carry only Twilio's SID, found through the by_provider_message_id index instead.
    """
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
        message_id=message_id or None,
        provider_message_id=sid,
    )


# -- inbound messages (opt-out and opt-in replies) ----------------------------------------------------------

# Twilio's default Advanced Opt-Out keywords, which Twilio itself answers (and enforces: error 21610 on later
# sends) on long codes and toll-free numbers: our TwiML stays empty for these, or the recipient gets two replies.
# https://help.twilio.com/articles/223134027 (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT;
# START, YES, UNSTOP; HELP, INFO).
TWILIO_CONFIRMED_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "start", "yes", "unstop"}
)


@dataclass(frozen=True)
class InboundMessage:
    """An incoming SMS as Twilio's messaging webhook posts it (form-encoded, signed like status callbacks)."""

    message_sid: str | None
    from_number: str
    to: str  # our number that received it
    messaging_service_sid: str | None  # present when that number belongs to a Messaging Service
    body: str

    @property
    def sender_addresses(self) -> list[str]:
        """What received it, as senders.sender_key may name our sender: the Messaging Service, then the number."""
        return [a for a in (self.messaging_service_sid, self.to) if a]


def inbound_from_webhook(params: Mapping[str, str]) -> InboundMessage | None:
    """The reply in a verified webhook's parameters; None when it is not an SMS with a sender and a recipient."""
    from_number, to = params.get("From") or "", params.get("To") or ""
    if not from_number or not to:
        return None
    return InboundMessage(
        message_sid=params.get("MessageSid") or params.get("SmsSid") or None,
        from_number=from_number,
        to=to,
        messaging_service_sid=params.get("MessagingServiceSid") or None,
        body=params.get("Body") or "",
    )


def twiml_reply(text: str | None) -> str:
    """TwiML answering the webhook: one <Message> with the text, or an empty <Response/> (no reply)."""
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    if not text:
        return f"{head}<Response/>"
    return f"{head}<Response><Message>{escape(text)}</Message></Response>"
