"""Bearer tokens and who may do what with them."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

TOKEN_PREFIX = "sms_"  # noqa: S105 - a marker, not a secret
DISPLAY_PREFIX_LENGTH = 12  # "sms_" + 8 characters: enough to tell tokens apart, useless to authenticate


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    prefix: str
    token_hash: str


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


@dataclass(frozen=True)
class TokenOwner:
    tenant_id: str
    member_id: str
    member_active: bool
    revoked: bool
    accepted_terms_version: str | None


class Access(StrEnum):
    DENIED = "DENIED"  # unknown, revoked or disabled: 401
    READ_ONLY = "READ_ONLY"  # valid, but the current terms are not accepted: no messaging actions
    FULL = "FULL"


def decide_access(owner: TokenOwner | None, current_terms_version: str | None) -> Access:
    """Messaging needs the current terms accepted; reading only needs a live token of an active member."""
    if owner is None or owner.revoked or not owner.member_active:
        return Access.DENIED
    if current_terms_version is not None and owner.accepted_terms_version != current_terms_version:
        return Access.READ_ONLY
    return Access.FULL
