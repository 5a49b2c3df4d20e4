"""Deleting a tag and merging one into another, through the contacts function (moto).

The case from issue 23: a Windows-1252 file imported before encodings were detected left a garbled tag
"Clientes sÃ¡bado" beside the real "Clientes sábado"; renaming it was refused (TAG_EXISTS). Merging moves its
contacts to the real tag and deletes it; deleting a tag keeps each contact's other tags.
"""

from __future__ import annotations

from typing import Any

import pytest

from smscore.dal.tables import TagRecord
from smsdev.admin_store import DynamoAdminStore
from tests.conftest import Stack
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.test_contacts_api import Client, Reply, memberships


@pytest.fixture
def client(contacts_stack: Stack, campaign: Campaign) -> Client:
    return Client(campaign)


@pytest.fixture
def other(contacts_stack: Stack, admin: DynamoAdminStore) -> Client:
    return Client(make_campaign(admin, country="CO"))


def merge(client: Client, tag_id: str, into: Any) -> Reply:
    return client.call(
        "POST",
        f"/api/tags/{tag_id}/merge",
        {"into": into},
        resource="/api/tags/{tagId}/merge",
        path_parameters={"tagId": tag_id},
    )


def tags_of(client: Client) -> dict[str, set[str]]:
    """phone -> the names of its tags."""
    names = {t["id"]: n for n, t in client.tags().items()}
    page = client.call("GET", "/api/contacts", query={"limit": "100"}).body["items"]
    return {c["phone"]: {names[t] for t in c["tagIds"]} for c in page}


@pytest.fixture
def garbled(client: Client) -> dict[str, str]:
    real, bad, vip = (
        client.create_tag("Clientes sábado"),
        client.create_tag("Clientes sÃ¡bado"),
        client.create_tag("vip"),
    )
    client.create_contact("3001234567", real, name="Ana")
    client.create_contact("3105550101", bad, vip, name="Andrés")
    client.create_contact("3152223344", bad, real, name="Carla")
    return {"real": real, "bad": bad, "vip": vip}


def test_renaming_the_garbled_tag_to_the_real_name_is_refused_but_merging_it_works(
    client: Client, garbled: dict[str, str]
) -> None:
    # Given the rename the coordinator tried first is refused
    renamed = client.item("PATCH", "/api/tags", garbled["bad"], {"name": "Clientes sábado"})
    assert (renamed.status, renamed.body["code"]) == (409, "TAG_EXISTS")

    # When the garbled tag is merged into the real one
    reply = merge(client, garbled["bad"], garbled["real"])

    # Then its two contacts carry the real tag (once, for Carla who had both), keep their other tags, and it is gone
    assert reply.status == 200, reply.body
    assert (reply.body["moved"], reply.body["into"]["id"], reply.body["into"]["contactCount"]) == (
        2,
        garbled["real"],
        3,
    )
    assert tags_of(client) == {
        "+573001234567": {"Clientes sábado"},
        "+573105550101": {"Clientes sábado", "vip"},
        "+573152223344": {"Clientes sábado"},
    }
    assert sorted(client.tags()) == ["Clientes sábado", "vip"]
    assert client.item("GET", "/api/tags", garbled["bad"]).status == 404
    # And the send path's memberships of the real tag hold all three, none of the old tag's remain
    assert len(memberships(client.campaign.tenant_id, garbled["real"])) == 3
    assert memberships(client.campaign.tenant_id, garbled["bad"]) == {}


def test_a_deleted_tag_leaves_each_contact_its_other_tags(client: Client, garbled: dict[str, str]) -> None:
    reply = client.item("DELETE", "/api/tags", garbled["bad"])

    assert reply.status == 204
    assert tags_of(client) == {
        "+573001234567": {"Clientes sábado"},
        "+573105550101": {"vip"},
        "+573152223344": {"Clientes sábado"},
    }
    assert sorted(t.name for t in TagRecord.query(client.campaign.tenant_id)) == ["Clientes sábado", "vip"]


@pytest.mark.parametrize(
    ("into", "status", "code"),
    [("self", 400, "VALIDATION_ERROR"), ("missing", 404, "NOT_FOUND"), ("not-a-uuid", 400, "VALIDATION_ERROR")],
)
def test_a_merge_into_itself_a_missing_tag_or_no_id_is_refused_and_changes_nothing(
    client: Client, garbled: dict[str, str], into: str, status: int, code: str
) -> None:
    target = {"self": garbled["bad"], "missing": "0b0e3a3e-94a0-4f43-9c1b-9d0b1d7d0a11"}.get(into, into)
    before = tags_of(client)

    reply = merge(client, garbled["bad"], target)

    assert (reply.status, reply.body["code"]) == (status, code)
    assert tags_of(client) == before
    assert client.tags()["Clientes sÃ¡bado"]["contactCount"] == 2


def test_another_tenants_tag_cannot_be_merged_into(client: Client, garbled: dict[str, str], other: Client) -> None:
    theirs = other.create_tag("suyos")

    reply = merge(client, garbled["bad"], theirs)

    assert (reply.status, reply.body["code"]) == (404, "NOT_FOUND")
    assert client.tags()["Clientes sÃ¡bado"]["contactCount"] == 2
