"""S3 `Object Created` events delivered through EventBridge, played locally by watching the buckets.

A bucket with `EventBridgeConfiguration` sends every new object to the default event bus, where a function's
`EventBridgeRule` event (source `aws.s3`, detail-type `Object Created`, bucket name, key prefix) invokes it
asynchronously. moto does not forward S3 events to functions in other processes, so this watcher lists the
matching buckets and prefixes twice a second and invokes the function once per new object (key + ETag) with the
event EventBridge would deliver. A failed invocation is logged, not retried (Lambda's async retries are not
played).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smsdev.lambdas import InvocationError, InvocationTimeout
from smsdev.template import LocalNames, Resolver, resources_of_type

log = logging.getLogger("smsdev.s3_events")

Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class ObjectCreatedRule:
    function_id: str
    bucket: str
    prefix: str


def object_created_rules(resolver: Resolver) -> list[ObjectCreatedRule]:
    """Every function's EventBridgeRule on S3 Object Created, with its bucket and key prefix resolved."""
    rules: list[ObjectCreatedRule] = []
    for function_id, resource in resources_of_type("AWS::Serverless::Function", resolver.template).items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "EventBridgeRule":
                continue
            pattern = resolver.resolve(event["Properties"]["Pattern"])
            if "aws.s3" not in pattern.get("source", []) or "Object Created" not in pattern.get("detail-type", []):
                continue
            detail = pattern.get("detail", {})
            prefixes = [p["prefix"] for p in detail.get("object", {}).get("key", []) if isinstance(p, dict)] or [""]
            for bucket in detail.get("bucket", {}).get("name", []):
                rules.extend(ObjectCreatedRule(function_id, str(bucket), prefix) for prefix in prefixes)
    return rules


def object_created_event(bucket: str, obj: dict[str, Any], names: LocalNames) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": names.account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": names.region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": obj["Key"], "size": obj["Size"], "etag": obj["ETag"].strip('"')},
            "reason": "PutObject",
        },
    }


class ObjectCreatedWatcher:
    """Polls the rules' buckets; each new object (key, ETag) invokes its function once, on its own thread."""

    def __init__(
        self, rules: list[ObjectCreatedRule], s3: Any, invoke: Invoke, names: LocalNames, period: float = 0.5
    ) -> None:
        self.rules = rules
        self._s3 = s3
        self._invoke = invoke
        self._names = names
        self._period = period
        self._seen: set[tuple[str, str, str]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.rules:
            return
        for rule in self.rules:
            log.info("%s runs on new objects in s3://%s/%s", rule.function_id, rule.bucket, rule.prefix)
        self._thread = threading.Thread(target=self._run, name="s3-object-created", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self.poll()

    def poll(self) -> None:
        for rule in self.rules:
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=rule.bucket, Prefix=rule.prefix):
                for obj in page.get("Contents", []):
                    seen = (rule.bucket, obj["Key"], obj["ETag"])
                    if seen in self._seen:
                        continue
                    self._seen.add(seen)
                    event = object_created_event(rule.bucket, obj, self._names)
                    threading.Thread(target=self._deliver, args=(rule, event), daemon=True).start()

    def _deliver(self, rule: ObjectCreatedRule, event: dict[str, Any]) -> None:
        try:
            self._invoke(rule.function_id, event)
        except InvocationError as exc:
            log.error("%s (S3 Object Created) failed: %s\n%s", rule.function_id, exc, "".join(exc.stack_trace))
        except InvocationTimeout as exc:
            log.error("%s (S3 Object Created): %s", rule.function_id, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
