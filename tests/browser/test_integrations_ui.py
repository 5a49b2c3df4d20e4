"""The integrations screens in the browser: API keys (create, copy the token once, revoke), webhooks (add one, see
its deliveries), a campaign's CSV download and the usage chart (failures without a recorded code shown as such), in
Spanish (the admin's default language)."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from playwright.sync_api import expect

from smscore.dal.report_store import TALLY_SHARDS
from smscore.domain.exports import BOM, HEADER
from smscore.providers.sandbox import PERMANENT_INVALID_NUMBER
from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.devstack import FAKE_CREDENTIALS, bind_local_tables
from smsdev.provision import function_environment
from smsdev.template import LocalNames
from smsdev.testing import http_call
from tests.browser.conftest import SCREENSHOTS, AdminStack, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.local_only, pytest.mark.xdist_group("browser")]


def test_a_key_is_created_its_token_copied_once_and_revoked(page: Any, admin_stack: AdminStack) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    name = f"CRM {uuid.uuid4().hex[:6]}"
    # Given the keys screen
    sign_in(page, admin_stack, screen="#/keys")
    expect(page.get_by_role("heading", name="Claves de API")).to_be_visible()
    # When a read-only key is created
    page.get_by_label("Nombre").fill(name)
    page.get_by_label("Alcance").select_option("read")
    page.get_by_role("button", name="Crear clave").click()
    # Then its token is shown once, with a warning, and the copy button puts it on the clipboard
    expect(page.locator("#key-result")).to_contain_text("se muestra una sola vez")
    token = page.locator("#shown-once").input_value()
    assert token.startswith("sms_")
    page.get_by_role("button", name="Copiar").click()
    expect(page.locator("#copy-status")).to_have_text("Copiado al portapapeles.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    row = page.locator("#keys tr", has_text=name)
    expect(row).to_contain_text("Solo lectura")
    expect(row).to_contain_text("Nunca")
    # And the key reads but may not write
    assert http_call(admin_stack.stack.api_url, "GET", "/api/tags", token=token).status == 200
    refused = http_call(admin_stack.stack.api_url, "POST", "/api/tags", token=token, body={"name": "x"})
    assert (refused.status, refused.body["code"]) == (403, "INSUFFICIENT_SCOPE")
    # When the screen is opened again, the token is nowhere on it
    page.reload()
    expect(page.locator("#keys tr", has_text=name)).to_be_visible()
    assert token not in page.content()
    # When it is revoked (confirmed in the dialog)
    page.locator("#keys tr", has_text=name).get_by_role("button", name="Revocar").click()
    page.locator("dialog").get_by_role("button", name="Revocar").click()
    expect(page.locator("#key-result")).to_contain_text("Clave revocada.")
    page.reload()
    expect(page.locator("#keys")).not_to_contain_text(name)
    # Then its writes are refused at once
    assert http_call(admin_stack.stack.api_url, "POST", "/api/tags", token=token, body={"name": "y"}).status == 401


def test_a_webhook_is_added_and_its_deliveries_are_listed(page: Any, admin_stack: AdminStack) -> None:
    url = f"https://hooks-{uuid.uuid4().hex[:6]}.example.com/sms"
    sign_in(page, admin_stack, screen="#/webhooks")
    # When an endpoint is added for message.sent and contact.opted_out (the message events are checked at first,
    # the others offered unchecked)
    page.get_by_label("URL (https)").fill(url)
    for other in ("Mensaje entregado", "Mensaje no entregado", "Mensaje fallido"):
        page.get_by_label(other).uncheck()
    for offered in ("Clic en un enlace", "Contacto suscrito de nuevo", "Campaña terminada", "Créditos bajos"):
        expect(page.get_by_label(offered)).not_to_be_checked()
    page.get_by_label("Contacto dado de baja").check()
    page.get_by_label("Descripción (opcional)").fill("CRM de pruebas")
    page.get_by_role("button", name="Agregar webhook").click()
    # Then its signing secret is shown once
    expect(page.locator("#webhook-result")).to_contain_text("se muestra una sola vez")
    assert page.locator("#shown-once").input_value().startswith("whsec_")
    link = page.get_by_role("link", name=url)
    expect(link).to_be_visible()
    expect(page.locator("li", has=link)).to_contain_text("Contacto dado de baja, Mensaje enviado")
    webhook_id = link.get_attribute("href").rsplit("/", 1)[-1]
    try:
        # When campaigns are sent, their message.sent events are delivered (this host does not resolve: they fail).
        # A new endpoint is live within a minute (the emitters cache a tenant's subscriptions for 60 s, and an
        # earlier test may have sent in this tenant just before): send again while none is listed, up to 3 minutes.
        link.click()
        deadline = time.monotonic() + 180
        next_send = 0.0
        while time.monotonic() < deadline and page.locator("#deliveries tbody tr").count() == 0:
            if time.monotonic() >= next_send:
                sent = admin_stack.call(
                    "POST",
                    "/api/messages/sms/tags",
                    {"message": "Webhook", "tagIds": [admin_stack.tag_id("vip")], "purpose": "transactional"},
                )
                assert sent.status == 201, sent.body
                next_send = time.monotonic() + 20
            page.get_by_role("button", name="Actualizar").click()
            page.wait_for_timeout(1000)
        # Then the deliveries are listed with their event, status, attempts and the answer (none: DNS)
        first = page.locator("#deliveries tbody tr").first
        expect(first).to_contain_text("Mensaje enviado")
        expect(first).to_contain_text("sin respuesta")
        expect(first.locator("td").nth(2)).to_have_text(re.compile("Reintentando|Fallido"))
    finally:
        admin_stack.call("DELETE", f"/api/webhooks/{webhook_id}")


def test_a_campaigns_csv_is_downloaded(page: Any, admin_stack: AdminStack) -> None:
    sent = admin_stack.call(
        "POST",
        "/api/messages/sms/tags",
        {"message": "Exportar", "tagIds": [admin_stack.tag_id("vip")], "purpose": "transactional"},
    )
    assert sent.status == 201, sent.body
    queue_id = sent.body["queueId"]
    sign_in(page, admin_stack, screen=f"#/campaigns/{queue_id}")
    with page.expect_download() as info:
        page.get_by_role("button", name="Descargar CSV").click()
    download = info.value
    assert download.suggested_filename == f"campaign-{queue_id}.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.startswith(BOM + ";".join(HEADER))
    assert len(text.splitlines()) == 1 + len(sent.body["messages"])
    assert all(f"'{m['recipient']}" in text for m in sent.body["messages"])


def test_the_usage_chart_shows_the_days_sends_accessibly(page: Any, admin_stack: AdminStack) -> None:
    # Given a campaign sent today
    sent = admin_stack.call(
        "POST",
        "/api/messages/sms/tags",
        {"message": "Uso", "tagIds": [admin_stack.tag_id("vip")], "purpose": "transactional"},
    )
    assert sent.status == 201, sent.body
    # When the usage screen is opened (the last 14 days by default)
    sign_in(page, admin_stack, screen="#/usage")
    chart = page.locator("svg#usage-chart")
    expect(chart).to_be_visible()
    # Then the chart is an image with a name and a description a screen reader reads out
    expect(page.get_by_role("img", name="Mensajes por día")).to_be_visible()
    assert "enviados" in page.locator("#usage-desc").text_content()
    assert chart.locator("g").count() == 14
    # And the days' labels never overlap, the newest day always named
    boxes = chart.locator("text.day").evaluate_all("els => els.map(e => [e.getBBox().x, e.getBBox().width])")
    assert len(boxes) >= 7
    assert all(x + width <= next_x for (x, width), (next_x, _) in itertools.pairwise(boxes)), boxes
    assert chart.locator("text.day").last.text_content() == page.locator("#usage-table tbody tr th").last.text_content()
    SCREENSHOTS.mkdir(exist_ok=True)
    chart.screenshot(path=str(SCREENSHOTS / "usage_chart.png"))
    # And today's bars count at least this campaign's messages, as the table beside it says
    page.get_by_text("Los mismos datos en una tabla").click()
    last = page.locator("#usage-table tbody tr").last
    assert int(last.locator("td").first.text_content()) >= len(sent.body["messages"])
    assert chart.locator("rect").last.get_attribute("height") is not None


def test_failures_without_a_code_are_shown_as_such_not_hidden(
    page: Any, admin_stack: AdminStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a tenant of its own on the demo stack whose campaign had one failure (the sandbox's invalid number)
    endpoint = admin_stack.stack.endpoint
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    names = LocalNames(endpoint=endpoint)
    environment = function_environment(names)
    bind_local_tables(environment, names.region, endpoint)
    admin = DynamoAdminStore(region=names.region, host=endpoint)
    suffix = uuid.uuid4().int % 10_000_000
    tenant_id = admin.create_tenant(f"Sin código {suffix}", credits=100, default_country="CO")
    token = admin.create_member(tenant_id, f"ops-{suffix}@uso.test", accept_terms=True).token.token
    good = f"+57310{suffix:07d}"
    admin.add_contacts(
        tenant_id, [ContactInput(phone=n, tag_names=["todos"]) for n in (good, PERMANENT_INVALID_NUMBER)]
    )
    body = {"message": "Uso", "tagIds": [admin.tags(tenant_id)[0].tag_id], "purpose": "transactional"}
    sent = http_call(admin_stack.stack.api_url, "POST", "/api/messages/sms/tags", token=token, body=body)
    assert sent.status == 201, sent.body
    queue_id = sent.body["queueId"]

    def status() -> dict[str, Any]:
        answer = http_call(admin_stack.stack.api_url, "GET", f"/api/messages/queues/{queue_id}", token=token)
        return dict(answer.body)

    deadline = time.monotonic() + 120
    while sum(status()["failureReasons"].values()) < 1:
        assert time.monotonic() < deadline, "the failure was never counted"
        time.sleep(0.5)
    # And, as for a campaign sent before failures were counted by code, its count by code is gone
    dynamodb = boto3.client("dynamodb", region_name=names.region, endpoint_url=endpoint)
    for shard in range(TALLY_SHARDS):
        key = {"tenant_id": {"S": tenant_id}, "item_key": {"S": f"failures#{queue_id}#{shard}"}}
        dynamodb.delete_item(TableName=environment["WEBHOOKS_TABLE"], Key=key)
    assert (status()["failureReasons"], status()["failuresUncounted"]) == ({}, 1)
    # When its usage is opened
    sign_in(page, admin_stack, token=token, screen="#/usage")
    # Then the failure is listed under failures by code as one without a recorded code, and never as "no failures"
    uncounted = page.locator("#usage-uncounted")
    expect(uncounted).to_contain_text("Sin código registrado")
    expect(uncounted.locator("td").last).to_have_text("1")
    expect(page.locator("#usage")).not_to_contain_text("Sin fallas en este periodo")
    page.get_by_text("Los mismos datos en una tabla").click()
    failed = [int(row.locator("td").nth(2).text_content() or 0) for row in page.locator("#usage-table tbody tr").all()]
    assert sum(failed) == 1
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "usage_failures_without_a_code.png"), full_page=True)
