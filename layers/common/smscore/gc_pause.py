"""The cyclic garbage collector paused for one request's heavy work.

A 50,000-recipient send allocates a few hundred thousand short-lived objects (members, numbers, messages, the
response's pairs). Reference counting frees them; almost none form cycles. But the allocations alone trigger the
cyclic collector's full (oldest-generation) passes, which walk every object the process holds: measured at about
1.1 s of the request's 4.3 s CPU (bench/request_cpu.py). Pausing it for the request and letting it run again after
costs one young collection of what is still alive then.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_collection() -> Iterator[None]:
    """Automatic collection off inside the block (unless it was already off), back on after, even on errors."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
