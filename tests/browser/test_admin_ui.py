"""The admin SPA in headless Chromium against the local stack: what a person signing in sees and can do."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from smsdev.seed import DEMO_CONTACTS, expected_recipients
from smsdev.template import ROOT
from tests.browser.conftest import ES_MONTHS, AdminStack, es_number, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.local_only, pytest.mark.xdist_group("browser")]

COMPOSED = "Sábado de ofertas: 30% en toda la tienda. Responde BAJA para no recibir más."


def send_now(admin_stack: AdminStack, tags: tuple[str, ...], message: str = "Your order is ready") -> dict[str, Any]:
    sent = admin_stack.call(
        "POST",
        "/api/messages/sms/tags",
        {"message": message, "tagIds": [admin_stack.tag_id(t) for t in tags], "purpose": "transactional"},
    )
    assert sent.status == 201, sent.body
    return dict(sent.body)


def wait_until_sent(admin_stack: AdminStack, queue_id: str, total: int) -> dict[str, Any]:
    """The campaign once every message is SENT (the sandbox sends no receipts, so SENT is final locally)."""
    for _ in range(120):
        campaign = admin_stack.call("GET", f"/api/messages/queues/{queue_id}").body
        if campaign["counts"].get("SENT", 0) == total:
            return dict(campaign)
        time.sleep(0.5)
    raise AssertionError(f"campaign {queue_id} never reached SENT: {campaign['counts']}")


def test_sign_in_shows_the_tenant_and_balance_and_keeps_the_token_out_of_the_url(
    page: Any, admin_stack: AdminStack
) -> None:
    # Given the admin URL `make dev` printed next to the tokens
    printed = re.search(r"^Admin UI +(\S+)", admin_stack.stack.summary, flags=re.MULTILINE)
    assert printed is not None, admin_stack.stack.summary
    assert printed.group(1) == admin_stack.url

    # When a member signs in there with its token, using the keyboard only
    sign_in(page, admin_stack)

    # Then the header names the tenant and shows its balance, and no read-only notice
    expect(page.locator("#tenant-name")).to_have_text("Demo Store")
    expect(page.locator("#balance")).to_contain_text(f"{es_number(admin_stack.balance())} créditos")
    expect(page.locator("#read-only")).to_have_count(0)
    # And the page is in Spanish (Colombia) by default, and says so to screen readers and translators
    assert page.evaluate("document.documentElement.lang") == "es-CO"
    # And the token lives in this tab's sessionStorage only: never in the URL or localStorage
    assert admin_stack.token not in page.url
    assert page.evaluate("Object.values(sessionStorage)") == [admin_stack.token]
    assert page.evaluate("localStorage.length") == 0

    # When it signs out, Then the token is forgotten and the sign-in form is back
    page.get_by_role("button", name="Cerrar sesión").click()
    expect(page.get_by_label("Token de la API")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_wrong_token_is_refused_with_a_sentence(page: Any, admin_stack: AdminStack) -> None:
    # Given a token of the right shape that was never issued
    page.goto(admin_stack.url)
    page.get_by_label("Token de la API").fill("sms_" + "A" * 43)

    # When it is used to sign in
    page.get_by_role("button", name="Ingresar").click()

    # Then the page says it was refused, in words, and keeps nothing
    expect(page.get_by_role("alert")).to_have_text(re.compile("Ese token fue rechazado"))
    expect(page.locator("#tenant-name")).to_have_count(0)
    assert page.evaluate("sessionStorage.length") == 0


def test_a_member_without_the_current_terms_gets_a_read_only_admin(page: Any, admin_stack: AdminStack) -> None:
    # When the member who has not accepted the terms signs in
    sign_in(page, admin_stack, admin_stack.read_only_token, "#/compose")

    # Then the page says it is read-only and why, and sending is disabled
    expect(page.locator("#read-only")).to_contain_text("no ha aceptado los términos del servicio vigentes")
    expect(page.get_by_role("button", name="Enviar", exact=True)).to_be_disabled()


def test_compose_to_two_tags_previews_recipients_and_credits(page: Any, admin_stack: AdminStack) -> None:
    # Given the seeded tags vip and buyers (a shared number, invalid numbers and an opted-out contact among them)
    recipients = len(expected_recipients(("vip", "buyers"), DEMO_CONTACTS))
    sign_in(page, admin_stack, screen="#/compose")

    # When a message is composed to both tags
    page.get_by_label("vip").check()
    page.get_by_label("buyers").check()
    page.get_by_label("Mensaje").fill(COMPOSED)

    # Then the counter shows the encoding (á is not GSM-7) and segments as they are billed
    expect(page.locator("#counter")).to_contain_text(
        f"{len(COMPOSED)} / {es_number(1600)} caracteres · UCS-2 · 2 segmentos"
    )
    # And the preview shows the recipients after dedupe and skips, and the credits against the balance
    expect(page.locator("#preview-recipients")).to_have_text(str(recipients))
    expect(page.locator("#preview-credits")).to_contain_text(
        f"{recipients * 2} requeridos de {es_number(admin_stack.balance())} disponibles · $"
    )
    # And their price in pesos, at the Demo Store's 13.5 pesos a credit (smsctl tenant credit-price)
    expect(page.locator("#preview-pesos")).to_have_text(re.compile(rf"^\$\s{es_number(recipients * 27)}$"))
    # And sendAt is read in the browser's zone, the legal window in the tenant country's (GET /api/me says CO)
    expect(page.get_by_label("Enviar el (opcional)")).to_have_accessible_description(
        re.compile(r"^Su zona horaria: America/Bogota\..*franja legal de los destinatarios \(hora de Bogotá\)\.$")
    )


def test_send_once_on_a_double_click_and_watch_the_counts_reach_sent(page: Any, admin_stack: AdminStack) -> None:
    # Given a composed transactional message (sent now, whatever the hour) and the balance before
    before = admin_stack.balance()
    campaigns_before = len(admin_stack.call("GET", "/api/messages/queues?limit=100").body["items"])
    recipients = len(expected_recipients(("vip", "buyers"), DEMO_CONTACTS))
    sign_in(page, admin_stack, screen="#/compose")
    page.get_by_label("vip").check()
    page.get_by_label("buyers").check()
    page.get_by_label("Mensaje").fill("Su pedido está listo para recoger en la tienda.")
    page.get_by_label("Propósito").select_option("transactional")
    # (choosing transactional says what it is for, and that marketing sent as one breaks Ley 2300)
    expect(page.locator("#purpose-warning")).to_contain_text("solo para mensajes que la persona pidió")
    expect(page.locator("#purpose-warning")).to_contain_text("Ley 2300")
    expect(page.locator("#preview-recipients")).to_have_text(str(recipients))

    # When Send is clicked twice in a row
    page.get_by_role("button", name="Enviar", exact=True).dblclick()

    # Then one confirmation asks first, with the recipients, the credits and their price in pesos (13.5 a credit)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_have_count(1)
    expect(dialog.get_by_role("heading")).to_have_text("¿Enviar esta campaña?")
    whole, half = divmod(recipients * 27, 2)  # 13.5 pesos a credit
    pesos = es_number(whole) + (",50" if half else "")
    expect(dialog.locator("#confirm-credits")).to_have_text(
        re.compile(rf"^{recipients} créditos \(\$\s{re.escape(pesos)}\)$")
    )
    assert admin_stack.balance() == before  # nothing is charged before the confirmation
    # When it is confirmed twice (a double click again)
    dialog.get_by_role("button", name="Enviar").dblclick()

    # Then one campaign is accepted and charged once
    expect(page.locator("#send-result")).to_contain_text(f"Campaña aceptada: {recipients} mensajes.")
    assert len(admin_stack.call("GET", "/api/messages/queues?limit=100").body["items"]) == campaigns_before + 1
    assert admin_stack.balance() == before - recipients

    # When the campaign is followed, Then its counts move until every message is SENT
    page.locator("#open-campaign").click()
    expect(page.locator("#counts tr[data-status=SENT] td")).to_have_text(str(recipients), timeout=90_000)
    expect(page.locator("#counts tr[data-status=QUEUED] td")).to_have_text("0")
    expect(page.locator("#campaign-credits")).to_have_text(f"{recipients} debitados, 0 reembolsados")
    expect(page.locator("#messages tbody tr")).to_have_count(recipients)


def test_a_message_shows_its_provider_metadata_and_history(page: Any, admin_stack: AdminStack) -> None:
    # Given a campaign whose messages were all sent
    sent = send_now(admin_stack, ("newsletter",))
    wait_until_sent(admin_stack, sent["queueId"], len(sent["messages"]))
    message = sent["messages"][0]

    # When its first message is opened from the campaign
    sign_in(page, admin_stack, screen=f"#/campaigns/{sent['queueId']}")
    page.get_by_role("link", name=message["recipient"]).click()

    # Then the message is titled by its contact's name and number, with the provider's metadata and every status it
    # went through, in order, and the provider's price in the currency it reported (the sandbox: 0.0000 USD)
    name = admin_stack.call("GET", f"/api/messages/{message['id']}").body["contactName"]
    assert name
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Mensaje a {name} ({message['recipient']})")
    expect(page.locator("#message-facts")).to_contain_text("sandbox")
    expect(page.locator("#message-facts")).to_contain_text(re.compile(r"Precio del proveedor\s*US\$\s?0,00"))
    history = page.locator("#history li")
    expect(history.first).to_have_attribute("data-status", "QUEUED")
    expect(history.last).to_have_attribute("data-status", "SENT")
    # And the times are in the browser's zone (Bogotá is UTC-5 all year)
    stored = admin_stack.call("GET", f"/api/messages/{message['id']}").body["history"][-1]["at"]
    shown = datetime.fromisoformat(stored).astimezone(UTC) - timedelta(hours=5)
    expect(history.last.locator("time")).to_contain_text(shown.strftime("%H:%M:%S"))


def test_cancelling_a_scheduled_campaign_refunds_it_in_the_header(page: Any, admin_stack: AdminStack) -> None:
    # Given a campaign scheduled two days ahead (paid at accept)
    send_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat()
    sent = admin_stack.call(
        "POST",
        "/api/messages/sms/tags",
        {"message": "See you next week", "tagIds": [admin_stack.tag_id("vip")], "sendAt": send_at},
    )
    assert sent.status == 201, sent.body
    queue_id, paid = sent.body["queueId"], len(sent.body["messages"])
    sign_in(page, admin_stack, screen=f"#/campaigns/{queue_id}")
    balance = admin_stack.balance()
    expect(page.locator("#balance")).to_contain_text(f"{es_number(balance)} créditos")
    expect(page.locator("#counts tr[data-status=SCHEDULED] td")).to_have_text(str(paid))
    # And when it will go is shown in the browser's zone (Bogotá, UTC-5), with the month's name (never 7/12)
    scheduled = datetime.fromisoformat(sent.body["scheduledFor"]).astimezone(UTC) - timedelta(hours=5)
    month = ES_MONTHS[scheduled.month - 1]
    expect(page.locator("#campaign-scheduled")).to_contain_text(f"{scheduled.day} {month} {scheduled.year}")
    expect(page.locator("#campaign-scheduled")).to_contain_text(scheduled.strftime("%H:%M"))

    # When it is cancelled and the confirmation accepted
    page.get_by_role("button", name="Cancelar campaña").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Los {paid} mensajes aún no enviados no se enviarán")
    dialog.get_by_role("button", name="Cancelar campaña").click()

    # Then the page reports the refund, the counts show CANCELLED and the header shows the balance refunded
    expect(page.locator("#campaign-actions-result")).to_have_text(
        f"Se cancelaron {paid} mensajes; {paid} créditos reembolsados."
    )
    expect(page.locator("#counts tr[data-status=CANCELLED] td")).to_have_text(str(paid))
    expect(page.locator("#messages tbody tr[data-status=CANCELLED]")).to_have_count(paid)
    expect(page.locator("#balance")).to_contain_text(f"{es_number(balance + paid)} créditos")
    assert admin_stack.balance() == balance + paid


def test_a_csv_import_reports_its_one_bad_row(page: Any, admin_stack: AdminStack) -> None:
    # Given a CSV with two good rows and one bad number on line 3
    csv = (
        "phone,name,tags\n"
        "3001112233,Lucía Ramos,vip;imported\n"
        "12345,Bad Number,imported\n"
        "3104445566,Mateo Gil,imported\n"
    )
    sign_in(page, admin_stack, screen="#/contacts")

    # When it is imported
    page.get_by_label("Archivo CSV").set_input_files(
        files=[{"name": "contacts.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.get_by_role("button", name="Importar", exact=True).click()

    # Then the progress completes and the report names the rejected line and why
    expect(page.locator("#import-progress-label")).to_have_text("Listo: 3 filas leídas.")
    expect(page.locator("#import-report")).to_contain_text("Se importaron 2 de 3 filas")
    rejected = page.locator("#rejected-rows tbody tr")
    expect(rejected).to_have_count(1)
    expect(rejected.locator("td").first).to_have_text("3")
    expect(rejected.locator("td").nth(1)).to_have_text("12345,Bad Number,imported")
    expect(rejected.locator("td").last).to_have_text("el teléfono no es un número válido")
    # And the new contacts are listed
    expect(page.locator("#contacts")).to_contain_text("Lucía Ramos")


@pytest.mark.parametrize("page", [(375, 800)], indirect=True)
def test_the_campaigns_screen_fits_a_375_pixel_screen(page: Any, admin_stack: AdminStack) -> None:
    # Given at least one campaign
    send_now(admin_stack, ("vip",))

    # When the campaigns are shown on a 375 px wide screen
    sign_in(page, admin_stack, screen="#/campaigns")
    expect(page.locator("#campaigns li.campaign").first).to_be_visible()

    # Then nothing is wider than the screen (no sideways scrolling of the page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_every_documented_error_code_reads_as_a_sentence(page: Any, admin_stack: AdminStack) -> None:
    # Given every error code the API reference documents
    reference = (ROOT / "docs" / "api.md").read_text()
    table = reference.split("## Error codes", 1)[1].split("\n\n", 2)[1]
    codes = sorted(set(re.findall(r"^\| \d{3} \| `([A-Z_]+)`", table, flags=re.MULTILINE)))
    assert "INSUFFICIENT_CREDITS" in codes
    assert len(codes) >= 15

    # When the page turns each into what it shows
    page.goto(admin_stack.url)
    shown = page.evaluate(
        """async (codes) => {
          const { sentence } = await import("./api.js");
          const details = [{ field: "message", message: "too long" }];
          const body = { message: "raw message", required: 10, available: 3, details };
          return Object.fromEntries(codes.map((code) => [code, sentence(400, code, { ...body, code })]));
        }""",
        codes,
    )

    # Then each is its own sentence, never the raw body or the API's message echoed
    for code, text in shown.items():
        assert text.endswith("."), (code, text)
        assert "{" not in text, (code, text)
        assert code not in text, (code, text)
        assert "raw message" not in text, (code, text)
    assert shown["INSUFFICIENT_CREDITS"] == (
        "No hay créditos suficientes: se necesitan 10 y el saldo es 3. No se envió ni se cobró nada."
    )


def test_resend_to_failed_goes_to_the_transient_failures_only(page: Any, admin_stack: AdminStack) -> None:
    # Given a tag over an ordinary number and the sandbox's test numbers (invalid, opted out, throttled, timing out)
    from smscore.providers.sandbox import (
        PERMANENT_INVALID_NUMBER,
        PERMANENT_OPTED_OUT_NUMBER,
        TIMEOUT_NUMBER,
        TRANSIENT_THROTTLED_NUMBER,
    )

    tag = admin_stack.call("POST", "/api/tags", {"name": "flaky"}).body["id"]
    numbers = ["+573001110001", PERMANENT_INVALID_NUMBER, PERMANENT_OPTED_OUT_NUMBER]
    retryable = [TRANSIENT_THROTTLED_NUMBER, TIMEOUT_NUMBER]
    for number in numbers + retryable:
        assert admin_stack.call("POST", "/api/contacts", {"phone": number, "tagIds": [tag]}).status == 201
    sent = admin_stack.call(
        "POST", "/api/messages/sms/tags", {"message": "Shipped", "tagIds": [tag], "purpose": "transactional"}
    )
    assert sent.status == 201, sent.body
    queue_id = sent.body["queueId"]
    for _ in range(240):
        counts = admin_stack.call("GET", f"/api/messages/queues/{queue_id}").body["counts"]
        if counts["SENT"] + counts["FAILED"] == 5:
            break
        time.sleep(0.5)
    assert (counts["SENT"], counts["FAILED"]) == (1, 4)

    # When its detail page resends to the failed, as transactional, and the confirmation is accepted
    sign_in(page, admin_stack, screen=f"#/campaigns/{queue_id}")
    page.get_by_label("como").select_option("transactional")
    page.get_by_role("button", name="Reenviar a los fallidos").click()
    page.get_by_role("dialog").get_by_role("button", name="Reenviar", exact=True).click()

    # Then a new campaign goes to the two numbers another attempt may reach, and says what it resends
    expect(page.locator("#campaign-actions-result")).to_contain_text("Reenviado: una campaña nueva de 2 mensajes.")
    page.locator("#open-resend").click()
    expect(page.get_by_role("link", name="la campaña original")).to_have_attribute("href", f"#/campaigns/{queue_id}")
    expect(page.locator("#messages tbody tr")).to_have_count(2)
    for number in retryable:
        expect(page.locator("#messages")).to_contain_text(number)


def test_every_input_on_every_screen_has_a_label(page: Any, admin_stack: AdminStack) -> None:
    # Given a signed-in member and a campaign to open
    queue_id = send_now(admin_stack, ("vip",))["queueId"]
    sign_in(page, admin_stack)
    unlabelled = {}
    for screen, ready in (
        ("#/compose", "#counter"),
        ("#/campaigns", "#campaigns li"),
        (f"#/campaigns/{queue_id}", "#counts"),
        ("#/contacts", "#contacts tbody tr"),
        ("#/tags", "#tags tbody tr"),
    ):
        # When the screen is shown
        page.goto(admin_stack.url + screen)
        page.locator(ready).first.wait_for()
        # Then every form control is named by a <label> or aria-label
        unlabelled[screen] = page.evaluate(
            """() => [...document.querySelectorAll("input, select, textarea")]
                 .filter((el) => el.type !== "hidden" && el.labels.length === 0 && !el.getAttribute("aria-label"))
                 .map((el) => el.outerHTML)"""
        )
    assert unlabelled == {screen: [] for screen in unlabelled}


def test_a_tag_is_created_with_the_keyboard_alone(page: Any, admin_stack: AdminStack) -> None:
    # Given the tags screen
    sign_in(page, admin_stack, screen="#/tags")
    page.locator("#tags tbody tr").first.wait_for()

    # When Tab moves the focus to the new tag's field, and a name is typed and Enter pressed
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "name":
            break
    page.keyboard.type("keyboard-made")
    page.keyboard.press("Enter")

    # Then the tag is created and listed with no contacts
    expect(page.get_by_role("status").filter(has_text="keyboard-made")).to_have_text("Etiqueta “keyboard-made” creada.")
    expect(page.locator("#tags tbody tr", has_text="keyboard-made").locator("td").nth(1)).to_have_text("0")


def test_a_contact_skipped_for_a_keyword_says_which_keyword_and_sender(page: Any, admin_stack: AdminStack) -> None:
    # Given a new contact (in no tag the other tests send to), and her number replied BAJA to the sandbox's number,
    # the sender this tenant sends through (`smsctl inbound`: InboundSmsFunction, as AWS two-way SMS delivers it)
    created = admin_stack.call("POST", "/api/contacts", {"phone": "+573009990001", "name": "Valeria Ibáñez"})
    assert created.status == 201, created.body
    smsctl = Path(sys.executable).with_name("smsctl")
    port = str(urlsplit(admin_stack.stack.endpoint).port)
    done = subprocess.run(
        [str(smsctl), "--json", "inbound", "--from", "+573009990001", "--body", "BAJA"],
        capture_output=True,
        text=True,
        env={**os.environ, "LOCAL_AWS_PORT": port},
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    # When the contacts screen finds her
    sign_in(page, admin_stack, screen="#/contacts")
    page.get_by_label("Buscar por nombre o teléfono").fill("valeria")
    page.get_by_role("button", name="Buscar", exact=True).click()

    # Then her row says she is opted out, and why: her BAJA to the sandbox sender, with its date
    consent = page.locator("#contacts tbody tr", has_text="Valeria Ibáñez").locator("td.consent")
    expect(consent).to_contain_text("Dado de baja")
    expect(consent.locator("li")).to_have_text(re.compile(r"^Respondió “BAJA” a su remitente de pruebas · \w"))
    expect(consent.locator("li")).to_have_attribute("data-reason", "KEYWORD")


def test_a_garbled_tag_is_merged_into_the_real_one_and_another_deleted(page: Any, admin_stack: AdminStack) -> None:
    # Given the real tag, a garbled copy of it on one contact, and a tag nobody needs on another
    real = admin_stack.call("POST", "/api/tags", {"name": "Clientes sábado"}).body["id"]
    garbled = admin_stack.call("POST", "/api/tags", {"name": "Clientes sÃ¡bado"}).body["id"]
    spare = admin_stack.call("POST", "/api/tags", {"name": "sobrante"}).body["id"]
    andres = admin_stack.call("POST", "/api/contacts", {"phone": "+573009990011", "tagIds": [garbled, spare]}).body
    sign_in(page, admin_stack, screen="#/tags")
    row = page.locator("#tags tbody tr", has_text="Clientes sÃ¡bado")

    # When the garbled tag is merged into the real one, and the confirmation accepted
    row.get_by_role("button", name="Fusionar").click()
    row.get_by_label("Fusionar “Clientes sÃ¡bado” en").select_option(label="Clientes sábado")
    row.get_by_role("button", name="Fusionar").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Su 1 contacto pasa a tener “Clientes sábado” y “Clientes sÃ¡bado” se elimina.")
    dialog.get_by_role("button", name="Fusionar").click()

    # Then the page says so, the garbled tag is gone and the contact carries the real one
    expect(page.get_by_role("status").filter(has_text="se fusionó")).to_have_text(
        "“Clientes sÃ¡bado” se fusionó en “Clientes sábado”: 1 contacto movido."
    )
    expect(page.locator("#tags tbody tr", has_text="Clientes sÃ¡bado")).to_have_count(0)
    contact = admin_stack.call("GET", f"/api/contacts/{andres['id']}").body
    assert sorted(contact["tagIds"]) == sorted([real, spare])

    # When the spare tag is deleted, Then the confirmation counts who loses it, and the contact keeps the real tag
    page.locator("#tags tbody tr", has_text="sobrante").get_by_role("button", name="Eliminar").click()
    expect(page.get_by_role("dialog")).to_contain_text("1 contacto la pierde; conserva sus otras etiquetas")
    page.get_by_role("dialog").get_by_role("button", name="Eliminar").click()
    expect(page.locator("#tags tbody tr", has_text="sobrante")).to_have_count(0)
    assert admin_stack.call("GET", f"/api/contacts/{andres['id']}").body["tagIds"] == [real]


def test_the_credits_page_shows_the_balance_in_pesos_and_the_ledger_with_its_campaigns(
    page: Any, admin_stack: AdminStack
) -> None:
    # Given a campaign just sent (its debit is the newest ledger entry)
    sent = send_now(admin_stack, ("vip",), "Pedido listo")
    charged = len(sent["messages"])

    # When the credits page is opened from the navigation
    sign_in(page, admin_stack, screen="#/campaigns")
    page.get_by_role("navigation").get_by_role("link", name="Créditos").click()

    # Then the balance is in credits and pesos (13.5 a credit), and the newest entry is that campaign's debit
    balance = admin_stack.balance()
    whole, half = divmod(balance * 27, 2)
    pesos = es_number(whole) + (",50" if half else "")
    expect(page.locator("#credits-balance")).to_have_text(
        re.compile(rf"^{re.escape(es_number(balance))} créditos \(\$\s{re.escape(pesos)}\)$")
    )
    # (the newest debit: an earlier test's failed messages may be refunded after it, in a settlement batch)
    newest = page.locator("#ledger tbody tr[data-kind='DEBIT']").first
    expect(newest.locator("td").nth(1)).to_have_text("Cobro de envío")
    expect(newest.locator("td").nth(2)).to_have_text(f"-{charged}")
    expect(newest.get_by_role("link", name="Ver la campaña")).to_have_attribute(
        "href", f"#/campaigns/{sent['queueId']}"
    )
    # And the campaigns list shows each campaign's credits with their pesos
    page.goto(admin_stack.url + "#/campaigns")
    listed = page.locator(f"li.campaign[data-queue-id='{sent['queueId']}'] .campaign-credits")
    expect(listed).to_have_text(re.compile(rf"^{charged} créditos \(\$\s"))


def test_the_excel_file_imports_with_its_accents_and_andres_is_found_without_the_accent(
    page: Any, admin_stack: AdminStack
) -> None:
    # Given the file Excel in Spanish saves (Windows-1252, ';', header "Teléfono;Nombre;Etiquetas")
    excel = ROOT / "tests" / "fixtures" / "excel" / "clientes-excel-windows1252.csv"
    sign_in(page, admin_stack, screen="#/contacts")

    # When it is imported as it is
    page.get_by_label("Archivo CSV").set_input_files(str(excel))
    page.get_by_role("button", name="Importar", exact=True).click()

    # Then the report counts 4 rows, and shows the rejected row's content next to its line and reason, in Spanish
    expect(page.locator("#import-report")).to_contain_text("de 4 filas")
    rejected = page.locator("#rejected-rows tbody tr")
    expect(rejected).to_have_count(1)
    expect(rejected.locator("td")).to_have_text(
        ["4", "12345;Número malo;Clientes sábado", "el teléfono no es un número válido"]
    )

    # When "andres" is searched (no accent, lower case)
    page.get_by_label("Buscar por nombre o teléfono").fill("andres")
    page.get_by_role("button", name="Buscar", exact=True).click()

    # Then Andrés Muñoz is found, with his accents and his one real tag (never "Clientes s�bado")
    row = page.locator("#contacts tbody tr", has_text="Andrés Muñoz")
    expect(page.locator("#contacts tbody tr")).to_have_count(1)
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(2)).to_have_text("Clientes sábado")
    expect(page.locator("#contacts")).not_to_contain_text("\ufffd")
