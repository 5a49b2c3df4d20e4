"""End-to-end over HTTP: tags, contacts, imports and the campaign list as `make dev` serves them."""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass

import pytest

from smsdev.admin_store import DynamoAdminStore
from smsdev.seed import DEMO_CONTACTS
from tests.e2e.conftest import ApiResponse, LocalStackProcess

pytestmark = pytest.mark.e2e

CSV = (
    "phone,name,tags\n"
    "3001234567,Ana,vip;buyers\n"
    "+57 310 555 0101,Bruno,vip\n"
    "12345,Bad number,vip\n"
    "315 222 3344,Camila,\n"
    "3001234567,Ana,news\n"
)


@dataclass
class Member:
    stack: LocalStackProcess
    token: str

    def call(self, method: str, path: str, body: object = None, content_type: str | None = None) -> ApiResponse:
        headers = {"Content-Type": content_type} if content_type else None
        return self.stack.call(method, path, token=self.token, body=body, headers=headers)

    def contacts(self) -> list[dict[str, object]]:
        items: list[dict[str, object]] = []
        path = "/api/contacts?limit=100"
        while True:
            page = self.call("GET", path)
            assert page.status == 200, page.body
            items += page.body["items"]
            if page.body["nextCursor"] is None:
                return items
            path = f"/api/contacts?limit=100&cursor={page.body['nextCursor']}"


@pytest.fixture
def member(local_stack: LocalStackProcess, admin: DynamoAdminStore) -> Member:
    """A fresh tenant (so no other test's campaigns or contacts show up) and a member who accepted the terms."""
    tenant_id = admin.create_tenant("Contacts Co", credits=100, default_country="CO")
    created = admin.create_member(tenant_id, f"owner-{tenant_id[:8]}@contacts.test", accept_terms=True)
    return Member(local_stack, created.token.token)


def test_a_tag_and_two_contacts_made_over_the_api_receive_a_campaign_listed_first(member: Member) -> None:
    # Given a tag and two contacts created over the API
    tag = member.call("POST", "/api/tags", {"name": "Launch"})
    assert tag.status == 201, tag.body
    tag_id = tag.body["id"]
    for phone in ("3001234567", "+57 310 555 0101"):
        created = member.call("POST", "/api/contacts", {"phone": phone, "tagIds": [tag_id]})
        assert created.status == 201, created.body
    assert member.call("GET", f"/api/tags/{tag_id}").body["contactCount"] == 2

    # When a campaign is sent to the tag
    sent = member.call("POST", "/api/messages/sms/tags", {"message": "We launched!", "tagIds": [tag_id]})
    assert sent.status == 201, sent.body
    assert sorted(m["recipient"] for m in sent.body["messages"]) == ["+573001234567", "+573105550101"]

    # Then it is the first campaign listed, with its counts, credits and tags
    listed = member.call("GET", "/api/messages/queues")
    assert listed.status == 200, listed.body
    top = listed.body["items"][0]
    assert (top["queueId"], top["tagIds"], top["totalMessages"]) == (sent.body["queueId"], [tag_id], 2)
    assert sum(top["counts"].values()) == 2
    assert top["creditsDebited"] == 2
    credits = member.call("GET", "/api/credits").body
    assert credits["balance"] == 98
    assert [(e["kind"], e["amount"]) for e in credits["entries"]] == [("DEBIT", -2), ("TOPUP", 100)]


def test_importing_the_same_csv_twice_over_the_api_leaves_the_same_contacts(member: Member) -> None:
    # When the same file is imported twice
    first = member.call("POST", "/api/contacts/imports", CSV.encode(), content_type="text/csv")
    after_first = member.contacts()
    second = member.call("POST", "/api/contacts/imports", CSV.encode(), content_type="text/csv")

    # Then both jobs completed, the second created nothing, and the contacts are the same
    assert first.status == second.status == 201, (first.body, second.body)
    assert (first.body["created"], first.body["rejected"]) == (3, 1)
    assert first.body["rejectedRows"] == [
        {
            "line": 4,
            "reason": "phone is not a valid number in CO",
            "content": "12345,Bad number,vip",
            "code": "PHONE_INVALID",
        }
    ]
    assert (second.body["created"], second.body["unchanged"]) == (0, 3)
    assert len(after_first) == 3
    assert sorted(member.contacts(), key=str) == sorted(after_first, key=str)
    job = member.call("GET", f"/api/contacts/imports/{second.body['id']}")
    assert (job.status, job.body["status"]) == (200, "COMPLETED")


def test_a_large_file_is_uploaded_to_the_presigned_url_and_imported_on_arrival(member: Member) -> None:
    # Given an upload started over the API
    started = member.call("POST", "/api/contacts/imports/uploads")
    assert started.status == 201, started.body
    job_id = started.body["job"]["id"]

    # When the file is PUT to the presigned URL
    rows = "".join(f"3{n:09d},Person {n},bulk\n" for n in range(1_000_000, 1_000_500))
    request = urllib.request.Request(
        started.body["uploadUrl"],
        data=("phone,name,tags\n" + rows).encode(),
        method="PUT",
        headers={"Content-Type": "text/csv"},  # urllib would send a form type, which the emulator parses away
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200

    # Then the import function picks it up and the job completes with every row
    deadline = time.monotonic() + 120
    job = member.call("GET", f"/api/contacts/imports/{job_id}").body
    while job["status"] in ("AWAITING_UPLOAD", "PROCESSING") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = member.call("GET", f"/api/contacts/imports/{job_id}").body
    assert (job["status"], job["imported"], job["created"]) == ("COMPLETED", 500, 500), job["error"]
    tags = {t["name"]: t for t in member.call("GET", "/api/tags").body["items"]}
    assert tags["bulk"]["contactCount"] == 500


def test_a_member_who_has_not_accepted_the_terms_reads_but_cannot_write(local_stack: LocalStackProcess) -> None:
    pending = local_stack.seed["pending"]["token"]

    listed = local_stack.call("GET", "/api/tags", token=pending)
    created = local_stack.call("POST", "/api/tags", token=pending, body={"name": "nope"})

    assert listed.status == 200
    assert {t["name"] for t in listed.body["items"]} >= {"vip", "buyers", "newsletter"}
    assert (created.status, created.body["code"]) == (403, "TERMS_NOT_ACCEPTED")


@pytest.mark.local_only
def test_make_dev_prints_how_to_list_the_tags_and_it_works(local_stack: LocalStackProcess) -> None:
    # Given what `make dev` printed
    token = local_stack.seed["accepted"]["token"]
    command = f"curl -sS {local_stack.api_url}/api/tags -H 'Authorization: Bearer {token}'"
    assert command in local_stack.summary

    # When that request is made, Then it lists the seed's tags with their contact counts
    listed = local_stack.call("GET", "/api/tags", token=token)
    counts = {t["name"]: t["contactCount"] for t in listed.body["items"]}
    expected = {name: sum(name in c.tags for c in DEMO_CONTACTS) for name in ("vip", "buyers", "newsletter")}
    assert {name: counts[name] for name in expected} == expected == {"vip": 8, "buyers": 8, "newsletter": 8}
