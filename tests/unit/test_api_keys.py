"""API key rules: who manages which key, expiry bounds, and what a read scope or an expiry does to access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smscore.domain.api_keys import MAX_LIVE_KEYS_PER_MEMBER, ApiKeys, KeyCaller, Role
from smscore.domain.auth import Access, Scope, TokenOwner, decide_access, hash_token, require_spending_access
from smscore.domain.errors import AccessRevoked, InsufficientScope, InvalidRequest, NotFound
from tests.integrations_fakes import InMemoryKeyStore

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
ANA, BETO, BOSS = KeyCaller("t1", "ana"), KeyCaller("t1", "beto"), KeyCaller("t1", "boss")


@pytest.fixture
def store() -> InMemoryKeyStore:
    return InMemoryKeyStore(roles={("t1", "ana"): Role.MEMBER, ("t1", "beto"): Role.MEMBER, ("t1", "boss"): Role.ADMIN})


def owner(**overrides: object) -> TokenOwner:
    fields: dict[str, object] = {
        "tenant_id": "t1",
        "member_id": "ana",
        "member_active": True,
        "revoked": False,
        "accepted_terms_version": "v1",
    }
    fields.update(overrides)
    return TokenOwner(**fields)  # type: ignore[arg-type]


def test_the_token_is_returned_once_and_the_store_gets_only_its_hash(store: InMemoryKeyStore) -> None:
    new = ApiKeys(store).create(ANA, "  CRM   sync ", Scope.READ, None, NOW)
    assert new.key.name == "CRM sync"
    assert list(store.keys) == [hash_token(new.token)]
    assert new.token not in repr(store.keys)


def test_a_member_lists_and_revokes_only_their_own_an_admin_every_key(store: InMemoryKeyStore) -> None:
    keys = ApiKeys(store)
    ana = keys.create(ANA, "ana", Scope.FULL, None, NOW).key
    beto = keys.create(BETO, "beto", Scope.FULL, None, NOW + timedelta(seconds=1)).key
    assert [k.name for k in keys.list(ANA)] == ["ana"]
    with pytest.raises(NotFound):
        keys.revoke(ANA, beto.key_id, NOW)
    assert [k.name for k in keys.list(BOSS)] == ["ana", "beto"]
    keys.revoke(BOSS, ana.key_id, NOW)
    assert [k.name for k in keys.list(BOSS)] == ["beto"]
    with pytest.raises(NotFound):
        keys.revoke(ANA, ana.key_id, NOW)  # revoked already


def test_a_caller_who_is_not_the_tenants_member_gets_not_found(store: InMemoryKeyStore) -> None:
    with pytest.raises(NotFound):
        ApiKeys(store).list(KeyCaller("t2", "ana"))


@pytest.mark.parametrize(
    "expiry", [NOW, NOW - timedelta(seconds=1), NOW + timedelta(days=3 * 365, seconds=1)], ids=["now", "past", "far"]
)
def test_an_expiry_must_be_in_the_future_and_within_three_years(store: InMemoryKeyStore, expiry: datetime) -> None:
    with pytest.raises(InvalidRequest):
        ApiKeys(store).create(ANA, "x", Scope.FULL, expiry, NOW)
    assert store.keys == {}


@pytest.mark.parametrize("name", ["", "   ", "tab\u0007bell"])
def test_blank_or_control_character_names_are_refused(store: InMemoryKeyStore, name: str) -> None:
    with pytest.raises(InvalidRequest):
        ApiKeys(store).create(ANA, name, Scope.FULL, None, NOW)


def test_live_keys_per_member_are_capped(store: InMemoryKeyStore) -> None:
    keys = ApiKeys(store)
    for n in range(MAX_LIVE_KEYS_PER_MEMBER):
        keys.create(ANA, f"k{n}", Scope.FULL, None, NOW)
    with pytest.raises(InvalidRequest):
        keys.create(ANA, "one more", Scope.FULL, None, NOW)
    keys.revoke(ANA, keys.list(ANA)[0].key_id, NOW)
    assert keys.create(ANA, "one more", Scope.FULL, None, NOW).key.name == "one more"


def test_an_expired_key_is_denied_from_its_expiry_on() -> None:
    expiring = owner(expires_at=NOW)
    assert decide_access(expiring, "v1", NOW - timedelta(microseconds=1)) is Access.FULL
    assert decide_access(expiring, "v1", NOW) is Access.DENIED


def test_a_read_key_may_not_write_but_revocation_and_terms_are_reported_first() -> None:
    with pytest.raises(InsufficientScope):
        require_spending_access(owner(scope=Scope.READ), "v1", "t1", "ana", NOW)
    with pytest.raises(AccessRevoked):
        require_spending_access(owner(scope=Scope.READ, revoked=True), "v1", "t1", "ana", NOW)
    require_spending_access(owner(scope=Scope.FULL), "v1", "t1", "ana", NOW)
