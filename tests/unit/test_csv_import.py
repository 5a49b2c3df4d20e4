"""Contacts CSV parsing and validation (no AWS)."""

from __future__ import annotations

import pytest

from smscore.domain.contacts import CsvFileError, check_csv_file
from smscore.domain.encoding import decode_chunks, text_lines
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
    """As every import reads a file: decoded, then split only on \\r\\n, \\r and \\n."""
    return list(parse_contacts(text_lines([text]), country))


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
        ("hello,Ana,vip", "letters are not allowed in a phone number"),
        ("+57 300,Ana,vip", "not a valid number in CO"),  # too short for a Colombian number
        ("3001234567,Ana", "expected 3 columns, found 2"),
        ("3001234567,Ana,vip,extra", "expected 3 columns, found 4"),
        ("3001234567," + "x" * 201 + ",vip", "name must be at most 200 characters"),
        ("3001234567,Ana," + "t" * 101, "tag name must be at most 100 characters"),
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


def test_line_numbers_are_the_rows_a_spreadsheet_shows() -> None:
    # Given a blank line, a tags cell spanning three lines inside quotes, and a bad row after it
    rows = parse('phone,name,tags\n\n3001234567,Ana,"vip;\nnews;\nbuyers"\n,missing,vip\n3105550101,Luis,\n')

    # Then the blank line is row 2, the quoted cell is one row (3) however many lines it spans, as in a spreadsheet
    # (and is refused: a tag name holds no line break)
    assert [(type(r), r.line) for r in rows] == [(RejectedRow, 3), (RejectedRow, 4), (ContactRow, 5)]
    assert rows[0] == RejectedRow(3, "tags contains an invisible or control character (U+000A) at position 5")


@pytest.mark.parametrize("separator", ["\u2028", "\x85", "\x0b", "\x0c", "\u2029"], ids=repr)
def test_unicode_line_breaks_inside_a_name_do_not_split_the_row(separator: str) -> None:
    # Given the probe's 3-row file with a Unicode line break inside one name (splitlines made 6 rejected rows)
    text = f"phone,name,tags\n3001234567,Ana,vip\n3105550101,Luis{separator}Pérez,vip\n3205550202,Caro,vip\n"

    rows = parse(text)

    # Then there are 3 rows, numbered 2-4; the one name is refused for its character, at its place
    assert [r.line for r in rows] == [2, 3, 4]
    assert [type(r) for r in rows] == [ContactRow, RejectedRow, ContactRow]
    code_point = f"U+{ord(separator):04X}"
    assert rows[1] == RejectedRow(3, f"name contains an invisible or control character ({code_point}) at position 5")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param(
            'phone,name,tags\n3001234567,Ana,vip\n3105550101,"Luis,vip\n3205550202,Caro,vip\n', 3, id="mid-file"
        ),
        pytest.param('phone,name,tags\n3001234567,"Ana', 2, id="last line, no final newline"),
        pytest.param('phone,"name,tags\n3001234567,Ana,vip\n', 1, id="in the header"),
    ],
)
def test_an_unclosed_quote_stops_the_file_with_its_line(text: str, line: int) -> None:
    # An unclosed quote swallowed every row after it (rowsProcessed 2 for 3 data rows): now the file is refused
    with pytest.raises(CsvFileError, match=f"line {line}: a quoted field starts on this line and is never closed"):
        parse(text)
    with pytest.raises(CsvFileError) as refused:
        check_csv_file(text_lines([text]))
    assert refused.value.line == line


def test_a_quote_followed_by_more_text_rejects_only_its_row() -> None:
    rows = parse('phone,name,tags\n3001234567,"Ana"x,vip\n3105550101,Luis,vip\n')

    assert rows == [
        RejectedRow(2, "not valid CSV: a closing quote must be followed by a comma or the end of the line"),
        ContactRow(3, "3105550101", "Luis", ["vip"]),
    ]


def test_bytes_that_are_not_utf8_stop_the_file_at_their_row() -> None:
    # Given a quoted two-line name before the row holding a Latin-1 byte
    data = b'phone,name,tags\n3001234567,"Ana\nMaria",vip\n3105550101,Mar\xeda,vip\n'

    with pytest.raises(CsvFileError) as refused:
        check_csv_file(text_lines(decode_chunks([data])))

    # Then the error names the spreadsheet row (3, not physical line 4) and the byte, in a sentence
    assert (refused.value.line, refused.value.byte_offset) == (3, 57)
    assert str(refused.value) == (
        "the file is not valid UTF-8: on line 3, the byte 0xED at byte offset 57 cannot be read; "
        "save it as UTF-8 (CSV UTF-8) and try again"
    )


class TestCellsGoThroughTheApisCleaning:
    @pytest.mark.parametrize(
        ("row", "reason"),
        [
            ('3001234567,Ana,"vip\nnews"', "tags contains an invisible or control character (U+000A) at position 4"),
            ("3001234567,Ana,a;vi\u200bp", "tags contains an invisible or control character (U+200B) at position 5"),
            ("3001234567,Ana,\u200b", "tags contains an invisible or control character (U+200B) at position 1"),
            (
                "3001234567,abc\u202egnp.exe,vip",
                "name contains an invisible or control character (U+202E) at position 4",
            ),
            ("3001234567,Ana\x00,vip", "name contains an invisible or control character (U+0000) at position 4"),
            ("3001234567,Ana\uffff,vip", "name contains a noncharacter (U+FFFF) at position 4"),
            ("300ABC4567,Ana,vip", "letters are not allowed in a phone number ('A' at position 4)"),
            ("+57 300 123 4575 ext 12,Ana,vip", "extensions are not allowed in a phone number ('ext 12')"),
        ],
    )
    def test_a_refused_cell_rejects_its_row_with_the_apis_message(self, row: str, reason: str) -> None:
        (rejected,) = parse(f"phone,name,tags\n{row}\n")

        assert isinstance(rejected, RejectedRow)
        assert rejected.line == 2
        assert rejected.reason.startswith(reason)

    def test_tags_of_one_key_are_one_tag(self) -> None:
        (row,) = parse("phone,name,tags\n3001234567,Ana,VIP;\uff36\uff29\uff30;vip\n")
        assert isinstance(row, ContactRow)
        assert row.tags == ["VIP"]

    def test_unicode_digits_are_read_exactly(self) -> None:
        (row,) = parse("phone,name,tags\n\u0663\u0660\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667,Ana,\n")
        assert isinstance(row, ContactRow)
        assert row.e164 == "+573001234567"


def test_quoted_commas_and_a_byte_order_mark_are_understood() -> None:
    (row,) = parse('\ufeffphone,name,tags\n"3001234567","Pérez, María","a;b"\n')
    assert row == ContactRow(2, "3001234567", "Pérez, María", ["a", "b"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        ("phone,name\n3001234567,Ana\n", "missing: tags"),
        ("celular,nombre,etiquetas\n", "missing: phone; found: 'celular', 'nombre', 'etiquetas'"),
        ("telefono;nombre\n3001234567;Ana\n", "missing: tags"),
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
    assert data_rows_in(text.encode()) == rows
