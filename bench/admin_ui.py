"""Admin UI first load: the bytes a browser transfers to show the sign-in screen, measured in headless Chromium.

The page is served by the local stack's own admin responder (smsdev.admin_ui), once as `make dev` serves it
(uncompressed) and once gzip-encoded for browsers that accept it, as CloudFront serves it (`Compress: true`). Chromium
(Debian's, driven by Playwright) loads `/admin/` in a fresh context, so nothing is cached, and the row adds the
response headers and encoded bodies of every request the page made. The screens' modules are imported when a screen
is first shown (admin/site/app.js `lazy`), so the sign-in loads the shell only. The floor is the loaded files' own
bytes (on disk, or each gzip-compressed at level 6): the ratio is what headers add. The details name every file
and how many of the site's files the first load left for later.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from bench.harness import Row
from smsdev.admin_ui import ADMIN_DIR, admin_response
from smsdev.chromium import launch_chromium
from smsdev.wsgi import BackgroundServer

BUDGET_GZIP_BYTES = 30 * 1024  # what a first visit costs on AWS
BUDGET_PLAIN_BYTES = 80 * 1024  # the same page uncompressed (make dev)


def _app(compress: bool) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response: Response = admin_response(request.path)
        if compress and response.status_code == 200 and "gzip" in request.headers.get("Accept-Encoding", ""):
            response.set_data(gzip.compress(response.get_data(), compresslevel=6))
            response.headers["Content-Encoding"] = "gzip"
            response.headers["Vary"] = "Accept-Encoding"
        return response(environ, start_response)

    return app


def _first_load(url: str) -> tuple[int, list[dict[str, Any]]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_context().new_page()
            requests: list[Any] = []
            page.on("requestfinished", lambda request: requests.append(request))
            page.goto(url, wait_until="networkidle")
            page.get_by_label("Token de la API").wait_for()  # es-CO first (admin/site/messages.js)
            loaded = []
            for request in requests:
                sizes = request.sizes()
                loaded.append(
                    {
                        "url": request.url.rsplit("/", 1)[-1] or "index",
                        "bytes": sizes["responseHeadersSize"] + sizes["responseBodySize"],
                        "body": sizes["responseBodySize"],
                    }
                )
        finally:
            browser.close()
    return sum(item["bytes"] for item in loaded), loaded


def _served(compress: bool) -> tuple[int, list[dict[str, Any]]]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request lines in the bench's output
    server = BackgroundServer(0, name="bench-admin")
    server.serve(_app(compress))
    try:
        return _first_load(f"{server.url}/admin/")
    finally:
        server.stop()


def _own_bytes(name: str, compress: bool) -> int:
    body = (ADMIN_DIR / ("index.html" if name == "index" else name)).read_bytes()
    return len(gzip.compress(body, compresslevel=6)) if compress else len(body)


def measure() -> list[Row]:
    files = [p for p in sorted(ADMIN_DIR.iterdir()) if p.is_file()]
    rows = []
    for compress, budget, label in (
        (True, BUDGET_GZIP_BYTES, "gzip (CloudFront)"),
        (False, BUDGET_PLAIN_BYTES, "uncompressed (make dev)"),
    ):
        transferred, loaded = _served(compress)
        floor = sum(_own_bytes(item["url"], compress) for item in loaded)
        rows.append(
            Row(
                name=f"admin: first load of the sign-in screen, {label}",
                value=round(transferred / 1024, 1),
                unit="KB",
                baseline=round(floor / 1024, 1),
                target=f"<= {budget // 1024} KB",
                passed=transferred <= budget,
                details={
                    "requests": len(loaded),
                    "files": len(files),
                    "loaded_later": sorted({p.name for p in files} - {i["url"] for i in loaded} - {"index.html"}),
                    "bytes": transferred,
                    "loaded": loaded,
                },
            )
        )
    return rows
