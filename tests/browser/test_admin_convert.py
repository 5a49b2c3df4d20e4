"""Compose with merge fields and the transliteration suggestion (issue 24, item 6), against the demo stack."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import AdminStack, sign_in

SPANISH = (
    "Hola {nombre|cliente}: sábado de ofertas, 30% en toda la tienda. Más información en la tienda, "
    "te esperamos desde las 9."
)


def required_credits(page: Any) -> int:
    text = page.locator("#preview-credits").inner_text()
    match = re.match(r"([\d.]+) requeridos", text)
    assert match, text
    return int(match.group(1).replace(".", ""))


def test_compose_with_a_merge_field_accepts_the_transliteration_and_the_credits_drop(
    page: Any, admin_stack: AdminStack
) -> None:
    # Given a Spanish message with {nombre} and accents to the newsletter tag
    sign_in(page, admin_stack, screen="#/compose")
    page.get_by_label("newsletter").check()
    page.get_by_label("Mensaje").fill(SPANISH)

    # Then the preview shows the recipients' own texts, in UCS-2 (á is not GSM-7), and offers to drop the accents
    samples = page.locator("#preview-samples li")
    expect(samples.first).to_contain_text("Hola ")
    expect(samples.first).not_to_contain_text("{nombre")
    expect(samples.first).to_contain_text("UCS-2")
    suggestion = page.locator("#encoding-suggestion")
    expect(suggestion).to_contain_text("Sin tildes (á → a) el mensaje cabe en GSM-7 y ahorra")
    expect(page.locator("#transliterated")).to_contain_text("sabado de ofertas")
    before = required_credits(page)

    # When the marketer accepts the suggestion with one click
    page.locator("#accept-transliteration").click()

    # Then the preview is priced again in GSM-7, the samples carry no accent, and the credits drop
    expect(page.locator("#encoding-accepted")).to_contain_text("Se enviará sin tildes")
    expect(samples.first).to_contain_text("GSM-7")
    expect(samples.first).to_contain_text("sabado de ofertas")
    expect(page.locator("#preview-credits")).not_to_have_text(re.compile(rf"^{before} requeridos"))
    after = required_credits(page)
    assert after < before, (before, after)

    # And keeping the accents prices it as written again
    page.locator("#undo-transliteration").click()
    expect(page.locator("#encoding-suggestion")).to_be_visible()
    expect(page.locator("#preview-credits")).to_have_text(re.compile(rf"^{before} requeridos"))
