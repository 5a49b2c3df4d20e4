"""Webhooks out end to end: a receiver on 127.0.0.1 gets a campaign's signed message.sent events and verifies each
signature with the documented example; a receiver that answers 500 twice gets the event a third time, same id; a
receiver gets a campaign's campaign.completed once; a STOP and then a START replied to the local sender
(InboundSmsFunction, as `smsctl inbound` runs it) reach a receiver as one signed contact.opted_out and one
contact.opted_in.

The local stack runs as `make dev ARGS='--param WebhooksAllowLoopback=true --param WebhookBackoffBaseSeconds=1'`
would start it (loopback endpoints allowed, retries after about a second instead of 30 s).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from smscore.settings import Settings
from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.cli import two_way_sns_event
from smsdev.devstack import FAKE_CREDENTIALS, bind_local_tables
from smsdev.invoke import invoke_locally
from smsdev.provision import function_environment
from smsdev.template import LocalNames
from smsdev.testing import RunningDevStack, dev_stack_process, http_call
from tests.unit.test_webhooks import documented_verifier

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]

STACK_ARGS = ["--no-seed", "--param", "WebhooksAllowLoopback=true", "--param", "WebhookBackoffBaseSeconds=1"]


@dataclass
class Received:
    path: str
    signature: str
    body: bytes
    answered: int


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1: /ok answers 200; /flaky answers 500 to an event's first two POSTs, then 200."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            me = holder["receiver"]
            with me.lock:
                event_id = json.loads(body)["id"]
                earlier = sum(1 for r in me.received if r.path == self.path and json.loads(r.body)["id"] == event_id)
                code = 500 if self.path == "/flaky" and earlier < 2 else 200
                me.received.append(Received(self.path, self.headers.get("Sms-Signature", ""), body, code))
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if code == 200 else b"try again")

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["receiver"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["receiver"]
    server.shutdown()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevStack]:
    with ExitStack() as cleanup:
        patch = cleanup.enter_context(pytest.MonkeyPatch.context())
        running = cleanup.enter_context(dev_stack_process(tmp_path_factory.mktemp("webhooks-stack"), STACK_ARGS))
        for key, value in FAKE_CREDENTIALS.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("AWS_ENDPOINT_URL", running.endpoint)
        yield running


@dataclass
class Tenant:
    token: str
    tag_id: str
    numbers: list[str]
    contact_ids: list[str] = field(default_factory=list)


def a_tenant(stack: RunningDevStack, recipients: int) -> Tenant:
    names = LocalNames(endpoint=stack.endpoint)
    bind_local_tables(function_environment(names), names.region, stack.endpoint)
    admin = DynamoAdminStore(region=names.region, host=stack.endpoint)
    tenant_id = admin.create_tenant(f"Hooks {uuid.uuid4().hex[:6]}", credits=100, default_country="CO")
    member = admin.create_member(tenant_id, "dev@hooks.test", accept_terms=True)
    numbers = [f"+57301{uuid.uuid4().int % 10**7:07d}" for _ in range(recipients)]
    contact_ids = admin.add_contacts(tenant_id, [ContactInput(phone=n, tag_names=["all"]) for n in numbers])
    return Tenant(member.token.token, admin.tags(tenant_id)[0].tag_id, numbers, list(contact_ids))


def add_endpoint(
    stack: RunningDevStack, tenant: Tenant, url: str, events: tuple[str, ...] = ("message.sent",)
) -> dict[str, Any]:
    created = http_call(
        stack.api_url, "POST", "/api/webhooks", token=tenant.token, body={"url": url, "events": list(events)}
    )
    assert created.status == 201, created.body
    return dict(created.body)


def send(stack: RunningDevStack, tenant: Tenant) -> set[str]:
    sent = http_call(
        stack.api_url,
        "POST",
        "/api/messages/sms/tags",
        token=tenant.token,
        body={"message": "Hola", "tagIds": [tenant.tag_id], "purpose": "transactional"},
    )
    assert sent.status == 201, sent.body
    return {m["id"] for m in sent.body["messages"]}


def wait_for(condition: Any, seconds: float = 90) -> None:
    """Waiting, not timing: the bound only ends a broken run."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.5)


def test_a_receiver_gets_every_signed_message_sent_event_of_a_campaign(
    stack: RunningDevStack, receiver: Receiver
) -> None:
    verify_signature = documented_verifier()
    tenant = a_tenant(stack, 3)
    endpoint = add_endpoint(stack, tenant, f"{receiver.url}/ok")
    message_ids = send(stack, tenant)
    wait_for(lambda: len(receiver.on("/ok")) >= 3)
    got = receiver.on("/ok")
    # One message.sent per message, each verified by the documented ten lines with the secret shown once
    events = [json.loads(r.body) for r in got]
    assert sorted(e["data"]["messageId"] for e in events) == sorted(message_ids), stack.log_path.read_text()[-3000:]
    assert {e["type"] for e in events} == {"message.sent"}
    assert len({e["id"] for e in events}) == 3
    assert all(verify_signature(r.signature, r.body, endpoint["secret"]) for r in got)
    assert not any(verify_signature(r.signature, r.body, "whsec_wrong") for r in got)
    # And the API lists them as delivered, with the receiver's answer
    page = http_call(stack.api_url, "GET", f"/api/webhooks/{endpoint['id']}/deliveries", token=tenant.token)
    assert page.status == 200, page.body
    assert sorted(d["status"] for d in page.body["items"]) == ["SUCCEEDED"] * 3
    assert {d["attempts"][0]["statusCode"] for d in page.body["items"]} == {200}


def test_a_receiver_that_answers_500_twice_gets_the_event_a_third_time_with_the_same_id(
    stack: RunningDevStack, receiver: Receiver
) -> None:
    verify_signature = documented_verifier()
    tenant = a_tenant(stack, 1)
    endpoint = add_endpoint(stack, tenant, f"{receiver.url}/flaky")
    (message_id,) = send(stack, tenant)
    mine = lambda: [r for r in receiver.on("/flaky") if json.loads(r.body)["data"]["messageId"] == message_id]  # noqa: E731
    wait_for(lambda: len(mine()) >= 3)
    time.sleep(3)  # and nothing after the success (a fourth POST would come within about 4 s)
    got = mine()
    assert [r.answered for r in got] == [500, 500, 200], stack.log_path.read_text()[-3000:]
    assert len({json.loads(r.body)["id"] for r in got}) == 1
    assert len({r.body for r in got}) == 1
    assert all(verify_signature(r.signature, r.body, endpoint["secret"]) for r in got)
    page = http_call(stack.api_url, "GET", f"/api/webhooks/{endpoint['id']}/deliveries", token=tenant.token)
    (delivery,) = page.body["items"]
    assert (delivery["status"], delivery["attemptCount"]) == ("SUCCEEDED", 3)
    assert [a["statusCode"] for a in delivery["attempts"]] == [200, 500, 500]


def test_a_receiver_gets_campaign_completed_once_when_every_message_left(
    stack: RunningDevStack, receiver: Receiver
) -> None:
    verify_signature = documented_verifier()
    tenant = a_tenant(stack, 3)
    endpoint = add_endpoint(stack, tenant, f"{receiver.url}/done", ("campaign.completed",))
    message_ids = send(stack, tenant)
    # The first completion check waits 10 s on the queue (then again at the pace measured while messages remain)
    wait_for(lambda: len(receiver.on("/done")) >= 1, seconds=180)
    time.sleep(12)  # and no second one: a repeated check would come within the next first-check delay
    got = receiver.on("/done")
    assert len(got) == 1, stack.log_path.read_text()[-3000:]
    event = json.loads(got[0].body)
    assert event["type"] == "campaign.completed"
    assert event["data"]["totalMessages"] == len(message_ids) == 3
    assert event["data"]["counts"]["SENT"] == 3
    assert verify_signature(got[0].signature, got[0].body, endpoint["secret"])


def replies(stack: RunningDevStack, number: str, *bodies: str) -> list[dict[str, Any]]:
    """The number replies each body in turn (a second apart) to the local default sender, the sandbox's number, as
    AWS two-way SMS delivers them: one SNS event of that many records to InboundSmsFunction in a fresh local Lambda
    environment (what `smsctl inbound` does for one reply)."""
    now = datetime.now(UTC)
    to = str(Settings.model_fields["sandbox_sender_number"].default)
    records = [
        two_way_sns_event(number, body, to, now + timedelta(seconds=n))["Records"][0] for n, body in enumerate(bodies)
    ]
    result: dict[str, Any] = invoke_locally("InboundSmsFunction", {"Records": records}, stack.endpoint)
    return list(result["results"])


def test_a_stop_and_a_start_reply_reach_a_receiver_as_signed_contact_events(
    stack: RunningDevStack, receiver: Receiver
) -> None:
    verify_signature = documented_verifier()
    # Given a tenant with one contact, sending through the local default sender, and an endpoint for consent events
    tenant = a_tenant(stack, 1)
    endpoint = add_endpoint(stack, tenant, f"{receiver.url}/consent", ("contact.opted_out", "contact.opted_in"))
    (number,), (contact_id,) = tenant.numbers, tenant.contact_ids
    # When the contact replies STOP, STOP again, then START
    done = replies(stack, number, "STOP", "STOP", "START")
    assert [(r["action"], r["applied"]) for r in done] == [("OPT_OUT", True), ("OPT_OUT", True), ("OPT_IN", True)]
    # Then the receiver gets one signed event per change (in any order: ordering is not guaranteed), for that
    # contact; the second STOP moved nothing (tests/integration/test_contact_events.py waits for nothing more)
    wait_for(lambda: len(receiver.on("/consent")) >= 2)
    got = receiver.on("/consent")
    events = sorted((json.loads(r.body) for r in got), key=lambda e: str(e["type"]))
    assert [(e["type"], e["data"]["contactId"], e["data"]["source"]) for e in events] == [
        ("contact.opted_in", contact_id, "keyword"),
        ("contact.opted_out", contact_id, "keyword"),
    ], stack.log_path.read_text()[-3000:]
    assert all(verify_signature(r.signature, r.body, endpoint["secret"]) for r in got)
