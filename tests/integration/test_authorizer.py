"""The authorizer handler against real tables: tokens issued, revoked, and terms moving on."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from functions.authorizer import app as authorizer
from smscore.api.authorization import Unauthorized
from smscore.dal.tables import TokenRecord
from smscore.domain.auth import hash_token
from smsdev.admin_store import DynamoAdminStore
from tests.conftest import LambdaContextStub, Stack, load_event


def authorize(token: str | None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("apigw_token_authorizer.json"))
    event["authorizationToken"] = token
    result: dict[str, Any] = authorizer.lambda_handler(event, LambdaContextStub())
    return result


def effects(policy: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["Effect"], r) for s in policy["policyDocument"]["Statement"] for r in s["Resource"]]


@pytest.fixture
def member(stack: Stack, admin: DynamoAdminStore) -> tuple[DynamoAdminStore, str, Any]:
    admin.publish_terms("2026-11")
    tenant_id = admin.create_tenant("Acme", credits=10)
    return admin, tenant_id, admin.create_member(tenant_id, "ana@acme.test", accept_terms=True)


def test_only_the_hash_of_a_token_is_stored(member: tuple[DynamoAdminStore, str, Any]) -> None:
    _, _, new = member
    stored = list(TokenRecord.scan())
    assert [t.token_hash for t in stored] == [hash_token(new.token.token)]
    assert all(new.token.token not in str(t.attribute_values) for t in stored)


def test_an_accepted_members_token_may_call_every_route(member: tuple[DynamoAdminStore, str, Any]) -> None:
    _, tenant_id, new = member
    policy = authorize(f"Bearer {new.token.token}")
    assert policy["principalId"] == new.member_id
    assert policy["context"] == {"tenantId": tenant_id, "memberId": new.member_id, "access": "FULL", "scope": "full"}
    assert effects(policy) == [("Allow", "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/*/*")]


def test_publishing_new_terms_makes_members_read_only_until_they_accept(
    member: tuple[DynamoAdminStore, str, Any],
) -> None:
    admin, _, new = member
    admin.publish_terms("2027-01")
    # Then the cached policy allows every route but says READ_ONLY: each write re-reads the member fresh and is
    # refused (403 TERMS_NOT_ACCEPTED) until the member accepts, so accepting (POST /api/me/terms) takes effect at
    # once instead of after the authorizer cache's TTL
    read_only = authorize(f"Bearer {new.token.token}")
    assert effects(read_only) == [("Allow", "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/*/*")]
    assert read_only["context"]["access"] == "READ_ONLY"
    admin.accept_terms(new.member_id)
    assert authorize(f"Bearer {new.token.token}")["context"]["access"] == "FULL"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer sms_unknown", "Token abc"])
def test_missing_malformed_or_unknown_tokens_are_unauthorized(stack: Stack, header: str | None) -> None:
    with pytest.raises(Unauthorized, match=r"^Unauthorized$"):
        authorize(header)


def test_a_revoked_token_is_unauthorized(member: tuple[DynamoAdminStore, str, Any]) -> None:
    admin, _, new = member
    assert admin.revoke_token(new.token.prefix) == 1
    with pytest.raises(Unauthorized, match=r"^Unauthorized$"):
        authorize(f"Bearer {new.token.token}")
