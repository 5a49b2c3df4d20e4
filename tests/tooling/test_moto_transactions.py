"""smsdev.moto_transactions: a cancelled transaction on moto leaves every touched item as it was."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from smsdev.moto_transactions import install
from smsdev.testing import serialised_moto


@pytest.fixture
def table(aws_env: None) -> Iterator[object]:
    install()
    with mock_aws(), serialised_moto():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="t", Item={"k": {"S": "kept"}, "n": {"N": "1"}, "tags": {"SS": ["a"]}})
        yield client


def items(client: object) -> dict[str, dict[str, object]]:
    scanned = client.scan(TableName="t")["Items"]  # type: ignore[attr-defined]
    return {item["k"]["S"]: item for item in scanned}


def test_a_cancelled_transaction_restores_updated_items_and_removes_new_ones(table: object) -> None:
    # Given one item, and its state
    before = items(table)

    # When a transaction updates it, adds a new item, and then fails a condition on a third
    with pytest.raises(ClientError) as failure:
        table.transact_write_items(  # type: ignore[attr-defined]
            TransactItems=[
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"k": {"S": "kept"}},
                        "UpdateExpression": "ADD n :one, tags :b",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":b": {"SS": ["b"]}},
                    }
                },
                {"Put": {"TableName": "t", "Item": {"k": {"S": "new"}}}},
                {
                    "Put": {
                        "TableName": "t",
                        "Item": {"k": {"S": "kept2"}},
                        "ConditionExpression": "attribute_exists(k)",
                    }
                },
            ]
        )

    # Then it is cancelled with the failed condition named, and the table is exactly as before
    assert failure.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in failure.value.response["CancellationReasons"]] == [
        "None",
        "None",
        "ConditionalCheckFailed",
    ]
    assert items(table) == before


def test_a_successful_transaction_applies_every_item(table: object) -> None:
    table.transact_write_items(  # type: ignore[attr-defined]
        TransactItems=[
            {
                "Update": {
                    "TableName": "t",
                    "Key": {"k": {"S": "kept"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
            {"Put": {"TableName": "t", "Item": {"k": {"S": "new"}}, "ConditionExpression": "attribute_not_exists(k)"}},
        ]
    )

    assert items(table)["kept"]["n"] == {"N": "2"}
    assert "new" in items(table)
