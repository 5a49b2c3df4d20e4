"""Segment counting decides what a campaign costs, so the GSM 03.38 boundaries must be exact."""

from __future__ import annotations

import pytest

from smscore.domain.segments import Encoding, count_segments


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, Encoding.GSM7, 160, 1),
        ("a" * 161, Encoding.GSM7, 161, 2),
        ("a" * 306, Encoding.GSM7, 306, 2),
        ("a" * 307, Encoding.GSM7, 307, 3),
        ("Exclusive offer for VIP customers! 30% off your next purchase.", Encoding.GSM7, 62, 1),
        ("ñandú @ £5 — no", Encoding.UCS2, 15, 1),  # em dash is outside GSM-7
        ("Bogotá: 2x1 ¡hoy!", Encoding.UCS2, 17, 1),  # á is not in the GSM-7 alphabet
        ("Ñuñoa ¿sì? ¡Ü!", Encoding.GSM7, 14, 1),
        ("x" * 70 + "€" * 45, Encoding.GSM7, 160, 1),  # extension table counts double
        ("x" * 71 + "€" * 45, Encoding.GSM7, 161, 2),
        ("{[]}~^|\\", Encoding.GSM7, 16, 1),
        ("ж" * 70, Encoding.UCS2, 70, 1),
        ("ж" * 71, Encoding.UCS2, 71, 2),
        ("ж" * 134, Encoding.UCS2, 134, 2),
        ("ж" * 135, Encoding.UCS2, 135, 3),
        ("😀" * 35, Encoding.UCS2, 70, 1),  # an emoji is two UTF-16 code units
        ("😀" * 35 + "a", Encoding.UCS2, 71, 2),
        ("", Encoding.GSM7, 0, 1),
    ],
)
def test_counts_segments_as_carriers_bill_them(text: str, encoding: Encoding, units: int, segments: int) -> None:
    # Given a message body, When its segments are counted
    counted = count_segments(text)
    # Then encoding, length in units and number of parts match GSM 03.38
    assert (counted.encoding, counted.units, counted.segments) == (encoding, units, segments)


def test_one_non_gsm_character_turns_the_whole_message_into_ucs2() -> None:
    assert count_segments("a" * 100).segments == 1
    assert count_segments("a" * 100 + "✓").encoding is Encoding.UCS2
    assert count_segments("a" * 100 + "✓").segments == 2
