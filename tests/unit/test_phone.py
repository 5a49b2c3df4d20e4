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


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+573001234567", "+********4567"),  # Colombian mobile: the last 4 digits at most
        ("+3546111234", "+*******234"),  # Iceland: 7-digit national numbers, 10 digits in all
        ("6111234", "*****34"),  # a 7-digit number alone shows 2 digits, not the whole number
        ("61112345", "******45"),  # 8 digits: 2 shown, never 7 of 8
        ("(311) 555-0101", "*******101"),  # raw input as typed: only digits, never its layout
        ("12345", "****5"),
        ("12", "**"),
        ("", ""),
    ],
)
def test_mask_never_shows_more_than_the_last_four_digits(number: str, masked: str) -> None:
    assert mask(number) == masked


@pytest.mark.parametrize("length", range(1, 20))
def test_mask_shows_at_most_four_digits_and_a_third_of_any_number(length: int) -> None:
    number = "+" + "9" * length
    shown = sum(char.isdigit() for char in mask(number))
    assert shown <= min(4, length // 3)
    assert len(mask(number)) == len(number)
