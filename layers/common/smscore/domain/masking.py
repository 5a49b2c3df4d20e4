"""Masking phone numbers for logs, apart from phone.py: code that only logs need not load phonenumbers."""

from __future__ import annotations

# A log may show the tail of a number, never enough of it to dial or to narrow it down to a few subscribers:
# at most 4 digits, and at most a third of the digits of a short number (7- and 8-digit national numbers exist).
MAX_SHOWN_DIGITS = 4


def mask(number: str) -> str:
    """A number as it may appear in logs: enough to tell two apart in a support case, not enough to dial."""
    digits = [char for char in number if char.isdigit()]
    shown = min(MAX_SHOWN_DIGITS, len(digits) // 3)
    hidden = len(digits) - shown
    prefix = "+" if number.lstrip().startswith("+") else ""
    return prefix + "*" * hidden + "".join(digits[hidden:])
