"""The token authorizer's decision as an API Gateway IAM policy.

The policy covers every route, not only the one called, because API Gateway caches it per token for
the authorizer TTL and reuses it for whatever route the same token calls next.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
)

from smscore.domain.auth import Access, TokenOwner, bearer_token, decide_access, hash_token, used_hour


class Unauthorized(Exception):
    """API Gateway answers 401 when a TOKEN authorizer fails with exactly this message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


class IdentityStore(Protocol):
    def token_owner(self, token_hash: str) -> TokenOwner | None: ...

    def current_terms_version(self) -> str | None: ...

    def mark_used(self, token_hash: str, hour: datetime) -> None:
        """Record `hour` as the token's last use (a no-op when another call recorded it first)."""
        ...


def authorize(
    authorization: str | None, method_arn: str, store: IdentityStore, now: datetime | None = None
) -> dict[str, Any]:
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized()
    now = now or datetime.now(UTC)
    token_hash = hash_token(token)
    owner = store.token_owner(token_hash)
    access = decide_access(owner, store.current_terms_version(), now)
    if owner is None or access is Access.DENIED:
        raise Unauthorized()
    if owner.last_used_at != used_hour(now):
        store.mark_used(token_hash, used_hour(now))
    # A `read` key is allowed every route here: each write re-reads the key fresh and answers 403
    # INSUFFICIENT_SCOPE (smscore.api.access), where the gateway's own 403 could only say TERMS_NOT_ACCEPTED.
    policy = APIGatewayAuthorizerResponse.from_route_arn(
        method_arn,
        principal_id=owner.member_id,
        context={
            "tenantId": owner.tenant_id,
            "memberId": owner.member_id,
            "access": access.value,
            "scope": owner.scope.value,
        },
    )
    # A member without the current terms (READ_ONLY) is allowed every route here too: every write re-reads the member
    # and the terms fresh and answers 403 TERMS_NOT_ACCEPTED (smscore.api.access), except POST /api/me/terms, which
    # accepts them. Denying writes here would keep the policy cached for AuthorizerCacheTtl seconds after an
    # acceptance, refusing the member's first sends with TERMS_NOT_ACCEPTED although the terms were accepted.
    policy.allow_all_routes()
    return policy.asdict()
