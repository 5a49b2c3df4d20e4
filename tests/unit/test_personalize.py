"""Merge-field parsing, fallbacks and per-recipient segments (smscore.domain.personalize, smscore.domain.compose)."""

from __future__ import annotations

import pytest

from smscore.domain.compose import compose_texts
from smscore.domain.errors import InvalidRequest, UnknownMergeField
from smscore.domain.gsm import EncodingOption
from smscore.domain.personalize import (
    Placeholder,
    check_fields,
    checked_field_names,
    parse,
    recipient_values,
)
from smscore.domain.segments import Encoding


@pytest.mark.parametrize(
    ("message", "placeholders"),
    [
        ("Hola {nombre}", [Placeholder("nombre", None)]),
        ("Hola {Nombre|cliente}!", [Placeholder("nombre", "cliente")]),
        ("{ name | amigo querido }", [Placeholder("name", "amigo querido")]),
        ("{ciudad|}", [Placeholder("ciudad", "")]),
        ("{a}{b|x}{a|y}", [Placeholder("a", None), Placeholder("b", "x"), Placeholder("a", "y")]),
        ("Sin campos", []),
        ("{50% off} { } {} {1abc} {{nombre}}", []),
    ],
)
def test_placeholders_are_read_and_anything_else_in_braces_is_text(
    message: str, placeholders: list[Placeholder]
) -> None:
    assert list(parse(message).placeholders) == placeholders


def test_render_uses_the_value_else_the_fallback_else_nothing() -> None:
    template = parse("Hola {nombre|cliente}, {ciudad}: {{código}} }}")
    assert template.render({"nombre": "Ana", "ciudad": "Cali"}) == "Hola Ana, Cali: {código} }"
    assert template.render({"nombre": "   ", "ciudad": "Cali"}) == "Hola cliente, Cali: {código} }"
    assert template.render({}) == "Hola cliente, : {código} }"
    assert template.required == ["ciudad"]
    assert template.fields == ["nombre", "ciudad"]
    assert template.missing({"nombre": "Ana"}) == ["ciudad"]
    assert template.missing({"nombre": " ", "ciudad": "Cali"}) == ["nombre"]


def test_both_built_in_names_are_the_contacts_name() -> None:
    assert recipient_values("Ana", {"ciudad": "Cali"}) == {"ciudad": "Cali", "nombre": "Ana", "name": "Ana"}
    assert recipient_values(None, None) == {}
    assert parse("{name} / {NOMBRE}").render(recipient_values("Ana", None)) == "Ana / Ana"


def test_only_built_in_and_declared_fields_are_known() -> None:
    check_fields(parse("{nombre} {name} {ciudad|x}"), ["ciudad"])
    with pytest.raises(UnknownMergeField) as refused:
        check_fields(parse("{nombre} {barrio|x} {zona}"), ["ciudad"])
    assert refused.value.extra["field"] == "barrio"


@pytest.mark.parametrize(
    "names", [["Ciudad"], ["a", "a"], ["name"], ["nombre"], ["9a"], ["a b"], ["x" * 31], [f"f{i}" for i in range(21)]]
)
def test_declarations_are_checked(names: list[str]) -> None:
    with pytest.raises(InvalidRequest):
        checked_field_names(names)


def test_twenty_fields_of_thirty_characters_are_fine() -> None:
    names = [f"f{i:02d}" + "x" * 27 for i in range(20)]
    assert checked_field_names(names) == names


def test_segments_are_counted_per_recipient_and_the_cost_is_their_sum() -> None:
    # Given a 150-character text after {nombre}: 1 GSM-7 segment with "Ana", 3 UCS-2 ones with the accented names
    template = parse("{nombre|cliente} " + "x" * 150)
    values = [{"nombre": "Ana"}, {"nombre": "María de los Ángeles Restrepo"}, {"nombre": "Óscar"}, {}]
    composed = compose_texts(template, EncodingOption.AUTO, len(values), lambda i: values[i], char_limit=1600)
    assert [c.segments for c in composed.counts] == [1, 3, 3, 1]
    assert [c.encoding for c in composed.counts] == [Encoding.GSM7, Encoding.UCS2, Encoding.UCS2, Encoding.GSM7]
    assert composed.cost == 8
    assert composed.missing == {"nombre": 1}
    assert composed.texts[3] == "cliente " + "x" * 150
    # And transliterated, every one is GSM-7: María -> Maria (180 septets: 2), Óscar -> Oscar (156: 1)
    transliterated = compose_texts(
        template, EncodingOption.GSM_TRANSLITERATE, len(values), lambda i: values[i], char_limit=1600
    )
    assert [c.segments for c in transliterated.counts] == [1, 2, 1, 1]
    assert transliterated.texts[2] == "Oscar " + "x" * 150


def test_a_text_over_the_limit_leaves_that_recipient_out() -> None:
    template = parse("{nombre}" + "y" * 95)
    values = [{"nombre": "Ana"}, {"nombre": "Bernardo"}, {"nombre": "Eva"}]
    composed = compose_texts(template, EncodingOption.AUTO, 3, lambda i: values[i], char_limit=100)
    assert (composed.kept, composed.too_long) == ([0, 2], 1)
    assert composed.cost == 2


def test_a_text_without_merge_fields_is_counted_once_for_everyone() -> None:
    composed = compose_texts(parse("Hola {{a}}"), EncodingOption.AUTO, 50_000, None, char_limit=1600)
    assert composed.texts[0] == "Hola {a}"
    assert composed.cost == 50_000
    assert composed.missing == {}
