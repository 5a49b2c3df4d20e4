"""Masking phone numbers for logs, apart from phone.py: code that only logs need not load phonenumbers."""

from __future__ import annotations


def mask(number: str) -> str:
    """A number as it may appear in logs: enough to recognise, not enough to dial."""
    if len(number) <= 6:
        return "*" * len(number)
    return f"{number[:4]}{'*' * (len(number) - 7)}{number[-3:]}"
