"""Contact search as plain logic: the words a contact is found by, and what a query asks for.

A contact is found by the prefix of any word of its name, without case or accents ("andres" finds "Andrés
Muñoz", so does "muñ"), and by the prefix of its number's digits, national ("300 123" finds +573001234567) or
international ("57300"). Each word is one index item (ContactSearchRecord, smscore.dal.tables), keyed by its first
SHARD_CHARS characters so that a tenant's items spread over many partition keys; a Query with begins_with
on the rest reads only the matching items, never the whole address book (no Scan, no filtered page).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SHARD_CHARS = 2  # a query needs at least this many characters: the partition key holds the word's first ones
MAX_WORDS = 8  # words of a name indexed (names are at most 200 characters)
_WORD = re.compile(r"[^\W_]+")  # letters and digits, any script


def fold(text: str) -> str:
    """Lower case, without accents or other marks: "Andrés" -> "andres", "MUÑOZ" -> "munoz"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_words(name: str | None) -> list[str]:
    """The folded words of a name, in order, without repeats (at most MAX_WORDS)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(fold(name or "")):
        seen.setdefault(word, None)
    return list(seen)[:MAX_WORDS]


def number_words(e164: str | None, national: str | None) -> list[str]:
    """The digits of a number, international (573001234567) and national (3001234567)."""
    words = [re.sub(r"\D", "", value) for value in (e164, national) if value]
    return list(dict.fromkeys(w for w in words if len(w) >= SHARD_CHARS))


def contact_words(name: str | None, e164: str | None, national: str | None) -> frozenset[str]:
    """Every word a contact is found by."""
    return frozenset(w for w in [*name_words(name), *number_words(e164, national)] if len(w) >= SHARD_CHARS)


@dataclass(frozen=True)
class SearchQuery:
    """What `q` asks for: `prefix` is looked up in the index; every word of `words` must prefix a word of the
    contact (so "ana gom" finds "Ana Gómez" and not "Ana Ruiz")."""

    prefix: str
    words: tuple[str, ...]

    def matches(self, words: frozenset[str]) -> bool:
        return all(any(w.startswith(term) for w in words) for term in self.words)


def search_query(q: str) -> SearchQuery | None:
    """The query of a `q`: a number (digits, spaces, + ( ) . -) becomes its digits; otherwise its folded words,
    the longest one looked up. None when no word has SHARD_CHARS characters."""
    text = q.strip()
    if re.fullmatch(r"\+?[\d\s().-]+", text):
        digits = re.sub(r"\D", "", text)
        return SearchQuery(digits, (digits,)) if len(digits) >= SHARD_CHARS else None
    terms = tuple(dict.fromkeys(_WORD.findall(fold(text))))
    longest = max(terms, key=len, default="")
    if len(longest) < SHARD_CHARS:
        return None
    return SearchQuery(longest, terms)
