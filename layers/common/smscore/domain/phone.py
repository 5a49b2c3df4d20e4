"""Phone number normalisation to E.164, so one number is one recipient whatever way it was typed.

Numbers are taken literally. phonenumbers reads vanity letters as keypad digits (`300ABC4567` is +573002224567,
a stranger's number: for SMS a typed O for 0 must be an error) and drops an extension (`... ext 12`), so a number
is read here first (`read_literally`) and phonenumbers only ever sees ASCII digits and separators:
- letters are refused ("letters are not allowed in a phone number"), an extension too (an SMS reaches the line,
  never an extension);
- decimal digits of any script (Unicode category Nd: Arabic-Indic ٣٠٠, Eastern Arabic ۳۰۰, full-width U+FF10-U+FF19,
  Devanagari ३००...) are read by their Unicode digit value, which is exact: `٣٠٠١٢٣٤٥٦٧` is 3001234567;
  other numeric characters (superscripts ², circled ①, fractions, Roman numerals) are refused;
- separators are spaces, dashes, dots, slashes, parentheses and brackets (full-width forms included) and a `+`;
  anything else (`*`, `#`, `;`, zero-width or control characters...) is refused with its position.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberType

from smscore.domain.masking import mask

__all__ = ["Normalised", "is_supported_country", "mask", "normalise", "read_literally", "valid_e164"]

# Types a carrier can deliver an SMS to; FIXED_LINE_OR_MOBILE is kept because several numbering
# plans (US, CA, ...) cannot tell the two apart from the number alone.
SMS_CAPABLE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PAGER})

SUPPORTED_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)


@dataclass(frozen=True)
class Normalised:
    e164: str | None
    # Why the number was rejected, when e164 is None: empty, letters, extension, character (how it is written),
    # invalid, not_mobile (what it is).
    reason: str | None = None
    detail: str | None = None  # a sentence for people when the number is refused for how it is written

    @property
    def valid(self) -> bool:
        return self.e164 is not None


# Separators people type between digits, as the ASCII character phonenumbers is given.
_SEPARATORS = {"(": "(", ")": ")", "[": "[", "]": "]", ".": ".", "/": "/", "+": "+", "\u2212": "-"}
_SEPARATORS.update({chr(ord(ascii_char) + 0xFEE0): ascii_char for ascii_char in "()[]./+"})  # full-width forms
_PLAIN = re.compile(r"[0-9 ()\[\]./+-]*")
# An extension after the number: "ext 12", "ext. 12", "extension 12", "x12", "#12", ",12", ";ext=12", "anexo 12".
_EXTENSION = re.compile(
    r"(?<=[\d\s.)\]-])\s*(?:;\s*ext\s*=|,+|\#|(?:extension|extn|ext|anexo|x)\.?:?)\s*\d{1,9}\s*\#?\s*$",
    re.IGNORECASE,
)


def _refusal(reason: str, detail: str) -> Normalised:
    return Normalised(None, reason, detail)


def read_literally(raw: str) -> str | Normalised:
    """`raw` as ASCII digits and separators (trimmed), or the refusal of a number not taken literally."""
    if _PLAIN.fullmatch(raw):  # the usual case: nothing to read but ASCII digits and separators
        return raw.strip()
    ascii_text: list[str] = []
    for char in raw:
        category = unicodedata.category(char)
        if category == "Nd":
            ascii_text.append(str(unicodedata.decimal(char)))
        elif category in ("Zs", "Pd"):
            ascii_text.append(" " if category == "Zs" else "-")
        elif char in _SEPARATORS:
            ascii_text.append(_SEPARATORS[char])
        else:
            ascii_text.append(char)
    text = "".join(ascii_text)
    extension = _EXTENSION.search(text)
    if extension is not None and any(ch.isdigit() for ch in text[: extension.start()]):
        written = raw[extension.start() :].strip()
        return _refusal(
            "extension", f"extensions are not allowed in a phone number ({written!r}): an SMS cannot reach one"
        )
    for position, char in enumerate(text, start=1):
        if char.isascii() and (char.isdigit() or char in " -()[]./+"):
            continue
        if unicodedata.category(char).startswith("L"):
            return _refusal("letters", f"letters are not allowed in a phone number ({char!r} at position {position})")
        code_point = f"U+{ord(char):04X}"
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            detail = f"phone contains an invisible or control character ({code_point}) at position {position}"
        else:
            detail = f"phone contains {char!r} ({code_point}) at position {position}: it is not part of a number"
        return _refusal("character", detail)
    return text.strip()


def is_supported_country(code: str) -> bool:
    return code.upper() in SUPPORTED_COUNTRIES


@lru_cache(maxsize=262_144)
def normalise(raw: str, country: str | None) -> Normalised:
    """E.164 form of `raw` when it can receive an SMS.

    Numbers without a leading + are read in `country`'s national plan; a number already written
    with its country code (573001234567) is recognised as well, since contact lists mix both.
    Results are cached: campaigns repeat the same numbers across tags and requests.
    """
    if not raw.strip():
        return Normalised(None, "empty")
    text = read_literally(raw)
    if isinstance(text, Normalised):
        return text
    typed = _typed_number(text, country)
    if typed is None:
        return Normalised(None, "invalid")
    number, kind = typed
    if kind not in SMS_CAPABLE_TYPES:
        return Normalised(None, "not_mobile")
    return Normalised(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _valid_number(text: str, country: str | None) -> phonenumbers.PhoneNumber | None:
    """The valid number `text` (ASCII, from read_literally) stands for, read in `country`'s national plan."""
    typed = _typed_number(text, country)
    return None if typed is None else typed[0]


def _typed_number(text: str, country: str | None) -> tuple[phonenumbers.PhoneNumber, int] | None:
    """The valid number `text` stands for and its type. A number is valid exactly when its type is known
    (phonenumbers' is_valid_number is number_type != UNKNOWN for the number's own region), so the type is computed
    once: a campaign normalises every recipient, and this is most of its cost."""
    region = country.upper() if country else None
    if _E164.fullmatch(text):
        number = _e164_number(text)
        if number is not None:
            kind = phonenumbers.number_type(number)
            return None if kind == PhoneNumberType.UNKNOWN else (number, kind)
    candidates = [text]
    if region and not text.startswith("+") and text[:1].isdigit():
        # "573001234567": digits that already start with the country's calling code.
        candidates.append("+" + text)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except NumberParseException:
            continue
        kind = phonenumbers.number_type(number)
        if kind == PhoneNumberType.UNKNOWN:
            continue
        if region and candidate is not text and phonenumbers.region_code_for_number(number) != region:
            continue
        return number, kind
    return None


_E164 = re.compile(r"\+[1-9][0-9]{6,16}")


@cache
def _parsing_prefix(country_code: int) -> re.Pattern[str] | None:
    """The national prefix phonenumbers strips when parsing a number of this calling code (None: none)."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    prefix = metadata.national_prefix_for_parsing if metadata is not None else None
    return re.compile(prefix) if prefix else None


def _e164_number(text: str) -> phonenumbers.PhoneNumber | None:
    """The number a canonical E.164 string (what the contacts API and imports store) stands for, built without
    phonenumbers.parse when parse would keep its digits as they are: a known calling code, a national part without
    a leading zero (Italian-style numbers) that the code's national prefix for parsing does not match (parse would
    strip or transform it). Else None, and the number is parsed. A campaign reads every recipient's number: parse
    was most of that cost."""
    for digits in (1, 2, 3):
        code = int(text[1 : 1 + digits])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = text[1 + digits :]
            break
    else:
        return None
    if national.startswith("0") or not 2 <= len(national) <= 17:
        return None
    prefix = _parsing_prefix(code)
    if prefix is not None and prefix.match(national):
        return None
    return phonenumbers.PhoneNumber(country_code=code, national_number=int(national))


@lru_cache(maxsize=65_536)
def valid_e164(raw: str, country: str | None) -> str | None:
    """E.164 of any valid number, SMS-capable or not: the contacts API keys contacts (landlines too) by it."""
    text = read_literally(raw)
    if isinstance(text, Normalised):
        return None
    number = _valid_number(text, country)
    return None if number is None else phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
