"""The text a recipient receives, composed in one place for the send, the preview and the charge.

    final = encode(prefix(senderName) + render(merge fields, per recipient) + footer(opt-out))

`encode` is the send's encoding option (smscore.domain.gsm), `render` the merge fields
(smscore.domain.personalize). Segments, credits, the preview and the debit all count `final`, so what is
previewed is what is charged and what the outbox receives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from smscore.domain.gsm import EncodingOption, encode
from smscore.domain.personalize import MessageTemplate
from smscore.domain.segments import Encoding, SegmentCount, count_segments, provider_length


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
    template has no merge field, so every text is the same and is counted once)."""
    composed = ComposedTexts()
    counted: dict[str, SegmentCount] = {}
    missing: Counter[str] = Counter()
    same = final_text(template.render({}), option, prefix, footer) if not template.personal or values is None else None
    # Recipients with the same values of the template's fields get the same text: rendered (and encoded) once.
    rendered: dict[tuple[str | None, ...], tuple[str, list[str]]] = {}
    names = template.fields
    for position in range(recipients):
        if same is not None:
            text = same
        else:
            assert values is not None
            mine = values(position)
            key = tuple(mine.get(name) for name in names)
            known = rendered.get(key)
            if known is None:
                known = rendered[key] = (
                    final_text(template.render(mine), option, prefix, footer),
                    list(template.missing(mine)),
                )
            text, lacking = known
            missing.update(lacking)
        if provider_length(text) > char_limit:
            composed.too_long += 1
            continue
        count = counted.get(text)
        if count is None:
            count = counted[text] = count_segments(text)
        composed.texts.append(text)
        composed.counts.append(count)
        composed.kept.append(position)
    composed.missing = {name: missing.get(name, 0) for name in template.fields}
    return composed
