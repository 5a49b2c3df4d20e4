"""smsdev.moto_fair_queues: the local stack's standard queues return a quiet message group's messages ahead of a
noisy group's backlog, as SQS fair queues do; moto alone returns them in the order they were sent."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from smsdev import moto_fair_queues
from smsdev.testing import serialised_moto


@pytest.fixture
def queue(aws_env: None) -> Iterator[tuple[object, str]]:
    with mock_aws(), serialised_moto():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="delivery")["QueueUrl"]
        yield sqs, url


def send(sqs: object, url: str, tenant: str, count: int) -> None:
    for start in range(0, count, 10):
        entries = [
            {"Id": str(n), "MessageBody": json.dumps({"tenantId": tenant, "n": start + n}), "MessageGroupId": tenant}
            for n in range(min(10, count - start))
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[attr-defined]


def first_receive(sqs: object, url: str) -> list[str]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]  # type: ignore[attr-defined]
    return [json.loads(m["Body"])["tenantId"] for m in got]


def test_a_quiet_tenant_is_received_ahead_of_a_noisy_tenants_backlog(queue: tuple[object, str]) -> None:
    sqs, url = queue
    # Given tenant A's backlog of 200 records, then tenant B's 3, each with its tenant as message group
    send(sqs, url, "A", 200)
    send(sqs, url, "B", 3)
    moto_fair_queues.install()
    try:
        # When a consumer receives ten
        tenants = first_receive(sqs, url)
    finally:
        moto_fair_queues.uninstall()
    # Then B's three are among them (round-robin over the groups), A's backlog does not hold them back
    assert tenants.count("B") == 3
    assert tenants.count("A") == 7


def test_without_the_emulation_moto_returns_the_backlog_first(queue: tuple[object, str]) -> None:
    sqs, url = queue
    # Given the same queue, and moto's own order
    send(sqs, url, "A", 200)
    send(sqs, url, "B", 3)
    # When a consumer receives ten / Then they are all A's: B waits for the whole backlog
    assert first_receive(sqs, url) == ["A"] * 10


def test_fair_order_interleaves_groups_and_keeps_each_groups_order() -> None:
    class M:
        def __init__(self, group: str | None, n: int) -> None:
            self.group_id, self.n = group, n

    messages = [M("A", 0), M("A", 1), M("A", 2), M("B", 0), M(None, 0), M("B", 1)]
    ordered = moto_fair_queues.fair_order(messages)
    assert [(m.group_id, m.n) for m in ordered] == [("A", 0), ("B", 0), (None, 0), ("A", 1), ("B", 1), ("A", 2)]
