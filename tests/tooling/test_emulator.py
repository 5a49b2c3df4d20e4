"""The local AWS endpoint keeps DynamoDB's promise that a conditional write is atomic, even under 16 threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from smsdev.devstack import aws_client
from smsdev.emulator import LocalAws


@pytest.fixture
def local_aws() -> Iterator[LocalAws]:
    aws = LocalAws(port=0)
    aws.start()
    yield aws
    aws.stop()


def test_sixteen_threads_never_debit_more_than_the_balance(local_aws: LocalAws) -> None:
    # Given a balance of 100 credits on the endpoint
    dynamodb = aws_client("dynamodb", local_aws.endpoint, "us-east-1")
    dynamodb.create_table(
        TableName="balances",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="balances", Item={"id": {"S": "t"}, "credits": {"N": "100"}})
    outcomes: list[str] = []
    lock = threading.Lock()

    def spend() -> None:
        client = aws_client("dynamodb", local_aws.endpoint, "us-east-1")
        for _ in range(10):
            try:
                client.update_item(
                    TableName="balances",
                    Key={"id": {"S": "t"}},
                    UpdateExpression="SET credits = credits - :one",
                    ConditionExpression="credits >= :one",
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )
            except ClientError as error:
                outcome = error.response["Error"]["Code"]
            else:
                outcome = "debited"
            with lock:
                outcomes.append(outcome)

    # When 16 threads try 160 conditional debits of one credit
    threads = [threading.Thread(target=spend) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly 100 succeeded and the balance is zero, not negative
    assert outcomes.count("debited") == 100
    assert outcomes.count("ConditionalCheckFailedException") == 60
    item = dynamodb.get_item(TableName="balances", Key={"id": {"S": "t"}}, ConsistentRead=True)["Item"]
    assert item["credits"] == {"N": "0"}


def test_the_endpoint_serves_sqs_too(local_aws: LocalAws) -> None:
    sqs = aws_client("sqs", local_aws.endpoint, "us-east-1")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["hello"]
