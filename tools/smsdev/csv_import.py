"""`smsctl contacts import`: the contacts API's own CSV rules and import (smscore.domain.contacts), on a file.

The format and the row rules (`phone,name,tags`, rejected rows with line and reason, `not_mobile` landlines
imported with a warning) live in the layer, so the CLI, `POST /api/contacts/imports` and uploaded files
behave alike: the import is idempotent by normalised number (E.164), tags merge, opted-out contacts stay
opted out, and a contact's phone is stored in E.164.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from smscore.domain.contacts import (
    IMPORT_CHUNK_ROWS,
    REQUIRED_COLUMNS,
    TAG_SEPARATOR,
    ContactRow,
    ContactStore,
    CsvFileError,
    CsvHeaderError,
    ImportReport,
    RejectedRow,
    import_rows,
    parse_contacts,
    split_tags,
    tag_name_key,
    validate_row,
)

__all__ = [
    "REQUIRED_COLUMNS",
    "TAG_SEPARATOR",
    "ContactRow",
    "CsvFileError",
    "CsvHeaderError",
    "ImportReport",
    "ImportedTag",
    "RejectedRow",
    "data_rows_in",
    "import_contacts",
    "parse_contacts",
    "split_tags",
    "validate_row",
]


# ---------------------------------------------------------------------------------------------- the import pipeline
@dataclass(frozen=True)
class ImportedTag:
    name: str  # as first seen in the file
    tag_id: str


def data_rows_in(data: bytes) -> int:
    """Lines after the header: the progress total (quoted multi-line fields and \\r line breaks make it a bound)."""
    return max(data.count(b"\n") + (not data.endswith(b"\n")) - 1, 0)


def import_contacts(
    rows: Iterable[ContactRow | RejectedRow],
    tenant_id: str,
    store: ContactStore,
    report: ImportReport,
    *,
    workers: int = 4,
    chunk_rows: int = IMPORT_CHUNK_ROWS,
    on_progress: Callable[[int], None] | None = None,
) -> list[ImportedTag]:
    """Write the importable rows through the contacts layer (smscore.domain.contacts.import_rows).

    `store` is the contacts API's store (DynamoContactStore). Running the same file twice changes nothing.
    Raises CsvHeaderError / CsvFileError (from `parse_contacts`) before anything is written.
    """
    parsed = list(rows)  # parse everything (and refuse a bad header, bad bytes, an unclosed quote) before writing
    names: dict[str, str] = {}  # tag_name_key -> as first seen in the file
    for row in parsed:
        for name in row.tags if isinstance(row, ContactRow) else ():
            names.setdefault(tag_name_key(name), name)
    tag_ids = import_rows(
        store,
        tenant_id,
        parsed,
        report,
        datetime.now(UTC),
        workers=workers,
        chunk_rows=chunk_rows,
        on_progress=None if on_progress is None else lambda current: on_progress(current.rows_processed),
    )
    return [ImportedTag(names[key], tag_id) for key, tag_id in tag_ids.items()]
