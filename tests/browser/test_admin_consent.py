"""The contact's opt-in button in Chromium (issue 23, item 6; issue 22, item 6): recorded as consent granted from
the admin (source `ui`), shown on the contact's row in Spanish."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import AdminStack, sign_in


def test_the_opt_in_button_records_consent_granted_from_the_admin(page: Any, admin_stack: AdminStack) -> None:
    # Given a contact of the test's own without any consent record
    name = f"Consentida {uuid.uuid4().hex[:6]}"
    number = f"+57315{uuid.uuid4().int % 10_000_000:07d}"
    created = admin_stack.call("POST", "/api/contacts", {"phone": number, "name": name})
    assert (created.status, created.body["marketingConsent"]) == (201, None)
    contact_id = created.body["id"]
    try:
        # When the marketer finds it and presses "Registrar consentimiento", and confirms
        sign_in(page, admin_stack, screen="#/contacts")
        page.get_by_label("Buscar por nombre o teléfono").fill(name)
        page.get_by_role("button", name="Buscar", exact=True).click()
        page.wait_for_load_state("networkidle")  # the search as typed and as submitted: both answers are in
        row = page.locator("#contacts tbody tr", has_text=name)
        expect(row).to_contain_text("Sin registro de consentimiento")
        row.get_by_role("button", name="Registrar consentimiento").click()
        page.locator("dialog").get_by_role("button", name="Registrar consentimiento").click()
        expect(page.get_by_text(f"{name} tiene consentimiento registrado.")).to_be_visible()
        # Then the row says consent was granted from the admin, and the button is gone
        row = page.locator("#contacts tbody tr", has_text=name)
        expect(row).to_contain_text("Consentimiento otorgado (panel)")
        expect(row.get_by_role("button", name="Registrar consentimiento")).to_have_count(0)
        # And the API holds the record with source ui, and its history holds the change
        consent = admin_stack.call("GET", f"/api/contacts/{contact_id}").body["marketingConsent"]
        assert (consent["status"], consent["source"]) == ("granted", "ui")
        history = admin_stack.call("GET", f"/api/contacts/{contact_id}/export").body["consentHistory"]
        assert [(h["status"], h["source"]) for h in history] == [("granted", "ui")]
    finally:
        admin_stack.call("DELETE", f"/api/contacts/{contact_id}")
