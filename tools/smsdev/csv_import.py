"""Parsing and validation of a contacts CSV (`phone,name,tags`), kept free of AWS so it is unit-tested alone.

Decisions:
- Header columns are matched case-insensitively in any order; all of `phone`, `name`, `tags` are required,
  extra columns are ignored (but every row must have as many fields as the header).
- A phone that is empty, or that is not a valid number in the tenant's default country, rejects the row.
- A valid number that cannot receive SMS (`not_mobile`, e.g. a landline) is IMPORTED with a warning:
  the contact list is the tenant's address book, numbering metadata changes (portability, plan updates),
  and the send path re-checks every number anyway and skips it without charging.
- The phone is stored as entered (trimmed); campaigns normalise at send time.
- Tags are separated by `;`; blanks are dropped and repeats (case-insensitive) collapse into one.
- Blank lines are skipped silently; the same number on two rows gives two contacts (a shared phone).

`import_contacts` is the whole pipeline behind `smsctl contacts import`: rows are validated here and written
through a `ContactWriter` (the admin store, or an in-memory fake in tests) in chunks from a few threads.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from smscore.domain.phone import normalise
from smsdev.admin_store import ContactInput

REQUIRED_COLUMNS = ("phone", "name", "tags")
TAG_SEPARATOR = ";"
MAX_TAG_NAME_LENGTH = 100
MAX_NAME_LENGTH = 200
IMPORT_CHUNK_ROWS = 500  # rows handed to one worker: ~20 BatchWriteItem calls of contacts + memberships


class CsvHeaderError(ValueError):
    """The file cannot be imported at all (empty, or the header lacks a required column)."""


@dataclass(frozen=True)
class ContactRow:
    line: int
    phone: str
    name: str | None
    tags: list[str]
    warning: str | None = None  # e.g. "not_mobile": imported, but no SMS will reach it


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


@dataclass
class ImportReport:
    """Counts and the first `limit` rejected rows / warnings, so a 100,000-row file gives a readable answer."""

    limit: int = 100
    imported: int = 0
    rejected: int = 0
    warned: int = 0
    rejected_rows: list[RejectedRow] = field(default_factory=list)
    warnings: list[RejectedRow] = field(default_factory=list)

    def reject(self, row: RejectedRow) -> None:
        self.rejected += 1
        if len(self.rejected_rows) < self.limit:
            self.rejected_rows.append(row)

    def warn(self, row: ContactRow) -> None:
        self.warned += 1
        if row.warning and len(self.warnings) < self.limit:
            self.warnings.append(RejectedRow(row.line, row.warning))


def split_tags(cell: str) -> list[str]:
    """Tag names of a cell, trimmed, without blanks or case-insensitive repeats, in first-seen order."""
    seen: dict[str, str] = {}
    for part in cell.split(TAG_SEPARATOR):
        name = part.strip()
        if name and name.casefold() not in seen:
            seen[name.casefold()] = name
    return list(seen.values())


def _header_positions(header: list[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, column in enumerate(header):
        key = column.strip().lstrip("\ufeff").lower()
        if key in REQUIRED_COLUMNS:
            if key in positions:
                raise CsvHeaderError(f"header repeats the column {key!r}")
            positions[key] = index
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if missing:
        raise CsvHeaderError(
            f"header must contain the columns {','.join(REQUIRED_COLUMNS)}; missing: {', '.join(missing)}"
        )
    return positions


def validate_row(
    line: int, fields: list[str], positions: dict[str, int], width: int, country: str | None
) -> ContactRow | RejectedRow:
    """One data row checked against the header and the tenant's default country."""
    if len(fields) != width:
        return RejectedRow(line, f"expected {width} columns, found {len(fields)}")
    phone = fields[positions["phone"]].strip()
    if not phone:
        return RejectedRow(line, "phone is missing")
    checked = normalise(phone, country)
    warning = None
    if checked.reason == "not_mobile":
        warning = "not_mobile: imported, but this number cannot receive SMS"
    elif not checked.valid:
        where = f"in {country}" if country else "(no default country: write it as +<country code>...)"
        return RejectedRow(line, f"phone is not a valid number {where}")
    name = fields[positions["name"]].strip() or None
    if name is not None and len(name) > MAX_NAME_LENGTH:
        return RejectedRow(line, f"name is longer than {MAX_NAME_LENGTH} characters")
    tags = split_tags(fields[positions["tags"]])
    too_long = [t for t in tags if len(t) > MAX_TAG_NAME_LENGTH]
    if too_long:
        return RejectedRow(line, f"tag name longer than {MAX_TAG_NAME_LENGTH} characters")
    return ContactRow(line, phone, name, tags, warning)


def parse_contacts(lines: Iterable[str], country: str | None) -> Iterator[ContactRow | RejectedRow]:
    """Rows of a contacts CSV, each either importable or rejected with its (1-based) line number and reason.

    Raises CsvHeaderError before yielding anything when the header is missing or incomplete.
    """
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvHeaderError("file is empty: expected a header phone,name,tags") from None
    except csv.Error as exc:
        raise CsvHeaderError(f"header is not valid CSV: {exc}") from None
    positions = _header_positions(header)
    width = len(header)
    while True:
        line = reader.line_num + 1  # a quoted field may span lines: report where the record starts
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RejectedRow(line, f"not valid CSV: {exc}")
            continue
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line
        yield validate_row(line, fields, positions, width, country)


# ---------------------------------------------------------------------------------------------- the import pipeline
class ContactWriter(Protocol):
    """What the import writes through (DynamoAdminStore implements it)."""

    def ensure_tag(self, tenant_id: str, name: str) -> str: ...

    def add_contacts(
        self, tenant_id: str, contacts: Sequence[ContactInput], tag_ids: dict[str, str] | None = None
    ) -> list[str]: ...


@dataclass(frozen=True)
class ImportedTag:
    name: str  # as first seen in the file
    tag_id: str


def data_rows_in(text: str) -> int:
    """Lines after the header: the progress total (quoted multi-line fields make it an upper bound)."""
    return max(text.count("\n") + (not text.endswith("\n")) - 1, 0)


def import_contacts(
    rows: Iterable[ContactRow | RejectedRow],
    tenant_id: str,
    writer: ContactWriter,
    report: ImportReport,
    *,
    workers: int = 4,
    chunk_rows: int = IMPORT_CHUNK_ROWS,
    on_progress: Callable[[int], None] | None = None,
) -> list[ImportedTag]:
    """Write the importable rows in chunks from `workers` threads; count everything in `report` as it goes.

    Tag names are resolved (created on first use) on the calling thread before a chunk is handed to a
    worker, so two workers never create the same tag. `report.imported` only counts chunks that were
    written, so when a write fails (the writer's exception propagates) the caller can say how far it got.
    The import is not idempotent: running the same file twice creates the contacts twice.
    Raises CsvHeaderError (from `parse_contacts`) before anything is written.
    """
    tags: dict[str, ImportedTag] = {}
    in_flight: deque[tuple[Future[list[str]], int]] = deque()

    def settle(future: Future[list[str]], written: int) -> None:
        future.result()
        report.imported += written
        if on_progress is not None:
            on_progress(report.imported + report.rejected)

    def submit(pool: ThreadPoolExecutor, chunk: list[ContactRow]) -> None:
        for row in chunk:
            for name in row.tags:
                key = name.casefold()
                if key not in tags:
                    tags[key] = ImportedTag(name, writer.ensure_tag(tenant_id, name))
        tag_ids = {key: tag.tag_id for key, tag in tags.items()}
        contacts = [ContactInput(phone=row.phone, name=row.name, tag_names=row.tags) for row in chunk]
        in_flight.append((pool.submit(writer.add_contacts, tenant_id, contacts, tag_ids), len(chunk)))
        while len(in_flight) > workers * 2:
            settle(*in_flight.popleft())

    with ThreadPoolExecutor(max_workers=workers) as pool:
        chunk: list[ContactRow] = []
        try:
            for row in rows:
                if isinstance(row, RejectedRow):
                    report.reject(row)
                    continue
                if row.warning:
                    report.warn(row)
                chunk.append(row)
                if len(chunk) >= chunk_rows:
                    submit(pool, chunk)
                    chunk = []
            if chunk:
                submit(pool, chunk)
            while in_flight:
                settle(*in_flight.popleft())
        finally:
            for future, _ in in_flight:
                future.cancel()
    if on_progress is not None:
        on_progress(report.imported + report.rejected)
    return list(tags.values())
