"""Number normalisation: one number is one recipient, however it was typed, and only SMS-capable numbers count."""

from __future__ import annotations

import pytest

from smscore.domain.phone import mask, normalise


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("573001234567", "CO", "+573001234567"),
        ("+57 300 123 4567", None, "+573001234567"),
        ("+57 300 123 4567", "US", "+573001234567"),
        ("(300) 123-4567", "CO", "+573001234567"),
        ("300 123 4567", "co", "+573001234567"),
        ("  3001234567 ", "CO", "+573001234567"),
        ("+1 415 555 2671", None, "+14155552671"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("300-CALL-NOW", "CO", "+573002255669"),  # vanity letters are dialled digits, as phonenumbers reads them
    ],
)
def test_valid_mobile_numbers_become_e164(raw: str, country: str | None, expected: str) -> None:
    assert normalise(raw, country).e164 == expected


@pytest.mark.parametrize(
    ("raw", "country", "reason"),
    [
        ("3001234567", None, "invalid"),  # national form without a country cannot be read
        ("573001234567", None, "invalid"),  # no +, no country
        ("(300) 123-4567", "US", "invalid"),  # not a US number
        ("6012345678", "CO", "not_mobile"),  # Bogotá landline
        ("+57 601 234 5678", None, "not_mobile"),
        ("12345", "CO", "invalid"),
        ("300-12", "CO", "invalid"),
        ("garbage", "CO", "invalid"),
        ("", "CO", "empty"),
        ("   ", None, "empty"),
    ],
)
def test_unusable_numbers_are_rejected_with_a_reason(raw: str, country: str | None, reason: str) -> None:
    result = normalise(raw, country)
    assert result.e164 is None
    assert result.reason == reason


def test_mask_hides_the_middle_of_a_number() -> None:
    assert mask("+573001234567") == "+573******567"
    assert "1234" not in mask("+573001234567")
    assert mask("12345") == "*****"
