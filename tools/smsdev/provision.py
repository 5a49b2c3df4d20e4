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
