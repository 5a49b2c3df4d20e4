"""/api/templates on moto: a tenant saves, lists, changes and deletes messages; another tenant sees none of them;
a campaign sent from one records it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from smscore.dal.tables import DispatchRecord, TemplateRecord
from smsdev.admin_store import DynamoAdminStore
from tests.conftest import Stack
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.test_contacts_api import Client
from tests.integration.test_preview_and_resend import queue_status, send

PROMO = {"name": "Promo sábado", "text": "Hola {nombre|cliente}: 2x1 este sábado", "encoding": "gsm-transliterate"}


@pytest.fixture
def client(contacts_stack: Stack, campaign: Campaign) -> Client:
    return Client(campaign)


def item(client: Client, method: str, template_id: str, body: Any = None) -> Any:
    return client.call(
        method,
        f"/api/templates/{template_id}",
        body,
        resource="/api/templates/{templateId}",
        path_parameters={"templateId": template_id},
    )


def test_a_template_is_saved_listed_changed_and_deleted(client: Client) -> None:
    # When a template is saved
    reply = client.call("POST", "/api/templates", PROMO)
    # Then it is answered with its id and defaults, and stored
    assert reply.status == 201, reply.body
    saved = reply.body
    assert {k: saved[k] for k in ("name", "text", "purpose", "encoding")} == {**PROMO, "purpose": "marketing"}
    assert item(client, "GET", saved["id"]).body == saved
    client.call("POST", "/api/templates", {"name": "aviso", "text": "Su pedido llegó", "purpose": "transactional"})
    # And the list has both, by name regardless of case
    assert [t["name"] for t in client.call("GET", "/api/templates").body["items"]] == ["aviso", "Promo sábado"]
    # When it is replaced
    reply = item(client, "PUT", saved["id"], {"name": "Promo domingo", "text": "Domingo: 3x2"})
    assert reply.status == 200
    assert (reply.body["text"], reply.body["encoding"], reply.body["createdAt"]) == (
        "Domingo: 3x2",
        "auto",
        saved["createdAt"],
    )
    # When it is deleted, it is gone, and a second delete is 404
    assert item(client, "DELETE", saved["id"]).status == 204
    assert item(client, "GET", saved["id"]).status == 404
    assert item(client, "DELETE", saved["id"]).status == 404
    assert [t["name"] for t in client.call("GET", "/api/templates").body["items"]] == ["aviso"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": " ", "text": "Hola"},
        {"name": "x", "text": "\u200b"},
        {"name": "x", "text": "Hola\x07"},
        {"name": "x", "text": "Hola", "purpose": "spam"},
        {"name": "x", "text": "Hola", "encoding": "latin1"},
        {"name": "x" * 101, "text": "Hola"},
        {"name": "x", "text": "y" * 1601},
        {"name": "x"},
        {"name": "x", "text": "Hola", "tagIds": []},
    ],
    ids=[
        "blank name",
        "invisible text",
        "control",
        "purpose",
        "encoding",
        "long name",
        "long text",
        "no text",
        "extra",
    ],
)
def test_bad_templates_are_400_and_store_nothing(client: Client, body: dict[str, Any]) -> None:
    reply = client.call("POST", "/api/templates", body)
    assert reply.status == 400, reply.body
    assert reply.body["code"] == "VALIDATION_ERROR"
    assert list(TemplateRecord.scan()) == []


def test_another_tenants_template_is_not_found(client: Client, admin: DynamoAdminStore) -> None:
    saved = client.call("POST", "/api/templates", PROMO).body
    other = Client(make_campaign(admin))
    assert other.call("GET", "/api/templates").body == {"items": []}
    for method, body in (("GET", None), ("PUT", PROMO), ("DELETE", None)):
        assert item(other, method, saved["id"], body).status == 404
    assert item(client, "GET", saved["id"]).body == saved


def test_a_tenant_keeps_at_most_100_templates(client: Client) -> None:
    for n in range(100):
        TemplateRecord(
            client.campaign.tenant_id,
            str(uuid.uuid4()),
            name=f"t{n}",
            text="Hola",
            purpose="marketing",
            encoding="auto",
            created_at=datetime.now(UTC),
            updated_at=datetime.now(UTC),
        ).save()
    reply = client.call("POST", "/api/templates", PROMO)
    assert (reply.status, reply.body["details"][0]["field"]) == (400, "templates")
    assert TemplateRecord.count(client.campaign.tenant_id) == 100


def test_a_campaign_records_the_template_it_came_from(client: Client) -> None:
    campaign = client.campaign
    saved = client.call("POST", "/api/templates", PROMO).body
    campaign.add("3001234567", "vip", name="Ana")
    # When compose sends the template's text with its id
    status, sent = send(
        campaign,
        {"message": saved["text"], "tagIds": [campaign.tags["vip"]], "templateId": saved["id"], "encoding": "auto"},
    )
    # Then the campaign records it, and shows it
    assert status == 201, sent
    assert DispatchRecord.get(sent["queueId"]).template_id == saved["id"]
    assert queue_status(campaign, sent["queueId"])["templateId"] == saved["id"]
    # And a campaign sent without one records none
    status, plain = send(campaign, {"message": "Hola", "tagIds": [campaign.tags["vip"]]})
    assert queue_status(campaign, plain["queueId"])["templateId"] is None
