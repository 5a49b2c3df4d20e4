"""In-memory fake of the opt-out port: the SuppressionList, held to DynamoSuppressionList by
tests/contract/test_suppression_list.py."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from smscore.domain.ports import ConsentChange, Recorded, RecordOutcome


@dataclass
class InMemorySuppressionList:
    """Like the Suppressions table: one entry per (number, sender), replaced only by a strictly later change; and
    the provider messages already handled, each remembered until its `remember_until` (the table's TTL)."""

    entries: dict[tuple[str, str], ConsentChange] = field(default_factory=dict)
    seen: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (provider, message id) -> until
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, change: ConsentChange, remember_until: datetime | None = None) -> RecordOutcome:
        return self.apply(change, remember_until).outcome

    def apply(self, change: ConsentChange, remember_until: datetime | None = None) -> Recorded:
        with self._lock:
            message = (change.provider, change.reference) if change.reference and remember_until else None
            if message is not None and message in self.seen:
                return Recorded(RecordOutcome.DUPLICATE)
            if message is not None and remember_until is not None:
                self.seen[message] = remember_until
            stored = self.entries.get((change.sender, change.number))
            if stored is not None and not stored.at < change.at:
                return Recorded(RecordOutcome.SUPERSEDED)
            was_opted_out = stored is not None and stored.opted_out
            self.entries[(change.sender, change.number)] = change
            return Recorded(RecordOutcome.APPLIED, changed=was_opted_out != change.opted_out)

    def is_suppressed(self, number: str, sender: str) -> bool:
        stored = self.entries.get((sender, number))
        return stored is not None and stored.opted_out

    def suppressed(self, numbers: Sequence[str], sender: str, *, consistent: bool = False) -> set[str]:
        return {n for n in numbers if self.is_suppressed(n, sender)}

    def opt_outs(self, numbers: Sequence[str], sender: str) -> dict[str, ConsentChange]:
        return {n: self.entries[(sender, n)] for n in set(numbers) if self.is_suppressed(n, sender)}

    def opt_out(self, number: str, sender: str, at: datetime | None = None, keyword: str = "STOP") -> None:
        """Given-step helper: the number replied STOP (or `keyword`) to the sender."""
        self.record(ConsentChange(number, sender, True, keyword, at or datetime.now(UTC), "test"))
