"""In-memory fakes of the opt-out ports: the SuppressionList (held to DynamoSuppressionList by
tests/contract/test_suppression_list.py) and the contacts an opt-out reaches (smscore.domain.inbound)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from smscore.domain.contacts import Contact
from smscore.domain.errors import NotFound
from smscore.domain.ports import ConsentChange


@dataclass
class InMemorySuppressionList:
    """Like the Suppressions table: one entry per (sender, number), replaced only by a strictly later change."""

    entries: dict[tuple[str, str], ConsentChange] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, change: ConsentChange) -> bool:
        with self._lock:
            stored = self.entries.get((change.sender, change.number))
            if stored is not None and not stored.at < change.at:
                return False
            self.entries[(change.sender, change.number)] = change
            return True

    def is_suppressed(self, number: str, sender: str) -> bool:
        stored = self.entries.get((sender, number))
        return stored is not None and stored.opted_out

    def suppressed(self, numbers: Sequence[str], sender: str) -> set[str]:
        return {n for n in numbers if self.is_suppressed(n, sender)}

    def opt_out(self, number: str, sender: str, at: datetime | None = None) -> None:
        """Given-step helper: the number replied STOP to the sender."""
        self.record(ConsentChange(number, sender, True, "STOP", at or datetime.now(UTC), "test"))


@dataclass
class InMemoryConsentContacts:
    """Every tenant's contacts by number, as the Contacts table's by_number index finds them."""

    contacts: dict[tuple[str, str], tuple[str, Contact]] = field(default_factory=dict)  # key -> (e164, contact)

    def add(
        self, tenant_id: str, contact_id: str, e164: str, opted_out: bool = False, source: str | None = None
    ) -> None:
        contact = Contact(
            contact_id=contact_id,
            phone=e164,
            name=None,
            opted_out=opted_out,
            tag_ids=frozenset(),
            created_at=datetime(2026, 11, 1, tzinfo=UTC),
            consent_source=source,
        )
        self.contacts[(tenant_id, contact_id)] = (e164, contact)

    def contact(self, tenant_id: str, contact_id: str) -> Contact:
        return self.contacts[(tenant_id, contact_id)][1]

    def contacts_with_number(self, e164: str) -> list[tuple[str, str]]:
        return sorted(key for key, (number, _) in self.contacts.items() if number == e164)

    def get_contact(self, tenant_id: str, contact_id: str) -> Contact | None:
        found = self.contacts.get((tenant_id, contact_id))
        return found[1] if found else None

    def set_opted_out(self, tenant_id: str, contact_id: str, opted_out: bool, source: str, at: datetime) -> Contact:
        found = self.contacts.get((tenant_id, contact_id))
        if found is None:
            raise NotFound("No contact with this id")
        e164, contact = found
        updated = replace(
            contact, opted_out=opted_out, consent_source=source, opted_out_at=at if opted_out else None, updated_at=at
        )
        self.contacts[(tenant_id, contact_id)] = (e164, updated)
        return updated
