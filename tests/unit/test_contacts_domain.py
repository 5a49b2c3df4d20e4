"""Contacts rules without AWS: number keys, tag names, chunk merging, the import loop and consent by number."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from smscore.domain.contacts import (
    ConsentSource,
    Contact,
    ContactRow,
    CsvHeaderError,
    ImportReport,
    MergeCounts,
    MergeRow,
    clean_tag_name,
    contact_id_for,
    contact_number,
    import_contacts,
    merge_rows,
    set_consent_by_number,
)
from smscore.domain.errors import InvalidRequest, NotFound

AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class InMemoryContacts:
    """The part of the ContactStore port the import and consent use, with DynamoDB's merge semantics."""

    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.tags: dict[str, str] = {}  # folded name -> id
        self._lock = threading.Lock()

    def ensure_tags(self, tenant_id: str, names: Sequence[str], at: datetime) -> dict[str, str]:
        with self._lock:
            for name in names:
                self.tags.setdefault(name.casefold(), f"tag-{name.casefold()}")
            return {name.casefold(): self.tags[name.casefold()] for name in names}

    def merge_contacts(self, tenant_id: str, rows: Sequence[MergeRow], at: datetime) -> MergeCounts:
        created = updated = unchanged = 0
        with self._lock:
            for row in rows:
                contact_id = contact_id_for(tenant_id, row.e164)
                known = self.contacts.get(contact_id)
                if known is None:
                    self.contacts[contact_id] = Contact(contact_id, row.e164, row.name, False, row.tag_ids, at)
                    created += 1
                    continue
                merged = replace(known, name=row.name or known.name, tag_ids=known.tag_ids | row.tag_ids)
                if merged == known:
                    unchanged += 1
                else:
                    self.contacts[contact_id] = merged
                    updated += 1
        return MergeCounts(created, updated, unchanged)

    def get_contact(self, tenant_id: str, contact_id: str) -> Contact | None:
        return self.contacts.get(contact_id)

    def set_opted_out(self, tenant_id: str, contact_id: str, opted_out: bool, source: str, at: datetime) -> Contact:
        contact = replace(self.contacts[contact_id], opted_out=opted_out, consent_source=source)
        self.contacts[contact_id] = contact
        return contact


def run_import(store: InMemoryContacts, text: str, chunk_rows: int = 2) -> ImportReport:
    report = ImportReport()
    import_contacts(store, "t1", "CO", text.splitlines(keepends=True), report, AT, workers=2, chunk_rows=chunk_rows)  # type: ignore[arg-type]
    return report


class TestNumbers:
    def test_every_spelling_of_a_number_is_one_key_per_tenant(self) -> None:
        keys = {contact_number(raw, "CO") for raw in ("3001234567", "+57 300 123 4567", "(300) 123-4567")}
        assert len(keys) == 1
        (number,) = keys
        assert number is not None
        assert (number.e164, number.mobile) == ("+573001234567", True)
        assert contact_id_for("t1", "+573001234567") == contact_id_for("t1", "+573001234567")
        assert contact_id_for("t1", "+573001234567") != contact_id_for("t2", "+573001234567")

    def test_a_landline_keeps_its_e164_and_is_marked_not_mobile(self) -> None:
        number = contact_number("601 555 1234", "CO")
        assert number is not None
        assert (number.e164, number.mobile) == ("+576015551234", False)

    def test_something_that_is_not_a_number_has_no_key(self) -> None:
        assert contact_number("12345", "CO") is None
        assert contact_number("3001234567", None) is None


class TestTagNames:
    def test_names_are_trimmed(self) -> None:
        assert clean_tag_name("  VIP clients ") == "VIP clients"

    @pytest.mark.parametrize("name", ["", "   ", "a;b", "line\nbreak", "x" * 101])
    def test_blank_separator_or_long_names_are_refused(self, name: str) -> None:
        with pytest.raises(InvalidRequest):
            clean_tag_name(name)


def test_a_number_twice_in_a_chunk_is_one_row_with_both_tags_and_the_last_name() -> None:
    rows = [
        ContactRow(2, "3001234567", "Ana", ["vip"], e164="+573001234567"),
        ContactRow(3, "+573001234567", None, ["news"], e164="+573001234567"),
        ContactRow(4, "3001234567", "Ana M", ["vip"], e164="+573001234567"),
    ]

    (merged,) = merge_rows(rows, {"vip": "t-vip", "news": "t-news"})

    assert merged == MergeRow("+573001234567", "Ana M", frozenset({"t-vip", "t-news"}))


class TestImport:
    CSV = "phone,name,tags\n3001234567,Ana,vip\n12345,Bad,vip\n3105550101,Bruno,vip;news\n+573001234567,,news\n"

    def test_counts_rejections_and_merges_repeated_numbers(self) -> None:
        store = InMemoryContacts()

        report = run_import(store, self.CSV)

        assert (report.imported, report.rejected, report.rows_processed) == (3, 1, 4)
        assert [(r.line, r.reason) for r in report.rejected_rows] == [(3, "phone is not a valid number in CO")]
        assert report.created + report.updated + report.unchanged == 3  # repeats across chunks merge
        ana = store.contacts[contact_id_for("t1", "+573001234567")]
        assert (ana.name, ana.tag_ids) == ("Ana", frozenset({"tag-vip", "tag-news"}))

    def test_a_second_run_creates_and_changes_nothing(self) -> None:
        store = InMemoryContacts()
        run_import(store, self.CSV)
        before = dict(store.contacts)

        again = run_import(store, self.CSV)

        assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
        assert store.contacts == before

    def test_a_bad_header_writes_nothing(self) -> None:
        store = InMemoryContacts()
        with pytest.raises(CsvHeaderError):
            run_import(store, "phone,nombre\n3001234567,Ana\n")
        assert store.contacts == {}
        assert store.tags == {}


def test_consent_by_number_reaches_the_contact_of_that_number() -> None:
    store = InMemoryContacts()
    run_import(store, "phone,name,tags\n3001234567,Ana,vip\n")

    contact = set_consent_by_number(store, "t1", "+57 300 123 4567", "CO", True, ConsentSource.KEYWORD, AT)  # type: ignore[arg-type]

    assert (contact.opted_out, contact.consent_source) == (True, "keyword")
    with pytest.raises(NotFound):
        set_consent_by_number(store, "t1", "3109999999", "CO", True, ConsentSource.KEYWORD, AT)  # type: ignore[arg-type]
