"""POST /api/me/terms (issue 23, item 6): a member without the current terms accepts them, audited, and may send at
once; through the real contacts and send handlers on moto, with the authorizer's cached READ_ONLY context."""

from __future__ import annotations

import json
from typing import Any

from functions.send_by_tags import app as send_app
from smscore.dal.tables import MemberRecord, TermsAcceptanceRecord
from smsdev.admin_store import DynamoAdminStore
from tests.conftest import LambdaContextStub, Stack, api_event
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.test_contacts_api import Client, Reply


def audit_entries(member_id: str) -> list[TermsAcceptanceRecord]:
    return [r for r in TermsAcceptanceRecord.scan() if r.key.startswith(f"{member_id}#terms#")]


def read_only(client: Client, method: str, path: str) -> Reply:
    """The request as the authorizer's cached decision for a member without the terms sends it (READ_ONLY)."""
    original = client.call

    def call_read_only(*args: Any, **kwargs: Any) -> Reply:
        from functions.contacts import app as contacts_app

        real = contacts_app.lambda_handler

        def handler(event: dict[str, Any], context: Any) -> Any:
            event["requestContext"]["authorizer"]["access"] = "READ_ONLY"
            return real(event, context)

        contacts_app.lambda_handler = handler  # type: ignore[assignment]
        try:
            return original(*args, **kwargs)
        finally:
            contacts_app.lambda_handler = real  # type: ignore[assignment]

    return call_read_only(method, path)


def send(campaign: Campaign) -> tuple[int, dict[str, Any]]:
    event = api_event(
        {"message": "Hola", "tagIds": [campaign.tags["vip"]], "purpose": "transactional"},
        tenant_id=campaign.tenant_id,
        member_id=campaign.member_id,
        token=campaign.token,
    )
    response = send_app.lambda_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def test_a_member_accepts_the_new_terms_is_audited_and_sends_at_once(
    contacts_stack: Stack, admin: DynamoAdminStore
) -> None:
    # Given a member who accepted the terms, new terms published since, and a contact to text
    campaign = make_campaign(admin)
    campaign.add("3001234567", "vip")
    admin.publish_terms("2099-01")
    client = Client(campaign)
    assert send(campaign)[1]["code"] == "TERMS_NOT_ACCEPTED"
    assert read_only(client, "GET", "/api/me").body["access"] == "READ_ONLY"

    # When the member accepts them (the authorizer's cached decision still says READ_ONLY)
    reply = read_only(client, "POST", "/api/me/terms")

    # Then the acceptance is answered and recorded on the member
    assert reply.status == 200, reply.body
    assert reply.body["memberId"] == campaign.member_id
    assert (reply.body["acceptedTermsVersion"], reply.body["access"]) == ("2099-01", "FULL")
    member = MemberRecord.get(campaign.member_id)
    assert member.accepted_terms_version == "2099-01"
    assert member.accepted_terms_at.isoformat().replace("+00:00", "Z") == reply.body["acceptedAt"]
    # And audited: who, which tenant, which version, when, from where
    [entry] = audit_entries(campaign.member_id)
    assert (entry.accepted_by, entry.tenant, entry.version, entry.source) == (
        campaign.member_id,
        campaign.tenant_id,
        "2099-01",
        "api",
    )
    assert entry.accepted_at == member.accepted_terms_at
    # And GET /api/me reads the access now, though the cached decision still says READ_ONLY
    assert read_only(client, "GET", "/api/me").body["access"] == "FULL"
    # And the same token sends at once
    status, body = send(campaign)
    assert status == 201, body


def test_accepting_twice_answers_the_first_acceptance_and_audits_it_once(
    contacts_stack: Stack, admin: DynamoAdminStore
) -> None:
    campaign = make_campaign(admin)
    admin.publish_terms("2099-02")
    client = Client(campaign)
    first = read_only(client, "POST", "/api/me/terms")
    second = read_only(client, "POST", "/api/me/terms")
    assert (first.status, second.status) == (200, 200)
    assert second.body == first.body
    assert len(audit_entries(campaign.member_id)) == 1


def test_with_no_terms_published_there_is_nothing_to_accept(contacts_stack: Stack, admin: DynamoAdminStore) -> None:
    # Given a member of a platform that never published terms (make_campaign accepts "none published")
    campaign = make_campaign(admin)
    before = MemberRecord.get(campaign.member_id).accepted_terms_at
    reply = Client(campaign).call("POST", "/api/me/terms")
    assert (reply.status, reply.body["code"]) == (409, "NO_TERMS_PUBLISHED")
    assert MemberRecord.get(campaign.member_id).accepted_terms_at == before
    assert audit_entries(campaign.member_id) == []


def test_a_revoked_token_cannot_accept(contacts_stack: Stack, admin: DynamoAdminStore) -> None:
    campaign = make_campaign(admin)
    admin.publish_terms("2099-03")
    admin.revoke_token(campaign.token[:12])
    reply = read_only(Client(campaign), "POST", "/api/me/terms")
    assert (reply.status, reply.body["code"]) == (401, "UNAUTHORIZED")
    assert MemberRecord.get(campaign.member_id).accepted_terms_version != "2099-03"
    assert audit_entries(campaign.member_id) == []


def test_smsctl_accept_terms_is_audited_too(contacts_stack: Stack, admin: DynamoAdminStore) -> None:
    campaign = make_campaign(admin)
    admin.publish_terms("2099-04")
    assert admin.accept_terms(campaign.member_id) == "2099-04"
    [entry] = audit_entries(campaign.member_id)
    assert (entry.version, entry.source) == ("2099-04", "smsctl")
