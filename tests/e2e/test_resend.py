"""End-to-end on the local stack: after the sandbox's test numbers fail, a resend targets exactly the numbers whose
failure another attempt may fix (the transient ones), never the invalid or opted-out ones nor those that were sent;
and the preview of a send is what that send then charges."""

from __future__ import annotations

import time
import uuid

import pytest

from smscore.dal.tables import MessageRecord
from smscore.providers.sandbox import (
    PERMANENT_INVALID_NUMBER,
    PERMANENT_OPTED_OUT_NUMBER,
    TIMEOUT_NUMBER,
    TRANSIENT_THROTTLED_NUMBER,
)
from smsdev.admin_store import ContactInput, DynamoAdminStore
from tests.e2e.conftest import LocalStackProcess

pytestmark = pytest.mark.e2e

ORDINARY = ["+573001110001", "+573001110002"]
FINAL = {"SENT", "DELIVERED", "UNDELIVERED", "FAILED"}


def wait_until_final(message_ids: dict[str, str], seconds: float = 120) -> dict[str, MessageRecord]:
    """Poll until the poller and the deliver function have finished every message (waiting, not timing)."""
    deadline = time.monotonic() + seconds
    records: dict[str, MessageRecord] = {}
    while time.monotonic() < deadline:
        records = {n: MessageRecord.get(i, consistent_read=True) for n, i in message_ids.items()}
        if all(r.status in FINAL for r in records.values()):
            break
        time.sleep(0.5)
    return records


def test_a_resend_after_sandbox_failures_targets_exactly_the_transient_failures(
    local_stack: LocalStackProcess, admin: DynamoAdminStore
) -> None:
    # Given a tenant with 2 ordinary numbers and the 4 sandbox test numbers under one tag
    tenant_id = admin.create_tenant(f"Resend {uuid.uuid4().hex[:6]}", credits=100, default_country="CO")
    member = admin.create_member(tenant_id, "ops@resend.test", accept_terms=True)
    token = member.token.token
    numbers = [
        *ORDINARY,
        PERMANENT_INVALID_NUMBER,
        PERMANENT_OPTED_OUT_NUMBER,
        TRANSIENT_THROTTLED_NUMBER,
        TIMEOUT_NUMBER,
    ]
    admin.add_contacts(tenant_id, [ContactInput(phone=n, tag_names=["everyone"]) for n in numbers])
    tag_id = admin.tags(tenant_id)[0].tag_id
    body = {"message": "Your order shipped", "tagIds": [tag_id], "purpose": "transactional"}
    # And the preview of the campaign, which changes nothing
    preview = local_stack.call("POST", "/api/messages/sms/tags/preview", token=token, body=body)
    assert preview.status == 200
    assert (preview.body["recipients"], preview.body["creditsRequired"]) == (6, 6)
    assert int(admin.tenant(tenant_id).credits) == 100
    # When the campaign is sent, it debits what the preview said
    sent = local_stack.send(token, body)
    assert sent.status == 201
    assert int(admin.tenant(tenant_id).credits) == 100 - preview.body["creditsRequired"]
    # And delivery finishes: ordinary numbers SENT, every test number FAILED (and refunded)
    records = wait_until_final({m["recipient"]: m["id"] for m in sent.body["messages"]})
    assert {n: r.status for n, r in records.items()} == {
        **dict.fromkeys(ORDINARY, "SENT"),
        **dict.fromkeys(numbers[2:], "FAILED"),
    }
    balance = int(admin.tenant(tenant_id).credits)
    assert balance == 100 - len(ORDINARY)
    # When the campaign is resent (twice, with the same Idempotency-Key)
    path = f"/api/messages/queues/{sent.body['queueId']}/resend"
    headers = {"Idempotency-Key": f"resend-{uuid.uuid4()}"}
    resent = local_stack.call("POST", path, token=token, body={"purpose": "transactional"}, headers=headers)
    again = local_stack.call("POST", path, token=token, body={"purpose": "transactional"}, headers=headers)
    # Then the new campaign goes to exactly the throttled and the timing-out numbers, once
    assert resent.status == 201, resent.body
    assert sorted(m["recipient"] for m in resent.body["messages"]) == sorted(
        [TIMEOUT_NUMBER, TRANSIENT_THROTTLED_NUMBER]
    )
    assert (again.status, again.body["queueId"]) == (201, resent.body["queueId"])
    # And it is paid once, like a send of two messages
    assert int(admin.tenant(tenant_id).credits) == balance - 2
    # And its status names the campaign it repeats
    status = local_stack.call("GET", f"/api/messages/queues/{resent.body['queueId']}", token=token)
    assert status.status == 200
    assert (status.body["resendOf"], status.body["totalMessages"]) == (sent.body["queueId"], 2)
    # And another tenant cannot resend it
    other = admin.create_member(
        admin.create_tenant(f"Other {uuid.uuid4().hex[:6]}", credits=100, default_country="CO"),
        "ops@other.test",
        accept_terms=True,
    )
    refused = local_stack.call("POST", path, token=other.token.token)
    assert (refused.status, refused.body["code"]) == (404, "QUEUE_NOT_FOUND")
