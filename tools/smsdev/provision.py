"""Create the template's tables and queues on an emulator (moto in-process or the local endpoint)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from smsdev.template import LocalNames, Resolver, functions, load_template, resources_of_type, table_create_kwargs


def create_tables(dynamodb: Any, names: LocalNames, template: dict[str, Any] | None = None) -> list[str]:
    created = []
    for logical_id in resources_of_type("AWS::DynamoDB::Table", template):
        dynamodb.create_table(**table_create_kwargs(logical_id, names, template))
        created.append(names.physical(logical_id))
    return created


def create_queues(sqs: Any, names: LocalNames, template: dict[str, Any] | None = None) -> dict[str, str]:
    """Queues in dependency order (dead-letter queues first), with their attributes as declared."""
    template = template or load_template()
    resolver = Resolver(template, names)
    queues = resources_of_type("AWS::SQS::Queue", template)
    ordered = sorted(queues, key=lambda q: "RedrivePolicy" in queues[q].get("Properties", {}))
    urls = {}
    for logical_id in ordered:
        props = resolver.resolve(queues[logical_id].get("Properties", {}))
        attributes = {key: str(props[key]) for key in ("VisibilityTimeout", "MessageRetentionPeriod") if key in props}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        urls[logical_id] = sqs.create_queue(QueueName=names.physical(logical_id), Attributes=attributes)["QueueUrl"]
    return urls


def create_buckets(s3: Any, names: LocalNames, template: dict[str, Any] | None = None) -> list[str]:
    """The template's S3 buckets (the contacts imports bucket), by their local names."""
    created = []
    for logical_id in resources_of_type("AWS::S3::Bucket", template):
        s3.create_bucket(Bucket=names.bucket(logical_id))
        created.append(names.bucket(logical_id))
    return created


def create_resources(
    client: Callable[[str], Any], names: LocalNames, template: dict[str, Any] | None = None
) -> dict[str, str]:
    """Every table, queue and bucket of the template, through `client(service)`; the queue URLs by logical id."""
    create_tables(client("dynamodb"), names, template)
    urls = create_queues(client("sqs"), names, template)
    create_buckets(client("s3"), names, template)
    return urls


def function_environment(names: LocalNames, logical_id: str = "SendByTagsFunction") -> dict[str, str]:
    """Environment variables a function gets, as template.yaml sets them, resolved to local names."""
    return dict(functions(Resolver(load_template(), names))[logical_id].environment)


class _ClientExclusionWriter:
    """smscore.domain.exclusions.ExclusionWriter over a bare DynamoDB client (no bound models needed)."""

    def __init__(self, dynamodb: Any, exclusions_table: str, settings_table: str) -> None:
        self._dynamodb = dynamodb
        self._exclusions = exclusions_table
        self._settings = settings_table

    def write_numbers(self, snapshot_id: str, numbers: Any, expires_at: Any) -> None:
        for number in numbers:
            item = {"number": {"S": number}, "snapshot": {"S": snapshot_id}}
            self._dynamodb.put_item(
                TableName=self._exclusions, Item={**item, "expires_at": {"N": str(int(expires_at.timestamp()))}}
            )

    def publish(self, snapshot: Any) -> None:
        from smscore.dal.exclusion_store import POINTER, snapshot_json

        item = {
            "setting": {"S": POINTER},
            "value": {"S": snapshot_json(snapshot)},
            "updated_at": {"S": snapshot.loaded_at.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")},
        }
        self._dynamodb.put_item(TableName=self._settings, Item=item)


def seed_exclusion_snapshot(dynamodb: Any, names: LocalNames, numbers: tuple[str, ...] = ()) -> None:
    """A current RNE snapshot dated today (Bogota) holding `numbers`: what the platform operator loads on AWS
    (`smsctl exclusions import`), so that marketing to CO works on a local or test stack (docs/compliance-co.md)."""
    from datetime import UTC, datetime

    from smscore.domain.compliance import bogota_today
    from smscore.domain.exclusions import load_snapshot

    writer = _ClientExclusionWriter(dynamodb, names.physical("ExclusionsTable"), names.physical("SettingsTable"))
    load_snapshot(numbers, bogota_today(), writer, now=datetime.now(UTC))
