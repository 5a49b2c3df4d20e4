"""Issue 20, item 7: every delivery-queue record carries its tenant as MessageGroupId, which makes the standard
delivery queue an SQS fair queue (a quiet tenant's records are returned ahead of a noisy tenant's backlog)."""

from __future__ import annotations

import json

import boto3

from smscore import wiring
from smscore.dal.deferred_queue import SqsDeferredDelivery
from smscore.domain.model import QueueBatch
from tests.conftest import Stack


def received(stack: Stack) -> list[tuple[str, str | None]]:
    sqs = boto3.client("sqs", region_name=stack.names.region)
    found: list[tuple[str, str | None]] = []
    while got := sqs.receive_message(
        QueueUrl=stack.delivery_queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages"):
        for message in got:
            found.append((json.loads(message["Body"])["tenantId"], message["Attributes"].get("MessageGroupId")))
            sqs.delete_message(QueueUrl=stack.delivery_queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_every_delivery_record_carries_its_tenant_as_message_group(stack: Stack) -> None:
    # Given two tenants' batches enqueued by the send path's queue, and one sent back later by delivery
    queue = wiring.delivery_queue()
    assert queue.enqueue([QueueBatch("tenant-a", "q-a", [f"a-{n}"]) for n in range(12)]) == []
    assert queue.enqueue([QueueBatch("tenant-b", "q-b", ["b-0"])]) == []
    settings = wiring.bound_settings()
    assert settings.delivery_queue_url
    SqsDeferredDelivery(settings.aws_region, settings.delivery_queue_url).send_later(
        QueueBatch("tenant-b", "q-b", ["b-1"]), delay_seconds=0
    )
    # When the queue is read / Then each record's group is its own tenant
    records = received(stack)
    assert len(records) == 14
    assert all(group == tenant for tenant, group in records), records
