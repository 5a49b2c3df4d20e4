"""Opt-out and opt-in keywords of inbound SMS: what a reply means, and nothing else.

A reply is a keyword only as the whole message, trimmed: "STOP" and " stop\n" opt out, "please stop" does not
(carriers and providers match the same way, so a customer's sentence is never read as a command). Case and
accents do not matter ("Bája", "baja", "BAJA"), because Spanish speakers type accents and phones add them.
The lists are configuration (template parameters OptOutKeywords / OptInKeywords); the defaults cover what
US carriers (CTIA) and Twilio/AWS honour, plus the Spanish words used in Colombia.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_OPT_OUT_KEYWORDS = (
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "BAJA",
    "ALTO",
    "PARAR",
    "SALIR",
    "CANCELAR",
)
DEFAULT_OPT_IN_KEYWORDS = ("START", "UNSTOP", "ALTA")
MAX_KEYWORD_LENGTH = 40  # longer "keywords" are sentences: never a whole-message match worth configuring


class KeywordAction(StrEnum):
    OPT_OUT = "OPT_OUT"
    OPT_IN = "OPT_IN"
    NONE = "NONE"  # not a keyword: nothing changes


def fold(text: str) -> str:
    """The comparable form of a message: trimmed, inner whitespace runs as one space, accents removed (NFKD,
    combining marks dropped), casefolded."""
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@dataclass(frozen=True)
class KeywordMatch:
    action: KeywordAction
    keyword: str | None = None  # the configured keyword as written in the configuration (upper case)


NO_KEYWORD = KeywordMatch(KeywordAction.NONE)


@dataclass(frozen=True)
class Keywords:
    """The configured keyword lists, folded once. A word in both lists is a configuration error."""

    opt_out: dict[str, str]  # folded -> as configured
    opt_in: dict[str, str]

    @classmethod
    def of(
        cls, opt_out: Iterable[str] = DEFAULT_OPT_OUT_KEYWORDS, opt_in: Iterable[str] = DEFAULT_OPT_IN_KEYWORDS
    ) -> Keywords:
        out = _folded(opt_out, "opt-out")
        into = _folded(opt_in, "opt-in")
        both = sorted(set(out) & set(into))
        if both:
            raise ValueError(f"keywords in both the opt-out and the opt-in list: {', '.join(both)}")
        if not out:
            raise ValueError("at least one opt-out keyword is required (carriers require STOP handling)")
        return cls(opt_out=out, opt_in=into)

    @classmethod
    def parse(cls, opt_out: str, opt_in: str) -> Keywords:
        """From the comma-separated settings (OPT_OUT_KEYWORDS, OPT_IN_KEYWORDS); blanks between commas ignored."""
        return cls.of(_split(opt_out), _split(opt_in))

    def match(self, body: str) -> KeywordMatch:
        folded = fold(body)
        if folded in self.opt_out:
            return KeywordMatch(KeywordAction.OPT_OUT, self.opt_out[folded])
        if folded in self.opt_in:
            return KeywordMatch(KeywordAction.OPT_IN, self.opt_in[folded])
        return NO_KEYWORD


def _split(text: str) -> list[str]:
    return [word for word in (part.strip() for part in text.split(",")) if word]


def _folded(words: Iterable[str], which: str) -> dict[str, str]:
    folded: dict[str, str] = {}
    for word in words:
        key = fold(word)
        if not key or len(key) > MAX_KEYWORD_LENGTH:
            raise ValueError(f"{which} keyword {word!r} must have 1-{MAX_KEYWORD_LENGTH} characters")
        folded[key] = word.strip().upper()
    return folded
