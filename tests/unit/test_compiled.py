"""The compiled composition (smscore.domain.compiled, used by compose_texts) against the straightforward one.

The straightforward composition renders each recipient's text, frames and encodes it whole (final_text), then
measures it (provider_length, count_segments). The compiled one measures the constant pieces once and each merge
value once and adds the figures up. Given many generated templates, frames, values and encoding options, both
must give the same texts, provider lengths, segments, encodings, skips and missing-field counts.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import pytest

from smscore.domain.compiled import CompiledTemplate
from smscore.domain.compose import ComposedTexts, compose_texts, final_text
from smscore.domain.gsm import LOOKALIKES, TRANSLITERATIONS, EncodingOption
from smscore.domain.personalize import MessageTemplate, parse
from smscore.domain.segments import Encoding, count_segments, provider_length

# Characters a generated text draws from: GSM-7 basic (with é ñ ü ¿ ¡ à, Greek capitals, newline), GSM-7
# extension (two septets each), look-alikes (auto replaces them), letters only gsm-transliterate replaces
# (á í ó ú, ç, œ -> oe, ŉ -> 'n), and characters nothing replaces (an emoji: 2 UTF-16 units; a CJK letter).
GSM_BASIC = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,:;!?'\"-@£$¥èéùìòÇØøÅåΔΦΓÆæßÉ¡ÄÖÑÜ§¿äöñüà\n"
GSM_EXTENSION = "{}[]~\\^€|\f"
LOOKS = "".join(LOOKALIKES)
LETTERS = "áíóúÁÍÓÚçœŉÞª"
OTHER = "😀中🎉"
assert set(LETTERS) <= set(TRANSLITERATIONS)

OPTIONS = list(EncodingOption)


def _text(rng: random.Random, length: int, mix: str) -> str:
    pools = {"g": GSM_BASIC, "x": GSM_EXTENSION, "l": LOOKS, "t": LETTERS, "o": OTHER}
    pool = "".join(pools[kind] for kind in mix)
    return "".join(rng.choice(pool) for _ in range(length))


def _mix(rng: random.Random) -> str:
    """Mostly GSM-7 with, sometimes, one kind of character that changes the encoding."""
    return rng.choice(["g", "g", "g", "gx", "gl", "gt", "glt", "gtx", "go", "glto"])


def _literal(text: str) -> str:
    """`text` as written in a template: its braces escaped ({{ and }} write one brace each)."""
    return text.replace("{", "{{").replace("}", "}}")


def _template(rng: random.Random) -> str:
    """A message with 1-3 merge fields (with and without fallbacks, repeated) around generated text."""
    parts = [_literal(_text(rng, rng.randint(0, 60), _mix(rng)))]
    for _ in range(rng.randint(1, 3)):
        name = rng.choice(["nombre", "name", "ciudad"])
        fallback = rng.choice([None, "", "cliente", "amigo ñoño", "clienta querida", "tú", "😀"])
        parts.append("{" + name + ("" if fallback is None else "|" + fallback) + "}")
        parts.append(_literal(_text(rng, rng.randint(0, 80), _mix(rng))))
    return "".join(parts)


def _value(rng: random.Random) -> str | None:
    shared = ["Ana", "María José", "Óscar", "Ñusta", "  ", "", "José\u2019s", "Zoë", "😀 Leo", "Ana "]
    kind = rng.random()
    if kind < 0.1:
        return None
    if kind < 0.55:
        return rng.choice(shared)
    return _text(rng, rng.randint(1, 40), _mix(rng))


def _values(rng: random.Random, recipients: int) -> list[dict[str, str]]:
    people = []
    for _ in range(recipients):
        mine = {}
        for name in ("nombre", "ciudad"):
            value = _value(rng)
            if value is not None:
                mine[name] = value
        if "nombre" in mine:
            mine["name"] = mine["nombre"]
        people.append(mine)
    return people


def _straightforward(
    template: MessageTemplate,
    option: EncodingOption,
    values: list[dict[str, str]],
    char_limit: int,
    prefix: str,
    footer: str,
) -> ComposedTexts:
    """What compose_texts computed before it was compiled: every recipient from scratch."""
    composed = ComposedTexts()
    missing = dict.fromkeys(template.fields, 0)
    for position, mine in enumerate(values):
        for name in template.missing(mine):
            missing[name] += 1
        text = final_text(template.render(mine), option, prefix, footer)
        if provider_length(text) > char_limit:
            composed.too_long += 1
            continue
        composed.texts.append(text)
        composed.counts.append(count_segments(text))
        composed.kept.append(position)
    composed.missing = missing
    return composed


def _frame(rng: random.Random) -> tuple[str, str]:
    prefix = rng.choice(["", "Tienda Ñ: ", "Café “La 14”: ", "Almacén: "])
    footer = rng.choice(["", " Salir: https://s.example/o/AbC12345", " Responde SALIR — gratis", " Más info…"])
    return prefix, footer


@pytest.mark.parametrize("seed", range(12))
def test_compiled_composition_equals_composing_each_text_from_scratch(seed: int) -> None:
    # Given generated templates, frames and recipients (shared names, blanks, accents, emoji, fallbacks)
    rng = random.Random(seed)
    for _ in range(25):
        template = parse(_template(rng))
        prefix, footer = _frame(rng)
        people = _values(rng, 40)
        of = people.__getitem__
        char_limit = rng.choice([1600, 160, 120, 70])
        for option in OPTIONS:
            # When both compose every recipient's text
            fast = compose_texts(template, option, len(people), of, char_limit, prefix, footer)
            slow = _straightforward(template, option, people, char_limit, prefix, footer)
            # Then texts, segments, encodings, skips and missing counts agree, and so does the charge
            assert fast.texts == slow.texts
            assert fast.counts == slow.counts
            assert (fast.kept, fast.too_long, fast.missing) == (slow.kept, slow.too_long, slow.missing)
            assert fast.cost == slow.cost


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("fill", ["a", "€", "á", "\u2019", "😀", "œ"])
@pytest.mark.parametrize("length", [66, 67, 68, 69, 70, 71, 133, 134, 135, 152, 153, 154, 159, 160, 161, 306, 307])
def test_lengths_at_segment_boundaries_count_the_same(option: EncodingOption, fill: str, length: int) -> None:
    # Given a value that brings the framed text to a segment boundary in one kind of character
    template = parse("Hola {nombre|cliente}, " + "ñ" * 10)
    prefix, footer = "Tienda: ", " SALIR"
    constant = len(prefix + "Hola , " + "ñ" * 10 + footer)
    value = fill * max(0, length - constant)
    # When it is composed compiled and from scratch
    composed = CompiledTemplate(template, option, prefix, footer).compose({"nombre": value})
    text = final_text(template.render({"nombre": value}), option, prefix, footer)
    # Then both agree on the text, its provider length and its segments
    assert composed.text == text
    assert composed.length == provider_length(text)
    assert composed.count == count_segments(text)


def test_a_value_that_breaks_gsm7_makes_the_whole_text_ucs2_and_auto_keeps_it_as_written() -> None:
    # Given a constant text with a curly apostrophe (auto would replace it) and one recipient with an emoji
    template = parse("It\u2019s {nombre|you}!")
    compiled = CompiledTemplate(template, EncodingOption.AUTO)
    # When composed for a GSM-7 name and for the emoji
    plain = compiled.compose({"nombre": "Ana"})
    emoji = compiled.compose({"nombre": "Ana 😀"})
    # Then the first goes replaced in GSM-7, the second as written (the apostrophe kept) in UCS-2
    assert (plain.text, plain.count.encoding, plain.count.units) == ("It's Ana!", Encoding.GSM7, 9)
    assert (emoji.text, emoji.count.encoding, emoji.length) == ("It\u2019s Ana 😀!", Encoding.UCS2, 12)


def test_recipients_with_the_same_values_share_one_composition() -> None:
    # Given 10,000 recipients, half without a name (the fallback), half among three names
    template = parse("Hola {nombre|cliente}: 20% en todo")
    names: list[Mapping[str, str]] = [{}, {"nombre": "Ana"}, {}, {"nombre": "Luis"}, {"nombre": " Eva "}]
    # When composed
    composed = compose_texts(template, EncodingOption.AUTO, 10_000, lambda i: names[i % 5], 1600)
    # Then every recipient has its text, and the distinct texts are four
    assert len(composed.texts) == 10_000
    assert composed.texts[:5] == [
        "Hola cliente: 20% en todo",
        "Hola Ana: 20% en todo",
        "Hola cliente: 20% en todo",
        "Hola Luis: 20% en todo",
        "Hola Eva: 20% en todo",
    ]
    assert len(set(composed.texts)) == 4
    assert composed.cost == 10_000
    assert composed.missing == {"nombre": 4_000}
