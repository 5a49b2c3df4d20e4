"""End-to-end delivery on the local stack: POST, then the poller and the deliver function finish the job.

Every ordinary number reaches SENT in the sandbox outbox exactly once; the sandbox's documented test numbers
end as documented (permanent failures refunded at once, transient and timing-out ones retried, then FAILED,
refunded and dead-lettered); the balance always equals the ledger.
"""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest

from smscore.dal.tables import MessageRecord, OutboxRecord
from smscore.providers.sandbox import (
    PERMANENT_INVALID_NUMBER,
    PERMANENT_OPTED_OUT_NUMBER,
    TIMEOUT_NUMBER,
    TRANSIENT_THROTTLED_NUMBER,
)
from smsdev.admin_store import ContactInput, DynamoAdminStore
from tests.e2e.conftest import LocalStackProcess

pytestmark = pytest.mark.e2e

ORDINARY = ["+573001110001", "+573001110002", "+573001110003"]
FINAL = {"SENT", "FAILED"}


def test_every_message_ends_as_the_sandbox_documents(local_stack: LocalStackProcess, admin: DynamoAdminStore) -> None:
    # Given a tenant with 3 ordinary numbers and the 4 sandbox test numbers under one tag
    tenant_id = admin.create_tenant(f"Delivery {uuid.uuid4().hex[:6]}", credits=100, default_country="CO")
    member = admin.create_member(tenant_id, "ops@delivery.test", accept_terms=True)
    numbers = [
        *ORDINARY,
        PERMANENT_INVALID_NUMBER,
        PERMANENT_OPTED_OUT_NUMBER,
        TRANSIENT_THROTTLED_NUMBER,
        TIMEOUT_NUMBER,
    ]
    admin.add_contacts(tenant_id, [ContactInput(phone=n, tag_names=["everyone"]) for n in numbers])
    tag_id = admin.tags(tenant_id)[0].tag_id
    # When a campaign is posted over HTTP
    response = local_stack.send(member.token.token, {"message": "Your order shipped", "tagIds": [tag_id]})
    assert response.status == 201
    by_number = {m["recipient"]: m["id"] for m in response.body["messages"]}
    assert sorted(by_number) == sorted(numbers)
    # And the poller and the deliver function run until every message is final (waiting, not timing)
    deadline = time.monotonic() + 120
    records: dict[str, MessageRecord] = {}
    while time.monotonic() < deadline:
        records = {n: MessageRecord.get(i, consistent_read=True) for n, i in by_number.items()}
        if all(r.status in FINAL for r in records.values()):
            break
        time.sleep(0.5)
    # Then ordinary numbers are SENT, each sent once through the sandbox outbox
    for number in ORDINARY:
        assert records[number].status == "SENT"
        outbox = OutboxRecord.get(by_number[number], consistent_read=True)
        assert (outbox.recipient, outbox.send_count) == (number, 1)
        assert records[number].provider_message_id == outbox.provider_message_id
    # And the permanent failures were not retried
    assert records[PERMANENT_INVALID_NUMBER].status == "FAILED"
    assert records[PERMANENT_INVALID_NUMBER].provider_error_code == "SANDBOX_21211"
    assert records[PERMANENT_OPTED_OUT_NUMBER].provider_error_code == "SANDBOX_21610"
    for number in (PERMANENT_INVALID_NUMBER, PERMANENT_OPTED_OUT_NUMBER):
        assert records[number].permanent_failure is True
        assert int(records[number].attempts) == 1
    # And the transient ones were retried before failing
    for number in (TRANSIENT_THROTTLED_NUMBER, TIMEOUT_NUMBER):
        assert records[number].status == "FAILED"
        assert records[number].permanent_failure is False
        assert int(records[number].attempts) > 1
    # And every failed message was refunded: 7 debited, 4 refunded, balance == ledger
    refunds = [e for e in admin.ledger(tenant_id) if e.kind == "REFUND"]
    assert sorted(m for e in refunds for m in (e.message_ids or [])) == sorted(
        by_number[n]
        for n in (PERMANENT_INVALID_NUMBER, PERMANENT_OPTED_OUT_NUMBER, TRANSIENT_THROTTLED_NUMBER, TIMEOUT_NUMBER)
    )
    assert int(admin.tenant(tenant_id).credits) == 100 - len(ORDINARY)
    assert sum(int(e.amount) for e in admin.ledger(tenant_id)) == 100 - len(ORDINARY)
    # And the exhausted transient messages were dead-lettered for inspection
    sqs = boto3.client("sqs", region_name=local_stack.names.region, endpoint_url=local_stack.endpoint)
    dlq_url = local_stack.names.queue_url("DeliveryDeadLetterQueue")
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    dead_ids = {mid for m in dead for mid in json.loads(m["Body"])["messageIds"]}
    assert {by_number[TRANSIENT_THROTTLED_NUMBER], by_number[TIMEOUT_NUMBER]} <= dead_ids
