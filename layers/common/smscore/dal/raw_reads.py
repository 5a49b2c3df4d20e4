"""Reads of many small items without building a PynamoDB model per item: the send request's hot reads.

A 50,000-recipient campaign reads about 70,000 tag members and asks about 50,000 numbers twice (opt-outs, the
exclusion list). Instantiating a PynamoDB model for each item and serialising each key through the model cost
about as much CPU as botocore's own work, for items of two to four plain attributes. These helpers go through the
same PynamoDB connection (its client, retries and settings) but hand the items back as DynamoDB JSON, so the caller
reads `item["phone"]["S"]` directly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from typing import Any

from pynamodb.constants import BATCH_GET_ITEM, QUERY
from pynamodb.models import Model

UNPROCESSED_ATTEMPTS = 8

Item = dict[str, dict[str, Any]]


def _projection(attributes: Sequence[str]) -> dict[str, Any]:
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def query_items(model: type[Model], hash_value: str, attributes: Sequence[str]) -> Iterator[Item]:
    """Every item under one partition key, page by page, with only `attributes` (a projection)."""
    connection = model._get_connection().connection
    key_name = next(a.attr_name for a in model.get_attributes().values() if a.is_hash_key)
    request: dict[str, Any] = {
        "TableName": model.Meta.table_name,
        "KeyConditionExpression": "#k = :k",
        **_projection(attributes),
    }
    request["ExpressionAttributeNames"]["#k"] = key_name
    request["ExpressionAttributeValues"] = {":k": {"S": hash_value}}
    while True:
        page = connection.dispatch(QUERY, request)
        yield from page.get("Items", [])
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        request["ExclusiveStartKey"] = last


def batch_get_items(
    model: type[Model], keys: Sequence[Item], attributes: Sequence[str], consistent: bool = False
) -> list[Item]:
    """BatchGetItem of at most 100 keys (DynamoDB JSON), unprocessed keys retried with jittered backoff."""
    connection = model._get_connection().connection
    table = model.Meta.table_name
    pending: list[Item] = list(keys)
    found: list[Item] = []
    for attempt in range(UNPROCESSED_ATTEMPTS):
        request = {"RequestItems": {table: {"Keys": pending, "ConsistentRead": consistent, **_projection(attributes)}}}
        response = connection.dispatch(BATCH_GET_ITEM, request)
        found += response.get("Responses", {}).get(table, [])
        pending = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        if not pending:
            return found
        time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))
    raise RuntimeError(f"{len(pending)} keys of {table} stayed unprocessed (throttled)")
