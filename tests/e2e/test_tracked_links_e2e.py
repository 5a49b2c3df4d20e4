"""End to end on the local stack (issue 24, item 3): a campaign with trackLinks reaches the sandbox outbox with the
recipient's rendered name and their own short link on this stack; following it over HTTP answers 302 to the
original URL and the campaign then shows one click (a HEAD request and a preview bot before it count nothing)."""

from __future__ import annotations

import http.client
import re
import time
import uuid
from urllib.parse import urlsplit

import pytest

from smscore.dal.tables import MessageRecord, OutboxRecord
from smscore.domain.links import CODE_LENGTH
from smsdev.admin_store import ContactInput, DynamoAdminStore
from tests.e2e.conftest import LocalStackProcess

pytestmark = pytest.mark.e2e

URL = "https://tienda.example.co/sabado?utm_source=sms"


def request(url: str, method: str, user_agent: str) -> tuple[int, str | None]:
    """One request without following redirects: the status and the Location header."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        connection.request(method, parts.path, headers={"User-Agent": user_agent})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Location")
    finally:
        connection.close()


def test_the_outbox_text_carries_the_name_and_a_short_link_that_redirects_and_counts_one_click(
    local_stack: LocalStackProcess, admin: DynamoAdminStore
) -> None:
    # Given a tenant with Ramón in a tag
    tenant_id = admin.create_tenant(f"Links {uuid.uuid4().hex[:6]}", credits=100, default_country="CO")
    token = admin.create_member(tenant_id, "ops@links.test", accept_terms=True).token.token
    admin.add_contacts(tenant_id, [ContactInput(phone="+573001110021", name="Ramón", tag_names=["clientes"])])
    tag_id = admin.tags(tenant_id)[0].tag_id
    body = {
        "message": f"Hola {{nombre|cliente}}, ofertas del sabado: {URL}",
        "tagIds": [tag_id],
        "purpose": "transactional",
        "trackLinks": True,
    }
    # When it is previewed and sent over HTTP, and delivered (waiting, not timing)
    preview = local_stack.call("POST", "/api/messages/sms/tags/preview", token=token, body=body)
    assert preview.status == 200, preview.body
    sent = local_stack.send(token, body)
    assert sent.status == 201, sent.body
    (message,) = sent.body["messages"]
    deadline = time.monotonic() + 120
    while MessageRecord.get(message["id"], consistent_read=True).status != "SENT":
        assert time.monotonic() < deadline, "not SENT within 120 s"
        time.sleep(0.5)
    # Then the outbox text carries the rendered name and a short link on this stack instead of the URL
    text = OutboxRecord.get(message["id"], consistent_read=True).body
    short = re.escape(local_stack.api_url.rstrip("/")) + r"/l/[0-9A-Za-z]{" + str(CODE_LENGTH) + "}"
    assert re.fullmatch(r"Hola Ramón, ofertas del sabado: " + short, text), text
    assert URL not in text
    link = text.rsplit(" ", 1)[1]
    # And it is priced as previewed
    assert local_stack.call("GET", "/api/me", token=token).body["balance"] == 100 - preview.body["creditsRequired"]
    # When a link preview and a HEAD request fetch it
    assert request(link, "GET", "WhatsApp/2.23.20.0 A") == (302, URL)
    assert request(link, "HEAD", "curl/8.5.0") == (302, URL)
    status = local_stack.call("GET", f"/api/messages/queues/{sent.body['queueId']}", token=token).body
    assert status["clicks"] == 0
    # When Ramón opens it on his phone
    assert request(link, "GET", "Mozilla/5.0 (Linux; Android 14) Mobile") == (302, URL)
    # Then the campaign shows 1 click and the message its first click
    status = local_stack.call("GET", f"/api/messages/queues/{sent.body['queueId']}", token=token).body
    assert status["clicks"] == 1
    shown = local_stack.call("GET", f"/api/messages/{message['id']}", token=token).body
    assert shown["clicks"] == 1
    assert shown["firstClickedAt"] is not None
    # And a forged code is 404 (no open redirect)
    forged = link[:-1] + ("A" if link[-1] != "A" else "B")
    assert request(forged, "GET", "Mozilla/5.0")[0] == 404
