"""Colombian marketing rules on the local stack `make dev` starts (issue 22): the demo RNE snapshot, as a developer
meets it."""

from __future__ import annotations

import time
import uuid

import pytest

from smscore.dal.tables import OutboxRecord
from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.seed import RNE_LISTED_NUMBER, expected_recipients
from tests.e2e.conftest import LocalStackProcess
from tests.e2e.test_opt_outs import smsctl

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]  # the demo RNE snapshot is what `make dev` loads


def test_the_demo_snapshot_lists_one_demo_number(local_stack: LocalStackProcess) -> None:
    status = smsctl(local_stack, "exclusions", "status")
    assert status["count"] == 1
    assert status["snapshotDate"] is not None


def test_a_listed_demo_number_is_skipped_by_marketing_and_reached_by_a_transactional_send(
    local_stack: LocalStackProcess,
) -> None:
    # Given the demo tenant's newsletter tag, which holds the number on the demo RNE snapshot
    seed = local_stack.seed
    token = seed["accepted"]["token"]
    newsletter = {"tagIds": [seed["tagIds"]["newsletter"]]}

    # When a marketing campaign is previewed and sent to it
    preview = local_stack.call(
        "POST", "/api/messages/sms/tags/preview", token=token, body={"message": "Promo", **newsletter}
    )
    marketing = local_stack.send(token, {"message": "Promo de temporada", **newsletter})

    # Then the listed number is left out (and said so before sending), and nobody else is
    assert preview.status == 200, preview.body
    assert preview.body["skippedExcluded"] == 1
    assert marketing.status == 201, marketing.body
    reached = {m["recipient"] for m in marketing.body["messages"]}
    assert RNE_LISTED_NUMBER not in reached
    assert reached == expected_recipients(("newsletter",))

    # When a transactional message goes to the same tag, Then it reaches the listed number too
    transactional = local_stack.send(token, {"message": "Tu pedido salio", "purpose": "transactional", **newsletter})
    assert transactional.status == 201, transactional.body
    reached = {m["recipient"] for m in transactional.body["messages"]}
    assert reached == expected_recipients(("newsletter",), marketing=False)
    assert RNE_LISTED_NUMBER in reached


def test_the_outbox_text_carries_the_sender_name_and_the_opt_out(
    local_stack: LocalStackProcess, admin: DynamoAdminStore
) -> None:
    # Given a tenant with one Colombian number, which never set a sender name (its name is the default)
    tenant_id = admin.create_tenant(f"Tienda {uuid.uuid4().hex[:6]}", credits=10, default_country="CO")
    token = admin.create_member(tenant_id, "ops@tienda.test", accept_terms=True).token.token
    number = f"+57313{uuid.uuid4().int % 10_000_000:07d}"
    admin.add_contacts(tenant_id, [ContactInput(phone=number, tag_names=["club"])])
    body = {"message": "2x1 en empanadas hoy", "tagIds": [admin.tags(tenant_id)[0].tag_id]}

    # When the preview is asked for and the campaign is sent
    preview = local_stack.call("POST", "/api/messages/sms/tags/preview", token=token, body=body)
    sent = local_stack.send(token, body)
    assert sent.status == 201, sent.body
    (message,) = sent.body["messages"]

    # Then what the sandbox "sent" is exactly the previewed text: the tenant's name first, the opt-out last
    name = admin.tenant(tenant_id).name
    expected = f"{name}: 2x1 en empanadas hoy\nResponde SALIR para no recibir mas"
    assert preview.body["finalMessage"] == expected
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            outbox = OutboxRecord.get(message["id"], consistent_read=True)
            break
        except OutboxRecord.DoesNotExist:
            time.sleep(0.5)
    else:
        pytest.fail("the message never reached the sandbox outbox")
    assert (outbox.recipient, outbox.body) == (number, expected)
    assert int(admin.tenant(tenant_id).credits) == 10 - preview.body["creditsRequired"]
