"""The settings screen in Chromium: the tenant's rules for marketing to Colombia, in Spanish first (issue 22)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, AdminStack, choose_english, sign_in


def test_the_settings_screen_shows_and_saves_the_tenants_rules(page: Any, admin_stack: AdminStack) -> None:
    before = admin_stack.call("GET", "/api/settings").body
    try:
        # When the marketer opens the settings (Spanish by default)
        sign_in(page, admin_stack, screen="#/settings")
        expect(page.get_by_role("heading", name="Ajustes")).to_be_visible()
        # Then the current sender name (the tenant's name by default) and the caps are shown
        name = page.get_by_label("Nombre del remitente")
        expect(name).to_have_value(before["senderName"])
        expect(page.get_by_label("Mensajes de mercadeo por número al día")).to_have_value(
            str(before["marketingFrequency"]["maxPerDay"])
        )
        # When the sender name and the weekly cap are changed and saved
        name.fill("Tienda Demo")
        page.get_by_label("Mensajes de mercadeo por número a la semana").fill("3")
        page.get_by_role("button", name="Guardar ajustes").click()
        # Then it says so, and the API holds them
        expect(page.locator("#settings-result")).to_have_text("Ajustes guardados.")
        after = admin_stack.call("GET", "/api/settings").body
        assert (after["senderName"], after["marketingFrequency"]["maxPerWeek"]) == ("Tienda Demo", 3)
        # And the preview of a marketing campaign now starts with the new name
        preview = admin_stack.call(
            "POST", "/api/messages/sms/tags/preview", {"message": "Hola", "tagIds": [admin_stack.tag_id("vip")]}
        ).body
        assert preview["finalMessage"].startswith("Tienda Demo: Hola")
        # And in English the same screen reads in English
        choose_english(page)
        page.reload()  # the init script sets the language before the page's scripts run again
        expect(page.get_by_role("heading", name="Settings")).to_be_visible()
        expect(page.get_by_label("Sender name")).to_have_value("Tienda Demo")
    finally:
        restore = {k: before[k] for k in ("senderName", "marketingFrequency", "consentRequired", "quietHours")}
        admin_stack.call("PUT", "/api/settings", restore)


def test_the_credits_low_threshold_is_set_from_the_settings_screen(page: Any, admin_stack: AdminStack) -> None:
    before = admin_stack.call("GET", "/api/settings").body
    try:
        # When the marketer opens the settings and sets the credits.low threshold to 500 credits
        sign_in(page, admin_stack, screen="#/settings")
        threshold = page.get_by_label("Avisar cuando el saldo baje de (créditos)")
        expect(threshold).to_have_value(
            "" if before["creditsLowThreshold"] is None else str(before["creditsLowThreshold"])
        )
        threshold.fill("500")
        page.get_by_role("button", name="Guardar ajustes").click()
        # Then it is saved, and the API holds it
        expect(page.locator("#settings-result")).to_have_text("Ajustes guardados.")
        assert admin_stack.call("GET", "/api/settings").body["creditsLowThreshold"] == 500
        # And the screen shows it again, with its hint naming the webhook event and the amount in credits
        page.reload()
        expect(threshold).to_have_value("500")
        hint = page.locator(f"#{threshold.get_attribute('aria-describedby')}")
        expect(hint).to_contain_text("credits.low")
        expect(hint).to_contain_text("500 créditos")
        page.screenshot(path=str(SCREENSHOTS / "settings_credits_low.png"), full_page=True)
        # When it is emptied and saved, there is no threshold any more
        threshold.fill("")
        page.get_by_role("button", name="Guardar ajustes").click()
        expect(page.locator("#settings-result")).to_have_text("Ajustes guardados.")
        assert admin_stack.call("GET", "/api/settings").body["creditsLowThreshold"] is None
    finally:
        admin_stack.call("PUT", "/api/settings", {"creditsLowThreshold": before["creditsLowThreshold"]})
