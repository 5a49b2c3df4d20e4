"""Browser tests of the admin SPA: Debian's Chromium, driven by Playwright for Python, against a local stack.

The stack is the demo stack tests/e2e shares (`python -m smsdev.dev` with the demo seed, on free ports; one per
test process, tests/conftest.py): every assertion on the Demo Store is relative to what the test read before, or
about the campaign, tag or contact the test itself made. Chromium is the system's (`/usr/bin/chromium`,
installed by `make test` when missing); Playwright never downloads a browser. Every test leaves a screenshot of the
page as it ended in tests/browser/screenshots/ (git-ignored; the README's two are copied to docs/).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smsdev.chromium import CHROMIUM, launch_chromium
from smsdev.testing import HttpAnswer, RunningDevStack, http_call

SCREENSHOTS = Path(__file__).parent / "screenshots"
BROWSER_ZONE = "America/Bogota"  # the browser's time zone in these tests: dates must be shown in it


@dataclass(frozen=True)
class AdminStack:
    stack: RunningDevStack

    @property
    def url(self) -> str:
        return f"{self.stack.api_url}/admin/"

    @property
    def seed(self) -> dict[str, Any]:
        assert self.stack.seed is not None
        return dict(self.stack.seed)

    @property
    def token(self) -> str:
        return str(self.seed["accepted"]["token"])

    @property
    def read_only_token(self) -> str:
        return str(self.seed["pending"]["token"])

    def tag_id(self, name: str) -> str:
        return str(self.seed["tagIds"][name])

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> HttpAnswer:
        return http_call(self.stack.api_url, method, path, token=self.token, body=body, headers=headers)

    def balance(self) -> int:
        return int(self.call("GET", "/api/me").body["balance"])


@pytest.fixture(scope="session")
def admin_stack(demo_stack: RunningDevStack) -> AdminStack:
    """The demo stack the e2e tests share (tests/conftest.py): the Demo Store seen through the admin."""
    return AdminStack(demo_stack)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    # A Lambda environment's first call on a loaded 2-core machine takes seconds: waits are for what the page shows,
    # never timings, so they may be long.
    expect.set_options(timeout=30_000)

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (empty sessionStorage) per test; its last screen saved as a screenshot."""
    width, height = getattr(request, "param", (1024, 900))
    context = browser.new_context(viewport={"width": width, "height": height}, timezone_id=BROWSER_ZONE, locale="es-CO")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


# How the admin writes numbers and months in its default language, Spanish (Colombia), as a person reads them.
ES_MONTHS = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic")


def es_number(n: int) -> str:
    """1234567 as es-CO writes it: 1.234.567."""
    return f"{n:,}".replace(",", ".")


def choose_english(page: Any) -> None:
    """The English the language switch would remember, set before the page's scripts run."""
    page.add_init_script("localStorage.setItem('smsAdmin.lang', 'en')")


def sign_in(page: Any, admin_stack: AdminStack, token: str | None = None, screen: str = "") -> None:
    """Sign in with the keyboard alone: the token field has the focus, Enter submits (in either language)."""
    page.goto(admin_stack.url + screen)
    page.locator("input#token").fill(token or admin_stack.token)
    page.keyboard.press("Enter")
    page.locator("#tenant-name").wait_for()


def every_screen(admin_stack: AdminStack, queue_id: str, message_id: str) -> list[tuple[str, str]]:
    """Every screen of the admin as (hash, a selector that is there once it has loaded). A new screen adds itself
    here, and so is walked by the language, axe and 375 px tests (tests/browser/test_admin_i18n.py)."""
    return [
        ("#/compose", "#counter"),
        ("#/campaigns", "#campaigns li.campaign"),
        (f"#/campaigns/{queue_id}", "#messages tbody tr"),
        (f"#/messages/{message_id}", "#history li"),
        ("#/contacts", "#contacts tbody tr"),
        ("#/tags", "#tags tbody tr"),
        ("#/usage", "#usage-chart"),
        ("#/credits", "#ledger tbody tr"),
        ("#/keys", "#keys table"),
        ("#/webhooks", "#new-webhook"),
        ("#/settings", "#settings"),
    ]
