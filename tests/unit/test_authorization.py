"""Who gets which policy: unknown or revoked tokens are 401, terms not accepted means read-only."""

from __future__ import annotations

import pytest

from smscore.api.authorization import Unauthorized, authorize
from smscore.domain.auth import TokenOwner, bearer_token, hash_token, issue_token
from tests.fakes import InMemoryIdentityStore

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/POST/api/messages/sms/tags"


def owner(**overrides: object) -> TokenOwner:
    fields: dict[str, object] = {
        "tenant_id": "t1",
        "member_id": "m1",
        "member_active": True,
        "revoked": False,
        "accepted_terms_version": "2026-11",
    }
    fields.update(overrides)
    return TokenOwner(**fields)  # type: ignore[arg-type]


@pytest.fixture
def token() -> str:
    return issue_token().token


def store_with(token: str, who: TokenOwner) -> InMemoryIdentityStore:
    return InMemoryIdentityStore(owners={hash_token(token): who})


def statements(policy: dict[str, object]) -> list[tuple[str, list[str]]]:
    document = policy["policyDocument"]
    assert isinstance(document, dict)
    return [(s["Effect"], s["Resource"]) for s in document["Statement"]]


def test_issued_tokens_are_random_and_only_their_hash_identifies_them() -> None:
    first, second = issue_token(), issue_token()
    assert first.token != second.token
    assert first.token_hash == hash_token(first.token) != first.token
    assert first.token.startswith(first.prefix)
    assert len(first.prefix) == 12


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("Bearer   abc  ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer a b", None),
        ("abc", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_header_parsing(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


def test_accepted_member_may_call_every_route(token: str) -> None:
    policy = authorize(f"Bearer {token}", ARN, store_with(token, owner()))
    assert policy["principalId"] == "m1"
    assert policy["context"] == {"tenantId": "t1", "memberId": "m1", "access": "FULL", "scope": "full"}
    assert statements(policy) == [("Allow", ["arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/*/*"])]


def test_member_behind_on_terms_is_marked_read_only_and_writes_are_refused_fresh(token: str) -> None:
    # The gateway's cached Allow covers every route, so that an acceptance (POST /api/me/terms) takes effect at once;
    # every write re-reads the terms and answers 403 TERMS_NOT_ACCEPTED (tests/integration/test_write_access.py).
    policy = authorize(f"Bearer {token}", ARN, store_with(token, owner(accepted_terms_version="2025-01")))
    assert policy["context"]["access"] == "READ_ONLY"
    assert statements(policy) == [("Allow", ["arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/*/*"])]


def test_no_published_terms_means_nothing_to_accept(token: str) -> None:
    store = store_with(token, owner(accepted_terms_version=None))
    store.terms_version = None
    assert authorize(f"Bearer {token}", ARN, store)["context"]["access"] == "FULL"


@pytest.mark.parametrize(
    "who",
    [None, owner(revoked=True), owner(member_active=False)],
    ids=["unknown", "revoked", "disabled-member"],
)
def test_unknown_revoked_or_disabled_is_unauthorized(token: str, who: TokenOwner | None) -> None:
    store = InMemoryIdentityStore(owners={hash_token(token): who} if who else {})
    with pytest.raises(Unauthorized, match=r"^Unauthorized$"):
        authorize(f"Bearer {token}", ARN, store)


def test_malformed_header_is_unauthorized_without_a_lookup(token: str) -> None:
    with pytest.raises(Unauthorized):
        authorize(token, ARN, InMemoryIdentityStore())
