"""Marketing consent records on moto (issue 22, item 6): the contacts API, the append-only history in the export,
and consentRequired skipping contacts without granted consent before pricing."""

from __future__ import annotations

from typing import Any

import pytest

from smscore.dal.tables import ConsentHistoryRecord, MessageRecord
from smscore.dal.tenant_settings import DynamoTenantSettings
from smscore.domain.model import ComplianceSettings
from smscore.wiring import bound_settings
from tests.conftest import Stack
from tests.integration.conftest import Campaign
from tests.integration.test_contact_export import export
from tests.integration.test_contacts_api import Client
from tests.integration.test_preview_and_resend import PREVIEW, SEND, call


@pytest.fixture
def client(contacts_stack: Stack, audience: Campaign) -> Client:
    return Client(audience)


def contact_named(client: Client, name: str) -> dict[str, Any]:
    items = client.call("GET", "/api/contacts", query={"limit": "100"}).body["items"]
    return next(c for c in items if c["name"] == name)


def grant(client: Client, contact_id: str, **consent: Any) -> Any:
    body = {"marketingConsent": {"status": "granted", "source": "api", "evidence": "Formulario web 2026-11-02"}}
    body["marketingConsent"].update(consent)
    return client.item("PATCH", "/api/contacts", contact_id, body)


def consent_required(audience: Campaign) -> None:
    bound_settings()
    store = DynamoTenantSettings()
    settings = ComplianceSettings(sender_name="Acme", consent_required=True)
    assert store.write_settings(audience.tenant_id, settings, None)


def vip(audience: Campaign, **extra: Any) -> dict[str, Any]:
    return {"message": "Oferta", "tagIds": [audience.tags["vip"]], **extra}


def test_a_patch_records_consent_on_the_contact_and_appends_every_change_to_the_history_in_the_export(
    client: Client,
) -> None:
    # Given Ana without any consent record
    ana = contact_named(client, "Ana")
    assert ana["marketingConsent"] is None
    # When her consent is granted, then revoked from the admin
    granted = grant(client, ana["id"])
    revoked = grant(client, ana["id"], status="revoked", source="ui", evidence=None)
    # Then the contact carries the latest record
    assert (granted.status, granted.body["marketingConsent"]["status"]) == (200, "granted")
    assert granted.body["marketingConsent"]["evidence"] == "Formulario web 2026-11-02"
    assert (revoked.status, revoked.body["marketingConsent"]["status"], revoked.body["marketingConsent"]["source"]) == (
        200,
        "revoked",
        "ui",
    )
    assert client.item("GET", "/api/contacts", ana["id"]).body["marketingConsent"]["status"] == "revoked"
    # And the export holds both changes, oldest first
    history = export(client, ana["id"]).body["consentHistory"]
    assert [(h["status"], h["source"], h["evidence"]) for h in history] == [
        ("granted", "api", "Formulario web 2026-11-02"),
        ("revoked", "ui", None),
    ]


def test_a_bad_consent_is_refused_and_leaves_nothing_behind(client: Client) -> None:
    ana = contact_named(client, "Ana")
    for bad, field in (
        ({"status": "maybe"}, "marketingConsent.status"),
        ({"status": "granted", "source": "fax"}, "marketingConsent.source"),
        ({"status": "granted", "at": "2999-01-01T00:00:00Z"}, "marketingConsent.at"),
    ):
        reply = client.item("PATCH", "/api/contacts", ana["id"], {"marketingConsent": bad, "name": "Ana María"})
        assert (reply.status, reply.body["code"]) == (400, "VALIDATION_ERROR")
        assert field in [d["field"] for d in reply.body["details"]]
    too_long = client.item(
        "PATCH", "/api/contacts", ana["id"], {"marketingConsent": {"status": "granted", "evidence": "x" * 501}}
    )
    assert too_long.status == 400
    after = client.item("GET", "/api/contacts", ana["id"]).body
    assert (after["name"], after["marketingConsent"]) == ("Ana", None)
    assert [i for i in ConsentHistoryRecord.scan() if i.tag_key.endswith(ana["id"])] == []


def test_a_contact_created_with_consent_carries_it(client: Client) -> None:
    reply = client.call(
        "POST",
        "/api/contacts",
        {"phone": "3157770000", "marketingConsent": {"status": "granted", "source": "link", "evidence": "Clic"}},
    )
    assert (reply.status, reply.body["marketingConsent"]["source"]) == (201, "link")
    assert len(export(client, reply.body["id"]).body["consentHistory"]) == 1


def test_consent_required_skips_contacts_without_granted_consent_and_never_charges_them(
    client: Client, audience: Campaign
) -> None:
    # Given a tenant that requires consent, and of its 3 vip numbers only Ana granted it (Beto revoked it)
    consent_required(audience)
    grant(client, contact_named(client, "Ana")["id"])
    grant(client, contact_named(client, "Beto")["id"], status="revoked")
    # When a marketing campaign to vip is previewed and sent
    status, preview = call(audience, PREVIEW, vip(audience))
    assert (status, preview["recipients"], preview["skippedNoConsent"], preview["creditsRequired"]) == (200, 1, 2, 1)
    status, sent = call(audience, SEND, vip(audience))
    # Then only Ana is reached, and only her message is charged
    assert (status, len(sent["messages"])) == (201, 1)
    assert audience.balance() == 1000 - 1
    assert audience.ledger_sum() == audience.balance()
    # And a transactional send still reaches all three
    status, transactional = call(audience, SEND, vip(audience, purpose="transactional"))
    assert (status, len(transactional["messages"])) == (201, 3)
    assert len(list(MessageRecord.scan())) == 4


def test_without_consent_required_marketing_reaches_contacts_without_a_record(
    client: Client, audience: Campaign
) -> None:
    status, preview = call(audience, PREVIEW, vip(audience))
    assert (status, preview["recipients"], preview["skippedNoConsent"]) == (200, 3, 0)
