"""The local stack's admin pages: the SPA's files on the API's origin, nothing else of the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smsdev.admin_ui import ADMIN_DIR, admin_response, is_admin_path
from smsdev.template import load_template


def template_security_headers() -> dict[str, Any]:
    """The CloudFront response headers policy of the admin site, as template.yaml declares it."""
    policy = load_template()["Resources"]["AdminSiteHeadersPolicy"]["Properties"]
    return dict(policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"])


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


def test_the_security_headers_are_the_templates_exactly() -> None:
    policy = template_security_headers()
    headers = admin_response("/admin/").headers
    assert headers["Content-Security-Policy"] == policy["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert headers["X-Frame-Options"] == policy["FrameOptions"]["FrameOption"]
    assert headers["Referrer-Policy"] == policy["ReferrerPolicy"]["ReferrerPolicy"]


def test_on_the_local_stack_only_the_aws_endpoint_of_the_csp_is_the_emulators() -> None:
    # The page PUTs large CSVs to a presigned S3 URL: on AWS under https://*.amazonaws.com, locally the emulator's
    template_csp = template_security_headers()["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    csp = admin_response("/admin/", aws_endpoint="http://127.0.0.1:45123").headers["Content-Security-Policy"]
    assert "https://*.amazonaws.com" in template_csp
    assert csp == template_csp.replace("https://*.amazonaws.com", "http://127.0.0.1:45123")
    sources = {source for directive in csp.split(";") for source in directive.split()[1:]}
    assert not {"https:", "http:", "*", "http://127.0.0.1:*"} & sources


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
