"""An error names the field the client actually sent, whichever path inside the API refused it."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Stack
from tests.integration.conftest import Campaign
from tests.integration.test_contacts_api import Client


@pytest.fixture
def client(contacts_stack: Stack, campaign: Campaign) -> Client:
    return Client(campaign)


def test_put_contacts_with_an_unknown_tag_names_tag_ids_for_a_new_and_an_existing_contact(client: Client) -> None:
    unknown = str(uuid.uuid4())
    # A new number: created with its tags
    created = client.call("PUT", "/api/contacts", {"phone": "3001234567", "tagIds": [unknown]})
    assert (created.status, created.body["code"]) == (404, "NOT_FOUND")
    assert [d["field"] for d in created.body["details"]] == ["tagIds"]
    # A known number: merged, its tags added; the client still sent `tagIds`, not the PATCH's `addTagIds`
    assert client.call("PUT", "/api/contacts", {"phone": "3001234567"}).status == 201
    merged = client.call("PUT", "/api/contacts", {"phone": "3001234567", "tagIds": [unknown]})
    assert (merged.status, merged.body["code"]) == (404, "NOT_FOUND")
    assert [d["field"] for d in merged.body["details"]] == ["tagIds"]
    assert "addTagIds" not in merged.body["message"]
    assert "tagIds" in merged.body["message"]
