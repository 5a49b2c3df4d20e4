"""The in-process test accounts are built from copies (smsdev.testing): each must be what the API calls build."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.session import Session

from smsdev.provision import create_resources, seed_exclusion_snapshot
from smsdev.template import LocalNames, resources_of_type
from smsdev.testing import build_moto_stack, moto_account

# What differs between two creations of the same resource: when it happened.
WHEN = {"CreationDateTime", "CreatedTimestamp", "LastModifiedTimestamp"}


def account_resources(names: LocalNames) -> dict[str, Any]:
    """Every table, queue and bucket of the template as the API describes them, creation times left out."""
    dynamodb = boto3.client("dynamodb", region_name=names.region)
    sqs = boto3.client("sqs", region_name=names.region)
    s3 = boto3.client("s3", region_name=names.region)

    def without_when(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: without_when(item) for key, item in value.items() if key not in WHEN}
        if isinstance(value, list):
            return [without_when(item) for item in value]
        return value

    tables = {
        name: without_when(dynamodb.describe_table(TableName=name)["Table"])
        for name in dynamodb.list_tables()["TableNames"]
    }
    ttls = {name: dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] for name in tables}
    queues = {
        url: without_when(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])
        for url in sqs.list_queues().get("QueueUrls", [])
    }
    buckets = sorted(bucket["Name"] for bucket in s3.list_buckets()["Buckets"])
    return {"tables": tables, "ttls": ttls, "queues": queues, "buckets": buckets}


@pytest.mark.parametrize("stack_name", ["copies-a", "copies-b"])
def test_an_account_built_from_copies_is_the_one_the_api_calls_build(aws_env: None, stack_name: str) -> None:
    # Given the template's resources built through the API once in this process (and that account used)
    with moto_account():
        first = build_moto_stack(stack_name)
        boto3.client("sqs", region_name="us-east-1").send_message(QueueUrl=first.delivery_queue_url, MessageBody="{}")
        tenants = first.names.physical("TenantsTable")
        boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=tenants, Item={"tenant_id": {"S": "t1"}})
    # When the next account is built from the copies, and another one through the API calls alone
    with moto_account():
        copied = build_moto_stack(stack_name)
        from_copies = account_resources(copied.names)
        delivery_queue = copied.delivery_queue_url
        left_over = boto3.client("sqs", region_name="us-east-1").receive_message(QueueUrl=delivery_queue)
        tenants_left = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=tenants)["Items"]
    with moto_account():
        urls = create_resources(lambda service: boto3.client(service, region_name="us-east-1"), copied.names)  # type: ignore[call-overload]
        seed_exclusion_snapshot(boto3.client("dynamodb", region_name="us-east-1"), copied.names)
        from_calls = account_resources(copied.names)
    # Then both hold the same tables (keys, indexes, throughput, TTL), queues (attributes, redrive) and buckets
    assert len(from_copies["tables"]) == len(resources_of_type("AWS::DynamoDB::Table"))
    assert from_copies == from_calls
    assert copied.queue_urls == urls
    # And nothing of the earlier account is left in the copies: each account starts empty
    assert left_over.get("Messages", []) == []
    assert tenants_left == []
    assert from_copies["queues"][delivery_queue]["ApproximateNumberOfMessages"] == "0"


def test_a_session_with_copied_handlers_has_the_handlers_the_long_way_registers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a session built from a copy of the first one's handlers, and one registered the long way (botocore's code)
    Session()
    copied = Session()
    with monkeypatch.context() as patch:
        patch.setattr(Session, "_register_builtin_handlers", Session._register_builtin_handlers.register)  # type: ignore[attr-defined]
        long_way = Session()
    # When each is asked which handlers an event of each built-in registration reaches
    from botocore.handlers import BUILTIN_HANDLERS

    shared = {id(spec[1]) for spec in BUILTIN_HANDLERS}

    def reached(session: Session) -> dict[str, list[Any]]:
        """The handlers by event: the shared built-in objects themselves, a session's own closures by name."""
        emitter = session._original_handler  # type: ignore[attr-defined]
        return {
            spec[0]: [h if id(h) in shared else h.__qualname__ for h in emitter._handlers.prefix_search(spec[0])]
            for spec in BUILTIN_HANDLERS
        }

    # Then they are the same handlers, in the same order, in an emitter of its own
    assert reached(copied) == reached(long_way)
    assert copied._original_handler is not long_way._original_handler  # type: ignore[attr-defined]
