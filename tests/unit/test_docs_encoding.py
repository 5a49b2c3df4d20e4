"""docs/api.md lists the encoding tables exactly as smscore.domain.gsm applies them."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from smscore.domain.gsm import GSM7_BASIC_TABLE, GSM7_EXTENSION_TABLE, LOOKALIKES, TRANSLITERATIONS

DOC = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
SECTION = DOC[DOC.index("## Encoding") : DOC.index("## Resend to failed")]
SHOWN = {"\n": "LF", "\r": "CR", "\x1b": "ESC", "\f": "FF", " ": "SP", "|": "\\|"}


def test_the_page_shows_every_septet_of_the_basic_table_in_its_row() -> None:
    for row in range(8):
        cells = [f"`{SHOWN.get(c, c)}`" for c in GSM7_BASIC_TABLE[row * 16 : row * 16 + 16]]
        assert f"| 0x{row}0 | " + " | ".join(cells) + " |" in SECTION


def test_the_page_lists_the_extension_table_the_lookalikes_and_every_transliteration() -> None:
    for septet, char in GSM7_EXTENSION_TABLE.items():
        assert f"`{SHOWN.get(char, char)}` (0x{septet:02X})" in SECTION
    for char, replacement in LOOKALIKES.items():
        assert f"| U+{ord(char):04X} {unicodedata.name(char).lower()} | `{replacement}` |" in SECTION
    for char, replacement in TRANSLITERATIONS.items():
        assert f"{char} → {replacement}" in SECTION
