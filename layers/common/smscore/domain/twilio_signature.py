"""Twilio request signatures (X-Twilio-Signature): HMAC-SHA1 keyed with the account's auth token.

The signed text is the full URL Twilio called, followed by every POST parameter as name then value,
sorted by name (and by value for a repeated name). Base64 of the digest is what the header carries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

from smscore.domain.errors import InvalidSignature

MAX_CALLBACK_BYTES = 16 * 1024


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def is_valid_twilio_signature(
    url: str, params: Iterable[tuple[str, str]], auth_token: str, signature: str | None
) -> bool:
    """True only for the exact signature; compared in constant time so it cannot be guessed byte by byte."""
    if not signature or not auth_token:
        return False
    expected = twilio_signature(url, params, auth_token)
    return hmac.compare_digest(expected.encode(), signature.encode())


def verified_callback_params(
    raw_body: str, signature: str | None, url: str, auth_token: Callable[[], str | None]
) -> dict[str, str]:
    """The callback's form parameters, only once its signature checks out; nothing in it is trusted before.

    `auth_token` is asked only for a plausible request, and None (unreadable credentials) refuses it: receipts
    that cannot be verified are never applied.
    """
    if not signature or len(raw_body.encode()) > MAX_CALLBACK_BYTES:
        raise InvalidSignature("Missing or invalid signature")
    token = auth_token()
    params = parse_qsl(raw_body, keep_blank_values=True)
    if token is None or not is_valid_twilio_signature(url, params, token, signature):
        raise InvalidSignature("Missing or invalid signature")
    return dict(params)
