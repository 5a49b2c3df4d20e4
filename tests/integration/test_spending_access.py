"""The send route decides on fresh identity data, whatever the authorizer's cached policy still says.

API Gateway caches the authorizer's Allow for AuthorizerCacheTtl seconds; these tests hand the handler an event
whose authorizer context is that cached Allow, then change the identity behind it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.send_by_tags import app as handler
from smscore.dal.tables import DispatchRecord, MemberRecord, MessageRecord
from smsdev.admin_store import DynamoAdminStore
from tests.conftest import LambdaContextStub, Stack, api_event
from tests.integration.conftest import Campaign


def post(campaign: Campaign, token: str | None) -> tuple[int, dict[str, Any]]:
    event = api_event(
        {"message": "Hola", "tagIds": [campaign.tags["vip"]]},
        tenant_id=campaign.tenant_id,
        member_id=campaign.member_id,
        token=token,
    )
    if token is None:
        del event["headers"]["Authorization"], event["multiValueHeaders"]["Authorization"]
    response = handler.lambda_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def vip(campaign: Campaign) -> Campaign:
    campaign.add("3001234567", "vip")
    return campaign


def assert_nothing_charged(stack: Stack, campaign: Campaign) -> None:
    assert list(MessageRecord.scan()) == []
    assert stack.drain_delivery_queue() == []
    assert list(DispatchRecord.scan()) == []
    assert campaign.balance() == 1000 == campaign.ledger_sum()


def test_a_live_token_with_accepted_terms_sends(stack: Stack, vip: Campaign) -> None:
    status, body = post(vip, vip.token)
    assert status == 201, body
    assert vip.balance() == 999


def test_a_token_revoked_after_the_cached_allow_is_401_and_charges_nothing(
    stack: Stack, vip: Campaign, admin: DynamoAdminStore
) -> None:
    # Given the authorizer's cached Allow for this token (the event's authorizer context)
    # When the token is revoked and the same request arrives
    admin.revoke_token(vip.token[:12])
    status, body = post(vip, vip.token)
    # Then it is refused at once and nothing is persisted, enqueued or debited
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    assert_nothing_charged(stack, vip)


def test_new_terms_published_after_the_cached_allow_are_403_and_charge_nothing(
    stack: Stack, vip: Campaign, admin: DynamoAdminStore
) -> None:
    admin.publish_terms("2099-01")
    status, body = post(vip, vip.token)
    assert (status, body["code"]) == (403, "TERMS_NOT_ACCEPTED")
    assert_nothing_charged(stack, vip)
    # And accepting them lets the same token send again
    admin.accept_terms(vip.member_id)
    status, _ = post(vip, vip.token)
    assert status == 201


def test_a_disabled_member_is_401(stack: Stack, vip: Campaign) -> None:
    MemberRecord.get(vip.member_id).update(actions=[MemberRecord.status.set("DISABLED")])
    status, body = post(vip, vip.token)
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    assert_nothing_charged(stack, vip)


def test_a_token_of_another_member_does_not_spend_for_the_cached_member(
    stack: Stack, vip: Campaign, admin: DynamoAdminStore
) -> None:
    other = admin.create_member(vip.tenant_id, "other@acme.test", accept_terms=True)
    status, body = post(vip, other.token.token)
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    assert_nothing_charged(stack, vip)


@pytest.mark.parametrize("token", [None, "sms_unknown-token"])
def test_a_missing_or_unknown_token_is_401(stack: Stack, vip: Campaign, token: str | None) -> None:
    status, body = post(vip, token)
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    assert_nothing_charged(stack, vip)
