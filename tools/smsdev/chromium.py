"""Debian's Chromium as the browser tests (tests/browser) and the admin benchmark (bench.admin_ui) launch it.

Playwright drives the system's browser and never downloads one: `CHROMIUM_PATH` names another binary.
"""

from __future__ import annotations

import os
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Headless, and nothing that reaches the network on its own (sync, updates, QUIC probes) or needs a GPU.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def launch_chromium(playwright: Any) -> Any:
    """A Playwright `Browser` on CHROMIUM with CHROMIUM_ARGS, from a started `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
