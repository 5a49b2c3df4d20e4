"""End to end on the local stack (issue 24): a campaign with a merge field, sent over HTTP, reaches the sandbox
outbox with every recipient's own name, in GSM-7 once the marketer accepts transliteration, and costs what the
preview said."""

from __future__ import annotations

import time
import uuid

import pytest

from smscore.dal.tables import MessageRecord, OutboxRecord
from smsdev.admin_store import ContactInput, DynamoAdminStore
from tests.e2e.conftest import LocalStackProcess

pytestmark = pytest.mark.e2e

MESSAGE = "Hola {nombre|cliente}: tu pedido salió hoy. Más información en la tienda."


def test_the_outbox_text_carries_each_recipients_rendered_name(
    local_stack: LocalStackProcess, admin: DynamoAdminStore
) -> None:
    # Given a tenant whose contacts Ramón and one without a name share a tag
    tenant_id = admin.create_tenant(f"Merge {uuid.uuid4().hex[:6]}", credits=100, default_country="CO")
    token = admin.create_member(tenant_id, "ops@merge.test", accept_terms=True).token.token
    admin.add_contacts(
        tenant_id,
        [
            ContactInput(phone="+573001110011", name="Ramón", tag_names=["clientes"]),
            ContactInput(phone="+573001110012", tag_names=["clientes"]),
        ],
    )
    tag_id = admin.tags(tenant_id)[0].tag_id
    body = {"message": MESSAGE, "tagIds": [tag_id], "purpose": "transactional", "encoding": "gsm-transliterate"}
    # When the transliterated body is previewed, then sent over HTTP
    preview = local_stack.call("POST", "/api/messages/sms/tags/preview", token=token, body=body)
    assert preview.status == 200, preview.body
    sent = local_stack.send(token, body)
    assert sent.status == 201, sent.body
    by_number = {m["recipient"]: m["id"] for m in sent.body["messages"]}
    # And the deliver function runs until both are SENT (waiting, not timing)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(MessageRecord.get(i, consistent_read=True).status == "SENT" for i in by_number.values()):
            break
        time.sleep(0.5)
    # Then the outbox received each recipient's own text, without accents, in GSM-7
    outbox = {n: OutboxRecord.get(i, consistent_read=True).body for n, i in by_number.items()}
    assert outbox == {
        "+573001110011": "Hola Ramon: tu pedido salio hoy. Mas informacion en la tienda.",
        "+573001110012": "Hola cliente: tu pedido salio hoy. Mas informacion en la tienda.",
    }
    assert {MessageRecord.get(i).encoding for i in by_number.values()} == {"GSM-7"}
    # And the debit is what the preview said: one segment each
    assert preview.body["creditsRequired"] == 2
    assert local_stack.call("GET", "/api/me", token=token).body["balance"] == 100 - 2
