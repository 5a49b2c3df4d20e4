"""The opt-out link page in Chromium (issue 22, item 5), on a local stack whose sandbox has no two-way SMS in Colombia
(as AWS End User Messaging SMS there): the outbox text carries the sender's name and the link, the page opens from
it and opts the number out with one button (with JavaScript on, and off), and the next campaign skips the number."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from smscore.dal.tables import OutboxRecord
from smscore.domain.masking import mask
from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.devstack import FAKE_CREDENTIALS, bind_local_tables
from smsdev.provision import function_environment
from smsdev.template import LocalNames
from smsdev.testing import RunningDevStack, dev_stack_process, http_call
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.local_only]

STACK_ARGS = ["--no-seed", "--param", 'TwoWaySmsCountries={"sandbox": ""}']


@pytest.fixture(scope="module")
def one_way_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevStack]:
    with ExitStack() as cleanup:
        patch = cleanup.enter_context(pytest.MonkeyPatch.context())
        running = cleanup.enter_context(dev_stack_process(tmp_path_factory.mktemp("opt-out-stack"), STACK_ARGS))
        for key, value in FAKE_CREDENTIALS.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        names = LocalNames(endpoint=running.endpoint)
        bind_local_tables(function_environment(names), names.region, running.endpoint)
        yield running


def outbox_text(message_id: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            return str(OutboxRecord.get(message_id, consistent_read=True).body)
        except OutboxRecord.DoesNotExist:
            time.sleep(0.5)
    pytest.fail(f"message {message_id} never reached the sandbox outbox")


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_the_link_in_the_sms_opens_a_page_whose_button_opts_the_number_out_and_the_next_campaign_skips_it(
    one_way_stack: RunningDevStack, browser: Any
) -> None:
    from playwright.sync_api import expect

    # Given a tenant with three Colombian contacts under one tag
    api = one_way_stack.api_url
    admin = DynamoAdminStore(region=LocalNames().region, host=one_way_stack.endpoint)
    suffix = uuid.uuid4().int % 10_000_000
    ana, luis, caro = f"+57310{suffix:07d}", f"+57311{suffix:07d}", f"+57312{suffix:07d}"
    tenant_id = admin.create_tenant("Tienda Ana", credits=100, default_country="CO")
    token = admin.create_member(tenant_id, f"ops-{suffix}@tienda.test", accept_terms=True).token.token
    admin.add_contacts(
        tenant_id,
        [
            ContactInput(phone=ana, name="Ana", tag_names=["club"]),
            ContactInput(phone=luis, name="Luis", tag_names=["club"]),
            ContactInput(phone=caro, name="Caro", tag_names=["club"]),
        ],
    )
    body = {"message": "2x1 en empanadas hoy", "tagIds": [admin.tags(tenant_id)[0].tag_id]}

    # When a marketing campaign is sent
    sent = http_call(api, "POST", "/api/messages/sms/tags", token=token, body=body)
    assert sent.status == 201, sent.body
    ids = {m["recipient"]: m["id"] for m in sent.body["messages"]}
    assert set(ids) == {ana, luis, caro}

    # Then each SMS names the sender and ends with its own opt-out link to this stack's page
    texts = {number: outbox_text(message_id) for number, message_id in ids.items()}
    links = {}
    for number, text in texts.items():
        first, second = text.split("\n")
        assert first == "Tienda Ana: 2x1 en empanadas hoy"
        assert second.startswith(f"Baja: {api}/o/")
        links[number] = second.removeprefix("Baja: ")
    assert len(set(links.values())) == 3

    # When Ana opens her link (JavaScript on, as a phone's browser)
    context = browser.new_context(viewport={"width": 390, "height": 760}, locale="es-CO")
    page = context.new_page()
    page.goto(links[ana])
    # Then she sees who it is about and one button, in Spanish with English below
    expect(page.get_by_role("heading", name="Dejar de recibir mensajes")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Tienda Ana")
    expect(page.locator("main")).to_contain_text(mask(ana))  # +********4567
    expect(page.locator("main")).not_to_contain_text(ana)
    expect(page.get_by_role("button")).to_have_count(1)
    expect(page.locator("p.en")).to_contain_text("Tap the button to stop marketing messages")
    shot(page, "opt_out_page_ask")
    # When she presses it, Then the page says it is done
    page.get_by_role("button", name="No quiero recibir más mensajes").click()
    expect(page.get_by_role("heading", name="Listo")).to_be_visible()
    expect(page.locator("main")).to_contain_text("No recibirás más mensajes publicitarios de Tienda Ana")
    shot(page, "opt_out_page_done")
    context.close()

    # When Luis opens his with JavaScript off and presses the button twice (a reload of the POST)
    no_script = browser.new_context(viewport={"width": 390, "height": 760}, locale="es-CO", java_script_enabled=False)
    page = no_script.new_page()
    page.goto(links[luis])
    page.get_by_role("button", name="No quiero recibir más mensajes").click()
    expect(page.get_by_role("heading", name="Listo")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Listo")).to_be_visible()
    shot(page, "opt_out_page_done_without_javascript")
    no_script.close()

    # Then both are out of the tenant's marketing, each with one revoked consent record from the link
    for number in (ana, luis):
        found = http_call(api, "GET", f"/api/contacts?phone={number.replace('+', '%2B')}", token=token).body["items"]
        [contact] = found
        assert contact["optedOut"] is True
        assert (contact["marketingConsent"]["status"], contact["marketingConsent"]["source"]) == ("revoked", "link")
        export = http_call(api, "GET", f"/api/contacts/{contact['id']}/export", token=token)
        assert [(c["status"], c["source"]) for c in export.body["consentHistory"]] == [("revoked", "link")]

    # And the next campaign skips them (said before sending), reaches Caro only, and charges her message only
    balance = int(admin.tenant(tenant_id).credits)
    preview = http_call(api, "POST", "/api/messages/sms/tags/preview", token=token, body=body)
    assert preview.status == 200, preview.body
    assert (preview.body["recipients"], preview.body["skippedOptedOut"]) == (1, 2)
    again = http_call(api, "POST", "/api/messages/sms/tags", token=token, body=body)
    assert again.status == 201, again.body
    assert [m["recipient"] for m in again.body["messages"]] == [caro]
    assert int(admin.tenant(tenant_id).credits) == balance - preview.body["creditsRequired"] == balance - 1


def test_a_code_that_was_never_sent_shows_the_not_valid_page(one_way_stack: RunningDevStack, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(locale="es-CO", java_script_enabled=False)
    page = context.new_page()
    answer = page.goto(f"{one_way_stack.api_url}/o/{'A' * 38}")
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("heading", name="Este enlace no es válido")).to_be_visible()
    expect(page.get_by_role("button")).to_have_count(0)
    context.close()
