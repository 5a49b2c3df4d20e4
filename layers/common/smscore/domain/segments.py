"""SMS segment counting by the GSM 03.38 rules: what a carrier bills, so what a campaign costs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from smscore.domain.gsm import GSM7_BASIC_TABLE, GSM7_EXTENSION_TABLE

# GSM 03.38 default alphabet (basic character set), one septet each; smscore.domain.gsm holds the tables in order.
GSM7_BASIC = frozenset(GSM7_BASIC_TABLE)
# Extension table: each costs an escape septet plus itself, so two septets.
GSM7_EXTENSION = frozenset(GSM7_EXTENSION_TABLE.values())

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SegmentCount:
    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def _parts(units: int, single: int, part: int) -> int:
    if units <= single:
        return 1
    return -(-units // part)


def provider_length(text: str) -> int:
    """The length a provider's character limit is checked against: UTF-16 code units.

    Twilio's and AWS End User Messaging's 1,600-character limits are string lengths in UTF-16 code units, as
    UCS-2 messages are billed: an emoji outside the Basic Multilingual Plane counts 2, not 1.
    """
    return len(text.encode("utf-16-le")) // 2


def count_segments(text: str) -> SegmentCount:
    """Segments a carrier bills for `text`; one non-GSM character turns the whole message into UCS-2."""
    septets = 0
    for char in text:
        if char in GSM7_BASIC:
            septets += 1
        elif char in GSM7_EXTENSION:
            septets += 2
        else:
            units = len(text.encode("utf-16-le")) // 2
            return SegmentCount(Encoding.UCS2, units, _parts(units, UCS2_SINGLE, UCS2_PART))
    return SegmentCount(Encoding.GSM7, septets, _parts(septets, GSM7_SINGLE, GSM7_PART))
