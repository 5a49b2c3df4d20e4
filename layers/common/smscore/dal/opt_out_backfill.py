"""One-off data migration: copy opt-outs from the sender-keyed Suppressions table into the number-keyed one.

The Suppressions table's key changed from (sender, number) to (number, sender) (issue 20, item 1). CloudFormation
replaces a table whose key schema changes; the old one is retained (UpdateReplacePolicy: Retain), so its items are
copied here into the table the stack now binds (SuppressionRecord). Each copy is conditional on being newer than
what the new table holds (the same rule as a keyword reply), so the backfill can run while replies arrive, can be
interrupted and run again, and never overwrites a later STOP or START. The inbound-message markers (replays of a
keyword message within the provider's retry window) are copied too, their key values swapped into place.

`smsctl migrate` (docs/operations.md, "Upgrading") calls `backfill_opt_outs` with the old table's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import PutError

from smscore.dal.tables import InboundMessageRecord, SuppressionRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MARKER_PREFIX = "inbound#"


@dataclass
class BackfillReport:
    copied: int = 0  # opt-out / opt-in items written to the new table
    kept_newer: int = 0  # the new table already held a later change of that (number, sender)
    markers: int = 0  # inbound-message markers copied (or already there)


def _items(client: DynamoDBClient, table: str) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        yield from page.get("Items", [])


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value["S"])


def backfill_opt_outs(source_table: str, client: DynamoDBClient | None = None) -> BackfillReport:
    """Copy every item of the old, sender-keyed table `source_table` into the bound Suppressions table."""
    if client is None:
        import boto3

        client = boto3.client("dynamodb", region_name=SuppressionRecord.Meta.region)
    report = BackfillReport()
    for item in _items(client, source_table):
        copy_item(item, report)
    return report


def copy_item(item: dict[str, Any], report: BackfillReport) -> None:
    """Copy one item of the old, sender-keyed table (DynamoDB's wire format) into the bound Suppressions table:
    conditional, so copying it again, or after a later change reached the new table, changes nothing."""
    sender, number = _text(item, "sender") or "", _text(item, "number") or ""
    if sender.startswith(MARKER_PREFIX):  # old key: ("inbound#<provider>#<id>", "message")
        marker = InboundMessageRecord(
            sender,
            number,
            outcome=_text(item, "outcome") or "APPLIED",
            handled_at=SuppressionRecord.changed_at.deserialize(_text(item, "handled_at")),
            expires_at=datetime.fromtimestamp(int(item["expires_at"]["N"]), UTC) if "expires_at" in item else None,
        )
        try:
            marker.save(condition=InboundMessageRecord.message_key.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        report.markers += 1
        return
    changed_at = SuppressionRecord.changed_at.deserialize(_text(item, "changed_at"))
    record = SuppressionRecord(
        number=number,
        sender=sender,
        opted_out=bool(item["opted_out"]["BOOL"]),
        keyword=_text(item, "keyword") or "",
        changed_at=changed_at,
        provider=_text(item, "provider") or "",
        reference=_text(item, "reference"),
    )
    newer = SuppressionRecord.number.does_not_exist() | (SuppressionRecord.changed_at < changed_at)
    try:
        record.save(condition=newer)
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        report.kept_newer += 1
        return
    report.copied += 1
