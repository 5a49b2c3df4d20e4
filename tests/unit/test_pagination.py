"""The shared cursor codec: a cursor goes back only to the tenant and filters it was issued for."""

from __future__ import annotations

import base64
import json

import pytest

from smscore.api.pagination import (
    MAX_CURSOR_LENGTH,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    filters_fingerprint,
)

KEY_ATTRIBUTES = {"tenant_id", "created_key", "message_id"}
KEY = {"tenant_id": "t-1", "created_key": "2026-11-26T10:00:00.000000+0000#m-9", "message_id": "m-9"}
FINGERPRINT = filters_fingerprint("by_tenant_created", None, "QUEUED")


def _decode(cursor: str, tenant_id: str = "t-1", fingerprint: str = FINGERPRINT) -> dict[str, str | int]:
    return decode_cursor(
        cursor, tenant_id, fingerprint, key_attributes=KEY_ATTRIBUTES, partition={"tenant_id": tenant_id}
    )


def _forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_a_cursor_round_trips_for_its_tenant_and_filters() -> None:
    # Given a cursor issued to tenant t-1 for some filters
    cursor = encode_cursor("t-1", FINGERPRINT, KEY)

    # When the same tenant sends it back with the same filters
    # Then it yields the same key, and it is URL-safe without padding
    assert _decode(cursor) == KEY
    assert not {"=", "+", "/"} & set(cursor)


def test_a_cursor_of_another_tenant_is_refused() -> None:
    cursor = encode_cursor("t-2", FINGERPRINT, KEY | {"tenant_id": "t-2"})

    with pytest.raises(InvalidCursor) as refused:
        _decode(cursor, tenant_id="t-1")

    assert refused.value.code == "VALIDATION_ERROR"
    assert [issue.field for issue in refused.value.details] == ["cursor"]


def test_a_cursor_for_other_filters_is_refused() -> None:
    cursor = encode_cursor("t-1", FINGERPRINT, KEY)

    with pytest.raises(InvalidCursor):
        _decode(cursor, fingerprint=filters_fingerprint("by_tenant_created", None, "SENT"))


def test_none_and_empty_filters_have_different_fingerprints() -> None:
    assert filters_fingerprint(None) != filters_fingerprint("")
    assert filters_fingerprint("a", "b") != filters_fingerprint("ab")


def test_a_key_outside_the_callers_partition_is_refused_even_with_the_right_scope() -> None:
    # Given a cursor whose scope is the caller's, but whose key points into another tenant's partition
    cursor = encode_cursor("t-1", FINGERPRINT, KEY | {"tenant_id": "t-2"})

    with pytest.raises(InvalidCursor):
        _decode(cursor)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",
        "e30",  # {}
        _forged({"v": 1, "i": "by_tenant_created", "k": KEY}),  # the old format
        _forged([1, 2]),
        _forged({"v": 2, "s": "x", "k": KEY}),
        "A" * (MAX_CURSOR_LENGTH + 1),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_malformed_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        _decode(cursor)


@pytest.mark.parametrize(
    "key",
    [
        {"tenant_id": "t-1", "message_id": "m-9"},  # an attribute missing
        KEY | {"extra": "x"},
        KEY | {"message_id": ""},
        KEY | {"message_id": True},
        KEY | {"message_id": None},
        KEY | {"message_id": "m" * 513},
    ],
)
def test_a_key_of_the_wrong_shape_is_refused(key: dict[str, object]) -> None:
    cursor = encode_cursor("t-1", FINGERPRINT, key)  # type: ignore[arg-type]

    with pytest.raises(InvalidCursor):
        _decode(cursor)


def test_integer_key_values_are_kept() -> None:
    # Given an index whose range key is a number (a ledger sequence, for example)
    cursor = encode_cursor("t-1", "ledger", {"tenant_id": "t-1", "seq": 42})

    key = decode_cursor(cursor, "t-1", "ledger", key_attributes={"tenant_id", "seq"})

    assert key == {"tenant_id": "t-1", "seq": 42}
