"""Terms acceptance as the domain sees it: what a store records, so the data layer needs nothing from the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Acceptance:
    member_id: str
    tenant_id: str
    version: str
    accepted_at: datetime
    source: str


class TermsStore(Protocol):
    def current_terms_version(self) -> str | None: ...

    def accepted(self, member_id: str) -> tuple[str, str | None, datetime | None] | None:
        """(tenant id, accepted version, accepted at) of an active member; None when none is active."""
        ...

    def accept(self, acceptance: Acceptance) -> bool:
        """The member's acceptance and its audit entry, in one transaction, only while the member is active in that
        tenant and has not accepted this version yet; False when a condition failed (nothing written)."""
        ...
