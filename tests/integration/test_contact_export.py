"""GET /api/contacts/{contactId}/export on moto: what the tenant holds about one person (issue 22, item 7)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from smscore import wiring
from smscore.dal.tables import MessageRecord
from smscore.domain.ports import ConsentChange
from tests.conftest import Stack
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.test_contacts_api import Client, Reply
from tests.integration.test_preview_and_resend import SEND, call, end_as


def export(client: Client, contact_id: str) -> Reply:
    return client.call(
        "GET",
        f"/api/contacts/{contact_id}/export",
        resource="/api/contacts/{contactId}/export",
        path_parameters={"contactId": contact_id},
    )


@pytest.fixture
def client(contacts_stack: Stack, audience: Campaign) -> Client:
    return Client(audience)


def test_the_export_holds_the_contact_its_tags_its_opt_outs_and_every_message_to_its_number(
    client: Client, audience: Campaign
) -> None:
    # Given Ana (vip and buyers), a marketing and a transactional message to her number, and a STOP she replied
    ana = next(
        c for c in client.call("GET", "/api/contacts", query={"limit": "100"}).body["items"] if c["name"] == "Ana"
    )
    first = call(audience, SEND, {"message": "Oferta", "tagIds": [audience.tags["vip"]]})[1]
    second = call(
        audience, SEND, {"message": "Tu pedido", "tagIds": [audience.tags["vip"]], "purpose": "transactional"}
    )[1]
    sender = wiring.campaign_limits(wiring.bound_settings()).sender_for("sandbox")
    stop = ConsentChange(
        number=ana["phone"], sender=sender, opted_out=True, keyword="STOP", at=datetime.now(UTC), provider="sandbox"
    )
    assert wiring.suppression_list().record(stop)

    # When the tenant exports her data
    reply = export(client, ana["id"])

    # Then the document holds her contact (with the consent every send applies), her tags by name, the opt-out,
    # and both messages to her number, newest first, with their texts and histories
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    assert (body["contact"]["id"], body["contact"]["phone"], body["contact"]["consent"]["state"]) == (
        ana["id"],
        "+573001234567",
        "OPTED_OUT",
    )
    assert sorted(t["name"] for t in body["tags"]) == ["buyers", "vip"]
    assert [(o["reason"], o["keyword"]) for o in body["optOuts"]] == [("KEYWORD", "STOP")]
    sent_to_her = {m["id"] for m in first["messages"] + second["messages"] if m["recipient"] == "+573001234567"}
    assert {m["id"] for m in body["messages"]} == sent_to_her
    created = [m["createdAt"] for m in body["messages"]]
    assert created == sorted(created, reverse=True)
    assert {m["body"] for m in body["messages"]} == {"Acme: Oferta\nResponde SALIR para no recibir mas", "Tu pedido"}
    assert {m["purpose"] for m in body["messages"]} == {"marketing", "transactional"}
    assert all(m["history"][0]["status"] == "QUEUED" for m in body["messages"])


def test_another_tenants_contact_is_not_found(contacts_stack: Stack, audience: Campaign, admin: Any) -> None:
    ana = next(c for c in Client(audience).call("GET", "/api/contacts").body["items"] if c["name"] == "Ana")
    other = Client(make_campaign(admin))
    reply = export(other, ana["id"])
    assert (reply.status, reply.body["code"]) == (404, "NOT_FOUND")


def test_erase_deletes_the_contact_and_masks_its_number_in_finished_messages(
    client: Client, audience: Campaign
) -> None:
    # Given two campaigns to Ana's number: the first delivered, the second still queued
    ana = next(c for c in client.call("GET", "/api/contacts").body["items"] if c["name"] == "Ana")
    first = call(audience, SEND, {"message": "Oferta", "tagIds": [audience.tags["vip"]]})[1]
    second = call(audience, SEND, {"message": "Hoy", "tagIds": [audience.tags["vip"]], "purpose": "transactional"})[1]
    delivered = next(m["id"] for m in first["messages"] if m["recipient"] == ana["phone"])
    queued = next(m["id"] for m in second["messages"] if m["recipient"] == ana["phone"])
    end_as(delivered, "DELIVERED", None, None)
    balance = audience.balance()

    # When the tenant erases her
    reply = client.call(
        "DELETE",
        f"/api/contacts/{ana['id']}",
        query={"erase": "true"},
        resource="/api/contacts/{contactId}",
        path_parameters={"contactId": ana["id"]},
    )

    # Then the contact is gone, the delivered message no longer shows her number nor is found by it, the queued one
    # keeps it (delivery needs it), and the money is untouched
    assert reply.status == 204
    assert export(client, ana["id"]).status == 404
    assert MessageRecord.get(delivered).recipient == "+********4567"
    assert MessageRecord.get(delivered).tenant_recipient is None
    assert MessageRecord.get(queued).recipient == ana["phone"]
    key = MessageRecord.recipient_key(audience.tenant_id, ana["phone"])
    assert [m.message_id for m in MessageRecord.by_recipient.query(key)] == [queued]
    assert audience.balance() == balance == audience.ledger_sum()


def test_a_plain_delete_keeps_the_message_history(client: Client, audience: Campaign) -> None:
    ana = next(c for c in client.call("GET", "/api/contacts").body["items"] if c["name"] == "Ana")
    sent = call(audience, SEND, {"message": "Oferta", "tagIds": [audience.tags["vip"]]})[1]
    mine = next(m["id"] for m in sent["messages"] if m["recipient"] == ana["phone"])
    end_as(mine, "DELIVERED", None, None)
    assert client.item("DELETE", "/api/contacts", ana["id"]).status == 204
    assert MessageRecord.get(mine).recipient == ana["phone"]
