"""The admin's languages: Spanish (Colombia) by default, English by the switch, remembered in the browser.

The walk of every screen in both languages fails on any key missing from the dictionary (shown as ⟦key⟧ and
recorded by i18n.js) and, in Spanish, on English words left in the page's own texts (what people typed, such as
campaign texts, tag and contact names, is marked translate="no" and not checked).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import AdminStack, choose_english, every_screen, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.local_only, pytest.mark.xdist_group("browser")]

# Words that are English and never Spanish: one of them in a Spanish screen is a text that was not translated.
ENGLISH = re.compile(
    r"\b(the|and|with|your|of|to|is|are|this|that|messages|credits|send|sent|tags|contacts|campaign)\b", re.IGNORECASE
)

# The page's own texts: text nodes, and the names and hints people hear or hover, outside what users typed.
PAGE_TEXTS = """() => {
  const own = (el) => el && !el.closest('[translate="no"]');
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.textContent.trim() && own(node.parentElement) && !node.parentElement.closest("script, style, noscript")) {
      texts.push(node.textContent.trim());
    }
  }
  for (const el of document.body.querySelectorAll("[aria-label], [title], [placeholder]")) {
    if (!own(el)) continue;
    for (const name of ["aria-label", "title", "placeholder"]) {
      if (el.getAttribute(name)) texts.push(el.getAttribute(name));
    }
  }
  texts.push(document.title);
  return texts;
}"""


def campaign_with_a_message(admin_stack: AdminStack) -> tuple[str, str]:
    sent = admin_stack.call(
        "POST",
        "/api/messages/sms/tags",
        {"message": "Pedido listo", "tagIds": [admin_stack.tag_id("vip")], "purpose": "transactional"},
    )
    assert sent.status == 201, sent.body
    return sent.body["queueId"], sent.body["messages"][0]["id"]


def walk(page: Any, admin_stack: AdminStack, screens: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Each screen once loaded: its missing keys, <html lang>, and its own texts."""
    seen = {}
    for screen, ready in screens:
        page.goto(admin_stack.url + screen)
        page.locator(ready).first.wait_for()
        page.wait_for_load_state("networkidle")
        seen[screen] = {
            "missing": page.evaluate("window.__i18nMissing"),
            "lang": page.evaluate("document.documentElement.lang"),
            "texts": page.evaluate(PAGE_TEXTS),
        }
    return seen


@pytest.mark.parametrize("language", ["es-CO", "en"])
def test_every_screen_is_translated(page: Any, admin_stack: AdminStack, language: str) -> None:
    # Given a campaign and a message to open, and the language chosen in this browser (Spanish unless chosen)
    queue_id, message_id = campaign_with_a_message(admin_stack)
    if language == "en":
        choose_english(page)
    sign_in(page, admin_stack)

    # When every screen is shown
    seen = walk(page, admin_stack, every_screen(admin_stack, queue_id, message_id))

    # Then no screen asked for a key the dictionary lacks, nor shows one, and <html lang> names the language
    for screen, found in seen.items():
        assert found["missing"] == [], (screen, found["missing"])
        assert not [text for text in found["texts"] if "⟦" in text], screen
        assert found["lang"] == language, screen
    # And in Spanish none of the page's own texts is left in English
    if language == "es-CO":
        english = {screen: [text for text in found["texts"] if ENGLISH.search(text)] for screen, found in seen.items()}
        assert english == {screen: [] for screen in seen}


def test_the_language_switch_is_remembered_in_this_browser(page: Any, admin_stack: AdminStack) -> None:
    # Given the sign-in page, in Spanish by default
    page.goto(admin_stack.url)
    expect(page.get_by_role("button", name="Ingresar")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "es-CO"

    # When English is chosen there and the member signs in
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(page, admin_stack, screen="#/campaigns")

    # Then the admin is in English, declared as such
    expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")

    # When the page is opened again in this browser (a new tab: the token is gone, the choice is not)
    tab = page.context.new_page()
    tab.goto(admin_stack.url)

    # Then it is still English; and Español in the header brings Spanish back at once
    expect(tab.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(tab, admin_stack, screen="#/campaigns")
    tab.get_by_role("button", name="Español").click()
    expect(tab.get_by_role("heading", name="Campañas")).to_be_visible()
    expect(tab.locator("nav")).to_contain_text("Redactar")
    assert tab.evaluate("document.documentElement.lang") == "es-CO"
    assert tab.evaluate("localStorage.getItem('smsAdmin.lang')") == "es-CO"


def test_numbers_and_dates_are_written_the_way_each_language_writes_them(page: Any, admin_stack: AdminStack) -> None:
    # Given the admin's formatting helpers
    page.goto(admin_stack.url)
    shown = page.evaluate(
        """async () => {
          const { fmt, setLanguage } = await import("./i18n.js");
          const at = new Date("2026-12-07T12:00:00Z");
          const out = {};
          for (const lang of ["es-CO", "en"]) {
            setLanguage(lang);
            const date = fmt.dateTime(at, { timeZone: "America/Bogota" });
            out[lang] = { n: fmt.number(1234567), cop: fmt.cop(13500), date };
          }
          return out;
        }"""
    )
    # Then Spanish (Colombia) groups with dots and names the weekday and month; English with commas
    assert shown["es-CO"]["n"] == "1.234.567"
    assert shown["en"]["n"] == "1,234,567"
    assert re.fullmatch(r"\$\s?13\.500", shown["es-CO"]["cop"]), shown
    assert "13,500" in shown["en"]["cop"], shown
    assert shown["es-CO"]["date"] == "lun, 7 dic 2026, 07:00", shown
    assert shown["en"]["date"] == "Mon, Dec 7, 2026, 07:00 AM", shown


@pytest.mark.parametrize("language", ["es-CO", "en"])
@pytest.mark.parametrize("page", [(1280, 900), (375, 800)], indirect=True, ids=["1280px", "375px"])
def test_every_screen_fits_the_width_and_axe_finds_nothing_serious(
    page: Any, admin_stack: AdminStack, language: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    # Given a campaign and a message to open, in each language and at 1280 and 375 px
    queue_id, message_id = campaign_with_a_message(admin_stack)
    if language == "en":
        choose_english(page)
    sign_in(page, admin_stack)
    width = page.viewport_size["width"]
    axe = Axe()
    wide: dict[str, list[str]] = {}
    serious: dict[str, list[str]] = {}
    for screen, ready in every_screen(admin_stack, queue_id, message_id):
        # When each screen is shown
        page.goto(admin_stack.url + screen)
        page.locator(ready).first.wait_for()
        page.wait_for_load_state("networkidle")
        # Then the page never scrolls sideways
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:  # the innermost elements reaching past the edge, to say what to fix
            wide[screen] = page.evaluate(
                """(width) => [...document.querySelectorAll("body *")]
                  .filter((el) => el.getBoundingClientRect().right > width + 1 && el.children.length === 0)
                  .slice(0, 4).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`)""",
                width,
            )
        # And axe-core reports no serious or critical violation
        results = axe.run(page)
        found = [
            f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if found:
            serious[screen] = found
    assert wide == {}
    assert serious == {}
