"""Server-side contact search (GET /api/contacts?q=) over the search index (moto): accents, case, the prefix of
any word of the name, the number's digits, paging past the first page, renames and deletes, tenant isolation.
The index is read with Query + begins_with: a Scan of the contacts table is never made."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.models import Model

from smsdev.admin_store import DynamoAdminStore
from tests.conftest import Stack
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.test_contacts_api import Client


@pytest.fixture
def client(contacts_stack: Stack, campaign: Campaign) -> Client:
    return Client(campaign)


@pytest.fixture
def other(contacts_stack: Stack, admin: DynamoAdminStore) -> Client:
    return Client(make_campaign(admin, country="CO"))


def names(client: Client, **query: str) -> list[str]:
    return sorted(c["name"] for c in client.all_contacts(**query))


@pytest.fixture
def book(client: Client) -> dict[str, Any]:
    vip = client.create_tag("vip")
    people = {
        "andres": client.create_contact("3152223344", vip, name="Andrés Muñoz"),
        "ana": client.create_contact("3001234567", name="Ana María Gómez"),
        "anibal": client.create_contact("3105550101", vip, name="ANÍBAL Ruiz"),
        "sofia": client.create_contact("3209998877", name="Sofía Andrade"),
    }
    return {"vip": vip, **people}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("andres", ["Andrés Muñoz"]),  # without the accent
        ("ANDRÉS", ["Andrés Muñoz"]),  # any case
        ("muñ", ["Andrés Muñoz"]),  # the prefix of the second word
        ("munoz", ["Andrés Muñoz"]),
        ("andr", ["Andrés Muñoz", "Sofía Andrade"]),  # a first name and a surname
        ("an", ["ANÍBAL Ruiz", "Ana María Gómez", "Andrés Muñoz", "Sofía Andrade"]),
        ("ana gom", ["Ana María Gómez"]),  # every word must match
        ("maria", ["Ana María Gómez"]),
        ("315 222", ["Andrés Muñoz"]),  # the national number's digits
        ("+57 320", ["Sofía Andrade"]),  # the international ones
        ("ruizz", []),
    ],
)
def test_a_query_finds_by_any_words_prefix_without_accents_or_case(
    client: Client, book: dict[str, Any], q: str, expected: list[str]
) -> None:
    assert names(client, q=q) == expected


def test_search_and_a_tag_together(client: Client, book: dict[str, Any]) -> None:
    assert names(client, q="an", tagId=book["vip"]) == ["ANÍBAL Ruiz", "Andrés Muñoz"]


def test_a_one_letter_query_is_400(client: Client, book: dict[str, Any]) -> None:
    reply = client.call("GET", "/api/contacts", query={"q": "a"})
    assert (reply.status, reply.body["code"]) == (400, "VALIDATION_ERROR")
    assert reply.body["details"] == [{"field": "q", "message": "write at least 2 letters or digits"}]


def test_pages_past_the_first_find_everyone_once(client: Client) -> None:
    # Given 30 people named Andrés among 30 others (more than a page of 25)
    for n in range(30):
        client.create_contact(f"300{n:07d}", name=f"Andrés Cliente {n}")
        client.create_contact(f"301{n:07d}", name=f"Beatriz Otra {n}")

    # When "andres" is searched page by page (limit 7)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        reply = client.call(
            "GET", "/api/contacts", query={"q": "andres", "limit": "7", **({"cursor": cursor} if cursor else {})}
        )
        assert reply.status == 200, reply.body
        assert len(reply.body["items"]) <= 7
        seen += [c["name"] for c in reply.body["items"]]
        pages += 1
        cursor = reply.body["nextCursor"]
        if cursor is None:
            break

    # Then every Andrés is found exactly once, over 5 pages, and nobody else
    assert sorted(seen) == sorted(f"Andrés Cliente {n}" for n in range(30))
    assert pages == 5


def test_a_rename_and_a_delete_move_the_index_with_the_contact(client: Client, book: dict[str, Any]) -> None:
    client.item("PATCH", "/api/contacts", book["andres"]["id"], {"name": "Andrea Muñoz"})
    client.item("DELETE", "/api/contacts", book["sofia"]["id"])

    assert names(client, q="andres") == []
    assert names(client, q="andrea") == ["Andrea Muñoz"]
    assert names(client, q="andr") == ["Andrea Muñoz"]
    assert names(client, q="320") == []


def test_an_import_indexes_its_contacts(client: Client) -> None:
    csv = "telefono;nombre;etiquetas\n3001112233;José Núñez;vip\n3004445566;Luz Peña;vip\n"
    assert client.import_csv(csv.encode("cp1252")).status == 201

    assert names(client, q="jose") == ["José Núñez"]
    assert names(client, q="nunez") == ["José Núñez"]
    assert names(client, q="pena") == ["Luz Peña"]


def test_another_tenants_contacts_are_never_found(client: Client, other: Client, book: dict[str, Any]) -> None:
    other.create_contact("3159990000", name="Andrés Ajeno")

    assert names(client, q="andres") == ["Andrés Muñoz"]
    assert names(other, q="andres") == ["Andrés Ajeno"]
    # and a cursor of one tenant's search is refused by another's
    for n in range(3):
        other.create_contact(f"316000000{n}", name=f"Andrés Otro {n}")
    cursor = other.call("GET", "/api/contacts", query={"q": "andres", "limit": "1"}).body["nextCursor"]
    reply = client.call("GET", "/api/contacts", query={"q": "andres", "limit": "1", "cursor": cursor})
    assert reply.status == 400


def test_searching_never_scans(client: Client, book: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a search must not Scan")

    monkeypatch.setattr(Model, "scan", classmethod(no_scan))
    assert names(client, q="andres") == ["Andrés Muñoz"]
