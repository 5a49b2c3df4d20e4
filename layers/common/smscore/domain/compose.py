"""The text a recipient receives, composed in one place for the send, the preview and the charge.

    final = encode(prefix(senderName) + render(merge fields, per recipient) + footer(opt-out))

`encode` is the send's encoding option (smscore.domain.gsm), `render` the merge fields
(smscore.domain.personalize). Segments, credits, the preview and the debit all count `final`, so what is
previewed is what is charged and what the outbox receives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from smscore.domain.compiled import CompiledTemplate
from smscore.domain.gsm import EncodingOption, encode
from smscore.domain.personalize import MessageTemplate
from smscore.domain.segments import Encoding, SegmentCount, count_segments


def final_text(rendered: str, option: EncodingOption = EncodingOption.AUTO, prefix: str = "", footer: str = "") -> str:
    """`rendered` (the message with this recipient's merge fields) framed by the sender prefix and the opt-out
    footer, then encoded."""
    return encode(prefix + rendered + footer, option)


@dataclass
class ComposedTexts:
    """Every recipient's final text and its segments, in the audience's order; the too-long ones left out."""

    texts: list[str] = field(default_factory=list)
    counts: list[SegmentCount] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)  # positions (in the audience given) of the texts above
    too_long: int = 0  # recipients whose text is over the provider's limit: skipped, never charged
    missing: dict[str, int] = field(default_factory=dict)  # merge field -> recipients without a value

    @property
    def cost(self) -> int:
        return sum(count.segments for count in self.counts)

    def largest(self, default: str) -> SegmentCount:
        """The most segments any message has (UCS-2 when any message is): what `segments` and `encoding` report
        when messages differ."""
        if not self.counts:
            return count_segments(default)
        most = max(self.counts, key=lambda c: (c.segments, c.units))
        if most.encoding is Encoding.GSM7 and any(c.encoding is Encoding.UCS2 for c in self.counts):
            ucs2 = max((c for c in self.counts if c.encoding is Encoding.UCS2), key=lambda c: (c.segments, c.units))
            return SegmentCount(Encoding.UCS2, ucs2.units, most.segments)
        return most


def compose_texts(
    template: MessageTemplate,
    option: EncodingOption,
    recipients: int,
    values: Callable[[int], Mapping[str, str]] | None,
    char_limit: int,
    prefix: str = "",
    footer: str = "",
) -> ComposedTexts:
    """The final text of each of `recipients` (values(i): the i-th recipient's merge values; None when the
    template has no merge field, so every text is the same and is counted once).

    The template is compiled once (smscore.domain.compiled: the constant text framed and encoded once), and
    recipients whose placeholders render the same share one composition (many share a name, or the fallback)."""
    composed = ComposedTexts()
    compiled = CompiledTemplate(template, option, prefix, footer)
    if not template.personal or values is None:
        text, length, count = compiled.measure(compiled.rendered_values({}))
        if length > char_limit:
            composed.too_long = recipients
        else:
            composed.texts = [text] * recipients
            composed.counts = [count] * recipients
            composed.kept = list(range(recipients))
        composed.missing = dict.fromkeys(template.fields, 0)
        return composed
    names = template.fields
    missing = dict.fromkeys(names, 0)
    # Each placeholder's value by its field's position in `names` (a field may appear more than once)
    placeholders = [
        (names.index(name), fallback) for name, fallback in zip(compiled.fields, compiled.fallbacks, strict=True)
    ]
    # One composition per distinct set of the template's values (stripped: blank is missing, as render has it).
    known: dict[tuple[str, ...], tuple[str, SegmentCount] | None] = {}
    texts, counts, kept = composed.texts, composed.counts, composed.kept
    for position in range(recipients):
        mine = values(position)
        key = tuple([mine.get(name, "").strip() for name in names])
        if key in known:
            entry = known[key]
        else:
            text, length, count = compiled.measure([key[index] or fallback for index, fallback in placeholders])
            entry = known[key] = (text, count) if length <= char_limit else None
        if not all(key):
            for name, value in zip(names, key, strict=True):
                if not value:
                    missing[name] += 1
        if entry is None:
            composed.too_long += 1
            continue
        texts.append(entry[0])
        counts.append(entry[1])
        kept.append(position)
    composed.missing = missing
    return composed
