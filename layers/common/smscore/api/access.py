"""Fresh access checks for the routes that spend credits or change consent.

The authorizer's policy is cached by API Gateway for `AuthorizerCacheTtl` seconds; reading routes live with
that window, spending routes do not: they re-read the token, its member and the current terms version in one
consistent read (a single TransactGetItems call) on every request.
"""

from __future__ import annotations

from typing import Protocol

from smscore.domain.auth import TokenOwner, bearer_token, hash_token, require_spending_access
from smscore.domain.errors import AccessRevoked


class FreshIdentityReader(Protocol):
    def fresh_owner_and_terms(self, token_hash: str, member_id: str) -> tuple[TokenOwner | None, str | None]:
        """The token's owner and the current terms version, read together and strongly consistent."""
        ...


class SpendingAccess:
    """Re-checks, per request, what the cached authorizer policy may no longer reflect."""

    def __init__(self, identities: FreshIdentityReader) -> None:
        self._identities = identities

    def require(self, authorization: str | None, tenant_id: str, member_id: str) -> None:
        token = bearer_token(authorization)
        if token is None:
            raise AccessRevoked("This token is not valid any more")
        owner, terms = self._identities.fresh_owner_and_terms(hash_token(token), member_id)
        require_spending_access(owner, terms, tenant_id, member_id)
