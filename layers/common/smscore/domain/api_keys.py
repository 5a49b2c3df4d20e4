"""Self-serve API keys: a member names, scopes, lists and revokes their own tokens; an admin the tenant's.

A key is a bearer token like the ones smsctl issues (smscore.domain.auth): shown once at creation, stored only as
its SHA-256 hash. Its scope (`full` or `read`) and optional expiry are enforced by the authorizer (expiry: 401)
and by the fresh check every write passes (smscore.api.access: `read` -> 403 INSUFFICIENT_SCOPE, revoked -> 401 at
once). Who may manage which key is decided here and nowhere else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from smscore.domain.auth import Scope, issue_token
from smscore.domain.errors import FieldIssue, InvalidRequest, NotFound

MAX_KEY_NAME_LENGTH = 80
MAX_KEY_LIFETIME = timedelta(days=3 * 365)
MAX_LIVE_KEYS_PER_MEMBER = 50


class Role(StrEnum):
    """A member attribute: an admin manages every API key of the tenant, a member only their own."""

    MEMBER = "member"
    ADMIN = "admin"


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    tenant_id: str
    member_id: str
    name: str
    prefix: str
    scope: Scope
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    token: str  # shown once, never stored


@dataclass(frozen=True)
class KeyCaller:
    tenant_id: str
    member_id: str


class KeyStore(Protocol):
    def member_role(self, tenant_id: str, member_id: str) -> Role | None:
        """The member's role, or None when the member is not one of this tenant's."""
        ...

    def add(self, key: ApiKey, token_hash: str) -> None: ...

    def tenant_keys(self, tenant_id: str) -> list[ApiKey]:
        """Every token of the tenant, oldest first (revoked ones included)."""
        ...

    def revoke(self, tenant_id: str, key_id: str, at: datetime) -> bool:
        """Mark the key revoked; False when it is not the tenant's or was revoked already."""
        ...


def clean_key_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidRequest("name must not be blank", details=[FieldIssue("name", "must not be blank")])
    if not cleaned.isprintable():
        raise InvalidRequest("name holds a control character", details=[FieldIssue("name", "control character")])
    return cleaned


class ApiKeys:
    """The use cases of /api/keys."""

    def __init__(self, store: KeyStore) -> None:
        self._store = store

    def _role(self, caller: KeyCaller) -> Role:
        role = self._store.member_role(caller.tenant_id, caller.member_id)
        if role is None:
            raise NotFound("No such member in this tenant")
        return role

    def _visible(self, caller: KeyCaller, role: Role) -> list[ApiKey]:
        keys = [k for k in self._store.tenant_keys(caller.tenant_id) if k.revoked_at is None]
        return keys if role is Role.ADMIN else [k for k in keys if k.member_id == caller.member_id]

    def create(self, caller: KeyCaller, name: str, scope: Scope, expires_at: datetime | None, now: datetime) -> NewKey:
        """A new key of the caller's own (an admin's too: a key acts as the member who made it)."""
        self._role(caller)
        name = clean_key_name(name)
        if expires_at is not None and not now < expires_at <= now + MAX_KEY_LIFETIME:
            raise InvalidRequest(
                f"expiresAt must be in the future and at most {MAX_KEY_LIFETIME.days} days ahead",
                details=[FieldIssue("expiresAt", "in the future, within 3 years")],
            )
        own = [k for k in self._store.tenant_keys(caller.tenant_id) if k.member_id == caller.member_id]
        if sum(1 for k in own if k.revoked_at is None and (k.expires_at is None or k.expires_at > now)) >= (
            MAX_LIVE_KEYS_PER_MEMBER
        ):
            raise InvalidRequest(
                f"At most {MAX_LIVE_KEYS_PER_MEMBER} live keys per member; revoke one first",
                details=[FieldIssue("name", "too many live keys")],
            )
        issued = issue_token()
        key = ApiKey(
            key_id=str(uuid.uuid4()),
            tenant_id=caller.tenant_id,
            member_id=caller.member_id,
            name=name,
            prefix=issued.prefix,
            scope=scope,
            created_at=now,
            expires_at=expires_at,
            last_used_at=None,
            revoked_at=None,
        )
        self._store.add(key, issued.token_hash)
        return NewKey(key=key, token=issued.token)

    def list(self, caller: KeyCaller) -> list[ApiKey]:
        """A member's own live keys; an admin's view is every live key of the tenant."""
        return self._visible(caller, self._role(caller))

    def revoke(self, caller: KeyCaller, key_id: str, now: datetime) -> None:
        """Revoke a key the caller may manage; any other id is 404, so ids of other members' keys leak nothing."""
        if not any(k.key_id == key_id for k in self._visible(caller, self._role(caller))):
            raise NotFound("No such API key")
        if not self._store.revoke(caller.tenant_id, key_id, now):
            raise NotFound("No such API key")
