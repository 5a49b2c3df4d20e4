"""The RNE (Registro de Números Excluidos, Ley 2300 de 2023 art. 5): Colombian numbers that refuse commercial contact.

The CRC publishes the list to registered companies; the platform loads it as a whole **snapshot** (`smsctl
exclusions import FILE --snapshot-date D`, or an upload under `exclusions/` in the imports bucket). Every number of
a snapshot is written under that snapshot's id, then one write makes the snapshot current: a send sees the old
snapshot or the new one, never a mix. Marketing sends to CO numbers skip the listed numbers before pricing
(`skipped_excluded`); with no current snapshot, or one older than ExclusionListMaxAgeDays, they are refused
(ExclusionListStale). Transactional messages (asked for by the recipient) are exempt.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from smscore.domain.errors import ExclusionListStale, InvalidRequest

# The channels column: a row applies to SMS when it names `sms` or `all` (or names none); others are ignored.
SMS_CHANNELS = frozenset({"sms", "all"})
# Snapshot items outlive any snapshot that may still be used (MaxValue of ExclusionListMaxAgeDays is 60), then
# DynamoDB's TTL removes them for free: replacing a snapshot never deletes 5,000,000 items by hand.
ITEM_LIFETIME = timedelta(days=90)
DEFAULT_MAX_AGE_DAYS = 15
WRITE_BATCH = 25  # BatchWriteItem's limit

_CO_MOBILE = re.compile(r"^(?:\+?57)?(3\d{9})$")
_SEPARATORS = re.compile(r"[\s\-().]")


@dataclass(frozen=True)
class ExclusionSnapshot:
    snapshot_id: str
    snapshot_date: date  # the CRC's date of the list
    count: int  # numbers written (SMS rows, after normalisation)
    loaded_at: datetime

    def age_days(self, today: date) -> int:
        return (today - self.snapshot_date).days


class ExclusionList(Protocol):
    """What the send path reads: the current snapshot, and which of some numbers it lists."""

    def current(self) -> ExclusionSnapshot | None: ...

    def listed(self, snapshot: ExclusionSnapshot, numbers: Sequence[str]) -> set[str]:
        """The numbers (E.164) of `numbers` in `snapshot`: by key, 100 a call."""
        ...


class ExclusionWriter(Protocol):
    """What a load writes: the snapshot's numbers, then the pointer that makes it current."""

    def write_numbers(self, snapshot_id: str, numbers: Sequence[str], expires_at: datetime) -> None: ...

    def publish(self, snapshot: ExclusionSnapshot) -> None:
        """Make `snapshot` the current one, in one write."""
        ...


def normalise_listed(raw: str) -> str | None:
    """The E.164 form of an RNE number, or None (a fixed line, a typo: nothing an SMS could reach).

    The list's numbers are Colombian: the usual 10-digit mobile (with or without 57/+57) is read by a pattern; anything
    else goes through the same phone rules as contacts."""
    text = _SEPARATORS.sub("", raw)
    match = _CO_MOBILE.match(text)
    if match:
        return "+57" + match.group(1)
    if not text:
        return None
    from smscore.domain.phone import normalise

    return normalise(text, "CO").e164


def sms_numbers(lines: Iterable[str]) -> Iterator[str]:
    """E.164 numbers of the rows `number[,channels]` that apply to SMS (channels: `sms`, `all`, or empty;
    several separated by `;`, `|` or spaces). A header row and unreadable numbers are skipped."""
    for row in csv.reader(lines):
        if not row or not row[0].strip():
            continue
        channels = {c for c in re.split(r"[;|\s]+", ",".join(row[1:]).strip().casefold()) if c}
        if channels and not channels & SMS_CHANNELS:
            continue
        number = normalise_listed(row[0].strip())
        if number is not None:
            yield number


def load_snapshot(
    lines: Iterable[str],
    snapshot_date: date,
    writer: ExclusionWriter,
    *,
    now: datetime,
    batch_size: int = 5_000,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> ExclusionSnapshot:
    """Write every SMS number of `lines` under a new snapshot id, `batch_size` at a time, then publish it.

    Until the publish, sends keep using the previous snapshot; a load that fails half-way publishes nothing and its
    items expire with their TTL. Duplicates inside one batch are written once."""
    if snapshot_date > now.date():
        raise InvalidRequest(f"The snapshot date {snapshot_date.isoformat()} is in the future")
    snapshot_id = f"{snapshot_date.isoformat()}#{new_id()}"
    expires_at = now + ITEM_LIFETIME
    count = 0
    batch: dict[str, None] = {}
    for number in sms_numbers(lines):
        batch[number] = None
        if len(batch) >= batch_size:
            writer.write_numbers(snapshot_id, list(batch), expires_at)
            count += len(batch)
            batch = {}
    if batch:
        writer.write_numbers(snapshot_id, list(batch), expires_at)
        count += len(batch)
    snapshot = ExclusionSnapshot(snapshot_id=snapshot_id, snapshot_date=snapshot_date, count=count, loaded_at=now)
    writer.publish(snapshot)
    return snapshot


def require_fresh(snapshot: ExclusionSnapshot | None, today: date, max_age_days: int) -> ExclusionSnapshot:
    """The snapshot a marketing send to CO may use, or ExclusionListStale (with its date) when there is none or it
    is older than `max_age_days`."""
    if snapshot is None:
        raise ExclusionListStale(
            "No exclusion list (RNE) is loaded: marketing to Colombia must consult it first", snapshotDate=None
        )
    if snapshot.age_days(today) > max_age_days:
        raise ExclusionListStale(
            f"The exclusion list (RNE) is from {snapshot.snapshot_date.isoformat()}, older than {max_age_days} days: "
            "load a current one before marketing to Colombia",
            snapshotDate=snapshot.snapshot_date.isoformat(),
            maxAgeDays=max_age_days,
        )
    return snapshot
