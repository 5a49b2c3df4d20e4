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
    # And a merge (PUT) of the same number records a later change
    merged = client.call("PUT", "/api/contacts", {"phone": "3157770000", "marketingConsent": {"status": "revoked"}})
    assert (merged.status, merged.body["marketingConsent"]["status"]) == (200, "revoked")
    history = export(client, reply.body["id"]).body["consentHistory"]
    assert [(h["status"], h["source"]) for h in history] == [("granted", "link"), ("revoked", "api")]


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
    assert (status, len(sent["messages"]), sent["skippedNoConsent"]) == (201, 1, 2)
    assert audience.balance() == 1000 - 1
    assert audience.ledger_sum() == audience.balance()
    # And a transactional send still reaches all three
    status, transactional = call(audience, SEND, vip(audience, purpose="transactional"))
    assert (status, len(transactional["messages"])) == (201, 3)
    assert "skippedNoConsent" not in transactional
    assert len(list(MessageRecord.scan())) == 4


def test_without_consent_required_marketing_reaches_contacts_without_a_record(
    client: Client, audience: Campaign
) -> None:
    status, preview = call(audience, PREVIEW, vip(audience))
    assert (status, preview["recipients"], preview["skippedNoConsent"]) == (200, 3, 0)


def test_an_import_records_the_consent_columns_and_rejects_a_bad_consent_row(
    client: Client, audience: Campaign
) -> None:
    # Given Hugo, created by the API without consent, and a CSV with the consent columns: a new number granted,
    # Hugo revoked, a bad status, no consent
    assert client.call("POST", "/api/contacts", {"phone": "3157770004", "name": "Hugo"}).status == 201
    csv = (
        "telefono,nombre,etiquetas,consent,consent_source,consent_at,consent_evidence\n"
        "3157770001,Eva,vip,granted,,2026-11-02T10:00:00-05:00,Formulario tienda\n"
        "3157770004,Hugo,vip,revoked,keyword,,Respondió SALIR\n"
        "3157770002,Fabio,vip,maybe,,,\n"
        "3157770003,Gina,vip,,,,\n"
    )
    # When it is imported
    reply = client.call("POST", "/api/contacts/imports", csv, content_type="text/csv")
    assert reply.status in (200, 201)
    # Then the bad consent row is rejected with its code, and the others are imported
    assert [(r["line"], r["code"]) for r in reply.body["rejectedRows"]] == [(4, "CONSENT")]
    eva, hugo, gina = (contact_named(client, n) for n in ("Eva", "Hugo", "Gina"))
    assert (eva["marketingConsent"]["status"], eva["marketingConsent"]["source"]) == ("granted", "import")
    assert eva["marketingConsent"]["at"].startswith("2026-11-02T15:00:00")
    assert eva["marketingConsent"]["evidence"] == "Formulario tienda"
    assert (hugo["marketingConsent"]["status"], hugo["marketingConsent"]["source"]) == ("revoked", "keyword")
    assert gina["marketingConsent"] is None
    # And each change is in the history; a marketing send with consent required reaches only Eva of vip
    assert [h["status"] for h in export(client, eva["id"]).body["consentHistory"]] == ["granted"]
    assert [h["status"] for h in export(client, hugo["id"]).body["consentHistory"]] == ["revoked"]
    # vip now: Ana, Beto, Caro (no record), Eva (granted), Hugo (revoked), Gina (no record)
    consent_required(audience)
    status, preview = call(audience, PREVIEW, vip(audience))
    assert (status, preview["recipients"], preview["skippedNoConsent"]) == (200, 1, 5)


def test_the_history_is_append_only(client: Client) -> None:
    # Given a contact with one consent change recorded
    ana = contact_named(client, "Ana")
    grant(client, ana["id"])
    (item,) = [i for i in ConsentHistoryRecord.scan() if i.tag_key.endswith(ana["id"])]
    # When the same history item is written again, Then the write is refused: an item is never replaced
    from pynamodb.exceptions import PutError

    with pytest.raises(PutError):
        item.save(condition=ConsentHistoryRecord.contact_id.does_not_exist())
    # And a later change adds an item, the first one unchanged
    grant(client, ana["id"], status="revoked")
    items = sorted((i.contact_id, i.status) for i in ConsentHistoryRecord.scan() if i.tag_key.endswith(ana["id"]))
    assert [status for _, status in items] == ["granted", "revoked"]
