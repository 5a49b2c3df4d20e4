"""Compose to an audience above MaxSyncRecipients: the admin says the preview's figures are an estimate.

The demo stack's tags are small, so the preview's answer is the real one with `estimated: true` added (what the API
answers above MaxSyncRecipients: tests/integration/test_preview_large_audience.py); the screen must say so beside the
figures and in the confirmation, in es-CO first.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, AdminStack, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.local_only, pytest.mark.xdist_group("browser")]


def test_an_estimated_preview_is_marked_beside_the_figures_and_in_the_confirmation(
    page: Any, admin_stack: AdminStack
) -> None:
    # Given the preview answers an estimate (an audience above MaxSyncRecipients)
    def estimated(route: Any) -> None:
        answer = route.fetch()
        body = {**answer.json(), "estimated": True}
        route.fulfill(response=answer, body=json.dumps(body))

    page.route("**/api/messages/sms/tags/preview", estimated)
    sign_in(page, admin_stack, screen="#/compose")
    # When the marketer composes to a tag
    page.get_by_label("newsletter").check()
    page.get_by_label("Mensaje").fill("Ofertas de temporada en la tienda")
    # Then the figures are marked as estimated, with where the exact charge will be
    marked = page.locator("#preview-estimated")
    expect(marked).to_contain_text("Cifras estimadas")
    expect(marked).to_contain_text("el cobro exacto se calcula al planear la campaña")
    expect(page.locator("#preview-credits")).to_contain_text("requeridos")
    page.screenshot(path=str(SCREENSHOTS / "compose_estimated.png"), full_page=True)
    # And the confirmation says it too
    page.locator("#send").click()
    expect(page.locator("#confirm-estimated")).to_contain_text("Cifras estimadas")
    expect(page.locator("#confirm-charge")).to_contain_text("cuando la campaña queda planeada")
    expect(page.locator("#confirm-charge")).not_to_contain_text("se descuentan ahora")
    page.screenshot(path=str(SCREENSHOTS / "compose_estimated_confirm.png"), full_page=True)
    page.locator("dialog button[value=cancel]").click()
