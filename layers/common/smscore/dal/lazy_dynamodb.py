"""One table used through the low-level boto3 DynamoDB client, the client built on the first call: the stores that
write a few items from functions which mostly never need them (failure tally, completion watch)."""

from __future__ import annotations

from typing import Any


class LazyDynamoTable:
    """`client`: a boto3 DynamoDB client to use (tests, benchmarks), else one is built on first use."""

    def __init__(self, table_name: str, region: str, client: Any = None) -> None:
        self._table = table_name
        self._region = region
        self._client = client

    def _dynamodb(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb", region_name=self._region)
        return self._client
