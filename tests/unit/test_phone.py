"""Number normalisation: one number is one recipient, however it was typed, and only SMS-capable numbers count."""

from __future__ import annotations

import pytest

from smscore.domain.phone import mask, normalise, valid_e164


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
        ("٣٠٠١٢٣٤٥٦٧", "CO", "+573001234567"),  # Arabic-Indic digits, read by their Unicode digit value
        (
            "+\uff15\uff17 \uff13\uff10\uff10 \uff11\uff12\uff13 \uff14\uff15\uff16\uff17",
            None,
            "+573001234567",
        ),  # full-width
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
        ("garbage", "CO", "letters"),
        ("", "CO", "empty"),
        ("   ", None, "empty"),
        ("300-CALL-NOW", "CO", "letters"),  # phonenumbers would dial it as +573002255669
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


# Numbers are taken literally: phonenumbers reads vanity letters as keypad digits and drops extensions, which for
# SMS means texting a stranger (300ABC4567 -> +573002224567) or a number other than the one written.
LITERAL_NUMBERS = [
    # vanity letters: never keypad digits
    ("300ABC4567", "CO", None, "letters", "letters are not allowed in a phone number ('A' at position 4)"),
    ("3OO1234567", "CO", None, "letters", "letters are not allowed in a phone number ('O' at position 2)"),
    ("+57 300 CALL NOW", None, None, "letters", "letters are not allowed in a phone number ('C' at position 9)"),
    ("\uff13\uff10\uff10\uff21\uff22\uff23\uff14\uff15\uff16\uff17", "CO", None, "letters", "letters are not allowed"),
    ("tel:+573001234567", None, None, "letters", "letters are not allowed in a phone number ('t' at position 1)"),
    # extensions: an SMS cannot reach one, and dropping it texts another line
    ("+57 300 123 4575 ext 12", None, None, "extension", "extensions are not allowed in a phone number ('ext 12')"),
    ("+57 300 123 4575 ext. 12", None, None, "extension", "('ext. 12')"),
    ("+57 300 123 4575 x12", None, None, "extension", "('x12')"),
    ("300 123 4575 extension 12", "CO", None, "extension", "('extension 12')"),
    ("+57 300 123 4575#12", None, None, "extension", "('#12')"),
    ("300 123 4575,12", "CO", None, "extension", "(',12')"),
    ("+57 300 123 4575;ext=12", None, None, "extension", "(';ext=12')"),
    # decimal digits of any script are read exactly, by their Unicode digit value
    ("٣٠٠١٢٣٤٥٦٧", "CO", "+573001234567", None, None),  # Arabic-Indic
    ("۳۰۰۱۲۳۴۵۶۷", "CO", "+573001234567", None, None),  # Extended Arabic-Indic (Persian, Urdu)
    ("+\u0665\u0667 \u0663\u0660\u0660 \u0661\u0662\u0663 \u0664\u0665\u0666\u0667", None, "+573001234567", None, None),
    (
        "\uff0b\uff15\uff17\u3000\uff13\uff10\uff10\uff0d\uff11\uff12\uff13\uff0d\uff14\uff15\uff16\uff17",
        None,
        "+573001234567",
        None,
        None,
    ),
    ("३००१२३४५६७", "CO", "+573001234567", None, None),  # Devanagari
    ("300\u2013123\u20134567", "CO", "+573001234567", None, None),  # en dashes are separators
    ("300\u00a0123\u00a04567", "CO", "+573001234567", None, None),  # no-break spaces too
    # other characters are refused with their position, never skipped
    ("300²1234567", "CO", None, "character", "phone contains '²' (U+00B2) at position 4: it is not part of a number"),
    ("300①234567", "CO", None, "character", "(U+2460) at position 4"),
    ("300*1234567", "CO", None, "character", "(U+002A) at position 4"),
    (
        "\u200b3001234567",
        "CO",
        None,
        "character",
        "phone contains an invisible or control character (U+200B) at position 1",
    ),
    ("300\u00ad1234567", "CO", None, "character", "invisible or control character (U+00AD) at position 4"),
    ("300\t1234567", "CO", None, "character", "invisible or control character (U+0009) at position 4"),
]


@pytest.mark.parametrize(("raw", "country", "e164", "reason", "detail"), LITERAL_NUMBERS)
def test_numbers_are_taken_literally(
    raw: str, country: str | None, e164: str | None, reason: str | None, detail: str | None
) -> None:
    result = normalise(raw, country)

    assert (result.e164, result.reason) == (e164, reason)
    assert (result.detail is None) if detail is None else (detail in str(result.detail))
    # the key the contacts API stores a landline under follows the same reading
    assert valid_e164(raw, country) == e164
