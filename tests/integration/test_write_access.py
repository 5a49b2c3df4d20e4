"""Every write decides on fresh identity data, whatever the authorizer's cached Allow still says.

API Gateway caches the authorizer's Allow per token for AuthorizerCacheTtl (300 s). The events here carry that
cached Allow (the authorizer context of a live member), then the identity behind it changes: a revoked token
must stop writing at once (401), a member without newly published terms too (403), on every route that is not a
read. Reads keep the cache window. `smscore.api.access.is_write` is the one rule of which requests write; the
route-listing tests below take every route of openapi.json, so a route added later without the check fails here.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from smscore.api.access import TERMS_ACCEPTANCE, is_write
from smscore.dal.identity_store import DynamoIdentityStore
from smscore.dal.tables import ContactRecord, ImportJobRecord, TagRecord
from smsdev.admin_store import DynamoAdminStore
from smsdev.openapi_doc import DOCUMENT_PATH, METHODS
from smsdev.template import LocalNames, Resolver, functions, load_template
from tests.conftest import LambdaContextStub, Stack, load_event
from tests.integration.conftest import Campaign


def documented_routes() -> list[tuple[str, str, bool]]:
    """(METHOD, path, behind the authorizer) of every operation of the checked-in OpenAPI document."""
    paths = json.loads(DOCUMENT_PATH.read_text())["paths"]
    return [
        (method.upper(), path, bool(item[method]["security"]))
        for path, item in sorted(paths.items())
        for method in METHODS
        if method in item
    ]


AUTHORIZED_WRITES = [(m, p) for m, p, authorized in documented_routes() if authorized and is_write(m)]
AUTHORIZED_READS = [(m, p) for m, p, authorized in documented_routes() if authorized and not is_write(m)]


def handlers() -> dict[tuple[str, str], Callable[[dict[str, Any], Any], dict[str, Any]]]:
    """(METHOD, path) -> the Lambda handler template.yaml routes it to."""
    import importlib

    specs = functions(Resolver(load_template(), LocalNames()))
    return {
        (route.method, route.path): getattr(importlib.import_module(spec.module), spec.handler)
        for spec in specs.values()
        for route in spec.routes
    }


@dataclass
class Answer:
    status: int
    body: Any


@dataclass
class Caller:
    """A member's requests as API Gateway passes them on with its cached Allow (the authorizer context)."""

    campaign: Campaign

    def call(
        self, method: str, resource: str, body: Any = None, *, content_type: str = "application/json", **params: str
    ) -> Answer:
        path = resource
        for name, value in params.items():
            path = path.replace("{" + name + "}", value)
        event = copy.deepcopy(load_event("apigw_send_by_tags.json"))
        event.update(
            httpMethod=method,
            resource=resource,
            path=path,
            pathParameters=params or None,
            body=None if body is None else (body if isinstance(body, str) else json.dumps(body)),
        )
        headers = {"Authorization": f"Bearer {self.campaign.token}", "Content-Type": content_type}
        for key, value in headers.items():
            event["headers"][key] = value
            event["multiValueHeaders"][key] = [value]
        event["requestContext"].update(httpMethod=method, resourcePath=resource)
        event["requestContext"]["authorizer"].update(
            tenantId=self.campaign.tenant_id, memberId=self.campaign.member_id, principalId=self.campaign.member_id
        )
        response = handlers()[(method, resource)](event, LambdaContextStub())
        raw = response.get("body")
        return Answer(response["statusCode"], json.loads(raw) if raw else None)


@pytest.fixture
def caller(contacts_stack: Stack, campaign: Campaign) -> Caller:
    """The contacts function's environment holds the other API functions' too (their tables are shared)."""
    return Caller(campaign)


def revoke(admin: DynamoAdminStore, campaign: Campaign) -> None:
    admin.revoke_token(campaign.token[:12])


def publish_new_terms(admin: DynamoAdminStore, _campaign: Campaign) -> None:
    admin.publish_terms("2099-01")


LOSSES = {"revoked": (revoke, 401, "UNAUTHORIZED"), "new terms": (publish_new_terms, 403, "TERMS_NOT_ACCEPTED")}


def placeholder_parameters(path: str) -> dict[str, str]:
    return {name: str(uuid.uuid4()) for name in re.findall(r"\{(\w+)\}", path)}


# ---------------------------------------------------------------------------------------------- the rule


def test_the_rule_of_writes_is_the_http_method() -> None:
    assert [m for m in ("GET", "HEAD", "OPTIONS", "get") if is_write(m)] == []
    assert all(is_write(m) for m in ("POST", "PUT", "PATCH", "DELETE", "post"))


def test_the_document_has_authorized_writes_and_reads() -> None:
    # Guards the listing below against an empty parametrisation
    assert ("POST", "/api/tags") in AUTHORIZED_WRITES
    assert ("POST", "/api/messages/sms/tags") in AUTHORIZED_WRITES
    assert ("GET", "/api/tags") in AUTHORIZED_READS


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_documented_write_rechecks_the_caller_fresh(caller: Caller, admin: DynamoAdminStore, loss: str) -> None:
    # Given the cached Allow of a member, When access is lost behind it
    lose, status, code = LOSSES[loss]
    lose(admin, caller.campaign)
    # Then a request to any write route of the document is refused at once, whatever its body
    # (except accepting the new terms: the one write a member without them makes, checked for everything else)
    exempt = {TERMS_ACCEPTANCE} if loss == "new terms" else set()
    routes = [(m, p) for m, p in AUTHORIZED_WRITES if (m, p) not in exempt]
    answers = {f"{m} {p}": caller.call(m, p, **placeholder_parameters(p)) for m, p in routes}
    wrong = {route: (a.status, a.body) for route, a in answers.items() if (a.status, a.body["code"]) != (status, code)}
    assert wrong == {}
    if exempt:
        accepted = caller.call(*TERMS_ACCEPTANCE)
        assert (accepted.status, accepted.body["acceptedTermsVersion"]) == (200, "2099-01")


def test_reads_keep_the_cache_window(caller: Caller, admin: DynamoAdminStore) -> None:
    revoke(admin, caller.campaign)
    answers = {f"{m} {p}": caller.call(m, p, **placeholder_parameters(p)) for m, p in AUTHORIZED_READS}
    assert {route: a.status for route, a in answers.items() if a.status in (401, 403)} == {}


# ---------------------------------------------------------------------------------------------- the probe's writes


def tag_count() -> int:
    return sum(1 for _ in TagRecord.scan())


def contact_count() -> int:
    return sum(1 for _ in ContactRecord.scan())


def job_count() -> int:
    return sum(1 for _ in ImportJobRecord.scan())


@pytest.fixture
def tagged(caller: Caller) -> dict[str, str]:
    """A tag and a contact carrying it, created while the member's access was whole."""
    tag = caller.call("POST", "/api/tags", {"name": "vip"})
    assert tag.status == 201, tag.body
    contact = caller.call("POST", "/api/contacts", {"phone": "3001234567", "tagIds": [tag.body["id"]]})
    assert contact.status == 201, contact.body
    return {"tagId": tag.body["id"], "contactId": contact.body["id"]}


def probe_writes(ids: dict[str, str]) -> list[tuple[str, str, Any, dict[str, str], str]]:
    """The writes that succeeded within 0.7 s of a revocation: (method, resource, body, path params, content type)."""
    json_type, csv_type = "application/json", "text/csv"
    return [
        ("POST", "/api/tags", {"name": "new"}, {}, json_type),
        ("PATCH", "/api/tags/{tagId}", {"name": "renamed"}, {"tagId": ids["tagId"]}, json_type),
        ("DELETE", "/api/tags/{tagId}", None, {"tagId": ids["tagId"]}, json_type),
        ("POST", "/api/contacts", {"phone": "3009998877"}, {}, json_type),
        ("PUT", "/api/contacts", {"phone": "3001234567", "name": "Renamed"}, {}, json_type),
        ("PATCH", "/api/contacts/{contactId}", {"name": "X"}, {"contactId": ids["contactId"]}, json_type),
        ("DELETE", "/api/contacts/{contactId}", None, {"contactId": ids["contactId"]}, json_type),
        ("POST", "/api/contacts/imports", "phone,name,tags\n3005554433,Eve,vip\n", {}, csv_type),
        ("POST", "/api/contacts/imports/uploads", None, {}, json_type),
    ]


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_the_probes_writes_are_refused_and_change_nothing(
    caller: Caller, admin: DynamoAdminStore, tagged: dict[str, str], loss: str
) -> None:
    lose, status, code = LOSSES[loss]
    before = (tag_count(), contact_count(), job_count(), caller.campaign.balance())
    names = {t.name for t in admin.tags(caller.campaign.tenant_id)}
    lose(admin, caller.campaign)
    for method, resource, body, params, content_type in probe_writes(tagged):
        answer = caller.call(method, resource, body, content_type=content_type, **params)
        assert (answer.status, answer.body["code"]) == (status, code), (method, resource, answer.body)
    assert (tag_count(), contact_count(), job_count(), caller.campaign.balance()) == before
    assert {t.name for t in admin.tags(caller.campaign.tenant_id)} == names
    assert ContactRecord.get(caller.campaign.tenant_id, tagged["contactId"]).name is None


def test_accepting_the_new_terms_lets_the_same_token_write_again(
    caller: Caller, admin: DynamoAdminStore, tagged: dict[str, str]
) -> None:
    publish_new_terms(admin, caller.campaign)
    assert caller.call("POST", "/api/tags", {"name": "late"}).status == 403
    admin.accept_terms(caller.campaign.member_id)
    assert caller.call("POST", "/api/tags", {"name": "late"}).status == 201


def test_each_write_reads_the_identity_once_and_a_read_not_at_all(
    caller: Caller, tagged: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    fresh = DynamoIdentityStore.fresh_owner_and_terms

    def counted(self: DynamoIdentityStore, token_hash: str, member_id: str) -> Any:
        reads.append(member_id)
        return fresh(self, token_hash, member_id)

    monkeypatch.setattr(DynamoIdentityStore, "fresh_owner_and_terms", counted)
    # One batched read for a write, the consent change included (it used to be checked inside the use case)
    patched = caller.call("PATCH", "/api/contacts/{contactId}", {"optedOut": True}, contactId=tagged["contactId"])
    assert patched.status == 200, patched.body
    assert len(reads) == 1
    assert caller.call("POST", "/api/tags", {"name": "one-read"}).status == 201
    assert len(reads) == 2
    # And none for a read
    assert caller.call("GET", "/api/tags").status == 200
    assert len(reads) == 2
