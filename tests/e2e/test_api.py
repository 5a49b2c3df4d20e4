"""End-to-end over HTTP: the API as `make dev` serves it, authorizer and gateway responses included."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from smscore.dal.tables import MessageRecord
from smscore.domain.auth import issue_token
from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.openapi_doc import DOCUMENT_PATH
from smsdev.seed import EXAMPLE_TAGS, expected_recipients
from tests.e2e.conftest import ApiResponse, LocalStackProcess

pytestmark = pytest.mark.e2e

# The seed's example message is 63 GSM-7 characters: one segment, so one credit per recipient.
EXAMPLE_SEGMENTS = 1


def gateway_body(stack: LocalStackProcess, response_type: str) -> object:
    """The JSON body template.yaml declares for a gateway response (what the deployed API returns)."""
    template = stack.api.responses[response_type].template
    assert template is not None
    return json.loads(template)


def balance(admin: DynamoAdminStore, tenant_id: str) -> int:
    return int(admin.tenant(tenant_id).credits)


def ledger_sum(admin: DynamoAdminStore, tenant_id: str) -> int:
    return sum(int(entry.amount) for entry in admin.ledger(tenant_id))


def no_one_payload() -> dict[str, object]:
    """A valid request that reaches nobody (unknown tag): 200, no debit. Good for probing the authorizer."""
    return {"message": "hello", "tagIds": [str(uuid.uuid4())], "country": "CO"}


@pytest.mark.local_only
def test_the_summary_shows_tokens_tag_ids_and_a_curl(local_stack: LocalStackProcess) -> None:
    # Given the stack started as `make dev` starts it
    seed = local_stack.seed
    # Then what it printed holds both tokens, every tag id and the example request with real tag ids
    assert seed["accepted"]["token"] in local_stack.summary
    assert seed["pending"]["token"] in local_stack.summary
    for tag_id in seed["tagIds"].values():
        assert tag_id in local_stack.summary
    assert f"curl -sS -X POST {local_stack.api_url}/api/messages/sms/tags" in local_stack.summary
    assert json.dumps(seed["examplePayload"]) in local_stack.summary


def test_without_a_token_the_gateway_answers_401_without_calling_anyone(local_stack: LocalStackProcess) -> None:
    # When the route is called with no Authorization header
    response = local_stack.send(None, local_stack.seed["examplePayload"])
    # Then the gateway's own 401 comes back, with the JSON body the template declares
    assert response.status == 401
    assert response.body == gateway_body(local_stack, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "authorization",
    ["Token abc", "Bearer", "Bearer two words", "sms_not_a_bearer", "Bearer sms_" + "a" * 42, "Bearer sms_abc def"],
)
def test_a_malformed_authorization_header_gets_401(local_stack: LocalStackProcess, authorization: str) -> None:
    payload, headers = local_stack.seed["examplePayload"], {"Authorization": authorization}
    response = local_stack.call("POST", "/api/messages/sms/tags", body=payload, headers=headers)
    assert response.status == 401
    assert response.body == gateway_body(local_stack, "UNAUTHORIZED")


def test_an_unknown_token_gets_401(local_stack: LocalStackProcess) -> None:
    # A token of the issued shape, so that the authorizer (not the validation expression) refuses it
    response = local_stack.send(issue_token().token, local_stack.seed["examplePayload"])
    assert response.status == 401
    assert response.body == gateway_body(local_stack, "UNAUTHORIZED")


def test_a_revoked_token_gets_401(local_stack: LocalStackProcess, admin: DynamoAdminStore) -> None:
    # Given a fresh token (never used, so no cached policy) that is then revoked
    member = admin.create_member(local_stack.seed["tenantId"], f"revoked-{uuid.uuid4().hex[:8]}@demo.test", True)
    admin.revoke_token(member.token.prefix)
    # When it is used
    response = local_stack.send(member.token.token, no_one_payload())
    # Then the authorizer refuses it
    assert response.status == 401
    assert response.body == gateway_body(local_stack, "UNAUTHORIZED")


def test_a_member_who_has_not_accepted_the_terms_cannot_send(
    local_stack: LocalStackProcess, admin: DynamoAdminStore
) -> None:
    # Given the seed's member who has not accepted the current terms
    tenant_id = local_stack.seed["tenantId"]
    before = balance(admin, tenant_id)
    # When they send the example
    response = local_stack.send(local_stack.seed["pending"]["token"], local_stack.seed["examplePayload"])
    # Then 403 TERMS_NOT_ACCEPTED, and nothing was charged
    assert response.status == 403
    assert response.body == gateway_body(local_stack, "ACCESS_DENIED")
    assert response.body["code"] == "TERMS_NOT_ACCEPTED"
    assert balance(admin, tenant_id) == before


def test_an_unknown_route_gets_the_gateway_403(local_stack: LocalStackProcess) -> None:
    # API Gateway answers a path or method it has no resource for with 403 "Missing Authentication Token",
    # rendered through the template's DEFAULT_4XX body; no authorizer, no function.
    for method, path in (("GET", "/api/nothing-here"), ("GET", "/api/messages/sms/tags")):
        response = local_stack.call(method, path, token=local_stack.seed["accepted"]["token"])
        assert response.status == 403
        assert response.body == {"code": "BAD_REQUEST", "message": "Missing Authentication Token", "details": []}


def test_the_seed_example_sends_to_the_deduplicated_valid_numbers_and_charges_for_them(
    local_stack: LocalStackProcess, admin: DynamoAdminStore
) -> None:
    # Given the Demo Store and its balance
    tenant_id = local_stack.seed["tenantId"]
    before = balance(admin, tenant_id)
    # When the printed curl example is sent with the accepted member's token
    response = local_stack.send(local_stack.seed["accepted"]["token"], local_stack.seed["examplePayload"])
    # Then 201: one message per valid, opted-in, distinct number of the vip and buyers contacts
    assert response.status == 201, response.body
    recipients = [m["recipient"] for m in response.body["messages"]]
    assert sorted(recipients) == sorted(expected_recipients(EXAMPLE_TAGS))
    assert response.body["channel"] == "sms"
    assert response.body["queueId"]
    # And the balance dropped by exactly those messages, with the ledger in step
    assert balance(admin, tenant_id) == before - len(recipients) * EXAMPLE_SEGMENTS
    assert ledger_sum(admin, tenant_id) == balance(admin, tenant_id)


def test_a_handler_error_passes_through_the_gateway(local_stack: LocalStackProcess) -> None:
    # A body the function rejects comes back as the function answered it, not as a gateway response
    response = local_stack.call(
        "POST", "/api/messages/sms/tags", token=local_stack.seed["accepted"]["token"], body=b"{not json"
    )
    assert response.status == 400
    assert response.body["code"] == "VALIDATION_ERROR"


def _cached_member(
    local_stack: LocalStackProcess, admin: DynamoAdminStore, label: str
) -> tuple[str, str, dict[str, object]]:
    """A tenant of its own with one contact, and a member's token whose Allow the gateway has cached (it was
    used once, for a GET): (tenant id, token, a payload that would charge 1 credit)."""
    if local_stack.api.authorizer_ttl_seconds == 0:
        pytest.skip("AuthorizerCacheTtl is 0: every request is authorized afresh")
    tenant_id = admin.create_tenant(f"{label} shop", credits=10, default_country="CO")
    admin.add_contacts(tenant_id, [ContactInput(phone="3001234567", tag_names=["vip"])])
    (tag,) = admin.tags(tenant_id)
    token = admin.create_member(tenant_id, f"{label}@shop.test", accept_terms=True).token.token
    assert local_stack.call("GET", "/api/messages", token=token).status == 200
    return tenant_id, token, {"message": "Hola", "tagIds": [tag.tag_id]}


def test_a_revoked_token_stops_spending_at_once_and_reads_until_the_cache_expires(
    local_stack: LocalStackProcess, admin: DynamoAdminStore
) -> None:
    # API Gateway keeps a token's policy for ReauthorizeEvery seconds (AuthorizerCacheTtl, 300 by default).
    # Reading routes live with that window; the send route re-reads the token on every request.
    tenant_id, token, payload = _cached_member(local_stack, admin, "revoked")
    # When the token is revoked within the TTL
    admin.revoke_token(token[:12])
    # Then a send is refused at once, and nothing is charged
    response = local_stack.send(token, payload)
    assert (response.status, response.body["code"]) == (401, "UNAUTHORIZED")
    assert balance(admin, tenant_id) == 10 == ledger_sum(admin, tenant_id)
    # And a read still answers from the cached policy (the documented window for read-only routes)
    assert local_stack.call("GET", "/api/messages", token=token).status == 200


def test_new_terms_stop_spending_at_once_whatever_the_cached_policy(
    local_stack: LocalStackProcess, admin: DynamoAdminStore
) -> None:
    tenant_id, token, payload = _cached_member(local_stack, admin, "terms")
    current = admin.current_terms_version()
    assert current is not None
    # When new terms are published while the token's Allow is cached
    admin.publish_terms(f"{current}-rev-{uuid.uuid4().hex[:6]}")
    try:
        response = local_stack.send(token, payload)
    finally:
        admin.publish_terms(current)  # the other tests' members accepted this version
    # Then the POST is 403 TERMS_NOT_ACCEPTED at once, and nothing is charged
    assert (response.status, response.body["code"]) == (403, "TERMS_NOT_ACCEPTED")
    assert balance(admin, tenant_id) == 10 == ledger_sum(admin, tenant_id)
    # And with the terms back as they were, the same token spends again
    assert local_stack.send(token, payload).status == 201


def test_sixteen_concurrent_requests_never_overspend(local_stack: LocalStackProcess, admin: DynamoAdminStore) -> None:
    # Given a tenant whose 75 credits pay for 7 requests of 10 one-segment messages, not 16
    tenant_id = admin.create_tenant("Race Ltd", credits=75, default_country="CO")
    token = admin.create_member(tenant_id, "racer@race.test", accept_terms=True).token.token
    admin.add_contacts(tenant_id, [ContactInput(phone=f"30012340{i:02d}", tag_names=["all"]) for i in range(10)])
    tag_id = admin.tags(tenant_id)[0].tag_id
    payload = {"message": "Flash sale today only", "tagIds": [tag_id]}
    # When 16 requests are sent at once
    start = threading.Barrier(16)
    responses: list[ApiResponse] = []
    lock = threading.Lock()

    def send() -> None:
        start.wait()
        got = local_stack.send(token, payload)
        with lock:
            responses.append(got)

    threads = [threading.Thread(target=send) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then no credit was spent twice: the balance is the start minus what the 201s paid, and the ledger agrees
    created = [r for r in responses if r.status == 201]
    spent = sum(len(r.body["messages"]) * 1 for r in created)  # one segment per message
    assert balance(admin, tenant_id) == 75 - spent >= 0
    assert ledger_sum(admin, tenant_id) == balance(admin, tenant_id)
    # And every request either paid in full or was refused for credits; the credits ran out after 7
    refused = [(r.status, r.body) for r in responses if r.status != 201]
    assert all(status == 402 and body["code"] == "INSUFFICIENT_CREDITS" for status, body in refused), refused
    assert len(created) == 7
    assert len(responses) == 16


def test_enqueued_messages_reach_the_deliver_handler(local_stack: LocalStackProcess, admin: DynamoAdminStore) -> None:
    # Given a campaign that was just enqueued
    response = local_stack.send(local_stack.seed["accepted"]["token"], local_stack.seed["examplePayload"])
    assert response.status == 201
    ids = [m["id"] for m in response.body["messages"]]
    # When the poller hands the SQS batches to the deliver function (waiting for it, not timing it)
    deadline = time.monotonic() + 90
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = {i: MessageRecord.get(i, consistent_read=True).status for i in ids}
        if "QUEUED" not in statuses.values():
            break
        time.sleep(0.5)
    # Then every message has moved on from QUEUED
    assert "QUEUED" not in statuses.values(), statuses


@pytest.mark.local_only  # the local stack serves the checked-in document; the deployed API does not
def test_the_openapi_document_is_served_without_a_token(local_stack: LocalStackProcess) -> None:
    response = local_stack.call("GET", "/api/openapi.json")
    assert response.status == 200
    assert response.body == json.loads(DOCUMENT_PATH.read_text())
    assert "/api/messages/sms/tags" in response.body["paths"]
