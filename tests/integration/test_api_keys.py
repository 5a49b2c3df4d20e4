"""Self-serve API keys (issue 25, item 2) through the integrations function and the authorizer on moto.

A member creates, lists and revokes their own keys; an admin the tenant's. A `read` key reads and gets 403
INSUFFICIENT_SCOPE on every write (the money path included); a revoked key gets 401 on the money path at once;
an expired key is refused by the authorizer. Only the token's hash is stored, and its last use is kept to the hour.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.authorizer import app as authorizer
from functions.integrations import app as integrations
from functions.send_by_tags import app as send_by_tags
from smscore.api.authorization import Unauthorized, authorize
from smscore.dal.identity_store import DynamoIdentityStore
from smscore.dal.tables import TokenRecord
from smscore.domain.auth import hash_token
from smsdev.admin_store import DynamoAdminStore
from tests.conftest import LambdaContextStub, Stack, api_event, load_event
from tests.integration.conftest import Campaign, make_campaign

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/GET/api/tags"


def call(
    who: Campaign, method: str, path: str, body: Any = None, *, token: str | None = None, **params: str
) -> tuple[int, Any]:
    event = api_event(body, tenant_id=who.tenant_id, member_id=who.member_id, token=token or who.token)
    resource = path
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    event.update(httpMethod=method, resource=resource, path=path, pathParameters=params or None)
    event["requestContext"].update(httpMethod=method, resourcePath=resource)
    response = integrations.lambda_handler(event, LambdaContextStub())
    raw = response.get("body")
    return response["statusCode"], json.loads(raw) if raw else None


def send(who: Campaign, token: str) -> tuple[int, Any]:
    """The money path: POST /api/messages/sms/tags with this token, to the vip tag, send windows off."""
    body = {"message": "Hola VIP", "tagIds": [who.tags["vip"]], "purpose": "transactional"}
    event = api_event(body, tenant_id=who.tenant_id, member_id=who.member_id, token=token)
    response = send_by_tags.lambda_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def gateway_authorize(token: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("apigw_token_authorizer.json"))
    event["authorizationToken"] = f"Bearer {token}"
    result: dict[str, Any] = authorizer.lambda_handler(event, LambdaContextStub())
    return result


@pytest.fixture
def member(stack: Stack, admin: DynamoAdminStore) -> Campaign:
    campaign = make_campaign(admin, credits=100)
    campaign.add("3001234567", "vip", name="Ana")
    return campaign


def colleague(member: Campaign, *, admin_role: bool = False) -> Campaign:
    email = f"c{admin_role}@acme.test"
    other = member.admin.create_member(member.tenant_id, email, accept_terms=True, admin=admin_role)
    return Campaign(member.admin, member.tenant_id, other.member_id, other.token.token, dict(member.tags))


def test_a_created_key_is_shown_once_and_stored_only_as_its_hash(member: Campaign) -> None:
    # When a member creates a key
    status, created = call(member, "POST", "/api/keys", {"name": "CRM sync", "scope": "read"})
    # Then the answer carries the token once, with the key's name, scope and prefix
    assert status == 201, created
    assert (created["name"], created["scope"], created["memberId"]) == ("CRM sync", "read", member.member_id)
    assert created["token"].startswith(created["prefix"])
    assert len(created["token"]) == 47
    # And the table keeps its hash, never the token
    stored = TokenRecord.get(hash_token(created["token"]))
    assert (stored.key_id, stored.name, stored.scope) == (created["id"], "CRM sync", "read")
    assert all(created["token"] not in str(t.attribute_values) for t in TokenRecord.scan())
    # And the list never shows a token again
    status, listed = call(member, "GET", "/api/keys")
    assert status == 200
    assert created["id"] in [k["id"] for k in listed["items"]]
    assert all("token" not in k for k in listed["items"])


def test_a_read_key_reads_and_every_write_is_403_insufficient_scope(member: Campaign) -> None:
    _, key = call(member, "POST", "/api/keys", {"name": "BI", "scope": "read"})
    balance = member.balance()
    # A read key passes the authorizer (every route: each write is re-checked by the function)
    assert gateway_authorize(key["token"])["context"]["scope"] == "read"
    # It reads
    assert call(member, "GET", "/api/keys", token=key["token"])[0] == 200
    # And each write is refused with the documented code, nothing sent or charged
    status, body = send(member, key["token"])
    assert (status, body["code"]) == (403, "INSUFFICIENT_SCOPE")
    status, body = call(member, "POST", "/api/keys", {"name": "escalate", "scope": "full"}, token=key["token"])
    assert (status, body["code"]) == (403, "INSUFFICIENT_SCOPE")
    assert member.balance() == balance
    assert [k["name"] for k in call(member, "GET", "/api/keys")[1]["items"]] == ["smsctl", "BI"]


def test_a_full_key_sends_and_once_revoked_the_money_path_is_401_at_once(member: Campaign) -> None:
    _, key = call(member, "POST", "/api/keys", {"name": "orders", "scope": "full"})
    status, sent = send(member, key["token"])
    assert status == 201, sent
    balance = member.balance()
    # When the member revokes it (the authorizer's cached Allow still stands)
    assert call(member, "DELETE", "/api/keys/{keyId}", keyId=key["id"])[0] == 204
    # Then the next send with it is 401 at once, nothing charged
    status, body = send(member, key["token"])
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    assert member.balance() == balance
    # And a fresh authorization is refused; the key is gone from the list; revoking again is 404
    with pytest.raises(Unauthorized):
        gateway_authorize(key["token"])
    assert key["id"] not in [k["id"] for k in call(member, "GET", "/api/keys")[1]["items"]]
    assert call(member, "DELETE", "/api/keys/{keyId}", keyId=key["id"])[0] == 404


def test_an_expired_key_is_refused_by_the_authorizer(member: Campaign) -> None:
    now = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
    expiry = now + timedelta(days=1)
    status, key = member_key(member, expiry)
    assert status == 201, key
    store = DynamoIdentityStore()
    assert authorize(f"Bearer {key['token']}", ARN, store, now=expiry - timedelta(seconds=1))["context"]
    with pytest.raises(Unauthorized):
        authorize(f"Bearer {key['token']}", ARN, store, now=expiry)


def member_key(member: Campaign, expiry: datetime) -> tuple[int, Any]:
    """A key expiring at `expiry`, created as if at `expiry - 1 day` (the API's clock is the wall clock)."""
    from smscore.api.api_keys import KeyRequest, KeysApi
    from smscore.dal.api_key_store import DynamoApiKeyStore
    from smscore.domain.api_keys import ApiKeys, KeyCaller

    request = KeyRequest(name="expiring", scope="full", expires_at=expiry)  # type: ignore[arg-type]
    created = KeysApi(ApiKeys(DynamoApiKeyStore())).create(
        KeyCaller(member.tenant_id, member.member_id), request, now=expiry - timedelta(days=1)
    )
    return 201, created.model_dump(mode="json")


def test_an_expiry_in_the_past_is_400_and_creates_nothing(member: Campaign) -> None:
    before = sum(1 for _ in TokenRecord.scan())
    status, body = call(member, "POST", "/api/keys", {"name": "old", "expiresAt": "2001-01-01T00:00:00Z"})
    assert (status, body["code"]) == (400, "VALIDATION_ERROR")
    status, body = call(member, "POST", "/api/keys", {"name": "naive", "expiresAt": "2099-01-01T00:00:00"})
    assert (status, body["code"]) == (400, "VALIDATION_ERROR")
    status, body = call(member, "POST", "/api/keys", {"name": "x", "scope": "admin"})
    assert (status, body["code"]) == (400, "VALIDATION_ERROR")
    assert sum(1 for _ in TokenRecord.scan()) == before


def test_last_use_is_kept_to_the_hour_and_written_once_per_hour(member: Campaign) -> None:
    _, key = call(member, "POST", "/api/keys", {"name": "hourly"})
    store = DynamoIdentityStore()
    authorize(f"Bearer {key['token']}", ARN, store, now=datetime(2026, 12, 6, 10, 59, 59, tzinfo=UTC))
    authorize(f"Bearer {key['token']}", ARN, store, now=datetime(2026, 12, 6, 10, 5, tzinfo=UTC))
    listed = {k["id"]: k for k in call(member, "GET", "/api/keys")[1]["items"]}
    assert listed[key["id"]]["lastUsedAt"].startswith("2026-12-06T10:00:00")
    authorize(f"Bearer {key['token']}", ARN, store, now=datetime(2026, 12, 6, 11, 1, tzinfo=UTC))
    listed = {k["id"]: k for k in call(member, "GET", "/api/keys")[1]["items"]}
    assert listed[key["id"]]["lastUsedAt"].startswith("2026-12-06T11:00:00")


def test_a_member_manages_only_their_own_keys_and_an_admin_the_tenants(member: Campaign) -> None:
    _, mine = call(member, "POST", "/api/keys", {"name": "mine"})
    other = colleague(member)
    _, theirs = call(other, "POST", "/api/keys", {"name": "theirs"})
    # A member sees and revokes only their own
    assert {k["name"] for k in call(other, "GET", "/api/keys")[1]["items"]} == {"smsctl", "theirs"}
    status, body = call(other, "DELETE", "/api/keys/{keyId}", keyId=mine["id"])
    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert gateway_authorize(mine["token"])["context"]["memberId"] == member.member_id
    # An admin sees every key of the tenant and revokes another member's
    boss = colleague(member, admin_role=True)
    names = {k["name"] for k in call(boss, "GET", "/api/keys")[1]["items"]}
    assert {"mine", "theirs"} <= names
    assert call(boss, "DELETE", "/api/keys/{keyId}", keyId=theirs["id"])[0] == 204
    with pytest.raises(Unauthorized):
        gateway_authorize(theirs["token"])
    # But not another tenant's
    stranger = make_campaign(member.admin)
    _, foreign = call(stranger, "POST", "/api/keys", {"name": "foreign"})
    assert call(boss, "DELETE", "/api/keys/{keyId}", keyId=foreign["id"])[0] == 404
    assert "foreign" not in {k["name"] for k in call(boss, "GET", "/api/keys")[1]["items"]}
