"""Contact files as Excel in Spanish saves them (tests/fixtures/excel): the encoding and the separator are
detected, Spanish headers are read, and a file that is not text is refused whole with the reason (no AWS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smscore.domain.contacts import (
    ContactRow,
    CsvFileError,
    FileProblem,
    RejectedRow,
    RowProblem,
    checked_csv_lines,
    detect_separator,
    parse_contacts,
)
from smscore.domain.encoding import UnreadableFile, detect_file_codec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "excel"
EXCEL_FILES = {
    "clientes-excel-windows1252.csv": ("cp1252", ";"),
    "clientes-excel-utf8-bom.csv": ("utf-8", ";"),
    "clientes-excel-texto-unicode.txt": ("utf_16", "\t"),
}


def read_rows(data: bytes, chunk: int = 64) -> list[ContactRow | RejectedRow]:
    """As the API reads a body or an upload: streamed in chunks, encoding detected, checked, then parsed."""

    def chunks() -> list[bytes]:
        return [data[i : i + chunk] for i in range(0, len(data), chunk)]

    return list(parse_contacts(checked_csv_lines(chunks), "CO"))


@pytest.mark.parametrize("name", sorted(EXCEL_FILES))
def test_the_encoding_excel_saved_is_detected(name: str) -> None:
    # Given a file as Excel saved it
    data = (FIXTURES / name).read_bytes()

    # Then its encoding is the one Excel used (Windows-1252 for "CSV (delimitado por comas)")
    assert detect_file_codec([data]) == EXCEL_FILES[name][0]


@pytest.mark.parametrize("name", sorted(EXCEL_FILES))
def test_an_excel_file_imports_its_accents_its_spanish_header_and_its_separator(name: str) -> None:
    # Given the file Excel in Spanish saved: header "Teléfono;Nombre;Etiquetas", ';' (or tabs) between cells
    data = (FIXTURES / name).read_bytes()

    # When it is read as an import reads it
    rows = read_rows(data)

    # Then the names and tags keep their accents (never "Andr�s"), and tags split by ',' inside a ';' file
    good = [r for r in rows if isinstance(r, ContactRow)]
    assert [(r.line, r.name, r.tags, r.e164) for r in good] == [
        (2, "Andrés Muñoz", ["Clientes sábado"], "+573152223344"),
        (3, "María José Peña", ["Clientes sábado", "VIP"], "+573005550101"),
        (5, "Iñaki Gómez", ["Ofertas €"], "+573187776655"),
    ]
    # And the bad number is rejected with its line, its reason and the row as the file had it
    (bad,) = [r for r in rows if isinstance(r, RejectedRow)]
    separator = EXCEL_FILES[name][1]
    assert (bad.line, bad.code) == (4, RowProblem.PHONE_INVALID)
    assert bad.content == separator.join(["12345", "Número malo", "Clientes sábado"])
    assert "not a valid number" in bad.reason


def test_a_workbook_renamed_csv_is_refused_whole_with_the_reason() -> None:
    data = (FIXTURES / "libro-renombrado.csv").read_bytes()

    with pytest.raises(UnreadableFile):
        detect_file_codec([data])
    with pytest.raises(CsvFileError) as refused:
        read_rows(data)
    assert refused.value.problem == FileProblem.NOT_TEXT
    assert "is it a workbook (.xlsx) renamed .csv?" in str(refused.value)


def test_a_late_windows_1252_byte_in_a_large_file_is_still_found() -> None:
    # Given 3,000 ASCII rows before the first accent (the first chunks are plain ASCII, valid UTF-8)
    ascii_rows = "".join(f"300{n:07d};Cliente {n};vip\r\n" for n in range(3000))
    data = ("telefono;nombre;etiquetas\r\n" + ascii_rows + "3109998877;Sofía Núñez;vip\r\n").encode("cp1252")

    # When it is read in 8 KiB chunks, Then the whole file is read as Windows-1252, the last row too
    rows = read_rows(data, chunk=8192)
    assert len(rows) == 3001
    last = rows[-1]
    assert isinstance(last, ContactRow)
    assert last.name == "Sofía Núñez"


@pytest.mark.parametrize(
    ("header", "separator"),
    [
        ("phone,name,tags\r\n", ","),
        ("telefono;nombre;etiquetas\r\n", ";"),
        ("Teléfono\tNombre\tEtiquetas\r\n", "\t"),
        ('"TELÉFONO";"nombre";"etiquetas"\n', ";"),
        ("Nombre;Telefono;Etiquetas\n", ";"),
        ("something else entirely\n", ","),
    ],
)
def test_the_separator_is_the_one_that_splits_the_header_into_known_columns(header: str, separator: str) -> None:
    assert detect_separator(header) == separator


def test_a_semicolon_file_whose_header_misses_a_column_says_which_and_what_it_found() -> None:
    with pytest.raises(CsvFileError) as refused:
        read_rows("celular;nombre;etiquetas\r\n3001234567;Ana;vip\r\n".encode("cp1252"))

    assert refused.value.problem == FileProblem.HEADER
    assert "missing: phone; found: 'celular', 'nombre', 'etiquetas'" in str(refused.value)
