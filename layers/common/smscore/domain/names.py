"""Names people give things (tag names, contact names): which characters they may hold, and when two are one name.

A name is shown to people (the admin UI, Compose's tag boxes), so it must look like what it is:
- Refused, with the character's code point and its position: control characters (Unicode category Cc: NUL, BEL,
  tab, line feed...), format characters (Cf: zero-width spaces and joiners U+200B-U+200D, U+2060, the BOM U+FEFF,
  bidi marks, embeddings, overrides and isolates U+200E/F, U+061C, U+202A-U+202E, U+2066-U+2069, soft hyphen...),
  line and paragraph separators (Zl, Zp), unpaired surrogates (Cs, from a JSON escape such as \\ud800),
  noncharacters (U+FDD0-U+FDEF and the last two code points of every plane, U+FFFE/U+FFFF ... U+10FFFF), and
  U+FFFD, the replacement character, which stands for bytes that could not be read (`Mar\\xeda` sent as Latin-1).
  Nothing is silently removed: `vi\\u200bp` is refused, not stored as `vip`.
- The uniqueness key is the NFKC normal form, case-folded (and NFKC again, as casefolding may leave a string that
  is not normalised): full-width `\\uff36\\uff29\\uff30` and `VIP` are both `vip`; `Cafe\\u0301` and `Café` are
  one name.
  For a name of ASCII letters this is exactly the former key (`strip().casefold()`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["RefusedCharacter", "is_noncharacter", "name_key", "refused_character", "without_refused_characters"]

# Categories a name may not hold; every other character (letters, marks, digits, punctuation, symbols, emoji,
# spaces, private use) is allowed.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
REPLACEMENT_CHARACTER = "\ufffd"
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_noncharacter(code_point: int) -> bool:
    """The 66 code points Unicode reserves as never to be interchanged."""
    return 0xFDD0 <= code_point <= 0xFDEF or (code_point & 0xFFFE) == 0xFFFE


@dataclass(frozen=True)
class RefusedCharacter:
    char: str
    position: int  # 1-based, in characters (code points) of the value as it was sent

    @property
    def code_point(self) -> str:
        return f"U+{ord(self.char):04X}"

    @property
    def kind(self) -> str:
        if self.char == REPLACEMENT_CHARACTER:
            return "the replacement character"
        if is_noncharacter(ord(self.char)):
            return "a noncharacter"
        if unicodedata.category(self.char) == "Cs":
            return "an unpaired surrogate"
        return "an invisible or control character"

    def sentence(self, what: str) -> str:
        """E.g. "name contains an invisible or control character (U+200B) at position 3"."""
        where = f"{what} contains {self.kind} ({self.code_point}) at position {self.position}"
        if self.char == REPLACEMENT_CHARACTER:
            return f"{where}: it stands for bytes that could not be read"
        return where


def _refused(char: str) -> bool:
    return (
        unicodedata.category(char) in REFUSED_CATEGORIES or char == REPLACEMENT_CHARACTER or is_noncharacter(ord(char))
    )


def refused_character(text: str) -> RefusedCharacter | None:
    """The first character of `text` a name may not hold, with its 1-based position; None when there is none."""
    if text.isascii():  # the usual case, read at C speed: only the ASCII controls are refused there
        control = _ASCII_CONTROL.search(text)
        return RefusedCharacter(control.group(), control.start() + 1) if control else None
    for index, char in enumerate(text):
        if _refused(char):
            return RefusedCharacter(char, index + 1)
    return None


def without_refused_characters(text: str) -> str:
    """`text` with every refused character removed: what `smsctl names check --fix` proposes for a stored name."""
    return "".join(char for char in text if not _refused(char))


def name_key(name: str) -> str:
    """The uniqueness key of a name: trimmed, NFKC, case-folded (the same as `strip().casefold()` for ASCII)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return folded.strip()
