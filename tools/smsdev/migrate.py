"""`smsctl migrate`: the data changes an upgrade needs after the deploy, as registered steps (docs/operations.md,
"Upgrading").

Each step reads one source table page by page and applies an idempotent change per item (a conditional write).
After every page its position (DynamoDB's LastEvaluatedKey) and counts are saved in the Settings table under
`migration#<step id>`, so an interrupted run resumes where it stopped, a finished step is skipped next time, and
running everything again changes nothing. A key change of the future registers its step here with `@step(...)`:
its source (which table to read, or None when there is nothing to do) and its per-item function.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

MIGRATION_PREFIX = "migration#"


@dataclass(frozen=True)
class MigrationContext:
    """What a step needs to find its source: the DynamoDB client, the stack's name prefix and today's tables."""

    dynamodb: Any
    stack_prefix: str  # physical table names start with it: "<stack>-" (CloudFormation) or the local stack's
    tables: dict[str, str]  # TableNames settings (suppressions_table, ...) -> physical names, as bound now

    def tables_named(self, logical_id: str) -> Iterator[str]:
        """Every table of this stack made from `logical_id` (a retained one included), by name prefix."""
        prefix = f"{self.stack_prefix}{logical_id}"
        for page in self.dynamodb.get_paginator("list_tables").paginate():
            yield from (name for name in page["TableNames"] if name.startswith(prefix))

    def key_schema(self, table: str) -> list[dict[str, str]]:
        schema: list[dict[str, str]] = self.dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
        return schema


@dataclass(frozen=True)
class Step:
    id: str  # stable: the checkpoint's key; never reuse one
    title: str
    source: Callable[[MigrationContext], str | None]  # the table to read; None: nothing to migrate here
    apply: Callable[[dict[str, Any], Counter[str]], None]  # one item (wire format) -> counts


STEPS: list[Step] = []


def step(id: str, title: str, source: Callable[[MigrationContext], str | None]) -> Callable[..., Any]:
    """Register a migration step (in the order of the releases that need them)."""

    def register(
        apply: Callable[[dict[str, Any], Counter[str]], None],
    ) -> Callable[[dict[str, Any], Counter[str]], None]:
        if any(existing.id == id for existing in STEPS):
            raise ValueError(f"migration step {id} is registered twice")
        STEPS.append(Step(id, title, source, apply))
        return apply

    return register


@dataclass
class Checkpoint:
    status: str = "PENDING"  # PENDING | RUNNING | DONE
    cursor: dict[str, Any] | None = None  # LastEvaluatedKey of the last page applied
    counts: dict[str, int] = field(default_factory=dict)
    source: str | None = None
    updated_at: str | None = None


class Checkpoints:
    """Each step's progress as one Settings item `migration#<id>` (its `value` is the JSON of a Checkpoint)."""

    def __init__(self, dynamodb: Any, settings_table: str) -> None:
        self._dynamodb = dynamodb
        self._table = settings_table

    def load(self, step_id: str) -> Checkpoint:
        item = self._dynamodb.get_item(
            TableName=self._table, Key={"setting": {"S": MIGRATION_PREFIX + step_id}}, ConsistentRead=True
        ).get("Item")
        return Checkpoint(**json.loads(item["value"]["S"])) if item else Checkpoint()

    def save(self, step_id: str, checkpoint: Checkpoint) -> None:
        checkpoint.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._dynamodb.put_item(
            TableName=self._table,
            Item={"setting": {"S": MIGRATION_PREFIX + step_id}, "value": {"S": json.dumps(asdict(checkpoint))}},
        )


def run(
    context: MigrationContext,
    checkpoints: Checkpoints,
    progress: Callable[[Step, int], None] = lambda _step, _items: None,
    steps: list[Step] | None = None,
    page_size: int = 500,
) -> list[dict[str, Any]]:
    """Run every step not DONE yet, resuming a RUNNING one from its cursor; what each did."""
    report = []
    for current in STEPS if steps is None else steps:
        checkpoint = checkpoints.load(current.id)
        if checkpoint.status == "DONE":
            report.append({"step": current.id, "title": current.title, "status": "already done", **checkpoint.counts})
            continue
        source = checkpoint.source or current.source(context)
        if source is None:
            checkpoint.status = "DONE"
            checkpoints.save(current.id, checkpoint)
            report.append({"step": current.id, "title": current.title, "status": "nothing to migrate"})
            continue
        counts: Counter[str] = Counter(checkpoint.counts)
        checkpoint.status, checkpoint.source = "RUNNING", source
        resumed = checkpoint.cursor is not None
        while True:
            request: dict[str, Any] = {"TableName": source, "ConsistentRead": True, "Limit": page_size}
            if checkpoint.cursor:
                request["ExclusiveStartKey"] = checkpoint.cursor
            page = context.dynamodb.scan(**request)
            for item in page.get("Items", []):
                current.apply(item, counts)
                counts["items"] += 1
            checkpoint.cursor, checkpoint.counts = page.get("LastEvaluatedKey"), dict(counts)
            if checkpoint.cursor is None:
                checkpoint.status = "DONE"
            checkpoints.save(current.id, checkpoint)
            progress(current, counts["items"])
            if checkpoint.cursor is None:
                break
        status = "done (resumed)" if resumed else "done"
        report.append({"step": current.id, "title": current.title, "status": status, "source": source, **counts})
    return report


# -- the steps ----------------------------------------------------------------------------------------------------


def _retained_sender_keyed_suppressions(context: MigrationContext) -> str | None:
    """The Suppressions table of the release before issue 20: retained by CloudFormation when the key changed to
    (number, sender), recognised by its old key (sender, number). None on a stack that never had one."""
    current = context.tables["suppressions_table"]
    for name in context.tables_named("SuppressionsTable"):
        if name != current and [k["AttributeName"] for k in context.key_schema(name)] == ["sender", "number"]:
            return name
    return None


@step(
    "2026-12-suppressions-keyed-by-number",
    "copy opt-outs from the sender-keyed Suppressions table into the number-keyed one",
    _retained_sender_keyed_suppressions,
)
def _copy_opt_out(item: dict[str, Any], counts: Counter[str]) -> None:
    from smscore.dal.opt_out_backfill import BackfillReport, copy_item

    report = BackfillReport()
    copy_item(item, report)
    counts.update({k: v for k, v in asdict(report).items() if v})
