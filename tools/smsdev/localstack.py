"""The whole local stack in one object: emulator, resources from template.yaml, Lambda environments, API, poller."""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import boto3

from smscore.dal.tables import bind_tables
from smscore.settings import TableNames
from smsdev.emulator import LocalAws
from smsdev.gateway import ApiGateway, GatewayServer, api_config
from smsdev.lambdas import HandlerRef, LambdaRuntime
from smsdev.poller import SqsPoller, event_source_from_template
from smsdev.provision import create_queues, create_tables
from smsdev.template import FunctionSpec, LocalNames, Resolver, functions, load_template

log = logging.getLogger("smsdev.localstack")

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def function_env(specs: dict[str, FunctionSpec], endpoint: str, region: str) -> dict[str, str]:
    """One environment for every function: they share a process image locally, and their template env agrees."""
    env: dict[str, str] = {}
    for spec in specs.values():
        for key, value in spec.environment.items():
            if env.get(key, value) != value:
                raise ValueError(f"functions disagree on {key}; the local stack gives all of them one environment")
            env[key] = value
    env.update(FAKE_CREDENTIALS)
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_REGION=region, AWS_DEFAULT_REGION=region)
    # No X-Ray daemon locally; EMF metric blobs would drown the logs (set either to "false" to get them back).
    env["POWERTOOLS_TRACE_DISABLED"] = os.environ.get("POWERTOOLS_TRACE_DISABLED", "true")
    env["POWERTOOLS_METRICS_DISABLED"] = os.environ.get("POWERTOOLS_METRICS_DISABLED", "true")
    return env


def bind_local_tables(env: dict[str, str], region: str, endpoint: str) -> None:
    """Point this process's PynamoDB models at the local stack's tables (for the seed, smsctl and tests)."""
    fields = {name: env[name.upper()] for name in TableNames.model_fields}
    bind_tables(TableNames.model_validate(fields), region, host=endpoint)


def aws_client(service: str, endpoint: str, region: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


@dataclass
class LocalStack:
    aws_port: int = 4566
    api_port: int = 3000
    workers: int = 4
    poller_concurrency: int = 2
    parameters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.aws = LocalAws(self.aws_port)
        self.runtime: LambdaRuntime | None = None
        self.api: GatewayServer | None = None
        self.pollers: list[SqsPoller] = []
        self.names = LocalNames()
        self.env: dict[str, str] = {}
        self.queue_urls: dict[str, str] = {}

    @property
    def endpoint(self) -> str:
        return self.aws.endpoint

    @property
    def api_url(self) -> str:
        return self.api.url if self.api else f"http://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        self.aws.start()
        self.names = LocalNames(endpoint=self.aws.endpoint, parameters=dict(self.parameters))
        resolver = Resolver(load_template(), self.names)
        specs = functions(resolver)
        region = self.names.region
        create_tables(aws_client("dynamodb", self.endpoint, region), self.names)
        sqs = aws_client("sqs", self.endpoint, region)
        self.queue_urls = create_queues(sqs, self.names)
        self.env = function_env(specs, self.endpoint, region)
        template = load_template()
        default_memory = template.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
        refs = {
            logical_id: HandlerRef(
                function_name=self.names.physical(logical_id),
                module=spec.module,
                attribute=spec.handler,
                timeout_seconds=spec.timeout,
                memory_mb=int(template["Resources"][logical_id]["Properties"].get("MemorySize", default_memory)),
            )
            for logical_id, spec in specs.items()
        }
        self.runtime = LambdaRuntime(
            self.env, self.workers, [(r.module, r.attribute) for r in refs.values()], self.names.account_id
        )
        self.runtime.start()
        runtime = self.runtime

        def invoke(function_id: str, event: dict[str, Any]) -> Any:
            return runtime.invoke(refs[function_id], event)

        self.api = GatewayServer(ApiGateway(api_config(resolver), invoke), self.api_port)
        self.api.start()
        arn_to_queue = {self.names.queue_arn(q): url for q, url in self.queue_urls.items()}
        for logical_id, spec in specs.items():
            for properties in spec.sqs_events:
                source = event_source_from_template(
                    properties, arn_to_queue[str(properties["Queue"])], region, self.poller_concurrency
                )
                poller = SqsPoller(sqs, source, functools.partial(runtime.invoke, refs[logical_id]))
                poller.start()
                self.pollers.append(poller)

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        if self.api is not None:
            self.api.stop()
        if self.runtime is not None:
            self.runtime.stop()
        self.aws.stop()
