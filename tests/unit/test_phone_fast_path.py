"""E.164 numbers are read without phonenumbers.parse when parse would keep their digits (smscore.domain.phone):
the result must be parse's, for every calling code, valid or not."""

from __future__ import annotations

import random

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from smscore.domain import phone

TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP)


def _parsed(text: str) -> tuple[str, int] | None:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    kind = phonenumbers.number_type(number)
    return (
        None if kind == PhoneNumberType.UNKNOWN else (phonenumbers.format_number(number, PhoneNumberFormat.E164), kind)
    )


def _samples() -> list[str]:
    """Every region's example numbers, each with random digits changed, and random digits after every code."""
    rng = random.Random(21)
    samples: list[str] = []
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            for kind in TYPES:
                example = phonenumbers.example_number_for_type(region, kind) if region != "001" else None
                if example is None:
                    continue
                text = phonenumbers.format_number(example, PhoneNumberFormat.E164)
                samples.append(text)
                for _ in range(5):
                    digits = list(text)
                    for at in rng.sample(range(1 + len(str(code)), len(digits)), 2):
                        digits[at] = str(rng.randint(0, 9))
                    samples.append("".join(digits))
        samples += [f"+{code}{rng.randint(10**3, 10**13)}" for _ in range(10)]
    return [s for s in samples if phone._E164.fullmatch(s)]


def test_the_fast_path_reads_every_number_as_parse_does() -> None:
    fast = 0
    for text in _samples():
        number = phone._e164_number(text)
        if number is None:
            continue  # parse reads it
        fast += 1
        kind = phonenumbers.number_type(number)
        mine = (
            None
            if kind == PhoneNumberType.UNKNOWN
            else (phonenumbers.format_number(number, PhoneNumberFormat.E164), kind)
        )
        assert mine == _parsed(text), text
    assert fast > 5_000  # the fast path is the common one


def test_numbers_parse_would_change_are_left_to_it() -> None:
    # An Italian fixed line keeps its leading zero; an Argentine mobile's national part matches AR's prefix rule
    assert phone._e164_number("+390612345678") is None
    assert phone._e164_number("+5491123456789") is None
    # A Colombian mobile is read directly, and normalises as before
    assert phone._e164_number("+573001234567") is not None
    assert phone.normalise("+573001234567", "CO").e164 == "+573001234567"
