"""Send path: AWS calls per 1,000 recipients against their floor, and handler time against the bare calls."""

from __future__ import annotations

import functools
import json
import math
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any, NamedTuple

import boto3

from bench.harness import AwsCallCounter, LambdaContext, Row, moto_stack, seeding_into_moto_tables, timed

TAGS = ("regulars", "newsletter")
WARM_UP_RECIPIENTS = 50  # the warm-up campaign: one queue message


class Sender(NamedTuple):
    tenant_id: str
    member_id: str
    token: str
    tag_ids: list[str]


def _seed(recipients: int) -> Sender:
    """A tenant whose two tags overlap by 40% and together reach `recipients` distinct mobiles."""
    from smscore.wiring import bound_settings
    from smsdev.admin_store import ContactInput, DynamoAdminStore

    bound_settings()
    admin = DynamoAdminStore(region="us-east-1")
    tenant_id = admin.create_tenant("Bench", credits=10 * recipients, default_country="CO")
    member = admin.create_member(tenant_id, "bench@example.test", accept_terms=True)
    first_end = int(recipients * 0.7)
    second_start = int(recipients * 0.3)
    contacts = []
    for i in range(recipients):
        tags = [t for t, inside in ((TAGS[0], i < first_end), (TAGS[1], i >= second_start)) if inside]
        contacts.append(ContactInput(phone=f"300{i:07d}", name=f"Contact {i}", tag_names=tags))
    with seeding_into_moto_tables():  # setup, not measured: the items straight into moto's tables
        admin.add_contacts(tenant_id, contacts)
    tag_ids = [t.tag_id for t in admin.tags(tenant_id)]
    return Sender(tenant_id, member.member_id, member.token.token, tag_ids)


def _event(sender: Sender, tag_ids: list[str]) -> dict[str, Any]:
    from pathlib import Path

    event: dict[str, Any] = json.loads(
        (Path(__file__).resolve().parents[1] / "tests/events/apigw_send_by_tags.json").read_text()
    )
    event["body"] = json.dumps({"message": "Spring sale: 20% off everything this weekend.", "tagIds": tag_ids})
    event["requestContext"]["authorizer"].update(
        tenantId=sender.tenant_id, memberId=sender.member_id, principalId=sender.member_id
    )
    event["headers"]["Authorization"] = event["multiValueHeaders"]["Authorization"][0] = f"Bearer {sender.token}"
    return event


def _invoke(sender: Sender, tag_ids: list[str] | None = None) -> dict[str, Any]:
    from functions.send_by_tags import app as handler

    response: dict[str, Any] = handler.lambda_handler(
        _event(sender, sender.tag_ids if tag_ids is None else tag_ids), LambdaContext("bench", 1769, 29_000)
    )
    assert response["statusCode"] == 201, response["body"][:500]
    return response


def _floor_items(n: int, table: str) -> list[dict[str, Any]]:
    """Low-level items of the same shape the send path writes."""
    from smscore.dal.campaign_store import DynamoCampaignStore
    from smscore.domain.model import MessageStatus, OutgoingMessage

    now = datetime.now(UTC)
    queue_id = str(uuid.uuid4())
    store = DynamoCampaignStore(region="us-east-1")  # builds items only: no call is made
    return [
        store._record(
            OutgoingMessage(
                message_id=str(uuid.uuid4()),
                tenant_id="tenant",
                queue_id=queue_id,
                recipient=f"+57300{i:07d}",
                contact_id=str(uuid.uuid4()),
                body="Spring sale: 20% off everything this weekend.",
                segments=1,
                encoding="GSM-7",
                credits=1,
                provider="sandbox",
                created_at=now,
            ),
            MessageStatus.QUEUED,
        ).serialize()
        for i in range(n)
    ]


def _bare_floor_seconds(
    tenant_id: str, tag_ids: list[str], n: int, per_queue_message: int, urls: dict[str, str]
) -> float:
    """The floor operations of the send path made directly with boto3 on the same emulator and data:
    one paginated Query per tag (same projection), the tenant read, one debit transaction, n/25 BatchWriteItem
    and the SendMessageBatch calls. What the handler adds on top is its own overhead."""
    from smscore.dal.tables import LedgerRecord, MessageRecord, TagMemberRecord, TenantRecord

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    table = MessageRecord.Meta.table_name
    items = _floor_items(n, table)
    ids = [item["message_id"]["S"] for item in items]

    def floor() -> None:
        paginator = dynamodb.get_paginator("query")
        for tag_id in tag_ids:
            for _page in paginator.paginate(
                TableName=TagMemberRecord.Meta.table_name,
                KeyConditionExpression="tag_key = :k",
                ExpressionAttributeValues={":k": {"S": f"{tenant_id}#{tag_id}"}},
                ProjectionExpression="contact_id, phone, opted_out",
            ):
                pass
        dynamodb.get_item(
            TableName=TenantRecord.Meta.table_name, Key={"tenant_id": {"S": tenant_id}}, ConsistentRead=True
        )
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TenantRecord.Meta.table_name,
                        "Key": {"tenant_id": {"S": tenant_id}},
                        "UpdateExpression": "ADD credits :minus",
                        "ConditionExpression": "credits >= :cost",
                        "ExpressionAttributeValues": {":minus": {"N": str(-n)}, ":cost": {"N": str(n)}},
                    }
                },
                {
                    "Put": {
                        "TableName": LedgerRecord.Meta.table_name,
                        "Item": {"tenant_id": {"S": tenant_id}, "entry_id": {"S": str(uuid.uuid4())}},
                    }
                },
            ]
        )
        for start in range(0, n, 25):
            chunk = items[start : start + 25]
            dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}} for item in chunk]})
        bodies = [
            json.dumps({"tenantId": tenant_id, "queueId": "q", "messageIds": ids[i : i + per_queue_message]})
            for i in range(0, n, per_queue_message)
        ]
        for start in range(0, len(bodies), 10):
            entries = [{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[start : start + 10])]
            sqs.send_message_batch(QueueUrl=urls["DeliveryQueue"], Entries=entries)

    seconds, _ = timed(floor)
    return seconds


def _calls_row(recipients: int, tags: int, per_queue_message: int, calls: Counter[str]) -> Row:
    total = sum(calls.values())
    sqs_batches = math.ceil(math.ceil(recipients / per_queue_message) / 10)
    # Floor: the message writes, the SQS batches, one Query per tag, the fresh access read (token, member and
    # terms in one TransactGetItems), the tenant read and the one debit.
    floor = math.ceil(recipients / 25) + sqs_batches + tags + 1 + 1 + 1
    per_thousand = total * 1000 / recipients
    floor_per_thousand = floor * 1000 / recipients
    return Row(
        name=f"send: AWS calls per 1,000 recipients ({recipients:,} recipients, 2 tags)",
        value=round(per_thousand, 2),
        unit="calls",
        baseline=round(floor_per_thousand, 2),
        target="<= 1.1x floor",
        passed=per_thousand <= 1.1 * floor_per_thousand,
        details={"by_operation": dict(calls), "floor_total": floor, "total": total},
    )


def _stack_env(name: str) -> str:
    import os

    return os.environ[name]


def measure(sizes: tuple[int, ...] = (1_000, 10_000), calls_at: int = 10_000) -> list[Row]:
    """The handler's wall time against the bare floor at each size, and the AWS calls of the `calls_at` POST.

    Each size is one seeded stack and one timed POST; the calls row counts the calls of that same POST (every
    client, the floor's included, carries the counting hook, so both timings pay it alike). Before it, a small
    campaign of another tenant warms the handler (imports, clients, pools) and the bare floor runs: the same
    item writes and queue sends, batched, with nothing else. The 50,000-recipient POST is the capacity suite's
    (memory and response size are measured there).
    """
    calls_rows, time_rows = [], []
    for recipients in sizes:
        with moto_stack() as stack, AwsCallCounter() as counter:
            sender = _seed(recipients)
            per_queue_message = int(_stack_env("RECIPIENTS_PER_QUEUE_MESSAGE"))
            _invoke(_seed(WARM_UP_RECIPIENTS))
            floor = _bare_floor_seconds(
                sender.tenant_id, sender.tag_ids, recipients, per_queue_message, stack.queue_urls
            )
            before = counter.calls.copy()
            seconds, _response = timed(functools.partial(_invoke, sender))
            calls = counter.calls - before
        if recipients == calls_at:
            calls_rows.append(_calls_row(recipients, len(sender.tag_ids), per_queue_message, calls))
        time_rows.append(
            Row(
                name=f"send: handler wall time, {recipients:,} recipients (moto in-process)",
                value=round(seconds, 3),
                unit="s",
                baseline=round(floor, 3),
                target="<= 1.5x the bare floor calls",
                passed=seconds <= 1.5 * floor,
                details={"warm_up_recipients": WARM_UP_RECIPIENTS},
            )
        )
    return [*calls_rows, *time_rows]
