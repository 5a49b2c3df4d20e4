"""Shared fixtures: an in-process moto account holding exactly the tables and queues of template.yaml."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from smsdev.provision import create_queues, create_tables, function_environment
from smsdev.template import LocalNames

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@dataclass
class LambdaContextStub:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    remaining_ms: int = 29_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> LambdaContextStub:
    return LambdaContextStub()


def reset_process_caches() -> None:
    """Forget settings and adapters built for a previous test's account."""
    from functions.authorizer import app as authorizer_app
    from functions.send_by_tags import app as send_app
    from smscore import settings, wiring

    settings.get_settings.cache_clear()
    for factory in (wiring.bound_settings, wiring.campaign_store, wiring.delivery_queue, wiring.idempotency_store):
        factory.cache_clear()
    for cached in (send_app.campaigns, authorizer_app.identity_store):
        getattr(cached, "cache_clear", lambda: None)()  # a test may have replaced it


@dataclass
class Stack:
    names: LocalNames
    queue_urls: dict[str, str]
    env: dict[str, str]

    @property
    def delivery_queue_url(self) -> str:
        return self.queue_urls["DeliveryQueue"]

    def drain_delivery_queue(self) -> list[dict[str, Any]]:
        """Every SQS message currently on the delivery queue, decoded (and removed)."""
        sqs = boto3.client("sqs", region_name=self.names.region)
        bodies = []
        while True:
            got = sqs.receive_message(QueueUrl=self.delivery_queue_url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.delivery_queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def stack(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A fresh moto account with the template's resources, and the functions' environment pointing at it."""
    with mock_aws():
        names = LocalNames(stack_name="test", endpoint="https://sqs.us-east-1.amazonaws.com")
        create_tables(boto3.client("dynamodb", region_name=names.region), names)
        urls = create_queues(boto3.client("sqs", region_name=names.region), names)
        env = function_environment(names)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_process_caches()
        from smscore.wiring import bound_settings

        bound_settings()
        yield Stack(names=names, queue_urls=urls, env=env)
        reset_process_caches()


def api_event(body: Any, *, tenant_id: str, member_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The recorded API Gateway proxy event, with this caller and body."""
    event = copy.deepcopy(load_event("apigw_send_by_tags.json"))
    event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    event["requestContext"]["authorizer"].update(tenantId=tenant_id, memberId=member_id, principalId=member_id)
    for key, value in (headers or {}).items():
        event["headers"][key] = value
        event["multiValueHeaders"][key] = [value]
    return event
