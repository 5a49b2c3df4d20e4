"""Opaque, tenant-bound pagination cursors for every list route (messages today; tags, contacts, ...).

A cursor is base64url of `{"v": version, "s": scope, "k": last evaluated key}`, where `scope` is a digest
of the caller's tenant and of a fingerprint of the filters that chose the query. On the way back in the
cursor must carry the same scope, the key attributes the route's index has, and (where the route says so)
the partition value of the caller's own query. A cursor issued to another tenant, or for other filters,
is therefore refused with 400 on `cursor`, never followed. The digest is not a secret: it only ties a
cursor to what produced it; isolation comes from the partition check and from every query being scoped
to the caller's tenant.

Usage by a list route::

    fingerprint = filters_fingerprint("by_tenant_created", status, queue_id)
    start_key = decode_cursor(cursor, tenant_id, fingerprint, key_attributes={...}, partition={...})
    ...
    next_cursor = encode_cursor(tenant_id, fingerprint, last_key) if last_key else None
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Collection, Mapping
from typing import Any

from smscore.domain.errors import FieldIssue, InvalidRequest

CURSOR_VERSION = 2
MAX_CURSOR_LENGTH = 2048
# DynamoDB key attributes are at most 2048 bytes (hash) / 1024 (range); ours are far shorter.
MAX_KEY_VALUE_LENGTH = 512
CursorKey = dict[str, str | int]


class InvalidCursor(InvalidRequest):
    """A cursor that this route did not issue to this caller for these filters (400 VALIDATION_ERROR)."""

    MESSAGE = "cursor is not valid for these filters; start again without it"

    def __init__(self, field: str = "cursor") -> None:
        super().__init__(f"Invalid request: {field}: {self.MESSAGE}", details=[FieldIssue(field, self.MESSAGE)])


def filters_fingerprint(*parts: object) -> str:
    """A stable digest of whatever selected the query (index name, filter values); None and "" differ."""
    canonical = json.dumps([None if part is None else str(part) for part in parts], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _scope(tenant_id: str, fingerprint: str) -> str:
    return hashlib.sha256(f"{tenant_id}\x00{fingerprint}".encode()).hexdigest()[:32]


def encode_cursor(tenant_id: str, fingerprint: str, key: Mapping[str, str | int]) -> str:
    """The cursor for the position after `key` (a last evaluated key with plain str/int values)."""
    payload = {"v": CURSOR_VERSION, "s": _scope(tenant_id, fingerprint), "k": dict(key)}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _valid_value(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and 0 < len(value) <= MAX_KEY_VALUE_LENGTH


def decode_cursor(
    cursor: str,
    tenant_id: str,
    fingerprint: str,
    *,
    key_attributes: Collection[str],
    partition: Mapping[str, str | int] | None = None,
    field: str = "cursor",
) -> CursorKey:
    """The key a cursor carries, if it was issued for this tenant and fingerprint and has the index's shape.

    `key_attributes` are exactly the attributes of a last evaluated key of the route's index; `partition`
    are attribute values the key must repeat (the caller's own partition). Anything else: InvalidCursor.
    """
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor(field)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload: Any = json.loads(raw)
    except (binascii.Error, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidCursor(field) from exc
    if (
        not isinstance(payload, dict)
        or payload.get("v") != CURSOR_VERSION
        or payload.get("s") != _scope(tenant_id, fingerprint)
    ):
        raise InvalidCursor(field)
    key = payload.get("k")
    if (
        not isinstance(key, dict)
        or set(key) != set(key_attributes)
        or not all(_valid_value(value) for value in key.values())
        or any(key.get(name) != value for name, value in (partition or {}).items())
    ):
        raise InvalidCursor(field)
    return dict(key)
