"""The local stack's admin pages: the SPA's files on the API's origin, nothing else of the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsdev.admin_ui import ADMIN_DIR, admin_response, is_admin_path


def test_admin_without_a_slash_redirects_so_relative_urls_resolve() -> None:
    response = admin_response("/admin")
    assert (response.status_code, response.headers["Location"]) == (301, "/admin/")


def test_the_folder_is_its_index_page_with_the_security_headers() -> None:
    response = admin_response("/admin/")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    assert response.get_data() == (ADMIN_DIR / "index.html").read_bytes()
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_modules_are_served_as_javascript() -> None:
    response = admin_response("/admin/app.js")
    assert (response.status_code, response.content_type) == (200, "text/javascript; charset=utf-8")


@pytest.mark.parametrize(
    "path", ["/admin/publish.py", "/admin/../publish.py", "/admin/../../template.yaml", "/admin/missing.js"]
)
def test_nothing_outside_the_site_folder_is_served(path: str) -> None:
    assert admin_response(path).status_code == 404


def test_only_the_admin_prefix_is_taken_from_the_api() -> None:
    assert is_admin_path("/admin")
    assert is_admin_path("/admin/app.js")
    assert not is_admin_path("/administrators")
    assert not is_admin_path("/api/me")
    assert Path(ADMIN_DIR).name == "site"
