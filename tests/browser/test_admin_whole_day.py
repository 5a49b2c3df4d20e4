"""The coordinator's whole day in Spanish (issue 23): import the Excel file, find "andres", compose, confirm, see why
the campaign waits (the holiday, by its name), cancel it, see who cancelled it and when, see the credits page; and a
member without the current terms accepts them from the read-only banner.

The stack runs with the send windows enforced and its clock fixed (`smsdev.dev --clock`) at Tuesday 8 December 2026,
10:00 in Bogota, a public holiday (La Inmaculada Concepción): what the page says never depends on the wall clock.
Every state is checked at 375 px (no sideways scrolling) and with axe-core (nothing serious or critical), and leaves
a screenshot in tests/browser/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from smsdev.template import ROOT
from smsdev.testing import dev_stack_process
from tests.browser.conftest import SCREENSHOTS, AdminStack, sign_in
from tests.clocks import frozen_instants

pytestmark = [pytest.mark.e2e, pytest.mark.local_only, pytest.mark.xdist_group("browser")]

HOLIDAY_1000 = frozen_instants()["holiday-1000-bogota"]  # Tuesday 8 December 2026, 10:00 in Bogota
EXCEL = ROOT / "tests" / "fixtures" / "excel" / "clientes-excel-windows1252.csv"


@pytest.fixture(scope="module")
def holiday_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminStack]:
    """A stack of its own (its seed's members are changed here), windows enforced, clock at the holiday."""
    assert HOLIDAY_1000.date().isoformat() == "2026-12-08"
    args = ["--param", "SendWindows=enforced", "--clock", HOLIDAY_1000.isoformat()]
    # Cold starts on a loaded 2-core machine can pass the read functions' 10 s: waits are for what the page shows
    args += ["--param", "LocalGatewayTimeoutSeconds=60", "--param", "MessagesFunction.Timeout=60"]
    args += ["--param", "ContactsFunction.Timeout=60"]
    with dev_stack_process(tmp_path_factory.mktemp("holiday"), args) as running:
        yield AdminStack(running)


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"whole-day-{name}.png"), full_page=True)


def fits_375_and_axe_is_clean(page: Any, name: str) -> None:
    """The state on screen, at 375 px: no sideways scrolling, no serious or critical axe violation."""
    from axe_playwright_python.sync_playwright import Axe

    size = page.viewport_size
    page.set_viewport_size({"width": 375, "height": 800})
    try:
        page.wait_for_timeout(100)  # one layout pass
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, name
        shot(page, f"{name}-375px")
        violations = [
            f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}"
            for v in Axe().run(page).response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert violations == [], name
    finally:
        page.set_viewport_size(size)


def test_the_whole_day_in_spanish(page: Any, holiday_stack: AdminStack) -> None:
    stack = holiday_stack
    before = stack.balance()
    # Given the coordinator's Excel file (Windows-1252, ';', Spanish headers), imported from the contacts screen
    sign_in(page, stack, screen="#/contacts")
    page.get_by_label("Archivo CSV").set_input_files(str(EXCEL))
    page.get_by_role("button", name="Importar", exact=True).click()
    # (an import on a 2-core machine shared with other test runs may take a while: the wait is for what it shows)
    expect(page.locator("#import-report")).to_contain_text("de 4 filas", timeout=180_000)
    expect(page.locator("#rejected-rows tbody tr")).to_have_count(1)
    shot(page, "1-import")

    # When "andres" is searched, Then Andrés Muñoz is found with his real tag
    page.get_by_label("Buscar por nombre o teléfono").fill("andres")
    page.get_by_role("button", name="Buscar", exact=True).click()
    row = page.locator("#contacts tbody tr", has_text="Andrés Muñoz")
    expect(page.locator("#contacts tbody tr")).to_have_count(1)
    expect(row.locator("td").nth(2)).to_have_text("Clientes sábado")
    shot(page, "2-search")

    # When a marketing message is composed to "Clientes sábado" (Andrés and María José) on the holiday at 10:00
    page.get_by_role("navigation").get_by_role("link", name="Redactar").click()
    page.get_by_label("Clientes sábado").check()
    page.get_by_label("Mensaje").fill("Hola {nombre|cliente}, esta semana hay ofertas en la tienda")
    # Then the preview says it waits for the holiday, named, and when it goes (Wednesday 07:00, Bogota time)
    waits = page.locator("#preview-when")
    expect(waits).to_contain_text("Festivo (La Inmaculada Concepción): la Ley 2300 no permite mensajes de mercadeo")
    expect(waits).to_contain_text(re.compile(r"sale el mié\.?, 9 dic 2026, 07:00 \(hora de Bogotá\)$"))
    # And the button says the message will be scheduled
    schedule = page.get_by_role("button", name="Programar", exact=True)
    expect(schedule).to_be_visible()
    shot(page, "3-compose")
    fits_375_and_axe_is_clean(page, "3-compose")

    # When it is scheduled, Then a confirmation first says recipients, credits, pesos and the same reason
    schedule.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text("¿Programar esta campaña?")
    expect(dialog.locator("#confirm-credits")).to_have_text(re.compile(r"^\d+ créditos \(\$\s[\d.,]+\)$"))
    expect(dialog.locator("#confirm-when")).to_contain_text("Festivo (La Inmaculada Concepción)")
    assert stack.balance() == before  # nothing charged before the confirmation
    shot(page, "4-confirm")
    fits_375_and_axe_is_clean(page, "4-confirm")
    dialog.get_by_role("button", name="Programar").click()

    # Then it is accepted, saying why it waits, in one sentence with one final period
    result = page.locator("#send-result .notice")
    expect(result).to_contain_text("Campaña aceptada: 2 mensajes. Festivo (La Inmaculada Concepción)")
    expect(result).to_contain_text(re.compile(r"\(hora de Bogotá\)\.$"))
    assert ".." not in result.inner_text()
    charged = before - stack.balance()
    assert charged > 0
    shot(page, "5-accepted")

    # When the campaign is opened, Then its reason is shown where its schedule is
    page.locator("#open-campaign").click()
    expect(page.locator("#campaign-reason")).to_contain_text("Festivo (La Inmaculada Concepción)")
    expect(page.locator("#counts tr[data-status=SCHEDULED] td")).to_have_text("2")
    # And its messages are listed by the contact's name beside the number
    expect(page.locator("#messages tbody tr", has_text="Andrés Muñoz")).to_contain_text(
        "+573152223344", timeout=120_000
    )
    shot(page, "6-campaign")
    # And one waiting message says why too, and its history reads the time, not an ISO string
    page.locator("#messages tbody tr", has_text="Andrés Muñoz").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mensaje a Andrés Muñoz (+573152223344)")
    expect(page.locator("#message-reason")).to_contain_text("Festivo (La Inmaculada Concepción)")
    expect(page.locator("#history")).to_contain_text("Espera hasta el mié")
    expect(page.locator("#history")).not_to_contain_text("T12:00:00")
    shot(page, "7-message")
    fits_375_and_axe_is_clean(page, "7-message")
    page.go_back()

    # When it is cancelled
    page.get_by_role("button", name="Cancelar campaña").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancelar campaña").click()
    expect(page.locator("#campaign-actions-result")).to_contain_text("Se cancelaron 2 mensajes")

    # Then the campaign says who cancelled it and when (the fixed clock's day), not its schedule
    cancelled = page.locator("#campaign-cancelled")
    expect(cancelled).to_have_text(re.compile(r"^Cancelada el mar\.?, 8 dic 2026, 10:\d\d por usted$"))
    expect(page.locator("#campaign-scheduled")).to_have_count(0)
    expect(page.locator("#campaign-reason")).to_have_count(0)
    shot(page, "8-cancelled")
    fits_375_and_axe_is_clean(page, "8-cancelled")
    # And the list says so too
    page.get_by_role("navigation").get_by_role("link", name="Campañas").click()
    expect(page.locator("li.campaign").first).to_contain_text("Cancelada el mar")

    # When the credits page is opened, Then the refund is the newest entry and the balance is back
    page.get_by_role("navigation").get_by_role("link", name="Créditos").click()
    newest = page.locator("#ledger tbody tr").first
    expect(newest).to_have_attribute("data-kind", "REFUND")
    expect(newest.locator("td").nth(2)).to_have_text(f"+{charged}")
    assert stack.balance() == before
    shot(page, "9-credits")
    fits_375_and_axe_is_clean(page, "9-credits")


def test_a_member_accepts_the_current_terms_from_the_read_only_banner(page: Any, holiday_stack: AdminStack) -> None:
    # Given the member who has not accepted the current terms, signed in: a read-only admin that says why
    sign_in(page, holiday_stack, token=holiday_stack.read_only_token, screen="#/compose")
    banner = page.locator("#read-only")
    expect(banner).to_contain_text("Modo de solo lectura")
    expect(page.get_by_role("button", name="Enviar", exact=True)).to_be_disabled()
    shot(page, "terms-1-read-only")
    fits_375_and_axe_is_clean(page, "terms-1-read-only")

    # When the member accepts them from the banner
    page.get_by_role("button", name="Aceptar los términos vigentes").click()

    # Then the banner is gone, the acceptance is confirmed and writing is enabled at once
    expect(page.locator("#read-only")).to_have_count(0)
    expect(page.locator(".screen")).to_contain_text("Términos aceptados (versión")
    expect(page.get_by_role("button", name="Enviar", exact=True)).to_be_enabled()
    shot(page, "terms-2-accepted")
    me = holiday_stack.stack
    from smsdev.testing import http_call

    answer = http_call(me.api_url, "GET", "/api/me", token=holiday_stack.read_only_token)
    assert answer.body["access"] == "FULL"
