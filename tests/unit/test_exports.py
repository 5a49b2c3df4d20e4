"""CSV export cells: formula-safe, numbers as numbers, UTF-8 with a BOM, one row per message."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from smscore.domain.exports import BOM, HEADER, csv_text, safe_cell
from smscore.domain.model import MessageStatus
from smscore.domain.views import MessageView, StatusChangeView

AT = datetime(2026, 12, 6, 15, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+573001234567", "'+573001234567"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("30003", "30003"),
        ("Peña ñandú", "Peña ñandú"),
        (-3, "-3"),
        (2, "2"),
        (None, ""),
        (AT, "2026-12-06T15:04:05Z"),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_escaped(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def message(error: str | None = None, delivered: bool = False) -> MessageView:
    history = (StatusChangeView("SENT", AT), StatusChangeView("DELIVERED", AT)) if delivered else ()
    return MessageView(
        message_id="m1",
        tenant_id="t",
        queue_id="q",
        contact_id="c",
        recipient="+573001234567",
        body="Hola",
        encoding="GSM-7",
        status=MessageStatus.DELIVERED if delivered else MessageStatus.UNDELIVERED,
        provider="sandbox",
        segments=1,
        credits=1,
        created_at=AT,
        updated_at=AT,
        provider_error_code=error,
        sent_at=AT,
        history=history,
    )


def test_the_file_starts_with_a_bom_and_reads_back_as_the_rows() -> None:
    text = "".join(csv_text([message(delivered=True), message(error="=cmd|' /C calc'!A0")]))
    assert text.startswith(BOM + "messageId;recipient;")
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM)), delimiter=";"))
    assert rows[0] == HEADER
    assert rows[1] == [
        "m1",
        "'+573001234567",
        "DELIVERED",
        "",
        "1",
        "1",
        "2026-12-06T15:04:05Z",
        "2026-12-06T15:04:05Z",
        "",
    ]
    assert rows[2][3] == "'=cmd|' /C calc'!A0"
    assert "\r\n" in text


def test_a_comma_delimiter_on_request() -> None:
    text = "".join(csv_text([message()], ","))
    assert text.splitlines()[0] == BOM + ",".join(HEADER)
