"""Bearer tokens and who may do what with them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from smscore.domain.errors import AccessRevoked, InsufficientScope, TermsNotAccepted

TOKEN_PREFIX = "sms_"  # noqa: S105 - a marker, not a secret
DISPLAY_PREFIX_LENGTH = 12  # "sms_" + 8 characters: enough to tell tokens apart, useless to authenticate


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    prefix: str
    token_hash: str


def used_hour(now: datetime) -> datetime:
    """A key's last use is kept to the hour: at most one write per key per hour, and no finer trail of its use."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token() -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return IssuedToken(token=token, prefix=token[:DISPLAY_PREFIX_LENGTH], token_hash=hash_token(token))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None when the header is malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


class Scope(StrEnum):
    """What a token may do: `read` keys (smscore.domain.api_keys) get 403 INSUFFICIENT_SCOPE on every write."""

    FULL = "full"
    READ = "read"


@dataclass(frozen=True)
class TokenOwner:
    tenant_id: str
    member_id: str
    member_active: bool
    revoked: bool
    accepted_terms_version: str | None
    scope: Scope = Scope.FULL
    expires_at: datetime | None = None  # an API key's optional expiry: from then on it is DENIED like a revoked one
    last_used_at: datetime | None = None  # to the hour (used_hour): the authorizer writes it once per hour at most

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and (now or datetime.now(UTC)) >= self.expires_at


class Access(StrEnum):
    DENIED = "DENIED"  # unknown, revoked or disabled: 401
    READ_ONLY = "READ_ONLY"  # valid, but the current terms are not accepted: no messaging actions
    FULL = "FULL"


def decide_access(owner: TokenOwner | None, current_terms_version: str | None, now: datetime | None = None) -> Access:
    """Messaging needs the current terms accepted; reading only needs a live token of an active member."""
    if owner is None or owner.revoked or not owner.member_active or owner.expired(now):
        return Access.DENIED
    if current_terms_version is not None and owner.accepted_terms_version != current_terms_version:
        return Access.READ_ONLY
    return Access.FULL


def require_spending_access(
    owner: TokenOwner | None,
    current_terms_version: str | None,
    tenant_id: str,
    member_id: str,
    now: datetime | None = None,
) -> None:
    """Spending decides on a fresh read, never on the authorizer's cached policy alone.

    API Gateway caches the authorizer's answer per token for minutes; a revoked token, a disabled member or a
    newly published terms version must stop spending at once, so spending routes re-check here.
    """
    access = decide_access(owner, current_terms_version, now)
    if owner is None or access is Access.DENIED or (owner.tenant_id, owner.member_id) != (tenant_id, member_id):
        raise AccessRevoked("This token is not valid any more")
    if access is Access.READ_ONLY:
        raise TermsNotAccepted("Accept the current terms of service before sending messages")
    if owner.scope is not Scope.FULL:
        raise InsufficientScope("This API key may only read; use a key with the full scope to write")
