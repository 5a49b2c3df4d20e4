# ruff: noqa: RUF001 - look-alike characters are what these tests are about
"""The GSM-7 tables and the encoding option, checked character by character (smscore.domain.gsm)."""

from __future__ import annotations

import unicodedata

import pytest

from smscore.domain.gsm import (
    GSM7_BASIC_TABLE,
    GSM7_CHARACTERS,
    GSM7_EXTENSION_TABLE,
    LOOKALIKES,
    TRANSLITERATIONS,
    EncodingOption,
    encode,
    is_gsm7,
)
from smscore.domain.segments import Encoding, count_segments

ALL_BMP = [chr(cp) for cp in range(0x10000) if not 0xD800 <= cp <= 0xDFFF]


def test_the_basic_table_has_128_distinct_characters_at_their_septets() -> None:
    assert len(GSM7_BASIC_TABLE) == 128
    assert len(set(GSM7_BASIC_TABLE)) == 128
    # a few positions of GSM 03.38 that a wrong table gets wrong
    assert (GSM7_BASIC_TABLE[0x00], GSM7_BASIC_TABLE[0x09], GSM7_BASIC_TABLE[0x1B]) == ("@", "Ç", "\x1b")
    assert (GSM7_BASIC_TABLE[0x24], GSM7_BASIC_TABLE[0x40], GSM7_BASIC_TABLE[0x60]) == ("¤", "¡", "¿")
    assert (GSM7_BASIC_TABLE[0x5D], GSM7_BASIC_TABLE[0x7D], GSM7_BASIC_TABLE[0x7F]) == ("Ñ", "ñ", "à")


def test_the_extension_table_is_the_ten_escaped_characters() -> None:
    assert sorted(GSM7_EXTENSION_TABLE.values()) == sorted("\f^{}\\[~]|€")
    assert not set(GSM7_EXTENSION_TABLE.values()) & set(GSM7_BASIC_TABLE)


@pytest.mark.parametrize("char", list(GSM7_BASIC_TABLE), ids=lambda c: f"U+{ord(c):04X}")
def test_every_basic_character_is_one_septet(char: str) -> None:
    assert count_segments(char) == count_segments("a")
    assert count_segments(char * 160).segments == 1
    assert count_segments(char * 161).segments == 2


@pytest.mark.parametrize("char", list(GSM7_EXTENSION_TABLE.values()), ids=lambda c: f"U+{ord(c):04X}")
def test_every_extension_character_is_two_septets(char: str) -> None:
    counted = count_segments(char)
    assert (counted.encoding, counted.units) == (Encoding.GSM7, 2)
    assert count_segments(char * 80).segments == 1
    assert count_segments(char * 81).segments == 2


def test_every_other_character_of_the_basic_multilingual_plane_makes_the_message_ucs2() -> None:
    # Given every code point of the BMP but surrogates: exactly the two tables' are GSM-7
    gsm = [char for char in ALL_BMP if count_segments(char).encoding is Encoding.GSM7]
    assert sorted(gsm) == sorted(GSM7_CHARACTERS)
    assert all(is_gsm7(char) == (char in GSM7_CHARACTERS) for char in ALL_BMP)


def test_spanish_needs_only_four_vowels_outside_gsm7() -> None:
    spanish = "abcdefghijklmnñopqrstuvwxyzABCDEFGHIJKLMNÑOPQRSTUVWXYZáéíóúüÁÉÍÓÚÜ¿¡"
    assert sorted(c for c in spanish if c not in GSM7_CHARACTERS) == sorted("áíóúÁÍÓÚ")


@pytest.mark.parametrize(("char", "replacement"), list(LOOKALIKES.items()), ids=lambda v: f"U+{ord(v[0]):04X}")
def test_every_lookalike_is_no_letter_outside_gsm7_and_becomes_gsm7_without_a_letter(
    char: str, replacement: str
) -> None:
    assert char not in GSM7_CHARACTERS
    assert not char.isalnum() or unicodedata.category(char) == "Lm"  # U+02BC: a "modifier letter" apostrophe
    assert is_gsm7(replacement)
    assert not any(c.isalnum() for c in replacement)
    # auto replaces it when that makes the text GSM-7, and so does gsm-transliterate
    assert encode(f"Hola{char}x") == f"Hola{replacement}x"
    assert encode(f"Hola{char}x", EncodingOption.GSM_TRANSLITERATE) == f"Hola{replacement}x"
    assert encode(f"Hola{char}x", EncodingOption.UNICODE) == f"Hola{char}x"


@pytest.mark.parametrize(("char", "replacement"), list(TRANSLITERATIONS.items()), ids=lambda v: f"U+{ord(v[0]):04X}")
def test_every_transliteration_is_a_letter_outside_gsm7_to_gsm7_letters(char: str, replacement: str) -> None:
    assert char not in GSM7_CHARACTERS
    assert char.isalpha()
    assert is_gsm7(replacement)
    assert all(c.isalpha() or c == "'" for c in replacement)
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    if base != char:  # a letter with an accent becomes the letter without it
        assert replacement == base
    # only gsm-transliterate changes letters
    assert encode(f"Hola {char}") == f"Hola {char}"
    assert encode(f"Hola {char}", EncodingOption.GSM_TRANSLITERATE) == f"Hola {replacement}"


def test_every_latin_letter_up_to_latin_extended_a_is_gsm7_or_transliterated() -> None:
    # (but the micro sign U+00B5, a Greek letter: GSM-7 has no lowercase Greek)
    letters = [chr(cp) for cp in range(0xA0, 0x180) if chr(cp).isalpha() and cp != 0xB5]
    assert [c for c in letters if c not in GSM7_CHARACTERS and c not in TRANSLITERATIONS] == []
    assert not set(LOOKALIKES) & set(TRANSLITERATIONS)


def test_auto_changes_no_letter_and_nothing_when_it_saves_nothing() -> None:
    # curly quotes, a dash, a no-break space and an ellipsis alone: GSM-7 after auto
    assert encode("“Oferta” – hoy\u00a0sólo…") == "“Oferta” – hoy\u00a0sólo…"  # ó stays: the text stays as written
    assert encode("“Oferta” – hoy\u00a0solo…") == '"Oferta" - hoy solo...'
    # an emoji keeps the message UCS-2 whatever auto does: nothing changes
    assert encode("“Oferta” 🎉") == "“Oferta” 🎉"


def test_gsm_transliterate_turns_a_spanish_message_into_one_gsm7_segment() -> None:
    text = "Sábado de ofertas: 30% en calzado, ¡sólo hoy! Más información en la tienda. Te esperamos, Camión Ú"
    assert count_segments(text) == count_segments(text).__class__(Encoding.UCS2, len(text), 2)
    sent = encode(text, EncodingOption.GSM_TRANSLITERATE)
    assert sent == "Sabado de ofertas: 30% en calzado, ¡solo hoy! Mas informacion en la tienda. Te esperamos, Camion U"
    assert (count_segments(sent).encoding, count_segments(sent).segments) == (Encoding.GSM7, 1)
    # é, ñ, ü, ¿ and ¡ are GSM-7 and stay
    assert encode("¿Señor Müller? ¡Café!", EncodingOption.GSM_TRANSLITERATE) == "¿Señor Müller? ¡Café!"
    # what has no GSM-7 letter stays, and keeps the message UCS-2
    assert encode("Camión 🚚", EncodingOption.GSM_TRANSLITERATE) == "Camion 🚚"


@pytest.mark.parametrize("option", list(EncodingOption))
def test_encoding_twice_changes_nothing_more(option: EncodingOption) -> None:
    for text in ("Sábado “2×1” — ya…", "Hola", "Camión 🚚 ’"):
        once = encode(text, option)
        assert encode(once, option) == once
