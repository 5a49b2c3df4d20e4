"""Merge fields end to end on moto: the tenant declares custom fields, contacts and imports carry them, and a send
renders every recipient's own text, priced per recipient, exactly as the preview said."""

from __future__ import annotations

from typing import Any

import pytest

from smscore.dal.tables import ContactRecord, DispatchRecord, LedgerRecord, MessageRecord
from tests.conftest import Stack
from tests.integration.conftest import Campaign
from tests.integration.test_contacts_api import Client
from tests.integration.test_preview_and_resend import preview, send

FIELDS = "/api/contacts/fields"


def declare(client: Client, *names: str) -> None:
    reply = client.call("PUT", FIELDS, {"fields": [{"name": n} for n in names]})
    assert reply.status == 200, reply.body


@pytest.fixture
def client(contacts_stack: Stack, campaign: Campaign) -> Client:
    return Client(campaign)


def nothing_charged(campaign: Campaign) -> None:
    assert campaign.balance() == 1000
    assert list(DispatchRecord.scan()) == []
    assert list(MessageRecord.scan()) == []


# -- declaring fields ---------------------------------------------------------------------------------------


def test_a_tenant_declares_its_fields_and_reads_them_back(client: Client) -> None:
    # Given no field declared: only the built-in ones
    reply = client.call("GET", FIELDS)
    assert reply.body == {"fields": [], "builtIn": ["name", "nombre"], "maxFields": 20}
    # When it declares ciudad and plan
    declare(client, "ciudad", "plan")
    # Then they are listed in that order
    assert client.call("GET", FIELDS).body["fields"] == [{"name": "ciudad"}, {"name": "plan"}]


@pytest.mark.parametrize(
    "names",
    [["Ciudad"], ["ciudad", "ciudad"], ["nombre"], ["1plan"], ["a-b"], [f"f{i}" for i in range(21)], ["x" * 31]],
    ids=["upper case", "twice", "built in", "digit first", "dash", "21 fields", "31 characters"],
)
def test_bad_declarations_are_400_and_change_nothing(client: Client, names: list[str]) -> None:
    declare(client, "ciudad")
    reply = client.call("PUT", FIELDS, {"fields": [{"name": n} for n in names]})
    assert reply.status == 400
    assert reply.body["code"] == "VALIDATION_ERROR"
    assert client.call("GET", FIELDS).body["fields"] == [{"name": "ciudad"}]


# -- contacts carry them ------------------------------------------------------------------------------------


def test_contacts_carry_declared_fields_and_refuse_others(client: Client) -> None:
    declare(client, "ciudad", "plan")
    # When a contact is created with ciudad
    reply = client.call("POST", "/api/contacts", {"phone": "3001234567", "name": "Ana", "fields": {"ciudad": "Cali"}})
    assert reply.status == 201, reply.body
    assert reply.body["fields"] == {"ciudad": "Cali"}
    contact_id = reply.body["id"]
    # And patched: plan set, ciudad removed
    reply = client.item("PATCH", "/api/contacts", contact_id, {"fields": {"plan": "Oro", "ciudad": None}})
    assert (reply.status, reply.body["fields"]) == (200, {"plan": "Oro"})
    assert client.item("GET", "/api/contacts", contact_id).body["fields"] == {"plan": "Oro"}
    # Then an undeclared field is 400 naming it, and nothing is written
    reply = client.call("POST", "/api/contacts", {"phone": "3001234568", "fields": {"barrio": "Centro"}})
    assert (reply.status, reply.body["code"], reply.body["field"]) == (400, "UNKNOWN_MERGE_FIELD", "barrio")
    assert len(list(ContactRecord.scan())) == 1


def test_an_import_fills_declared_fields_from_extra_columns(client: Client) -> None:
    declare(client, "ciudad")
    # Given a CSV with a declared extra column (any case) and an undeclared one
    csv = "phone,name,tags,Ciudad,color\n3001234567,Ana,vip,Cali,rojo\n3001234568,Beto,vip,,azul\n"
    reply = client.import_csv(csv)
    assert reply.status in (200, 201), reply.body
    # Then the declared column fills the field (a blank cell leaves it unset), the other is ignored
    fields = {c["name"]: c["fields"] for c in client.all_contacts()}
    assert fields == {"Ana": {"ciudad": "Cali"}, "Beto": {}}
    # And importing again with another value updates it
    client.import_csv("phone,name,tags,ciudad\n3001234567,Ana,vip,Medellín\n")
    assert {c["name"]: c["fields"] for c in client.all_contacts()}["Ana"] == {"ciudad": "Medellín"}


# -- sending ------------------------------------------------------------------------------------------------


@pytest.fixture
def people(client: Client) -> tuple[Client, str]:
    """vip: Ana (Cali), Bernardo Antonio (no city), and a contact without a name."""
    declare(client, "ciudad")
    vip = client.create_tag("vip")
    for body in (
        {"phone": "3001234567", "name": "Ana", "fields": {"ciudad": "Cali"}},
        {"phone": "3001234568", "name": "Bernardo Antonio"},
        {"phone": "3001234569"},
    ):
        assert client.call("POST", "/api/contacts", {**body, "tagIds": [vip]}).status == 201
    return client, vip


def test_every_recipient_gets_their_own_text_priced_per_recipient_as_previewed(people: tuple[Client, str]) -> None:
    client, vip = people
    campaign = client.campaign
    # Given a text whose length depends on the name: 1 segment for short names, 2 for the long one
    message = "Hola {nombre|cliente}, " + "x" * 135 + " {ciudad|tu ciudad}"
    body: dict[str, Any] = {
        "message": message,
        "tagIds": [vip],
        "purpose": "transactional",
    }  # sent as written: marketing to CO is framed (sender name + opt-out), test_compliance_text.py
    # When it is previewed
    status, shown = preview(campaign, body)
    assert status == 200, shown
    # Then the preview shows every text, counts who lacks each field, and prices the sum
    texts = {s["recipient"]: s["text"] for s in shown["samples"]}
    assert texts == {
        "+573001234567": "Hola Ana, " + "x" * 135 + " Cali",
        "+573001234568": "Hola Bernardo Antonio, " + "x" * 135 + " tu ciudad",
        "+573001234569": "Hola cliente, " + "x" * 135 + " tu ciudad",
    }
    assert {s["recipient"]: s["segments"] for s in shown["samples"]} == {
        "+573001234567": 1,
        "+573001234568": 2,
        "+573001234569": 1,
    }
    assert shown["mergeFieldsMissing"] == {"nombre": 1, "ciudad": 2}
    assert (shown["creditsRequired"], shown["segments"]) == (4, 2)
    # When it is sent
    status, sent = send(campaign, body)
    # Then the debit is that sum, every stored message keeps its own rendered text, segments and credits
    assert status == 201, sent
    assert campaign.balance() == 1000 - 4
    assert DispatchRecord.get(sent["queueId"]).credits_debited == 4
    stored = {m.recipient: (m.body, int(m.segments), int(m.credits)) for m in MessageRecord.scan()}
    segments = {"+573001234567": 1, "+573001234568": 2, "+573001234569": 1}
    assert stored == {r: (texts[r], n, n) for r, n in segments.items()}
    assert sum(int(e.amount) for e in LedgerRecord.scan() if e.queue_id == sent["queueId"]) == -4


def test_a_field_without_fallback_that_some_lack_is_400_and_the_preview_counts_them(
    people: tuple[Client, str],
) -> None:
    client, vip = people
    body = {"message": "Hola {nombre}, te esperamos en {ciudad}", "tagIds": [vip]}
    # The preview says how many lack each field
    status, shown = preview(client.campaign, body)
    assert status == 200
    assert shown["mergeFieldsMissing"] == {"nombre": 1, "ciudad": 2}
    # The send is refused, naming the first field some lack, and nothing is charged
    status, error = send(client.campaign, body)
    assert status == 400
    assert (error["code"], error["field"], error["recipients"]) == ("MERGE_FIELD_MISSING", "nombre", 1)
    nothing_charged(client.campaign)


def test_an_unknown_field_is_400_naming_it_on_send_and_preview(people: tuple[Client, str]) -> None:
    client, vip = people
    body = {"message": "Hola {nombre|cliente}, tu {barrio}", "tagIds": [vip]}
    for call in (preview, send):
        status, error = call(client.campaign, body)
        assert (status, error["code"], error["field"]) == (400, "UNKNOWN_MERGE_FIELD", "barrio")
    nothing_charged(client.campaign)


def test_a_rendered_text_over_the_provider_limit_skips_that_recipient_uncharged(people: tuple[Client, str]) -> None:
    client, vip = people
    # Given a text that fits the 1,600 characters with "Ana" or "cliente", not with "Bernardo Antonio"
    body = {
        "message": "{nombre|cliente}" + "y" * 1590,
        "tagIds": [vip],
        "purpose": "transactional",
    }  # sent as written: marketing to CO is framed (sender name + opt-out), test_compliance_text.py
    status, shown = preview(client.campaign, body)
    assert (shown["recipients"], shown["skippedTooLong"]) == (2, 1)
    # When it is sent
    status, sent = send(client.campaign, body)
    # Then Bernardo is skipped and not charged; the others pay their own segments
    assert status == 201
    assert sent["skippedTooLong"] == 1
    assert {m["recipient"] for m in sent["messages"]} == {"+573001234567", "+573001234569"}
    assert client.campaign.balance() == 1000 - shown["creditsRequired"]
    assert shown["creditsRequired"] == 11 + 11  # 1,593 and 1,597 GSM-7 characters: 11 segments each


def test_literal_braces_stay_text(stack: Stack, audience: Campaign) -> None:
    literal = {
        "message": "Código {{VIP}} y {50% off}",
        "purpose": "transactional",
    }  # sent as written: marketing to CO is framed (sender name + opt-out), test_compliance_text.py
    status, sent = send(audience, {**literal, "tagIds": [audience.tags["vip"]]})
    assert status == 201
    assert MessageRecord.get(sent["messages"][0]["id"]).body == "Código {VIP} y {50% off}"


def test_nombre_is_read_from_the_memberships_and_follows_renames(people: tuple[Client, str]) -> None:
    """{nombre} alone is rendered from the name each membership carries (no read of the contacts table); a rename
    through the API or an import rewrites those copies, and a membership written before the copy existed still
    gets the contact's name (read from the contact)."""
    from smscore.dal.tables import TagMemberRecord

    client, vip = people
    campaign = client.campaign
    ana = next(c for c in client.all_contacts() if c["name"] == "Ana")
    bernardo = next(c for c in client.all_contacts() if c["name"] == "Bernardo Antonio")
    # Given Ana renamed through the API, Bernardo through an import, and a membership without the copy
    assert client.item("PATCH", "/api/contacts", ana["id"], {"name": "Ana María"}).status == 200
    client.import_csv("phone,name,tags\n3001234568,Berni,vip\n")
    old = TagMemberRecord.get(TagMemberRecord.key_for(campaign.tenant_id, vip), ana["id"])
    assert old.contact_name == "Ana María"
    old.contact_name = None
    old.save()  # as written before the copy existed
    assert TagMemberRecord.get(TagMemberRecord.key_for(campaign.tenant_id, vip), bernardo["id"]).contact_name == (
        "Berni"
    )
    # When a text with {nombre} is sent
    body = {"message": "Hola {nombre|cliente}", "tagIds": [vip], "purpose": "transactional"}
    status, sent = send(campaign, body)
    # Then each recipient gets the current name
    assert status == 201, sent
    assert {m.recipient: m.body for m in MessageRecord.scan() if m.queue_id == sent["queueId"]} == {
        "+573001234567": "Hola Ana María",
        "+573001234568": "Hola Berni",
        "+573001234569": "Hola cliente",
    }
