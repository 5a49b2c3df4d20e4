"""Tracked short links in the admin (issue 24, items 3 and 6): the compose toggle prices the short links, and the
campaign detail shows its clicks and click rate once a recipient clicked (the message shows its first click)."""

from __future__ import annotations

import http.client
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.conftest import BROWSER_ZONE, SCREENSHOTS, AdminStack, sign_in

URL = "https://tienda.example.co/navidad?utm_source=sms"
# How es-CO abbreviates the months (Intl, "sept" included as "sep" + more letters)
ES_CO_MONTHS = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"]


def click(link: str) -> int:
    """A person's GET of the short link (no redirect followed): the status."""
    parts = urlsplit(link)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        connection.request("GET", parts.path, headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) Mobile"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_compose_offers_link_tracking_and_prices_the_short_link(page: Any, admin_stack: AdminStack) -> None:
    # Given a message with a long link to the newsletter tag
    sign_in(page, admin_stack, screen="#/compose")
    page.get_by_label("newsletter").check()
    page.get_by_label("Mensaje").fill(f"Hola {{nombre|cliente}}, mira las ofertas de navidad en {URL}")
    samples = page.locator("#preview-samples li")
    expect(samples.first).to_contain_text(URL)
    # When link tracking is turned on
    toggle = page.get_by_label("Acortar y medir los enlaces")
    expect(page.locator("#track-links-hint")).to_contain_text("enlace corto propio de cada destinatario")
    toggle.check()
    # Then the recipients' texts carry a short link on this stack instead of the URL
    expect(samples.first).to_contain_text(f"{admin_stack.stack.api_url}/l/")
    expect(samples.first).not_to_contain_text(URL)


def test_campaign_detail_shows_clicks_and_the_click_rate(page: Any, admin_stack: AdminStack) -> None:
    # Given a tracked campaign to the newsletter tag, delivered to the sandbox
    body = {
        "message": f"Hola {{nombre|cliente}}, ofertas: {URL}",
        "tagIds": [admin_stack.tag_id("newsletter")],
        "purpose": "transactional",
        "trackLinks": True,
    }
    sent = admin_stack.call("POST", "/api/messages/sms/tags", body)
    assert sent.status == 201, sent.body
    ids = [m["id"] for m in sent.body["messages"]]
    deadline = time.monotonic() + 120
    while any(admin_stack.call("GET", f"/api/messages/{i}").body["status"] != "SENT" for i in ids):
        assert time.monotonic() < deadline, "not sent within 120 s"
        time.sleep(0.5)
    # When one recipient opens their link twice
    first = admin_stack.call("GET", f"/api/messages/{ids[0]}").body
    link = re.findall(re.escape(admin_stack.stack.api_url) + r"/l/[0-9A-Za-z]+", first["body"])[0]
    assert click(link) == 302
    assert click(link) == 302
    # Then the campaign detail shows one unique click and its rate over the messages that reached the carrier
    sign_in(page, admin_stack, screen=f"#/campaigns/{sent.body['queueId']}")
    expect(page.locator("#campaign-clicks")).to_have_text("1 destinatario hizo clic")
    reached = len(ids)
    rate = f"{round(100 / reached, 1):g}".replace(".", ",")
    expect(page.locator("#campaign-click-rate")).to_contain_text(f"{rate}")
    expect(page.locator("#campaign-click-rate")).to_contain_text("de los mensajes que llegaron al operador")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "campaign_detail_with_clicks.png"), full_page=True)
    # And the clicked message shows its first click (the API's time, in Bogotá as es-CO writes a date, whatever
    # day the test runs) and both clicks
    clicked_at = datetime.fromisoformat(admin_stack.call("GET", f"/api/messages/{ids[0]}").body["firstClickedAt"])
    local = clicked_at.astimezone(ZoneInfo(BROWSER_ZONE))
    page.goto(f"{admin_stack.url}#/messages/{ids[0]}")
    first_click = page.locator("#message-first-click")
    expect(first_click).to_contain_text("2 clics")
    month = ES_CO_MONTHS[local.month - 1]
    expect(first_click).to_contain_text(re.compile(rf"\b{local.day} {month}\w*\.? {local.year}\b"))
    expect(first_click).not_to_contain_text("object")  # a date, not an element's name
    stamp = datetime.fromisoformat(str(first_click.locator("time").get_attribute("datetime")))
    assert stamp == clicked_at.replace(microsecond=clicked_at.microsecond // 1000 * 1000)  # a JS Date: milliseconds
