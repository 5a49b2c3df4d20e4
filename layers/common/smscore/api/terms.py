"""POST /api/me/terms: a member accepts the current terms of service from the admin's read-only banner (or any client).

Acceptance is recorded on the member (what the authorizer and every write's fresh check read) and, in the same
transaction, as an audit entry that is never replaced: who (member, tenant), when, which version, from where. A
repeat of an acceptance already recorded changes nothing and answers the recorded one. With no terms published there
is nothing to accept (409 NO_TERMS_PUBLISHED).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import Field

from smscore.api.models import ApiModel
from smscore.domain.errors import AccessRevoked, NoTermsPublished
from smscore.domain.terms import Acceptance, TermsStore

TERMS_SOURCE_API = "api"


class TermsAcceptanceDto(ApiModel):
    member_id: str
    accepted_terms_version: str = Field(description="The version accepted: the current one")
    accepted_at: datetime = Field(description="When it was accepted (the first acceptance of this version)")
    access: str = Field(default="FULL", description="The member's access from now on")


class TermsApi:
    def __init__(self, store: TermsStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._clock = clock

    def has_current(self, tenant_id: str, member_id: str) -> bool:
        """Whether the member has accepted the current terms, read now (GET /api/me after an acceptance)."""
        current = self._store.current_terms_version()
        state = self._store.accepted(member_id)
        if state is None or state[0] != tenant_id:
            return False
        return current is None or state[1] == current

    def accept(self, tenant_id: str, member_id: str, source: str = TERMS_SOURCE_API) -> TermsAcceptanceDto:
        version = self._store.current_terms_version()
        if version is None:
            raise NoTermsPublished("No terms of service are published: there is nothing to accept")
        for _attempt in range(2):
            state = self._store.accepted(member_id)
            if state is None or state[0] != tenant_id:
                raise AccessRevoked("This token is not valid any more")
            _tenant, accepted_version, accepted_at = state
            if accepted_version == version:  # accepted already (by a member created before times were kept: now)
                return TermsAcceptanceDto(
                    member_id=member_id, accepted_terms_version=version, accepted_at=accepted_at or self._clock()
                )
            now = self._clock()
            if self._store.accept(Acceptance(member_id, tenant_id, version, now, source)):
                return TermsAcceptanceDto(member_id=member_id, accepted_terms_version=version, accepted_at=now)
        raise AccessRevoked("This token is not valid any more")
