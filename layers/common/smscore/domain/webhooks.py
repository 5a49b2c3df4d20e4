"""Webhooks out: endpoints, the signature, the retry schedule and the address rules (no I/O here).

An endpoint is a tenant's https URL, the event types it wants, a description and `enabled`. Every delivery is
signed the way Stripe and Svix sign: `Sms-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` with the
endpoint's secret; while a rotated-out secret is still valid (24 h) a second `v1=` signed with it follows, so a
receiver that has not switched yet keeps verifying. Failed attempts are retried with exponential backoff and full
jitter for up to 24 h; an endpoint failing for 3 days is disabled. Only public addresses may be called: the rule
is `address_refusal`, applied after DNS resolution and again to the connected peer (smscore.providers.webhook_http).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from smscore.domain.errors import FieldIssue, InvalidRequest

SIGNATURE_HEADER = "Sms-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a marker, not a secret
PREVIOUS_SECRET_VALIDITY = timedelta(hours=24)
RETRY_WINDOW = timedelta(hours=24)
DISABLE_AFTER = timedelta(days=3)
TIMEOUT_SECONDS = 5.0
MAX_RESPONSE_BYTES = 1024
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 200
MAX_ENDPOINTS_PER_TENANT = 10
MAX_ATTEMPTS_KEPT = 10  # the attempts a delivery lists (the latest ones)
DEFAULT_BACKOFF_BASE_SECONDS = 30.0
BACKOFF_STEP_CAP = timedelta(hours=6)
SIGNATURE_TOLERANCE_SECONDS = 300  # what the documented verification accepts as the age of `t`


class EventType(StrEnum):
    MESSAGE_SENT = "message.sent"
    MESSAGE_DELIVERED = "message.delivered"
    MESSAGE_UNDELIVERED = "message.undelivered"
    MESSAGE_FAILED = "message.failed"
    MESSAGE_CLICKED = "message.clicked"
    CONTACT_OPTED_OUT = "contact.opted_out"
    CONTACT_OPTED_IN = "contact.opted_in"
    CAMPAIGN_COMPLETED = "campaign.completed"
    CREDITS_LOW = "credits.low"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # not attempted yet, or a replay waiting for its attempt
    RETRYING = "RETRYING"  # failed, another attempt is scheduled
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # failed for the whole retry window (or the endpoint was disabled or deleted meanwhile)


# ---------------------------------------------------------------------------------------------- signature


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<timestamp>.<body>" keyed by the secret (its full text, prefix included)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets_in_force: list[str], timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex>[,v1=<hex>]`: one v1 per secret in force (the current one first)."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets_in_force)])


def verify(header: str, body: bytes, secret: str, now: int, tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """What a receiver does (docs/integrations.md has it as ten lines): a matching v1 and a recent t."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    timestamps = [v for k, v in parts if k.strip() == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or abs(now - int(timestamps[0])) > tolerance:
        return False
    expected = signature(secret, int(timestamps[0]), body)
    return any(hmac.compare_digest(expected, v.strip()) for k, v in parts if k.strip() == "v1")


# ---------------------------------------------------------------------------------------------- retries


def backoff_delay(failures: int, rng: random.Random, base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS) -> float:
    """Seconds before the attempt that follows `failures` failed ones: exponential, capped per step at 6 h, with
    full jitter over its upper half (so retries of many deliveries spread, and none comes back at once)."""
    ceiling: float = min(base_seconds * 2.0 ** max(0, failures - 1), BACKOFF_STEP_CAP.total_seconds())
    return ceiling / 2 + rng.random() * ceiling / 2


def next_attempt_at(
    first_attempt_at: datetime,
    failures: int,
    now: datetime,
    rng: random.Random,
    base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS,
) -> datetime | None:
    """When to try again after `failures` failed attempts, or None: the 24 h retry window is over."""
    at = now + timedelta(seconds=backoff_delay(failures, rng, base_seconds))
    return at if at - first_attempt_at <= RETRY_WINDOW else None


def is_success(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


# ---------------------------------------------------------------------------------------------- addresses


def _networks(*cidrs: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# What `is_global` misses or what we refuse besides: CGNAT, the cloud metadata addresses, NAT64 and 6to4 (they
# embed an IPv4 address that may be private), Teredo, benchmarking, and the IPv6 discard-only prefix.
_REFUSED = _networks(
    "100.64.0.0/10",
    "169.254.0.0/16",
    "192.0.0.0/24",
    "198.18.0.0/15",
    "fd00:ec2::254/128",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "2002::/16",
    "2001::/32",
    "100::/64",
)
_LOOPBACK_V4 = ipaddress.ip_address("127.0.0.1")


def address_refusal(address: str, allow_loopback: bool = False) -> str | None:
    """Why this IP may not be called (None: it may). Public unicast only; `allow_loopback` (the local stack's
    WebhooksAllowLoopback) admits 127.0.0.1 itself and nothing else. IPv4-mapped IPv6 is judged as its IPv4
    address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if allow_loopback and ip == _LOOPBACK_V4:
        return None  # exactly 127.0.0.1: not another loopback address, not its IPv4-mapped IPv6 form
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local or any(ip in n for n in _REFUSED if n.version == ip.version):
        return "a link-local, metadata or special-purpose address"
    if ip.is_private or ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class Target:
    """A parsed endpoint URL: what to resolve, what to connect to, what to ask for."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent


def parse_url(url: str, allow_loopback: bool = False) -> Target:
    """An endpoint URL as we accept it: https (or, when allowed, http://127.0.0.1:<port>), no credentials, and a
    host that is not literally a refused address. Hostnames are checked again once resolved, at every attempt."""

    def refuse(why: str) -> InvalidRequest:
        return InvalidRequest(f"url {why}", details=[FieldIssue("url", why)])

    if len(url) > MAX_URL_LENGTH or not url.isprintable() or any(c.isspace() for c in url):
        raise refuse(f"must be at most {MAX_URL_LENGTH} printable characters without spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refuse("is not a valid URL") from None
    host = (parts.hostname or "").rstrip(".").lower()
    loopback_http = allow_loopback and parts.scheme == "http" and host == "127.0.0.1"
    if parts.scheme != "https" and not loopback_http:
        raise refuse("must use https")
    if not host:
        raise refuse("has no host")
    if parts.username is not None or parts.password is not None:
        raise refuse("must not carry credentials")
    if parts.fragment:
        raise refuse("must not have a fragment")
    if host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
        raise refuse("must name a public host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not all(label and len(label) <= 63 for label in host.split(".")) or "." not in host:
            raise refuse("must name a public host") from None
    else:
        why = address_refusal(host, allow_loopback)
        if why is not None:
            raise refuse(f"is {why}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port or (443 if parts.scheme == "https" else 80), path=path)


# ---------------------------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    tenant_id: str
    url: str
    events: frozenset[EventType]
    description: str
    enabled: bool
    secret: str
    created_at: datetime
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None
    failing_since: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None

    def secrets_in_force(self, now: datetime) -> list[str]:
        """The current secret, then the rotated-out one while its 24 h last."""
        previous = self.previous_secret
        expires = self.previous_secret_expires_at
        return [self.secret, previous] if previous and expires and now < expires else [self.secret]

    def wants(self, event_type: str) -> bool:
        return self.enabled and event_type in self.events


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None  # None: no HTTP answer (refused address, DNS, timeout, TLS, connection)
    latency_ms: int
    error: str | None = None  # why there was no answer, or why a non-2xx counts as failed
    response: str | None = None  # at most MAX_RESPONSE_BYTES of the body, as text


@dataclass(frozen=True)
class Delivery:
    """One event for one endpoint, and every attempt at it (the latest MAX_ATTEMPTS_KEPT)."""

    delivery_id: str
    tenant_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    body: str  # the exact JSON sent (signed as bytes in UTF-8); the same on every attempt and replay
    status: DeliveryStatus
    created_at: datetime
    attempts: tuple[Attempt, ...] = field(default_factory=tuple)
    attempt_count: int = 0
    first_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None


def delivery_id_for(created_at: datetime, event_id: str) -> str:
    """Sortable by the event's time (13-digit epoch milliseconds), unique per event: `<ms>-<event id>`."""
    return f"{int(created_at.timestamp() * 1000):013d}-{event_id}"
