"""Contacts, tags and imports as plain logic: identity rules, CSV rows, consent, import job state.

Decisions (README, "Contacts and tags"):
- A contact is unique per tenant by its number in E.164. Its id is derived from that key (UUIDv5 of
  `tenant#E.164`), so the natural key IS the primary key: two concurrent creates of one number write the same
  item, and a conditional put lets exactly one of them win. The same id makes imports idempotent.
- Tag names are unique per tenant by their key (NFKC, case-folded: smscore.domain.names.name_key); a guard item
  keyed by it is written in the same transaction as the tag, so concurrent creates (or renames) cannot both
  succeed. Tag and contact names holding invisible, control or noncharacters are refused (InvalidCharacter).
- Consent (opted out or not) changes in one place, `set_consent`, which the API uses today and the STOP/START
  keyword handler will use: the contact and every copy of the flag on its tag memberships move together.
- The CSV format is the one `smsctl contacts import` has always read (`phone,name,tags`, or the Spanish
  `telefono,nombre,etiquetas`), as spreadsheets save it: the encoding detected (smscore.domain.encoding), the
  separator (`,` `;` or tab) read from the header line, then the csv module over a stream of lines split only on
  \r\n, \r and \n; every cell goes through the API's own cleaning.
"""

from __future__ import annotations

import csv
import unicodedata
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from itertools import chain
from typing import Protocol

from smscore.domain.consent_records import MarketingConsent, parse_consent
from smscore.domain.encoding import (
    UndecodableText,
    UnreadableFile,
    codec_name,
    decode_chunks,
    detect_file_codec,
    text_lines,
)
from smscore.domain.errors import FieldIssue, InvalidCharacter, InvalidRequest, NotFound
from smscore.domain.names import name_key, refused_character
from smscore.domain.search import SearchQuery

# ---------------------------------------------------------------------------------------------- identity rules

# Fixed namespace: contact ids must stay the same across deployments and versions for imports to be idempotent.
CONTACT_NAMESPACE = uuid.UUID("6f1f4f0e-7c1b-4d55-9b0a-3c2f3a8e9d41")
MAX_TAG_NAME_LENGTH = 100
MAX_NAME_LENGTH = 200
MAX_TAGS_PER_CONTACT = 50  # keeps a consent change (contact + every membership) within one transaction


def contact_id_for(tenant_id: str, e164: str) -> str:
    """The id of the tenant's contact for this number: the same on every call, so the key itself is unique."""
    return str(uuid.uuid5(CONTACT_NAMESPACE, f"{tenant_id}#{e164}"))


def tag_name_key(name: str) -> str:
    """What makes two tag names one: NFKC, case-folded, trimmed (full-width `\\uff36\\uff29\\uff30` is `vip`)."""
    return name_key(name)


def _invalid(field_name: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid request: {field_name}: {message}", details=[FieldIssue(field_name, message)])


def refuse_invisible(value: str, field_name: str) -> None:
    """InvalidCharacter (400 INVALID_CHARACTER) naming the first character a name may not hold, and where."""
    refused = refused_character(value)
    if refused is not None:
        message = refused.sentence(field_name)
        raise InvalidCharacter(
            f"Invalid request: {field_name}: {message}",
            details=[FieldIssue(field_name, message)],
            codePoint=refused.code_point,
            position=refused.position,
        )


def clean_tag_name(name: str, field_name: str = "name") -> str:
    refuse_invisible(name, field_name)
    cleaned = name.strip()
    if not cleaned:
        raise _invalid(field_name, "tag name must not be blank")
    if len(cleaned) > MAX_TAG_NAME_LENGTH:
        raise _invalid(field_name, f"tag name must be at most {MAX_TAG_NAME_LENGTH} characters")
    if TAG_SEPARATOR in cleaned:
        raise _invalid(field_name, f"tag name must not contain {TAG_SEPARATOR!r} (the CSV tag separator)")
    return cleaned


def clean_contact_name(name: str | None, field_name: str = "name") -> str | None:
    """A contact's name trimmed (blank: no name), refused when it holds invisible or control characters."""
    if name is None:
        return None
    refuse_invisible(name, field_name)
    cleaned = name.strip()
    if len(cleaned) > MAX_NAME_LENGTH:
        raise _invalid(field_name, f"name must be at most {MAX_NAME_LENGTH} characters")
    return cleaned or None


@dataclass(frozen=True)
class ContactNumber:
    e164: str
    mobile: bool  # False: a valid number that cannot receive SMS (a landline); kept, skipped at send time


def contact_number(raw: str, country: str | None) -> ContactNumber | None:
    """The E.164 key of a typed number (national numbers read in `country`); None when it is not a number."""
    from smscore.domain.phone import normalise, valid_e164  # phonenumbers: on the first number, not at init

    checked = normalise(raw, country)
    if checked.e164 is not None:
        return ContactNumber(checked.e164, mobile=True)
    if checked.reason == "not_mobile":
        e164 = valid_e164(raw, country)
        if e164 is not None:
            return ContactNumber(e164, mobile=False)
    return None


def number_refusal(raw: str, country: str | None) -> str:
    """Why `raw` is no contact number: how it is written (letters, an extension...), or not a number in `country`."""
    from smscore.domain.phone import normalise

    detail = normalise(raw, country).detail
    if detail is not None:
        return detail
    where = f"in {country}" if country else "(no default country: write it as +<country code>...)"
    return f"phone is not a valid number {where}"


def require_contact_number(raw: str, country: str | None, field_name: str = "phone") -> ContactNumber:
    number = contact_number(raw, country)
    if number is None:
        raise _invalid(field_name, number_refusal(raw, country))
    return number


# ---------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Tag:
    tag_id: str
    name: str
    contact_count: int
    created_at: datetime


@dataclass(frozen=True)
class Contact:
    contact_id: str
    phone: str  # E.164 (as entered for contacts written before the contacts API)
    name: str | None
    opted_out: bool
    tag_ids: frozenset[str]
    created_at: datetime
    updated_at: datetime | None = None
    opted_out_at: datetime | None = None
    consent_source: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)  # custom merge fields (smscore.domain.personalize)
    marketing_consent: MarketingConsent | None = None  # the latest consent record (smscore.domain.consent_records)


class ConsentSource(StrEnum):
    API = "api"
    KEYWORD = "keyword"  # STOP / START replies (compliance)
    IMPORT = "import"


@dataclass(frozen=True)
class ContactFilters:
    tag_id: str | None = None
    e164: str | None = None
    text: str | None = None  # `q`: case-insensitive substring of the name or the number
    opted_out: bool | None = None


@dataclass(frozen=True)
class ContactChange:
    """A PATCH: only what is set changes."""

    name: str | None = None
    clear_name: bool = False
    add_tag_ids: frozenset[str] = frozenset()
    remove_tag_ids: frozenset[str] = frozenset()
    fields: tuple[tuple[str, str | None], ...] = ()  # custom fields set (a value) or removed (None); others kept


@dataclass(frozen=True)
class MergeRow:
    """One contact an import writes: created if new, otherwise tags added, name and custom fields replaced when
    given."""

    e164: str
    name: str | None
    tag_ids: frozenset[str]
    fields: tuple[tuple[str, str], ...] = ()
    consent: MarketingConsent | None = None  # the row's consent columns (recorded with its history)


@dataclass(frozen=True)
class MergeCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


Page = tuple[list["Tag"], dict[str, str | int] | None]


class ContactStore(Protocol):
    """Persistence of tags, contacts and memberships; DynamoContactStore in production, a fake in unit tests."""

    def create_tag(self, tenant_id: str, name: str, at: datetime) -> Tag:
        """Raises TagExists with the holder's id when the name's key (tag_name_key) is taken."""
        ...

    def ensure_tags(self, tenant_id: str, names: Sequence[str], at: datetime) -> dict[str, str]:
        """tag_name_key -> id for every name, creating the missing ones (race-safe, like create_tag)."""
        ...

    def get_tag(self, tenant_id: str, tag_id: str) -> Tag | None: ...

    def list_tags(
        self, tenant_id: str, limit: int, start_key: dict[str, str | int] | None
    ) -> tuple[list[Tag], dict[str, str | int] | None]: ...

    def rename_tag(self, tenant_id: str, tag_id: str, name: str, at: datetime) -> Tag:
        """Raises NotFound, or TagExists when another tag holds the new name."""
        ...

    def delete_tag(self, tenant_id: str, tag_id: str) -> bool:
        """Remove the tag, its name guard and every membership (contacts lose the tag id). False: no such tag."""
        ...

    def create_contact(
        self,
        tenant_id: str,
        number: ContactNumber,
        name: str | None,
        tag_ids: frozenset[str],
        at: datetime,
        fields: Mapping[str, str] | None = None,
    ) -> Contact:
        """Raises ContactExists when the number is taken; NotFound when a tag does not exist."""
        ...

    def declared_fields(self, tenant_id: str) -> tuple[str, ...]:
        """The tenant's custom merge fields, in declaration order (none declared: empty)."""
        ...

    def declare_fields(self, tenant_id: str, names: Sequence[str]) -> None:
        """Replace the tenant's custom merge fields (TenantNotFound when the tenant is gone)."""
        ...

    def get_contact(self, tenant_id: str, contact_id: str) -> Contact | None: ...

    def list_contacts(
        self, tenant_id: str, filters: ContactFilters, limit: int, start_key: dict[str, str | int] | None
    ) -> tuple[list[Contact], dict[str, str | int] | None]: ...

    def search_contacts(
        self,
        tenant_id: str,
        query: SearchQuery,
        filters: ContactFilters,
        limit: int,
        start_key: dict[str, str | int] | None,
    ) -> tuple[list[Contact], dict[str, str | int] | None]:
        """Contacts with a word starting with the query's prefix (smscore.domain.search), by the search index."""
        ...

    def update_contact(self, tenant_id: str, contact_id: str, change: ContactChange, at: datetime) -> Contact:
        """Raises NotFound for a missing contact or tag."""
        ...

    def set_opted_out(self, tenant_id: str, contact_id: str, opted_out: bool, source: str, at: datetime) -> Contact:
        """The contact's flag and every membership copy, in one transaction. Raises NotFound."""
        ...

    def set_marketing_consent(
        self, tenant_id: str, contact_id: str, consent: MarketingConsent, at: datetime
    ) -> Contact:
        """The contact's consent record, its membership copies and one new history item, in one transaction."""
        ...

    def consent_history(self, tenant_id: str, contact_id: str) -> list[MarketingConsent]:
        """Every consent change, oldest first (append-only)."""
        ...

    def delete_contact(self, tenant_id: str, contact_id: str) -> bool: ...

    def merge_contacts(self, tenant_id: str, rows: Sequence[MergeRow], at: datetime) -> MergeCounts:
        """Create-or-merge a chunk of distinct numbers; tag counts move with the memberships."""
        ...


@dataclass(frozen=True)
class TagMerge:
    into: Tag  # the tag the contacts now carry, counted after the merge
    moved: int  # contacts of the merged tag given it (they carried the merged tag)


def merge_tag(
    store: ContactStore, tenant_id: str, tag_id: str, into_id: str, at: datetime, page: int = 100
) -> TagMerge:
    """Merge a tag into another (a garbled "Clientes s�bado" into "Clientes sábado"): every contact carrying it gets
    the other tag instead, then the tag is deleted. Contacts keep their other tags; campaigns keep the old id.
    Raises NotFound for either tag, InvalidRequest when they are the same."""
    if tag_id == into_id:
        raise InvalidRequest("A tag cannot be merged into itself", details=[FieldIssue("into", "is the merged tag")])
    if store.get_tag(tenant_id, tag_id) is None:
        raise NotFound("No tag with this id")
    if store.get_tag(tenant_id, into_id) is None:
        raise NotFound("No tag with this id", details=[FieldIssue("into", "no tag with this id")])
    change = ContactChange(add_tag_ids=frozenset({into_id}), remove_tag_ids=frozenset({tag_id}))
    moved = 0
    while True:  # from the start each time: a contact moved no longer carries the tag
        members, _ = store.list_contacts(tenant_id, ContactFilters(tag_id=tag_id), page, None)
        if not members:
            break
        for contact in members:
            store.update_contact(tenant_id, contact.contact_id, change, at)
            moved += 1
    store.delete_tag(tenant_id, tag_id)
    into = store.get_tag(tenant_id, into_id)
    if into is None:
        raise NotFound("No tag with this id", details=[FieldIssue("into", "deleted meanwhile")])
    return TagMerge(into, moved)


def set_consent(
    store: ContactStore, tenant_id: str, contact_id: str, opted_out: bool, source: ConsentSource, at: datetime
) -> Contact:
    """The one way consent changes (API today, STOP/START keywords later): the send path reads the membership
    copies, so the contact and all of them move together; an opted-out contact is never sent to."""
    return store.set_opted_out(tenant_id, contact_id, opted_out, source.value, at)


def set_consent_by_number(
    store: ContactStore,
    tenant_id: str,
    raw_number: str,
    country: str | None,
    opted_out: bool,
    source: ConsentSource,
    at: datetime,
) -> Contact:
    """For the keyword handler, which knows a number, not a contact id."""
    number = require_contact_number(raw_number, country)
    contact_id = contact_id_for(tenant_id, number.e164)
    if store.get_contact(tenant_id, contact_id) is None:
        raise NotFound("No contact with this number")
    return set_consent(store, tenant_id, contact_id, opted_out, source, at)


# ---------------------------------------------------------------------------------------------- CSV rows

REQUIRED_COLUMNS = ("phone", "name", "tags")
# Header names read as each column (compared without case or accents): English and Spanish.
COLUMN_ALIASES = {
    "phone": "phone",
    "telefono": "phone",
    "name": "name",
    "nombre": "name",
    "tags": "tags",
    "etiquetas": "tags",
}
SEPARATORS = (",", ";", "\t")
TAG_SEPARATOR = ";"
MAX_ROW_CONTENT = 300  # characters of a rejected row's content kept in the report


class FileProblem(StrEnum):
    """Why a whole file was refused: a stable code the admin turns into a sentence in its language."""

    ENCODING = "ENCODING"  # bytes the detected encoding cannot read
    NOT_TEXT = "NOT_TEXT"  # no text encoding fits (a workbook, an image)
    EMPTY = "EMPTY"
    HEADER = "HEADER"  # the header lacks, or repeats, a column
    UNCLOSED_QUOTE = "UNCLOSED_QUOTE"
    FIELD_TOO_LARGE = "FIELD_TOO_LARGE"
    TOO_LARGE = "TOO_LARGE"  # an upload over the size limit


class RowProblem(StrEnum):
    """Why one row was rejected (the admin's sentence; `reason` says it in English with the detail)."""

    COLUMNS = "COLUMNS"
    PHONE_MISSING = "PHONE_MISSING"
    PHONE_INVALID = "PHONE_INVALID"
    NAME = "NAME"
    TAGS = "TAGS"
    TOO_MANY_TAGS = "TOO_MANY_TAGS"
    NOT_CSV = "NOT_CSV"
    CONSENT = "CONSENT"  # a consent column that is not a valid consent record


class CsvFileError(ValueError):
    """The file cannot be imported at all: nothing of it is written. `line` is the row it stops at, if any."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        byte_offset: int | None = None,
        problem: FileProblem = FileProblem.HEADER,
    ) -> None:
        super().__init__(message)
        self.line = line
        self.byte_offset = byte_offset
        self.problem = problem


class CsvHeaderError(CsvFileError):
    """Empty, or the header lacks a required column."""


@dataclass(frozen=True)
class ContactRow:
    line: int
    phone: str  # as typed
    name: str | None
    tags: list[str]
    warning: str | None = None  # e.g. "not_mobile": imported, but no SMS will reach it
    e164: str | None = field(default=None, compare=False)
    fields: tuple[tuple[str, str], ...] = ()  # declared custom fields of the file's extra columns, when not blank
    consent: MarketingConsent | None = None  # from the optional consent, consent_source, consent_at, consent_evidence


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str
    # the row as the file has it (cells joined by its separator), cut at MAX_ROW_CONTENT; and a RowProblem (None on
    # warnings). Not compared: a row is the same rejection whatever it held.
    content: str | None = field(default=None, compare=False)
    code: str | None = field(default=None, compare=False)


def split_tags(cell: str, separator: str = ",") -> list[str]:
    """Tag names of a cell, trimmed, without blanks or repeats (by tag_name_key), in first-seen order.

    Tags are separated by `;`; in a file separated by `;` or tabs (Excel in Spanish) also by `,`."""
    seen: dict[str, str] = {}
    if separator != ",":
        cell = cell.replace(",", TAG_SEPARATOR)
    for part in cell.split(TAG_SEPARATOR):
        name = part.strip()
        if name and tag_name_key(name) not in seen:
            seen[tag_name_key(name)] = name
    return list(seen.values())


def column_key(header_cell: str) -> str | None:
    """The column a header cell names (phone, name, tags), in English or Spanish, without case or accents."""
    folded = unicodedata.normalize("NFKD", header_cell.strip().lstrip("\ufeff")).casefold()
    return COLUMN_ALIASES.get("".join(c for c in folded if not unicodedata.combining(c)))


def _header_positions(header: list[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, column in enumerate(header):
        key = column_key(column)
        if key is not None:
            if key in positions:
                raise CsvHeaderError(f"header repeats the column {key!r}", line=1)
            positions[key] = index
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if missing:
        found = ", ".join(repr(c.strip()) for c in header[:6]) or "nothing"
        raise CsvHeaderError(
            f"the first line must name the columns telefono,nombre,etiquetas (or phone,name,tags), separated by "
            f"commas, semicolons or tabs; missing: {', '.join(missing)}; found: {found}",
            line=1,
        )
    return positions


def detect_separator(header_line: str) -> str:
    """The separator of a CSV from its header line: the one of `,` `;` tab that splits it into the most known
    columns (then the most cells); `,` when none does."""

    def score(separator: str) -> tuple[int, int]:
        cells = next(csv.reader([header_line], delimiter=separator), [])
        return sum(column_key(c) is not None for c in cells), len(cells)

    best = max(SEPARATORS, key=score)
    return best if score(best) > (0, 1) else ","


def row_content(fields: list[str], separator: str) -> str:
    text = separator.join(fields)
    return text if len(text) <= MAX_ROW_CONTENT else text[: MAX_ROW_CONTENT - 1] + "…"


def validate_row(
    line: int, fields: list[str], positions: dict[str, int], width: int, country: str | None, separator: str = ","
) -> ContactRow | RejectedRow:
    """One data row checked against the header and the tenant's default country.

    The cells go through the API's own rules: the number as POST /api/contacts reads it, the name as a contact's
    name, the tags cell refused as a whole when it holds an invisible or control character (its position is in
    the cell), then each tag as POST /api/tags cleans a name. A valid number that cannot receive SMS (a landline)
    is imported with a `not_mobile` warning: the address book is the tenant's, numbering metadata changes, and
    the send path skips it without charging.
    """
    content = row_content(fields, separator)
    if len(fields) != width:
        return RejectedRow(line, f"expected {width} columns, found {len(fields)}", content, RowProblem.COLUMNS)
    raw_phone = fields[positions["phone"]]
    phone = raw_phone.strip()
    if not phone:
        return RejectedRow(line, "phone is missing", content, RowProblem.PHONE_MISSING)
    number = contact_number(raw_phone, country)
    if number is None:
        return RejectedRow(line, number_refusal(raw_phone, country), content, RowProblem.PHONE_INVALID)
    warning = None if number.mobile else "not_mobile: imported, but this number cannot receive SMS"
    try:
        name = clean_contact_name(fields[positions["name"]])
    except InvalidRequest as refused:
        return RejectedRow(line, refused.details[0].message, content, RowProblem.NAME)
    try:
        refuse_invisible(fields[positions["tags"]], "tags")
        tags = [clean_tag_name(tag, "tags") for tag in split_tags(fields[positions["tags"]], separator)]
    except InvalidRequest as refused:
        return RejectedRow(line, refused.details[0].message, content, RowProblem.TAGS)
    if len(tags) > MAX_TAGS_PER_CONTACT:
        return RejectedRow(line, f"more than {MAX_TAGS_PER_CONTACT} tags", content, RowProblem.TOO_MANY_TAGS)
    return ContactRow(line, phone, name, tags, warning, number.e164)


_CSV_REASONS = {  # the csv module's messages (strict mode), as a row's reason
    "',' expected after '\"'": "a closing quote must be followed by a comma or the end of the line",
}


def csv_records(lines: Iterable[str], separator: str = ",") -> Iterator[tuple[int, list[str] | str]]:
    """(row, fields) of every record of a CSV, or (row, reason) for a row that is not valid CSV.

    `lines` are split only on \r\n, \r and \n with their breaks kept (encoding.text_lines), so the csv module
    reads them as a file opened with newline="". Rows are numbered as a spreadsheet numbers them: the header is
    1, a blank line is a row, and a quoted field spanning several lines is one row. Raises CsvFileError when the
    rest of the file cannot be read: bytes that are not text (encoding.UndecodableText), or a quote never closed.
    """
    reader = csv.reader(lines, strict=True, delimiter=separator)
    row = 0
    while True:
        row += 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except UndecodableText as exc:
            raise CsvFileError(
                f"the file is not valid {codec_name(exc.codec)}: on line {row}, {exc.what}; "
                "save it as UTF-8 (CSV UTF-8) and try again",
                line=row,
                byte_offset=exc.offset,
                problem=FileProblem.ENCODING,
            ) from None
        except csv.Error as exc:
            reason = str(exc)
            if reason == "unexpected end of data":
                raise CsvFileError(
                    f"line {row}: a quoted field starts on this line and is never closed (a quote is missing), "
                    "so the rest of the file cannot be read",
                    line=row,
                    problem=FileProblem.UNCLOSED_QUOTE,
                ) from None
            if reason.startswith("field larger than field limit"):
                raise CsvFileError(
                    f"line {row}: a field is longer than {csv.field_size_limit():,} characters "
                    "(is the closing quote of a field on this line missing?)",
                    line=row,
                    problem=FileProblem.FIELD_TOO_LARGE,
                ) from None
            yield row, f"not valid CSV: {_CSV_REASONS.get(reason, reason)}"
            continue
        yield row, fields


def _header(records: Iterator[tuple[int, list[str] | str]]) -> list[str]:
    try:
        _, header = next(records)
    except StopIteration:
        raise CsvHeaderError(
            "file is empty: expected a header telefono,nombre,etiquetas (or phone,name,tags)", problem=FileProblem.EMPTY
        ) from None
    if isinstance(header, str):
        raise CsvHeaderError(f"header is {header}", line=1)
    return header


def _field_positions(header: list[str], declared: Sequence[str]) -> dict[str, int]:
    """Extra columns named as a declared custom field (case-insensitively): field -> column."""
    wanted = set(declared)
    positions: dict[str, int] = {}
    for index, column in enumerate(header):
        key = column.strip().lstrip("\ufeff").lower()
        if key in wanted and key not in positions:
            positions[key] = index
    return positions


CONSENT_COLUMNS = ("consent", "consent_source", "consent_at", "consent_evidence")


def _consent_positions(header: list[str]) -> dict[str, int]:
    """The optional consent columns the header names (case-insensitively): column -> position."""
    positions: dict[str, int] = {}
    for index, column in enumerate(header):
        key = column.strip().lstrip("\ufeff").lower()
        if key in CONSENT_COLUMNS and key not in positions:
            positions[key] = index
    return positions


def _row_consent(
    row: ContactRow | RejectedRow, cells: list[str], positions: dict[str, int], now: datetime
) -> ContactRow | RejectedRow:
    """The row with its consent record (source `import` unless `consent_source` says otherwise); a blank `consent`
    cell records nothing; a bad one rejects the row (`CONSENT`)."""
    if "consent" not in positions or not isinstance(row, ContactRow) or len(cells) <= max(positions.values()):
        return row

    def cell(name: str) -> str:
        return cells[positions[name]].strip() if name in positions else ""

    if not cell("consent"):
        return row
    try:
        consent = parse_consent(
            cell("consent"),
            cell("consent_source") or "import",
            cell("consent_at") or None,
            cell("consent_evidence") or None,
            now,
            field="consent",
        )
    except InvalidRequest as refused:
        detail = refused.details[0]
        return RejectedRow(row.line, f"{detail.field}: {detail.message}", row_content(cells, ","), RowProblem.CONSENT)
    return replace(row, consent=consent)


def _row_fields(row: ContactRow | RejectedRow, cells: list[str], positions: dict[str, int]) -> ContactRow | RejectedRow:
    """The row with its custom fields' cells (blank cells leave the field as it is); refused like a name."""
    if not positions or not isinstance(row, ContactRow) or len(cells) <= max(positions.values()):
        return row
    values: list[tuple[str, str]] = []
    for name, index in positions.items():
        try:
            value = clean_field_value(cells[index], name)
        except InvalidRequest as refused:
            return RejectedRow(row.line, refused.details[0].message)
        if value is not None:
            values.append((name, value))
    return replace(row, fields=tuple(values))


def clean_field_value(value: str | None, field_name: str) -> str | None:
    """A custom field's value: a name's rules (no invisible or control characters, trimmed, blank = none)."""
    if value is None:
        return None
    refuse_invisible(value, field_name)
    cleaned = value.strip()
    if len(cleaned) > MAX_NAME_LENGTH:
        raise _invalid(field_name, f"a field value must be at most {MAX_NAME_LENGTH} characters")
    return cleaned or None


def parse_contacts(
    lines: Iterable[str], country: str | None, declared: Sequence[str] = (), now: datetime | None = None
) -> Iterator[ContactRow | RejectedRow]:
    """Rows of a contacts CSV, each either importable or rejected with its row number (see csv_records) and reason.

    Raises CsvHeaderError before yielding anything when the header is missing or incomplete, and CsvFileError
    where the file stops being readable (check_csv_file finds that before anything is written).
    """
    separator, lines = _with_separator(lines)
    records = csv_records(lines, separator)
    header = _header(records)
    positions = _header_positions(header)
    custom = _field_positions(header, declared)
    consent = _consent_positions(header)
    at = now or datetime.now(UTC)
    width = len(header)
    for line, fields in records:
        if isinstance(fields, str):
            yield RejectedRow(line, fields, None, RowProblem.NOT_CSV)
        elif fields and not (len(fields) == 1 and not fields[0].strip()):  # not a blank line
            row = _row_fields(validate_row(line, fields, positions, width, country, separator), fields, custom)
            yield _row_consent(row, fields, consent, at)


def _with_separator(lines: Iterable[str]) -> tuple[str, Iterator[str]]:
    """The file's separator (from its first line) and its lines, that first line still in them."""
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        return ",", iter(())
    return detect_separator(first), chain([first], lines)


def checked_csv_lines(read: Callable[[], Iterable[bytes]]) -> Iterator[str]:
    """The lines of a CSV file (a request body, an upload), decoded in the encoding it was saved in
    (encoding.detect_file_codec) and split as CSV splits them (encoding.text_lines), once the whole file was found
    importable.

    `read` gives the file's bytes, streamed: it is called three times, to find the encoding, to check the file
    (check_csv_file: CsvHeaderError, CsvFileError) and for the import, so that memory stays bounded by a chunk and
    a fault half way through the file writes nothing.
    """
    codec = file_codec(read())
    check_csv_file(text_lines(decode_chunks(read(), codec)))
    return text_lines(decode_chunks(read(), codec))


def file_codec(chunks: Iterable[bytes]) -> str:
    """detect_file_codec, its refusal as the CsvFileError of a file that is not text."""
    try:
        return detect_file_codec(chunks)
    except UnreadableFile as exc:
        raise CsvFileError(str(exc), problem=FileProblem.NOT_TEXT) from None


def check_csv_file(lines: Iterable[str]) -> None:
    """Read a whole CSV without validating its rows: CsvHeaderError / CsvFileError if it cannot be imported.

    Imports call it first, so that a file that stops being readable half way (bytes that are not UTF-8, a quote
    never closed) writes nothing, rather than the rows before the fault.
    """
    separator, lines = _with_separator(lines)
    records = csv_records(lines, separator)
    _header_positions(_header(records))
    for _ in records:
        pass


# ---------------------------------------------------------------------------------------------- import jobs


class ImportStatus(StrEnum):
    AWAITING_UPLOAD = "AWAITING_UPLOAD"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass
class ImportReport:
    """Counts and the first `limit` rejected rows / warnings, so a 100,000-row file gives a readable answer."""

    limit: int = 100
    imported: int = 0  # valid rows written (created + updated + unchanged, repeats of a number included)
    rejected: int = 0
    warned: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_rows: list[RejectedRow] = field(default_factory=list)
    warnings: list[RejectedRow] = field(default_factory=list)

    @property
    def rows_processed(self) -> int:
        return self.imported + self.rejected

    def reject(self, row: RejectedRow) -> None:
        self.rejected += 1
        if len(self.rejected_rows) < self.limit:
            self.rejected_rows.append(row)

    def warn(self, row: ContactRow) -> None:
        self.warned += 1
        if row.warning and len(self.warnings) < self.limit:
            self.warnings.append(RejectedRow(row.line, row.warning))

    def add(self, counts: MergeCounts, rows: int) -> None:
        self.imported += rows
        self.created += counts.created
        self.updated += counts.updated
        self.unchanged += counts.unchanged


@dataclass(frozen=True)
class ImportJob:
    job_id: str
    status: ImportStatus
    source: str  # "body" | "upload"
    created_at: datetime
    updated_at: datetime
    report: ImportReport
    error: str | None = None
    error_code: str | None = None  # a FileProblem when the job FAILED


def merge_rows(rows: Sequence[ContactRow], tag_ids: dict[str, str]) -> list[MergeRow]:
    """One MergeRow per distinct number of a chunk: repeats merge their tags, the last name given wins."""
    merged: dict[str, MergeRow] = {}
    for row in rows:
        assert row.e164 is not None  # parse_contacts sets it on every accepted row
        tags = frozenset(tag_ids[tag_name_key(name)] for name in row.tags)
        previous = merged.get(row.e164)
        if previous is None:
            merged[row.e164] = MergeRow(row.e164, row.name, tags, row.fields, row.consent)
        else:
            fields = tuple({**dict(previous.fields), **dict(row.fields)}.items())
            merged[row.e164] = MergeRow(
                row.e164, row.name or previous.name, previous.tag_ids | tags, fields, row.consent or previous.consent
            )
    return list(merged.values())


IMPORT_CHUNK_ROWS = 40  # distinct numbers per write: one transaction of contacts + memberships + tag counts


def import_contacts(
    store: ContactStore,
    tenant_id: str,
    country: str | None,
    lines: Iterable[str],
    report: ImportReport,
    at: datetime,
    *,
    workers: int = 4,
    chunk_rows: int = IMPORT_CHUNK_ROWS,
    on_progress: Callable[[ImportReport], None] | None = None,
    declared: Sequence[str] = (),
) -> dict[str, str]:
    """Validate and write every line of a CSV (see import_rows). Raises CsvHeaderError before writing anything, and
    CsvFileError where the file stops being readable (run check_csv_file on it first to write nothing then).
    Extra columns named as one of the `declared` custom fields fill that field."""
    rows = parse_contacts(lines, country, declared, at)
    first = next(rows, None)  # the header is read (and refused) before any write
    return import_rows(
        store,
        tenant_id,
        chain([first] if first is not None else [], rows),
        report,
        at,
        workers=workers,
        chunk_rows=chunk_rows,
        on_progress=on_progress,
    )


def import_rows(
    store: ContactStore,
    tenant_id: str,
    rows: Iterable[ContactRow | RejectedRow],
    report: ImportReport,
    at: datetime,
    *,
    workers: int = 4,
    chunk_rows: int = IMPORT_CHUNK_ROWS,
    on_progress: Callable[[ImportReport], None] | None = None,
) -> dict[str, str]:
    """Write validated rows: idempotent by number (a second run changes nothing), tags merged, consent kept.

    Tag names are resolved on this thread before a chunk goes to a worker, so workers never race on a name
    (and concurrent imports are settled by the tag name guard). `report` counts what was written as it goes,
    so after a failure (the store's exception propagates) it says how far the import got; running the file
    again is safe. Returns tag_name_key -> tag id of every tag the rows named.
    """
    tag_ids: dict[str, str] = {}
    in_flight: deque[tuple[Future[MergeCounts], int]] = deque()

    def settle(future: Future[MergeCounts], rows: int) -> None:
        report.add(future.result(), rows)
        if on_progress is not None:
            on_progress(report)

    def submit(pool: ThreadPoolExecutor, chunk: list[ContactRow]) -> None:
        wanted: dict[str, str] = {}  # key -> the name as first seen in the file
        for name in (name for row in chunk for name in row.tags if tag_name_key(name) not in tag_ids):
            wanted.setdefault(tag_name_key(name), name)
        if wanted:
            tag_ids.update(store.ensure_tags(tenant_id, list(wanted.values()), at))
        in_flight.append((pool.submit(store.merge_contacts, tenant_id, merge_rows(chunk, tag_ids), at), len(chunk)))
        while len(in_flight) > workers * 2:
            settle(*in_flight.popleft())

    with ThreadPoolExecutor(max_workers=workers) as pool:
        chunk: list[ContactRow] = []
        numbers: set[str] = set()
        try:
            for row in rows:
                if isinstance(row, RejectedRow):
                    report.reject(row)
                    continue
                if row.warning:
                    report.warn(row)
                chunk.append(row)
                numbers.add(row.e164 or "")
                if len(numbers) >= chunk_rows:
                    submit(pool, chunk)
                    chunk, numbers = [], set()
            if chunk:
                submit(pool, chunk)
            while in_flight:
                settle(*in_flight.popleft())
        finally:
            for future, _ in in_flight:
                future.cancel()
    if on_progress is not None:
        on_progress(report)
    return tag_ids
