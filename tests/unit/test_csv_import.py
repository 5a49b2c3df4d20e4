"""Contacts CSV parsing and validation (no AWS)."""

from __future__ import annotations

import pytest

from smsdev.csv_import import (
    ContactRow,
    CsvHeaderError,
    ImportReport,
    RejectedRow,
    data_rows_in,
    parse_contacts,
    split_tags,
)


def parse(text: str, country: str | None = "CO") -> list[ContactRow | RejectedRow]:
    return list(parse_contacts(text.splitlines(keepends=True), country))


def test_good_rows_keep_phone_as_entered_name_and_tags() -> None:
    # Given a header in another order and case, and two good rows
    rows = parse("Tags,PHONE,name\nvip;news,3001234567,Ana\n,+57 300 123 4568,\n")

    # Then each row carries its line, phone as typed, optional name and tags
    assert rows == [
        ContactRow(2, "3001234567", "Ana", ["vip", "news"]),
        ContactRow(3, "+57 300 123 4568", None, []),
    ]


def test_tags_are_trimmed_deduplicated_case_insensitively_and_blanks_dropped() -> None:
    assert split_tags(" VIP ; news;vip;; News ;") == ["VIP", "news"]
    assert split_tags("") == []


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (",Ana,vip", "phone is missing"),
        ("   ,Ana,vip", "phone is missing"),
        ("12345,Ana,vip", "not a valid number in CO"),
        ("hello,Ana,vip", "not a valid number in CO"),
        ("+57 300,Ana,vip", "not a valid number in CO"),  # too short for a Colombian number
        ("3001234567,Ana", "expected 3 columns, found 2"),
        ("3001234567,Ana,vip,extra", "expected 3 columns, found 4"),
        ("3001234567," + "x" * 201 + ",vip", "name is longer"),
        ("3001234567,Ana," + "t" * 101, "tag name longer"),
    ],
)
def test_bad_rows_are_rejected_with_line_and_reason(row: str, reason: str) -> None:
    # When a file holds one bad row after a good one
    rows = parse(f"phone,name,tags\n3001234567,Ok,vip\n{row}\n")

    # Then the good row passes and the bad one is rejected at line 3 with the reason
    assert isinstance(rows[0], ContactRow)
    assert isinstance(rows[1], RejectedRow)
    assert rows[1].line == 3
    assert reason in rows[1].reason


def test_a_landline_is_imported_with_a_not_mobile_warning() -> None:
    # Given a Bogotá fixed line
    (row,) = parse("phone,name,tags\n6012345678,Office,\n")

    # Then it is importable, flagged as unable to receive SMS
    assert isinstance(row, ContactRow)
    assert row.warning is not None
    assert row.warning.startswith("not_mobile")


def test_without_a_default_country_only_international_numbers_pass() -> None:
    rows = parse("phone,name,tags\n3001234567,A,\n+573001234567,B,\n", country=None)
    assert isinstance(rows[0], RejectedRow)
    assert "+<country code>" in rows[0].reason
    assert isinstance(rows[1], ContactRow)


def test_line_numbers_count_blank_lines_and_quoted_multiline_fields() -> None:
    # Given a blank line and a name spanning two lines inside quotes
    rows = parse('phone,name,tags\n\n3001234567,"Ana\nMaría",vip\n,missing,vip\n')

    # Then the blank line is skipped and the bad row reports where it starts
    assert [type(r) for r in rows] == [ContactRow, RejectedRow]
    assert rows[0].line == 3
    assert rows[0].name == "Ana\nMaría"
    assert rows[1].line == 5


def test_quoted_commas_and_a_byte_order_mark_are_understood() -> None:
    (row,) = parse('\ufeffphone,name,tags\n"3001234567","Pérez, María","a;b"\n')
    assert row == ContactRow(2, "3001234567", "Pérez, María", ["a", "b"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        ("phone,name\n3001234567,Ana\n", "missing: tags"),
        ("telefono,nombre,etiquetas\n", "missing: phone, name, tags"),
        ("phone,name,tags,phone\n", "repeats the column 'phone'"),
    ],
)
def test_a_bad_header_refuses_the_whole_file(text: str, message: str) -> None:
    with pytest.raises(CsvHeaderError, match=message):
        parse(text)


def test_report_counts_everything_but_lists_only_up_to_its_limit() -> None:
    # Given a report listing at most two rows
    report = ImportReport(limit=2)

    # When five rows are rejected and one is warned about
    for line in range(2, 7):
        report.reject(RejectedRow(line, "phone is missing"))
    report.warn(ContactRow(9, "6012345678", None, [], "not_mobile"))

    # Then the counts are complete and the lists are capped
    assert (report.rejected, report.warned) == (5, 1)
    assert [r.line for r in report.rejected_rows] == [2, 3]
    assert report.warnings == [RejectedRow(9, "not_mobile")]


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("phone,name,tags\n", 0),
        ("phone,name,tags", 0),
        ("", 0),
        ("phone,name,tags\n3001234567,Ana,vip\n3001234568,Luis,vip\n", 2),
        ("phone,name,tags\n3001234567,Ana,vip\n3001234568,Luis,vip", 2),  # no final newline
    ],
)
def test_the_progress_total_counts_the_lines_after_the_header(text: str, rows: int) -> None:
    assert data_rows_in(text) == rows
