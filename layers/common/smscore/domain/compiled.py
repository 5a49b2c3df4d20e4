"""A message template compiled once per campaign, so each recipient costs only its own merge values.

`compose_texts` needs, for every recipient, `final_text(template.render(values), option, prefix, footer)`, its
provider length (provider_length) and its segments (count_segments). Done from scratch, each of 50,000 recipients
re-renders the template, re-checks and re-encodes the constant text (sender prefix, the message around the fields,
the opt-out footer) and counts the whole text character by character in Python. Compiled:

- the constant pieces are framed and their replaced forms (the option's `str.translate` table) computed once,
  with whether each form is GSM-7; `encode` replaces character by character, so the encoded whole is the
  concatenation of the encoded pieces, and the whole is GSM-7 exactly when every piece is;
- per recipient only the merge values are checked (and replaced, when the option asks) and the final text is
  joined; its length and septets are then counted with C-level string methods (`isascii`, `isdisjoint`,
  `count`) instead of a Python loop over characters.

`encode`'s whole-text decision is kept as it is: the text goes as written when it is all GSM-7,
`gsm-transliterate` otherwise sends it replaced, `auto` only when that makes every piece GSM-7.
tests/unit/test_compiled.py checks text, length and segments against the straightforward computation over
generated inputs (accents, emoji, look-alikes, fallbacks, lengths at the segment boundaries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from smscore.domain.gsm import GSM7_CHARACTERS, GSM7_EXTENSION_TABLE, EncodingOption, replacement_table
from smscore.domain.personalize import MessageTemplate
from smscore.domain.segments import GSM7_PART, GSM7_SINGLE, UCS2_PART, UCS2_SINGLE, Encoding, SegmentCount

_EXTENSION = tuple(GSM7_EXTENSION_TABLE.values())  # two septets each
_EXTENSION_SET = frozenset(_EXTENSION)
_is_gsm7 = GSM7_CHARACTERS.issuperset


def utf16_units(text: str) -> int:
    """provider_length(text) (UTF-16 code units): the length, plus one for each character outside the BMP."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def septets(text: str) -> int:
    """The GSM-7 septets of `text`, which must be all GSM-7: one each, two for the extension table's."""
    if _EXTENSION_SET.isdisjoint(text):
        return len(text)
    return len(text) + sum(text.count(char) for char in _EXTENSION)


@dataclass(frozen=True)
class Composed:
    """One recipient's final text, its provider length (UTF-16 code units) and its segments."""

    text: str
    length: int
    count: SegmentCount


class CompiledTemplate:
    """`template` framed by `prefix` and `footer`, for `option`. `compose(values)` equals composing from scratch:
    `final_text(template.render(values), option, prefix, footer)` measured (see the module docstring)."""

    def __init__(self, template: MessageTemplate, option: EncodingOption, prefix: str = "", footer: str = "") -> None:
        texts = list(template.texts)
        texts[0] = prefix + texts[0]
        texts[-1] = texts[-1] + footer
        self.option = option
        self.fields = [p.field for p in template.placeholders]
        self.fallbacks = [p.fallback or "" for p in template.placeholders]
        self._table = replacement_table(option)
        self._written = texts
        self._written_gsm7 = all(map(_is_gsm7, texts))
        self._replaced = [t.translate(self._table) for t in texts] if self._table is not None else texts
        self._replaced_gsm7 = all(map(_is_gsm7, self._replaced))
        # The constant text's septets in each form (used only when that form is GSM-7)
        self._written_septets = sum(map(septets, texts)) if self._written_gsm7 else 0
        self._replaced_septets = sum(map(septets, self._replaced)) if self._replaced_gsm7 else 0
        self._counts: dict[tuple[bool, int], SegmentCount] = {}

    def _count(self, gsm7: bool, units: int) -> SegmentCount:
        count = self._counts.get((gsm7, units))
        if count is None:
            single, part = (GSM7_SINGLE, GSM7_PART) if gsm7 else (UCS2_SINGLE, UCS2_PART)
            encoding = Encoding.GSM7 if gsm7 else Encoding.UCS2
            segments = 1 if units <= single else -(-units // part)
            count = self._counts[(gsm7, units)] = SegmentCount(encoding, units, segments)
        return count

    @staticmethod
    def _join(constants: Sequence[str], values: Sequence[str]) -> str:
        if len(values) == 1:
            return constants[0] + values[0] + constants[1]
        parts = [constants[0]]
        for value, constant in zip(values, constants[1:], strict=True):
            parts.append(value)
            parts.append(constant)
        return "".join(parts)

    def rendered_values(self, values: Mapping[str, str]) -> list[str]:
        """Each placeholder's text for this recipient: its value stripped, else its fallback (as render)."""
        pairs = zip(self.fields, self.fallbacks, strict=True)
        return [values.get(name, "").strip() or fallback for name, fallback in pairs]

    def measure(self, rendered: Sequence[str]) -> tuple[str, int, SegmentCount]:
        """The final text for these placeholder texts (rendered_values), its provider length and its segments."""
        option = self.option
        written_gsm7 = self._written_gsm7 and all(map(_is_gsm7, rendered))
        if option is EncodingOption.UNICODE or written_gsm7:
            text, gsm7 = self._join(self._written, rendered), written_gsm7
            constant, values = self._written_septets, rendered
        else:
            assert self._table is not None
            replaced = [value.translate(self._table) for value in rendered]
            gsm7 = self._replaced_gsm7 and all(map(_is_gsm7, replaced))
            if option is EncodingOption.GSM_TRANSLITERATE or gsm7:
                text = self._join(self._replaced, replaced)
                constant, values = self._replaced_septets, replaced
            else:  # auto, and replacing would not make the whole text GSM-7: it goes as written
                text = self._join(self._written, rendered)
        if gsm7:  # GSM-7 characters are all in the BMP: one UTF-16 unit each; septets add up over the pieces
            return text, len(text), self._count(True, constant + sum(map(septets, values)))
        units = utf16_units(text)
        return text, units, self._count(False, units)

    def compose(self, values: Mapping[str, str]) -> Composed:
        return Composed(*self.measure(self.rendered_values(values)))
