"""Fresh access checks: every write decides on the identity as it is now, not as the authorizer cached it.

The authorizer's policy is cached by API Gateway for `AuthorizerCacheTtl` seconds. Reads live with that window;
writes do not. `is_write` is the one rule of which requests write (the HTTP method: everything but GET, HEAD and
OPTIONS), and `fresh_access_guard` wraps each API function's resolver with it: before a write is routed, the
token, its member and the current terms version are re-read in one consistent read (a single TransactGetItems
call), so a revoked token or a disabled member gets 401 UNAUTHORIZED and a member without the current terms 403
TERMS_NOT_ACCEPTED at once. tests/integration/test_write_access.py holds every route of openapi.json to it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from smscore.api.middlewares import refusal_response
from smscore.domain.auth import TokenOwner, bearer_token, hash_token, require_spending_access
from smscore.domain.errors import AccessRevoked

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The one write a member without the current terms may make: accepting them (smscore.api.terms).
TERMS_ACCEPTANCE = ("POST", "/api/me/terms")

Handler = TypeVar("Handler", bound=Callable[[dict[str, Any], Any], dict[str, Any]])


def is_write(method: str) -> bool:
    """The one rule of which requests write: every HTTP method but GET, HEAD and OPTIONS."""
    return method.upper() not in READ_METHODS


class FreshIdentityReader(Protocol):
    def fresh_owner_and_terms(self, token_hash: str, member_id: str) -> tuple[TokenOwner | None, str | None]:
        """The token's owner and the current terms version, read together and strongly consistent."""
        ...


class FreshAccess(Protocol):
    def require(self, authorization: str | None, tenant_id: str, member_id: str, *, terms: bool = True) -> None: ...


class SpendingAccess:
    """Re-checks, per request, what the cached authorizer policy may no longer reflect."""

    def __init__(self, identities: FreshIdentityReader) -> None:
        self._identities = identities

    def require(self, authorization: str | None, tenant_id: str, member_id: str, *, terms: bool = True) -> None:
        """`terms=False`: everything but the terms (the route that accepts them)."""
        token = bearer_token(authorization)
        if token is None:
            raise AccessRevoked("This token is not valid any more")
        owner, current_terms = self._identities.fresh_owner_and_terms(hash_token(token), member_id)
        require_spending_access(owner, current_terms if terms else None, tenant_id, member_id)


def _authorization(event: dict[str, Any]) -> str | None:
    headers = event.get("headers") or {}
    return next((str(value) for key, value in headers.items() if key.lower() == "authorization"), None)


def check_write(event: dict[str, Any], access: Callable[[], FreshAccess]) -> None:
    """Raise AccessRevoked / TermsNotAccepted when `event` is a write whose caller lost access since the cached
    Allow; a read passes untouched (nothing is read)."""
    if not is_write(str(event.get("httpMethod") or "")):
        return
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    tenant_id, member_id = authorizer.get("tenantId"), authorizer.get("memberId")
    if not tenant_id or not member_id:
        raise AccessRevoked("This token is not valid any more")
    route = (str(event.get("httpMethod") or "").upper(), str(event.get("path") or ""))
    access().require(_authorization(event), str(tenant_id), str(member_id), terms=route != TERMS_ACCEPTANCE)


def fresh_access_guard(access: Callable[[], FreshAccess]) -> Callable[[Handler], Handler]:
    """Decorate a REST proxy handler behind the authorizer: a write by a caller who lost access is answered 401/403
    before routing (so before body validation), with one batched read; reads go straight through."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def guarded(event: dict[str, Any], context: Any) -> dict[str, Any]:
            refused = refusal_response(lambda: check_write(event, access))
            return refused if refused is not None else handler(event, context)

        return guarded  # type: ignore[return-value]

    return decorate
