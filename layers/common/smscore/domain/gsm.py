"""The GSM 03.38 alphabet and the `encoding` option: which text a message goes out as, so what it costs.

One character outside GSM-7 turns a whole message into UCS-2 (70 characters a segment instead of 160), and
Spanish has four such letters: á, í, ó, ú (é, ñ, ü, ¿ and ¡ are GSM-7). The option of a send or preview:

- `auto` (the default): look-alikes that have a GSM-7 equivalent and change no letter (curly quotes, dashes,
  non-breaking and other odd spaces, the ellipsis: LOOKALIKES) are replaced, when that makes the whole text
  GSM-7; otherwise the text goes as written (a replacement that saves nothing changes nothing);
- `unicode`: the text goes exactly as written;
- `gsm-transliterate`: LOOKALIKES, then letters outside GSM-7 to their GSM-7 base letters (TRANSLITERATIONS:
  á -> a, Ó -> O, ç -> c, œ -> oe ...). What is left outside GSM-7 (an emoji) keeps the message UCS-2.

docs/api.md ("Encoding") lists both tables; tests/unit/test_gsm.py checks every character of them.
"""

from __future__ import annotations

from enum import StrEnum

# GSM 03.38 basic character set, in septet order: GSM7_BASIC_TABLE[n] is the character of septet n.
# 0x1B is the escape to the extension table (never a character of a message: control codes are refused).
GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table: escape septet + this septet, so each costs two.
GSM7_EXTENSION_TABLE: dict[int, str] = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
GSM7_CHARACTERS = frozenset(GSM7_BASIC_TABLE) | frozenset(GSM7_EXTENSION_TABLE.values())

# `auto` (and `gsm-transliterate`): characters that look like a GSM-7 one and are no letter.
LOOKALIKES: dict[str, str] = {
    # single quotes, apostrophes, primes and the grave/acute accents used as apostrophes
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark (the apostrophe of phones' keyboards)
    "\u201a": "'",  # single low-9 quotation mark
    "\u201b": "'",  # single high-reversed-9 quotation mark
    "\u2032": "'",  # prime
    "\u02bc": "'",  # modifier letter apostrophe
    "\u00b4": "'",  # acute accent
    "`": "'",  # grave accent (ASCII, but not GSM-7)
    # double quotes
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u201e": '"',  # „
    "\u201f": '"',  # ‟
    "\u2033": '"',  # ″ double prime
    "\u00ab": '"',  # « left-pointing double angle quotation mark
    "\u00bb": '"',  # » right-pointing double angle quotation mark
    # hyphens and dashes
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    # spaces
    "\u00a0": " ",  # no-break space
    "\u1680": " ",  # ogham space mark
    "\u2000": " ",  # en quad
    "\u2001": " ",  # em quad
    "\u2002": " ",  # en space
    "\u2003": " ",  # em space
    "\u2004": " ",  # three-per-em space
    "\u2005": " ",  # four-per-em space
    "\u2006": " ",  # six-per-em space
    "\u2007": " ",  # figure space
    "\u2008": " ",  # punctuation space
    "\u2009": " ",  # thin space
    "\u200a": " ",  # hair space
    "\u202f": " ",  # narrow no-break space
    "\u205f": " ",  # medium mathematical space
    "\u3000": " ",  # ideographic space
    # the ellipsis
    "\u2026": "...",
}

# `gsm-transliterate` only: letters outside GSM-7 -> their GSM-7 base letters (the letter without its accent,
# or its usual Latin spelling: œ -> oe, þ -> th), for Latin-1 Supplement and Latin Extended-A, plus the
# Spanish ordinal indicators (1ª, 2º).
TRANSLITERATIONS: dict[str, str] = {
    "ª": "a",
    "º": "o",
    "À": "A",
    "Á": "A",
    "Â": "A",
    "Ã": "A",
    "È": "E",
    "Ê": "E",
    "Ë": "E",
    "Ì": "I",
    "Í": "I",
    "Î": "I",
    "Ï": "I",
    "Ð": "D",
    "Ò": "O",
    "Ó": "O",
    "Ô": "O",
    "Õ": "O",
    "Ù": "U",
    "Ú": "U",
    "Û": "U",
    "Ý": "Y",
    "Þ": "Th",
    "á": "a",
    "â": "a",
    "ã": "a",
    "ç": "c",
    "ê": "e",
    "ë": "e",
    "í": "i",
    "î": "i",
    "ï": "i",
    "ð": "d",
    "ó": "o",
    "ô": "o",
    "õ": "o",
    "ú": "u",
    "û": "u",
    "ý": "y",
    "þ": "th",
    "ÿ": "y",
    "Ā": "A",
    "ā": "a",
    "Ă": "A",
    "ă": "a",
    "Ą": "A",
    "ą": "a",
    "Ć": "C",
    "ć": "c",
    "Ĉ": "C",
    "ĉ": "c",
    "Ċ": "C",
    "ċ": "c",
    "Č": "C",
    "č": "c",
    "Ď": "D",
    "ď": "d",
    "Đ": "D",
    "đ": "d",
    "Ē": "E",
    "ē": "e",
    "Ĕ": "E",
    "ĕ": "e",
    "Ė": "E",
    "ė": "e",
    "Ę": "E",
    "ę": "e",
    "Ě": "E",
    "ě": "e",
    "Ĝ": "G",
    "ĝ": "g",
    "Ğ": "G",
    "ğ": "g",
    "Ġ": "G",
    "ġ": "g",
    "Ģ": "G",
    "ģ": "g",
    "Ĥ": "H",
    "ĥ": "h",
    "Ħ": "H",
    "ħ": "h",
    "Ĩ": "I",
    "ĩ": "i",
    "Ī": "I",
    "ī": "i",
    "Ĭ": "I",
    "ĭ": "i",
    "Į": "I",
    "į": "i",
    "İ": "I",
    "\u0131": "i",
    "Ĳ": "IJ",
    "ĳ": "ij",
    "Ĵ": "J",
    "ĵ": "j",
    "Ķ": "K",
    "ķ": "k",
    "ĸ": "k",
    "Ĺ": "L",
    "ĺ": "l",
    "Ļ": "L",
    "ļ": "l",
    "Ľ": "L",
    "ľ": "l",
    "Ŀ": "L",
    "ŀ": "l",
    "Ł": "L",
    "ł": "l",
    "Ń": "N",
    "ń": "n",
    "Ņ": "N",
    "ņ": "n",
    "Ň": "N",
    "ň": "n",
    "ŉ": "'n",
    "Ŋ": "N",
    "ŋ": "n",
    "Ō": "O",
    "ō": "o",
    "Ŏ": "O",
    "ŏ": "o",
    "Ő": "O",
    "ő": "o",
    "Œ": "OE",
    "œ": "oe",
    "Ŕ": "R",
    "ŕ": "r",
    "Ŗ": "R",
    "ŗ": "r",
    "Ř": "R",
    "ř": "r",
    "Ś": "S",
    "ś": "s",
    "Ŝ": "S",
    "ŝ": "s",
    "Ş": "S",
    "ş": "s",
    "Š": "S",
    "š": "s",
    "Ţ": "T",
    "ţ": "t",
    "Ť": "T",
    "ť": "t",
    "Ŧ": "T",
    "ŧ": "t",
    "Ũ": "U",
    "ũ": "u",
    "Ū": "U",
    "ū": "u",
    "Ŭ": "U",
    "ŭ": "u",
    "Ů": "U",
    "ů": "u",
    "Ű": "U",
    "ű": "u",
    "Ų": "U",
    "ų": "u",
    "Ŵ": "W",
    "ŵ": "w",
    "Ŷ": "Y",
    "ŷ": "y",
    "Ÿ": "Y",
    "Ź": "Z",
    "ź": "z",
    "Ż": "Z",
    "ż": "z",
    "Ž": "Z",
    "ž": "z",
    "\u017f": "s",
}


class EncodingOption(StrEnum):
    AUTO = "auto"
    UNICODE = "unicode"
    GSM_TRANSLITERATE = "gsm-transliterate"


_LOOKALIKE_TABLE = str.maketrans(LOOKALIKES)
_TRANSLITERATE_TABLE = str.maketrans({**LOOKALIKES, **TRANSLITERATIONS})


def is_gsm7(text: str) -> bool:
    return GSM7_CHARACTERS.issuperset(text)


def replacement_table(option: EncodingOption) -> dict[int, str] | None:
    """The `str.translate` table `encode` applies under `option` when it replaces (None: it never does)."""
    if option is EncodingOption.UNICODE:
        return None
    return _TRANSLITERATE_TABLE if option is EncodingOption.GSM_TRANSLITERATE else _LOOKALIKE_TABLE


def encode(text: str, option: EncodingOption = EncodingOption.AUTO) -> str:
    """The text that goes out for `text` under `option` (see the module docstring)."""
    if option is EncodingOption.UNICODE or is_gsm7(text):
        return text
    if option is EncodingOption.GSM_TRANSLITERATE:
        return text.translate(_TRANSLITERATE_TABLE)
    replaced = text.translate(_LOOKALIKE_TABLE)
    return replaced if is_gsm7(replaced) else text
