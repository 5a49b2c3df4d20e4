"""The contacts the import benchmarks load (bench.contacts_api, bench.contacts_import), and their bare floor."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import boto3

from bench.harness import Row
from smsdev.template import LocalNames

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

TAGS = ("vip", "buyers", "newsletter")
CSV_HEADER = ("phone", "name", "tags")
BATCH_WRITE_LIMIT = 25


def contact_rows(rows: int) -> tuple[list[tuple[str, str, str]], int]:
    """`rows` rows of phone,name,tags, each with one or two tags; and the number of memberships they make."""
    lines, memberships = [], 0
    for i in range(rows):
        tags = [TAGS[i % 3]] + ([TAGS[(i + 1) % 3]] if i % 4 == 0 else [])
        memberships += len(tags)
        lines.append((f"300{i:07d}", f"Contact {i}", ";".join(tags)))
    return lines, memberships


def bare_batch_writes(names: LocalNames, rows: int, memberships: int, phone_prefix: str = "") -> float:
    """Seconds for the BatchWriteItem calls (25 items each) of `rows` contacts and `memberships` memberships, made
    directly with boto3 on the stack's tables: the floor any import must at least pay."""
    dynamodb = boto3.client("dynamodb", region_name=names.region)
    tenant = str(uuid.uuid4())

    def puts(table: str, count: int, key: str) -> None:
        for start in range(0, count, BATCH_WRITE_LIMIT):
            items: list[WriteRequestTypeDef] = [
                {
                    "PutRequest": {
                        "Item": {
                            key: {"S": tenant if key == "tenant_id" else f"{tenant}#t"},
                            "contact_id": {"S": str(uuid.uuid4())},
                            "phone": {"S": f"{phone_prefix}300{i:07d}"},
                            "opted_out": {"BOOL": False},
                        }
                    }
                }
                for i in range(start, min(count, start + BATCH_WRITE_LIMIT))
            ]
            dynamodb.batch_write_item(RequestItems={table: items})

    started = time.perf_counter()
    puts(names.physical("ContactsTable"), rows, "tenant_id")
    puts(names.physical("TagMembersTable"), memberships, "tag_key")
    return time.perf_counter() - started


def import_rate_row(name: str, rows: int, seconds: float, floor: float, passed: bool, **details: Any) -> Row:
    """An import's row: rows per second against the bare floor's, with both times (and `details`)."""
    return Row(
        name=name,
        value=round(rows / seconds),
        unit="rows/s",
        baseline=round(rows / floor),
        target="every row imported (rate reported)",
        passed=passed,
        details={"seconds": round(seconds, 1), "floor_seconds": round(floor, 1), **details},
    )
