"""The stack the end-to-end tests talk to over HTTP: by default one local stack per session (`python -m smsdev.dev`
in a subprocess, on free ports, with the demo seed), or a deployed one.

Against a deployment:
- `pytest tests/e2e --stack NAME` (or `E2E_STACK=NAME`): the API URL and every table come from that
  CloudFormation stack; the demo seed is written into its tables (use a disposable test stack);
- `E2E_API_URL=https://.../dev` in addition, to call another URL of that stack (a custom domain, say).
Tests marked `local_only` assert what the local stack itself does (its summary, its logs, its emulator) and
are skipped against a deployment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from smsdev.admin_store import DynamoAdminStore
from smsdev.devstack import FAKE_CREDENTIALS, aws_client, bind_local_tables
from smsdev.gateway import ApiConfig, api_config
from smsdev.provision import function_environment
from smsdev.seed import seed_demo
from smsdev.template import LocalNames, Resolver, load_template
from smsdev.testing import HttpAnswer, RunningDevStack, http_call

ApiResponse = HttpAnswer


def deployed_stack_name(config: pytest.Config) -> str | None:
    name: str | None = config.getoption("--stack", default=None) or os.environ.get("E2E_STACK") or None
    return name


def against_deployment(config: pytest.Config) -> bool:
    return bool(os.environ.get("E2E_API_URL") or deployed_stack_name(config))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not against_deployment(config):
        return
    skip = pytest.mark.skip(reason="asserts the local stack's own behaviour; E2E_API_URL / --stack is set")
    for item in items:
        if item.get_closest_marker("local_only"):
            item.add_marker(skip)


class DeployedNames(LocalNames):
    """A deployed stack's physical names (from CloudFormation), so the template resolves to them."""

    def __init__(self, stack_name: str, region: str, physical_ids: dict[str, str], parameters: dict[str, Any]) -> None:
        super().__init__(stack_name=stack_name, region=region, parameters=parameters)
        self.physical_ids = physical_ids

    def physical(self, logical_id: str) -> str:
        return self.physical_ids[logical_id]

    def queue_url(self, logical_id: str) -> str:
        return self.physical_ids[logical_id]  # a queue's physical id is its URL


@dataclass(frozen=True)
class LocalStackProcess:
    """The stack under test: the local one (`endpoint` is its AWS endpoint) or a deployed one (`endpoint` None)."""

    api_url: str
    endpoint: str | None
    seed: dict[str, Any]
    summary: str  # what `make dev` printed on stdout ("" for a deployment)
    names: LocalNames
    api: ApiConfig
    log_path: Path | None = None  # the local stack's stderr
    deployed: bool = False
    environment: dict[str, str] = field(default_factory=dict)  # the functions' shared environment (table names)
    function_urls: dict[str, str] = field(default_factory=dict)  # FunctionUrlConfig, by function logical id

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> ApiResponse:
        """One HTTP request to the API; JSON bodies decoded, error statuses returned, not raised."""
        return http_call(self.api_url, method, path, token=token, body=body, headers=headers)

    def send(self, token: str | None, payload: Any) -> ApiResponse:
        return self.call("POST", "/api/messages/sms/tags", token=token, body=payload)

    def queue_url(self, logical_id: str) -> str:
        return self.names.queue_url(logical_id)

    def aws_client(self, service: str) -> Any:
        """A client of this stack's account: the local endpoint with its fake credentials, or the real one."""
        if self.endpoint is None:
            return boto3.client(service, region_name=self.names.region)
        return aws_client(service, self.endpoint, self.names.region)


def _deployed(stack_name: str) -> LocalStackProcess:
    """The deployed stack, with the demo seed written into its tables."""
    api_url = os.environ.get("E2E_API_URL", "")
    cloudformation = boto3.client("cloudformation")
    (description,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in description.get("Parameters", [])}
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"] for page in pages for r in page["StackResourceSummaries"]
    }
    names = DeployedNames(stack_name, cloudformation.meta.region_name, physical, parameters)
    environment = function_environment(names)
    bind_local_tables(environment, names.region, None)
    seed = seed_demo(DynamoAdminStore(region=names.region)).as_json()
    return LocalStackProcess(
        api_url=(api_url or outputs["ApiUrl"]).rstrip("/"),
        endpoint=None,
        seed=seed,
        summary="",
        names=names,
        api=api_config(Resolver(load_template(), names)),
        deployed=True,
        environment=environment,
        function_urls={"TwilioStatusFunction": outputs["TwilioStatusCallbackUrl"]},
    )


@pytest.fixture(scope="session")
def local_stack(request: pytest.FixtureRequest) -> Iterator[LocalStackProcess]:
    if against_deployment(request.config):
        stack_name = deployed_stack_name(request.config)
        if stack_name is None:
            pytest.skip("E2E_API_URL needs --stack NAME (or E2E_STACK): the tests write their data into its tables")
        yield _deployed(stack_name)
        return
    running: RunningDevStack = request.getfixturevalue("demo_stack")  # started only when not against a deployment
    names = LocalNames(endpoint=running.endpoint, function_urls=dict(running.function_urls))
    yield LocalStackProcess(
        api_url=running.api_url,
        endpoint=running.endpoint,
        seed=running.seed or {},
        summary=running.summary,
        names=names,
        api=api_config(Resolver(load_template(), names)),
        log_path=running.log_path,
        environment=function_environment(names),
        function_urls=dict(running.function_urls),
    )


@pytest.fixture
def admin(local_stack: LocalStackProcess, monkeypatch: pytest.MonkeyPatch) -> DynamoAdminStore:
    """Admin writes and reads against the stack's tables (as smsctl does)."""
    if local_stack.endpoint is not None:
        for key, value in FAKE_CREDENTIALS.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint)
    bind_local_tables(local_stack.environment, local_stack.names.region, local_stack.endpoint)
    return DynamoAdminStore(region=local_stack.names.region, host=local_stack.endpoint)
