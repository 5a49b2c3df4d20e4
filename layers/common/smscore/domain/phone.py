"""Phone number normalisation to E.164, so one number is one recipient whatever way it was typed."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from smscore.domain.masking import mask

__all__ = ["Normalised", "is_supported_country", "mask", "normalise", "valid_e164"]

# Types a carrier can deliver an SMS to; FIXED_LINE_OR_MOBILE is kept because several numbering
# plans (US, CA, ...) cannot tell the two apart from the number alone.
SMS_CAPABLE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PAGER})

SUPPORTED_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)


@dataclass(frozen=True)
class Normalised:
    e164: str | None
    reason: str | None = None  # why the number was rejected, when e164 is None

    @property
    def valid(self) -> bool:
        return self.e164 is not None


def is_supported_country(code: str) -> bool:
    return code.upper() in SUPPORTED_COUNTRIES


@lru_cache(maxsize=262_144)
def normalise(raw: str, country: str | None) -> Normalised:
    """E.164 form of `raw` when it can receive an SMS.

    Numbers without a leading + are read in `country`'s national plan; a number already written
    with its country code (573001234567) is recognised as well, since contact lists mix both.
    Results are cached: campaigns repeat the same numbers across tags and requests.
    """
    text = raw.strip()
    if not text:
        return Normalised(None, "empty")
    region = country.upper() if country else None
    candidates = [text]
    if region and not text.startswith("+") and text[:1].isdigit():
        # "573001234567": digits that already start with the country's calling code.
        candidates.append("+" + text)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        if region and candidate is not text and phonenumbers.region_code_for_number(number) != region:
            continue
        if phonenumbers.number_type(number) not in SMS_CAPABLE_TYPES:
            return Normalised(None, "not_mobile")
        return Normalised(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return Normalised(None, "invalid")


@lru_cache(maxsize=65_536)
def valid_e164(raw: str, country: str | None) -> str | None:
    """E.164 of any valid number, SMS-capable or not: the contacts API keys contacts (landlines too) by it."""
    text = raw.strip()
    region = country.upper() if country else None
    candidates = [text]
    if region and not text.startswith("+") and text[:1].isdigit():
        candidates.append("+" + text)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None
