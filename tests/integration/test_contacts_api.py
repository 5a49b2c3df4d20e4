"""Tags, contacts, imports, the campaign list and credits through the real contacts handler on moto."""

from __future__ import annotations

import base64
import copy
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from functions.contacts import app as contacts_app
from functions.send_by_tags import app as send_app
from smscore.dal.campaign_store import DynamoCampaignStore
from smscore.dal.tables import ContactRecord, TagMemberRecord, TagRecord
from smsdev.admin_store import DynamoAdminStore
from smsdev.provision import function_environment
from tests.conftest import LambdaContextStub, Stack, api_event, load_event
from tests.integration.conftest import Campaign, make_campaign


@dataclass
class Reply:
    status: int
    body: Any


@dataclass
class Client:
    """One tenant's member calling the contacts function as API Gateway would (authorizer context set)."""

    campaign: Campaign

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        resource: str | None = None,
        path_parameters: dict[str, str] | None = None,
    ) -> Reply:
        event = copy.deepcopy(load_event("apigw_send_by_tags.json"))
        if isinstance(body, bytes):  # raw bytes: as API Gateway passes a binary media type, base64-encoded
            event["isBase64Encoded"], body = True, base64.b64encode(body).decode()
        event.update(
            httpMethod=method,
            path=path,
            resource=resource or path,
            body=None if body is None else (body if isinstance(body, str) else json.dumps(body)),
            queryStringParameters=query or None,
            multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
            pathParameters=path_parameters,
        )
        event["headers"]["Content-Type"] = content_type
        event["multiValueHeaders"]["Content-Type"] = [content_type]
        event["headers"]["Authorization"] = f"Bearer {self.campaign.token}"
        event["multiValueHeaders"]["Authorization"] = [f"Bearer {self.campaign.token}"]
        event["requestContext"]["httpMethod"] = method
        event["requestContext"]["resourcePath"] = resource or path
        event["requestContext"]["authorizer"].update(
            tenantId=self.campaign.tenant_id, memberId=self.campaign.member_id, principalId=self.campaign.member_id
        )
        response = contacts_app.lambda_handler(event, LambdaContextStub())
        raw = response.get("body")
        return Reply(response["statusCode"], json.loads(raw) if raw else None)

    # routes with a path parameter: API Gateway passes the template's resource and the parameter
    def item(self, method: str, collection: str, item_id: str, body: Any = None) -> Reply:
        name = {"/api/tags": "tagId", "/api/contacts": "contactId", "/api/contacts/imports": "jobId"}[collection]
        return self.call(
            method,
            f"{collection}/{item_id}",
            body,
            resource=f"{collection}/{{{name}}}",
            path_parameters={name: item_id},
        )

    def create_tag(self, name: str) -> str:
        reply = self.call("POST", "/api/tags", {"name": name})
        assert reply.status == 201, reply.body
        tag_id: str = reply.body["id"]
        return tag_id

    def create_contact(self, phone: str, *tag_ids: str, name: str | None = None) -> dict[str, Any]:
        reply = self.call("POST", "/api/contacts", {"phone": phone, "name": name, "tagIds": list(tag_ids)})
        assert reply.status == 201, reply.body
        contact: dict[str, Any] = reply.body
        return contact

    def tags(self) -> dict[str, dict[str, Any]]:
        reply = self.call("GET", "/api/tags", query={"limit": "100"})
        assert reply.status == 200, reply.body
        return {tag["name"]: tag for tag in reply.body["items"]}

    def import_csv(self, text: str | bytes) -> Reply:
        return self.call("POST", "/api/contacts/imports", text, content_type="text/csv")

    def all_contacts(self, **query: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.call("GET", "/api/contacts", query={**query, **({"cursor": cursor} if cursor else {})})
            assert page.status == 200, page.body
            items += page.body["items"]
            cursor = page.body["nextCursor"]
            if cursor is None:
                return items


def land_upload(client: Client, stack: Stack, job_id: str, data: bytes) -> dict[str, Any]:
    """The file of an upload lands in the imports bucket: S3's Object Created event (via EventBridge) for it."""
    bucket = function_environment(stack.names, "ContactsFunction")["IMPORTS_BUCKET"]
    key = f"uploads/{client.campaign.tenant_id}/{job_id}.csv"
    boto3.client("s3", region_name=stack.names.region).put_object(Bucket=bucket, Key=key, Body=data)
    event = copy.deepcopy(load_event("eventbridge_s3_object_created.json"))
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    return event


@pytest.fixture
def client(contacts_stack: Stack, campaign: Campaign) -> Client:
    return Client(campaign)


@pytest.fixture
def other(contacts_stack: Stack, admin: DynamoAdminStore) -> Client:
    return Client(make_campaign(admin, country="CO"))


def memberships(tenant_id: str, tag_id: str) -> dict[str, bool]:
    """contact id -> opted-out copy, as the send path reads them."""
    return {m.contact_id: bool(m.opted_out) for m in TagMemberRecord.query(TagMemberRecord.key_for(tenant_id, tag_id))}


def stored_count(tenant_id: str, tag_id: str) -> int:
    return int(TagRecord.get(tenant_id, tag_id).contact_count)


def race(times: int, work: Any) -> list[Reply]:
    """`times` threads released together, each calling `work()`."""
    barrier = threading.Barrier(times)
    replies: list[Reply] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        reply = work()
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies


class TestTags:
    def test_create_list_rename_and_counts(self, client: Client) -> None:
        # Given a tag with two contacts
        vip = client.create_tag("VIP")
        client.create_contact("3001234567", vip)
        client.create_contact("+57 310 555 0101", vip)

        # When the tags are listed
        tags = client.tags()

        # Then the tag carries its count, kept on the item (no scan)
        assert tags["VIP"]["contactCount"] == 2
        assert stored_count(client.campaign.tenant_id, vip) == 2

        # When it is renamed
        renamed = client.item("PATCH", "/api/tags", vip, {"name": "Gold"})

        # Then the new name is served and the old one is free again
        assert renamed.status == 200
        assert renamed.body == {**tags["VIP"], "name": "Gold"}
        assert client.call("POST", "/api/tags", {"name": "vip"}).status == 201

    def test_a_duplicate_name_in_any_case_is_409_with_the_existing_id(self, client: Client) -> None:
        vip = client.create_tag("VIP")

        reply = client.call("POST", "/api/tags", {"name": " vip "})

        assert reply.status == 409
        assert reply.body["code"] == "TAG_EXISTS"
        assert reply.body["tagId"] == vip
        assert list(client.tags()) == ["VIP"]

    def test_renaming_onto_another_tags_name_is_409(self, client: Client) -> None:
        vip = client.create_tag("vip")
        news = client.create_tag("news")

        reply = client.item("PATCH", "/api/tags", news, {"name": "VIP"})

        assert (reply.status, reply.body["code"], reply.body["tagId"]) == (409, "TAG_EXISTS", vip)
        assert set(client.tags()) == {"vip", "news"}

    def test_a_blank_or_separator_name_is_400_and_nothing_is_written(self, client: Client) -> None:
        for name in ("   ", "a;b", "x" * 101):
            reply = client.call("POST", "/api/tags", {"name": name})
            assert reply.status == 400, name
            assert reply.body["code"] == "VALIDATION_ERROR"
        assert client.tags() == {}

    def test_delete_removes_memberships_and_the_id_from_contacts(self, client: Client) -> None:
        # Given a contact carrying two tags
        vip, news = client.create_tag("vip"), client.create_tag("news")
        contact = client.create_contact("3001234567", vip, news)

        # When one tag is deleted
        reply = client.item("DELETE", "/api/tags", vip)

        # Then it is gone with its memberships; the contact keeps the other tag
        assert reply.status == 204
        assert client.item("GET", "/api/tags", vip).status == 404
        assert memberships(client.campaign.tenant_id, vip) == {}
        assert client.item("GET", "/api/contacts", contact["id"]).body["tagIds"] == [news]
        assert client.tags()["news"]["contactCount"] == 1

    def test_sixteen_concurrent_creates_of_one_name_give_exactly_one_tag(self, client: Client) -> None:
        # When 16 requests create the same name (different cases) at once
        names = [("Promo", "promo", "PROMO", "pRoMo")[i % 4] for i in range(16)]
        names_iter = iter(names)
        lock = threading.Lock()

        def create() -> Reply:
            with lock:
                name = next(names_iter)
            return client.call("POST", "/api/tags", {"name": name})

        replies = race(16, create)

        # Then exactly one is created and the 15 others name it
        created = [r for r in replies if r.status == 201]
        assert len(created) == 1
        winner = created[0].body["id"]
        assert sorted((r.status, r.body.get("tagId")) for r in replies if r.status != 201) == [(409, winner)] * 15
        assert [t["id"] for t in client.tags().values()] == [winner]


class TestContacts:
    def test_create_normalises_the_number_and_a_duplicate_is_409(self, client: Client) -> None:
        vip = client.create_tag("vip")

        contact = client.create_contact("300 123 4567", vip, name="Ana")

        assert contact["phone"] == "+573001234567"
        assert (contact["name"], contact["tagIds"], contact["optedOut"]) == ("Ana", [vip], False)
        again = client.call("POST", "/api/contacts", {"phone": "+57 300-123-4567"})
        assert (again.status, again.body["code"], again.body["contactId"]) == (409, "CONTACT_EXISTS", contact["id"])
        assert client.tags()["vip"]["contactCount"] == 1

    def test_invalid_number_unknown_tag_and_bad_country_are_refused_without_writing(self, client: Client) -> None:
        assert client.call("POST", "/api/contacts", {"phone": "12345"}).status == 400
        assert client.call("POST", "/api/contacts", {"phone": "3001234567", "country": "ZZ"}).status == 400
        missing = client.call("POST", "/api/contacts", {"phone": "3001234567", "tagIds": [str(uuid.uuid4())]})
        assert (missing.status, missing.body["code"]) == (404, "NOT_FOUND")
        assert client.all_contacts() == []

    def test_put_creates_then_merges_tags_and_name(self, client: Client) -> None:
        vip, news = client.create_tag("vip"), client.create_tag("news")

        first = client.call("PUT", "/api/contacts", {"phone": "3001234567", "tagIds": [vip]})
        second = client.call("PUT", "/api/contacts", {"phone": "+573001234567", "name": "Ana", "tagIds": [news]})

        assert (first.status, second.status) == (201, 200)
        assert second.body["id"] == first.body["id"]
        assert (second.body["name"], sorted(second.body["tagIds"])) == ("Ana", sorted([vip, news]))
        assert {n: t["contactCount"] for n, t in client.tags().items()} == {"vip": 1, "news": 1}

    def test_patch_moves_tags_and_counts(self, client: Client) -> None:
        vip, news = client.create_tag("vip"), client.create_tag("news")
        contact = client.create_contact("3001234567", vip)

        reply = client.item("PATCH", "/api/contacts", contact["id"], {"addTagIds": [news], "removeTagIds": [vip]})

        assert reply.status == 200
        assert reply.body["tagIds"] == [news]
        assert {n: t["contactCount"] for n, t in client.tags().items()} == {"vip": 0, "news": 1}
        assert memberships(client.campaign.tenant_id, vip) == {}
        assert memberships(client.campaign.tenant_id, news) == {contact["id"]: False}

    def test_patch_name_null_clears_it_and_absent_keeps_it(self, client: Client) -> None:
        contact = client.create_contact("3001234567", name="Ana")

        kept = client.item("PATCH", "/api/contacts", contact["id"], {"addTagIds": []})
        cleared = client.item("PATCH", "/api/contacts", contact["id"], {"name": None})

        assert kept.body["name"] == "Ana"
        assert cleared.body["name"] is None

    def test_opt_out_reaches_the_send_path_and_opt_in_brings_it_back(
        self, client: Client, contacts_stack: Stack
    ) -> None:
        # Given a contact in two tags
        vip, news = client.create_tag("vip"), client.create_tag("news")
        contact = client.create_contact("3001234567", vip, news)

        # When it opts out through the API
        out = client.item("PATCH", "/api/contacts", contact["id"], {"optedOut": True})

        # Then every membership copy says so, and a campaign to the tags reaches nobody (nothing debited)
        assert (out.status, out.body["optedOut"]) == (200, True)
        assert out.body["optedOutAt"] is not None
        tenant = client.campaign.tenant_id
        assert memberships(tenant, vip) == memberships(tenant, news) == {contact["id"]: True}
        balance = client.campaign.balance()
        event = api_event(
            {"message": "Sale", "tagIds": [vip, news]},
            tenant_id=tenant,
            member_id=client.campaign.member_id,
            token=client.campaign.token,
        )
        sent = send_app.lambda_handler(event, LambdaContextStub())
        assert (sent["statusCode"], json.loads(sent["body"])["messages"]) == (200, [])
        assert client.campaign.balance() == balance

        # When it opts back in, the send path sees it again
        back = client.item("PATCH", "/api/contacts", contact["id"], {"optedOut": False})
        assert back.body["optedOut"] is False
        store = DynamoCampaignStore(region=contacts_stack.names.region)
        assert [r.opted_out for r in store.tag_recipients(tenant, [vip])] == [False]

    def test_a_consent_change_rechecks_the_terms_fresh(self, client: Client, admin: DynamoAdminStore) -> None:
        # Given a contact, and then new terms the member has not accepted (the cached policy still allows writes)
        contact = client.create_contact("3001234567")
        admin.publish_terms("2099-01")

        reply = client.item("PATCH", "/api/contacts", contact["id"], {"optedOut": True})

        assert (reply.status, reply.body["code"]) == (403, "TERMS_NOT_ACCEPTED")
        assert client.item("GET", "/api/contacts", contact["id"]).body["optedOut"] is False

    def test_delete_removes_the_contact_its_memberships_and_counts(self, client: Client) -> None:
        vip = client.create_tag("vip")
        contact = client.create_contact("3001234567", vip)

        assert client.item("DELETE", "/api/contacts", contact["id"]).status == 204

        assert client.item("GET", "/api/contacts", contact["id"]).status == 404
        assert client.item("DELETE", "/api/contacts", contact["id"]).status == 404
        assert memberships(client.campaign.tenant_id, vip) == {}
        assert client.tags()["vip"]["contactCount"] == 0

    def test_sixteen_concurrent_creates_of_one_number_give_exactly_one_contact(self, client: Client) -> None:
        vip = client.create_tag("vip")
        spellings = ["3001234567", "+573001234567", "300 123 4567", "(300) 123-4567"]
        lock, counter = threading.Lock(), iter(range(16))

        def create() -> Reply:
            with lock:
                phone = spellings[next(counter) % 4]
            return client.call("POST", "/api/contacts", {"phone": phone, "tagIds": [vip]})

        replies = race(16, create)

        created = [r for r in replies if r.status == 201]
        assert len(created) == 1
        winner = created[0].body["id"]
        assert sorted((r.status, r.body.get("contactId")) for r in replies if r.status != 201) == [(409, winner)] * 15
        assert [c["id"] for c in client.all_contacts()] == [winner]
        assert client.tags()["vip"]["contactCount"] == 1
        assert list(memberships(client.campaign.tenant_id, vip)) == [winner]


class TestListContacts:
    @pytest.fixture
    def book(self, client: Client) -> dict[str, Any]:
        vip, news = client.create_tag("vip"), client.create_tag("news")
        ana = client.create_contact("3001234567", vip, name="Ana Gómez")
        bruno = client.create_contact("3105550101", vip, news, name="Bruno Díaz")
        camila = client.create_contact("3152223344", news, name="Camila Ruiz")
        client.item("PATCH", "/api/contacts", camila["id"], {"optedOut": True})
        return {"vip": vip, "news": news, "ana": ana["id"], "bruno": bruno["id"], "camila": camila["id"]}

    def ids(self, client: Client, **query: str) -> set[str]:
        return {c["id"] for c in client.all_contacts(**query)}

    def test_filters(self, client: Client, book: dict[str, Any]) -> None:
        assert self.ids(client) == {book["ana"], book["bruno"], book["camila"]}
        assert self.ids(client, tagId=book["vip"]) == {book["ana"], book["bruno"]}
        assert self.ids(client, phone="(310) 555-0101") == {book["bruno"]}
        assert self.ids(client, phone="+573105550101", tagId=book["news"]) == {book["bruno"]}
        assert self.ids(client, phone="+573105550101", tagId=book["vip"], optedOut="true") == set()
        assert self.ids(client, q="gómez") == {book["ana"]}
        assert self.ids(client, q="310555") == {book["bruno"]}  # the prefix of the number's digits
        assert self.ids(client, optedOut="true") == {book["camila"]}
        assert self.ids(client, tagId=book["news"], optedOut="false") == {book["bruno"]}

    def test_pages_follow_the_cursor_without_repeats(self, client: Client, book: dict[str, Any]) -> None:
        pages = []
        cursor = None
        while True:
            query = {"limit": "1", **({"cursor": cursor} if cursor else {})}
            reply = client.call("GET", "/api/contacts", query=query)
            pages.append([c["id"] for c in reply.body["items"]])
            cursor = reply.body["nextCursor"]
            if cursor is None:
                break
        seen = [contact_id for page in pages for contact_id in page]
        assert sorted(seen) == sorted([book["ana"], book["bruno"], book["camila"]])
        assert all(len(page) <= 1 for page in pages)

    def test_a_cursor_of_another_tenant_or_filter_is_400(
        self, client: Client, other: Client, book: dict[str, Any]
    ) -> None:
        other.create_contact("3001234567")
        other.create_contact("3009999999")
        cursor = other.call("GET", "/api/contacts", query={"limit": "1"}).body["nextCursor"]
        mine = client.call("GET", "/api/contacts", query={"limit": "1"}).body["nextCursor"]

        stolen = client.call("GET", "/api/contacts", query={"limit": "1", "cursor": cursor})
        refiltered = client.call("GET", "/api/contacts", query={"limit": "1", "cursor": mine, "optedOut": "true"})

        assert (stolen.status, stolen.body["details"][0]["field"]) == (400, "cursor")
        assert refiltered.status == 400

    def test_a_phone_that_is_not_a_number_is_400(self, client: Client) -> None:
        reply = client.call("GET", "/api/contacts", query={"phone": "12345"})
        assert (reply.status, reply.body["details"][0]["field"]) == (400, "phone")


class TestTenantIsolation:
    def test_another_tenants_tag_and_contact_answer_like_missing_ones(self, client: Client, other: Client) -> None:
        # Given the other tenant's tag and contact
        their_tag = other.create_tag("vip")
        their_contact = other.create_contact("3001234567", their_tag)
        missing = str(uuid.uuid4())

        # Then every route answers 404 exactly as for an id that does not exist, and changes nothing
        for method, body in (("GET", None), ("PATCH", {"name": "mine"}), ("DELETE", None)):
            assert client.item(method, "/api/tags", their_tag, body) == client.item(method, "/api/tags", missing, body)
            assert client.item(method, "/api/tags", their_tag, body).status == 404
            patch = {"optedOut": True} if method == "PATCH" else None
            theirs = client.item(method, "/api/contacts", their_contact["id"], patch)
            assert theirs == client.item(method, "/api/contacts", missing, patch)
            assert theirs.status == 404
        assert other.tags()["vip"]["contactCount"] == 1
        assert other.item("GET", "/api/contacts", their_contact["id"]).body == their_contact

        # And their tag neither lists nor can be attached here
        assert client.all_contacts(tagId=their_tag) == []
        attach = client.call("POST", "/api/contacts", {"phone": "3001234567", "tagIds": [their_tag]})
        assert attach.status == 404
        # The same number is a different contact per tenant
        assert client.create_contact("3001234567")["id"] != their_contact["id"]


CSV = (
    "phone,name,tags\n"
    "3001234567,Ana,vip;buyers\n"
    "+57 310 555 0101,Bruno,vip\n"
    "12345,Bad,vip\n"
    "3001234567,Ana again,news\n"
    ",Nobody,vip\n"
    "6015551234,Landline,\n"
)


class TestImport:
    def test_a_job_reports_counts_and_rejected_rows_with_line_numbers(self, client: Client) -> None:
        reply = client.import_csv(CSV)

        assert reply.status == 201, reply.body
        job = reply.body
        assert (job["status"], job["source"]) == ("COMPLETED", "body")
        assert (job["rowsProcessed"], job["imported"], job["rejected"], job["warned"]) == (6, 4, 2, 1)
        assert (job["created"], job["updated"], job["unchanged"]) == (3, 0, 0)
        assert [(r["line"], r["reason"]) for r in job["rejectedRows"]] == [
            (4, "phone is not a valid number in CO"),
            (6, "phone is missing"),
        ]
        assert [w["line"] for w in job["warnings"]] == [7]
        assert client.item("GET", "/api/contacts/imports", job["id"]).body == job
        # The number on two rows is one contact with the tags of both
        (ana,) = client.all_contacts(phone="3001234567")
        tags = client.tags()
        assert sorted(ana["tagIds"]) == sorted(tags[n]["id"] for n in ("vip", "buyers", "news"))
        assert {n: t["contactCount"] for n, t in tags.items()} == {"vip": 2, "buyers": 1, "news": 1}

    def test_importing_the_same_file_twice_leaves_the_same_contacts(self, client: Client) -> None:
        first = client.import_csv(CSV).body
        before = sorted(client.all_contacts(), key=lambda c: c["id"])
        counts = {n: t["contactCount"] for n, t in client.tags().items()}

        second = client.import_csv(CSV).body

        assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 3)
        assert second["id"] != first["id"]
        after = sorted(client.all_contacts(), key=lambda c: c["id"])
        assert [(c["id"], c["tagIds"], c["name"]) for c in after] == [(c["id"], c["tagIds"], c["name"]) for c in before]
        assert {n: t["contactCount"] for n, t in client.tags().items()} == counts

    def test_a_second_file_merges_tags_and_keeps_consent(self, client: Client) -> None:
        client.import_csv("phone,name,tags\n3001234567,Ana,vip\n3105550101,Bruno,vip\n")
        (bruno,) = client.all_contacts(phone="3105550101")
        client.item("PATCH", "/api/contacts", bruno["id"], {"optedOut": True})

        job = client.import_csv("phone,name,tags\n+573001234567,,news\n3105550101,Bruno D,news;vip\n").body

        assert (job["created"], job["updated"]) == (0, 2)
        tags = client.tags()
        by_phone = {c["phone"]: c for c in client.all_contacts()}
        assert sorted(by_phone["+573001234567"]["tagIds"]) == sorted([tags["vip"]["id"], tags["news"]["id"]])
        assert by_phone["+573001234567"]["name"] == "Ana"  # a blank name does not erase one
        assert (by_phone["+573105550101"]["name"], by_phone["+573105550101"]["optedOut"]) == ("Bruno D", True)
        assert memberships(client.campaign.tenant_id, tags["news"]["id"])[bruno["id"]] is True
        assert {n: t["contactCount"] for n, t in tags.items()} == {"vip": 2, "news": 2}

    def test_a_bad_header_is_400_and_nothing_is_written(self, client: Client) -> None:
        reply = client.import_csv("movil,nombre\n3001234567,Ana\n")

        assert (reply.status, reply.body["code"], reply.body["problem"]) == (400, "VALIDATION_ERROR", "HEADER")
        assert "missing: phone, tags" in reply.body["message"]
        assert client.all_contacts() == []

    def test_a_body_that_is_not_csv_is_415_and_json_routes_refuse_csv(self, client: Client) -> None:
        assert client.call("POST", "/api/contacts/imports", CSV, content_type="application/json").status == 415
        assert client.call("POST", "/api/tags", "name\nvip\n", content_type="text/csv").status == 415

    def test_an_oversized_body_is_413(self, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MAX_IMPORT_BODY_BYTES", "100")
        from smscore import wiring

        wiring.reset()

        reply = client.import_csv(CSV)

        assert (reply.status, reply.body["code"]) == (413, "PAYLOAD_TOO_LARGE")
        assert client.all_contacts() == []

    def test_a_large_file_goes_through_a_presigned_upload(self, client: Client, contacts_stack: Stack) -> None:
        # Given an upload started over the API
        started = client.call("POST", "/api/contacts/imports/uploads")
        assert started.status == 201, started.body
        job_id = started.body["job"]["id"]
        assert started.body["job"]["status"] == "AWAITING_UPLOAD"
        assert started.body["uploadUrl"].startswith("https://")

        # When the file lands in the bucket and S3's Object Created event (via EventBridge) arrives, twice
        rows = "".join(f"3{n:09d},Person {n},bulk\n" for n in range(1_000_000, 1_000_300))
        event = land_upload(
            client, contacts_stack, job_id, ("\ufeffphone,name,tags\n" + rows + "12345,x,bulk\n").encode()
        )
        first = contacts_app.import_handler(event, LambdaContextStub())
        repeat = contacts_app.import_handler(event, LambdaContextStub())

        # Then the job completed once, with its counts and the rejected line
        assert first == {"jobId": job_id, "status": "COMPLETED"}
        assert repeat == {"status": "ignored"}
        job = client.item("GET", "/api/contacts/imports", job_id).body
        assert (job["status"], job["imported"], job["created"], job["rejected"]) == ("COMPLETED", 300, 300, 1)
        assert job["rejectedRows"] == [
            {
                "line": 302,
                "reason": "phone is not a valid number in CO",
                "content": "12345,x,bulk",
                "code": "PHONE_INVALID",
            }
        ]
        assert client.tags()["bulk"]["contactCount"] == 300

    def test_an_upload_key_of_another_tenant_or_no_job_is_ignored(self, client: Client, other: Client) -> None:
        started = client.call("POST", "/api/contacts/imports/uploads").body
        forged = f"uploads/{other.campaign.tenant_id}/{started['job']['id']}.csv"

        assert contacts_app.import_handler({"detail": {"object": {"key": forged}}}, LambdaContextStub()) == {
            "status": "ignored"
        }
        assert client.item("GET", "/api/contacts/imports", started["job"]["id"]).body["status"] == "AWAITING_UPLOAD"
        assert other.item("GET", "/api/contacts/imports", started["job"]["id"]).status == 404


class TestCampaignsAndCredits:
    def test_campaigns_newest_first_with_counts_and_credits_with_the_ledger(self, client: Client) -> None:
        # Given two campaigns sent to a tag made over the API
        vip = client.create_tag("vip")
        client.create_contact("3001234567", vip)
        client.create_contact("3105550101", vip)
        queue_ids = []
        for text in ("First", "Second"):
            event = api_event(
                {"message": text, "tagIds": [vip]},
                tenant_id=client.campaign.tenant_id,
                member_id=client.campaign.member_id,
                token=client.campaign.token,
            )
            response = send_app.lambda_handler(event, LambdaContextStub())
            assert response["statusCode"] == 201, response["body"]
            queue_ids.append(json.loads(response["body"])["queueId"])

        # When the campaigns are listed one per page
        first = client.call("GET", "/api/messages/queues", query={"limit": "1"})
        second = client.call("GET", "/api/messages/queues", query={"limit": "1", "cursor": first.body["nextCursor"]})

        # Then the newest comes first, with its counts, credits and tags
        top = first.body["items"][0]
        assert (top["queueId"], top["message"], top["tagIds"]) == (queue_ids[1], "Second", [vip])
        assert (top["totalMessages"], top["counts"]["QUEUED"], top["creditsDebited"]) == (2, 2, 2)
        assert [c["queueId"] for c in second.body["items"]] == [queue_ids[0]]
        assert second.body["nextCursor"] is None

        # And the credits are the balance with the ledger, newest first, summing to it
        credits = client.call("GET", "/api/credits").body
        assert credits["balance"] == client.campaign.balance() == 1000 - 4
        assert [e["kind"] for e in credits["entries"]] == ["DEBIT", "DEBIT", "TOPUP"]
        assert [e["queueId"] for e in credits["entries"][:2]] == queue_ids[::-1]
        assert sum(e["amount"] for e in credits["entries"]) == credits["balance"]

    def test_another_tenant_sees_none_of_them(self, client: Client, other: Client) -> None:
        vip = client.create_tag("vip")
        client.create_contact("3001234567", vip)
        event = api_event(
            {"message": "Hi", "tagIds": [vip]},
            tenant_id=client.campaign.tenant_id,
            member_id=client.campaign.member_id,
            token=client.campaign.token,
        )
        assert send_app.lambda_handler(event, LambdaContextStub())["statusCode"] == 201

        assert other.call("GET", "/api/messages/queues").body == {"items": [], "nextCursor": None}
        assert [e["kind"] for e in other.call("GET", "/api/credits").body["entries"]] == ["TOPUP"]


def test_contacts_written_before_the_api_are_found_and_keep_their_number_unique(client: Client) -> None:
    # Given a contact written by the seed/admin path (random id, phone as typed)
    legacy_id = client.campaign.add("300 123 4567", "vip", name="Ana")

    # Then the API finds it by number and refuses a second contact for it
    assert [c["id"] for c in client.all_contacts(phone="+573001234567")] == [legacy_id]
    again = client.call("POST", "/api/contacts", {"phone": "3001234567"})
    assert (again.status, again.body["contactId"]) == (409, legacy_id)
    assert client.tags()["vip"]["contactCount"] == 1
    assert ContactRecord.get(client.campaign.tenant_id, legacy_id).e164 == "+573001234567"


class TestSession:
    """GET /api/me: what the admin UI's header shows and whether it opens read-only."""

    def test_names_the_tenant_the_member_the_access_and_the_balance(self, client: Client) -> None:
        # Given a member of "Acme" with 1,000 credits and accepted terms (the authorizer says FULL)
        # When it asks who it is
        reply = client.call("GET", "/api/me")

        # Then it gets its tenant's name and balance and full access
        assert reply.status == 200
        assert reply.body == {
            "tenantId": client.campaign.tenant_id,
            "tenantName": "Acme",
            "memberId": client.campaign.member_id,
            "access": "FULL",
            "balance": 1000,
            "country": "CO",
            "creditPriceCop": None,  # until the operator sets it (smsctl tenant credit-price)
        }

    def test_a_member_without_the_current_terms_is_read_only(
        self, client: Client, admin: DynamoAdminStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Given new terms the member has not accepted, and the authorizer's context says READ_ONLY
        admin.publish_terms("2099-01")
        read_only = copy.deepcopy(load_event("apigw_send_by_tags.json"))
        read_only["requestContext"]["authorizer"]["access"] = "READ_ONLY"
        monkeypatch.setattr("tests.integration.test_contacts_api.load_event", lambda _name: read_only)

        # When it asks who it is, Then it is told it is read-only
        assert client.call("GET", "/api/me").body["access"] == "READ_ONLY"

    def test_a_deleted_tenant_is_403_tenant_not_found(self, client: Client) -> None:
        # Given the token's tenant was deleted
        from smscore.dal.tables import TenantRecord

        TenantRecord.get(client.campaign.tenant_id).delete()

        # When the member asks who it is, Then 403 TENANT_NOT_FOUND
        reply = client.call("GET", "/api/me")
        assert (reply.status, reply.body["code"]) == (403, "TENANT_NOT_FOUND")
