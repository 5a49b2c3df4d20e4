"""The README's claims about the admin that no screen test covers: what `make dev` prints for it, its screenshot, and
the public API page it links (docs/admin-ui.md, "What the README promises")."""

from __future__ import annotations

import urllib.request

import pytest

from smsdev.template import ROOT
from smsdev.testing import RunningDevStack

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]


def test_make_dev_prints_the_admin_url_and_both_tokens(demo_stack: RunningDevStack) -> None:
    # Given the local stack as `make dev` starts it, When it is ready, Then it printed both tokens and the admin's URL
    assert demo_stack.seed is not None
    summary = demo_stack.summary
    assert f"Token (accepted terms)      {demo_stack.seed['accepted']['token']}" in summary
    assert f"Token (terms not accepted)  {demo_stack.seed['pending']['token']}" in summary
    admin_url = f"{demo_stack.api_url}/admin/"
    assert f"Admin UI      {admin_url}   (sign in with either token; the second one is read-only)" in summary
    # And that URL serves the admin, in Spanish (Colombia)
    with urllib.request.urlopen(admin_url) as response:
        page = response.read().decode()
    assert response.status == 200
    assert '<html lang="es-CO"' in page


def test_the_readmes_admin_screenshot_is_in_the_repository() -> None:
    image = ROOT / "docs" / "admin-compose.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "(docs/admin-compose.png)" in (ROOT / "README.md").read_text()


def test_the_public_api_page_is_copied_into_docs() -> None:
    page = (ROOT / "docs" / "send-sms-by-tags.md").read_text()
    assert "POST /api/messages/sms/tags" in page
    assert "[docs/send-sms-by-tags.md](docs/send-sms-by-tags.md)" in (ROOT / "README.md").read_text()
