"""The whole local stack in one object: emulator, resources from template.yaml, Lambda environments, API,
SQS pollers and schedules.

Options that only the local stack reads (never template parameters; `--param` takes both):
- `LocalGatewayTimeoutSeconds`: the API's integration timeout (API Gateway: 29 s);
- `LocalScheduleRateSeconds`: the period of every `rate(...)` schedule, so a test need not wait minutes;
- `<FunctionLogicalId>.Timeout`: that function's Timeout in seconds, instead of the template's.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from smscore.dal.tables import bind_tables
from smscore.settings import TableNames
from smsdev.emulator import LocalAws
from smsdev.function_urls import FunctionUrlServer, url_functions
from smsdev.gateway import INTEGRATION_TIMEOUT_SECONDS, ApiGateway, GatewayServer, api_config
from smsdev.lambdas import LambdaRuntime, LocalFunction
from smsdev.poller import SqsPoller, event_source_from_template
from smsdev.provision import create_resources, seed_exclusion_snapshot
from smsdev.s3_events import ObjectCreatedWatcher, object_created_rules
from smsdev.scheduler import Scheduler
from smsdev.template import (
    TEMPLATE_PATH,
    FunctionSpec,
    LocalNames,
    Resolver,
    functions,
    load_template,
    resources_of_type,
)

log = logging.getLogger("smsdev.devstack")

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}
GATEWAY_TIMEOUT_PARAMETER = "LocalGatewayTimeoutSeconds"
SCHEDULE_RATE_PARAMETER = "LocalScheduleRateSeconds"
TIMEOUT_SUFFIX = ".Timeout"


@dataclass(frozen=True)
class LocalSettings:
    """The `--param` values only the local stack reads, split from the template's parameters."""

    template_parameters: dict[str, Any]
    gateway_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS
    schedule_rate_seconds: float | None = None
    function_timeouts: dict[str, float] = field(default_factory=dict)


def split_parameters(parameters: dict[str, Any], template: dict[str, Any]) -> LocalSettings:
    """Template parameters and local settings; ValueError for a name that is neither (a typo would be ignored)."""
    declared = set(template.get("Parameters", {}))
    function_ids = set(resources_of_type("AWS::Serverless::Function", template))
    template_parameters: dict[str, Any] = {}
    gateway_timeout, schedule_rate, timeouts = INTEGRATION_TIMEOUT_SECONDS, None, {}
    for name, value in parameters.items():
        if name in declared:
            template_parameters[name] = value
        elif name == GATEWAY_TIMEOUT_PARAMETER:
            gateway_timeout = _seconds(name, value)
        elif name == SCHEDULE_RATE_PARAMETER:
            schedule_rate = _seconds(name, value)
        elif name.endswith(TIMEOUT_SUFFIX) and name.removesuffix(TIMEOUT_SUFFIX) in function_ids:
            timeouts[name.removesuffix(TIMEOUT_SUFFIX)] = _seconds(name, value)
        else:
            known = [*sorted(declared), GATEWAY_TIMEOUT_PARAMETER, SCHEDULE_RATE_PARAMETER, "<FunctionId>.Timeout"]
            raise ValueError(f"unknown parameter {name!r}; known: {', '.join(known)}")
    return LocalSettings(template_parameters, gateway_timeout, schedule_rate, timeouts)


def _seconds(name: str, value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} takes seconds, got {value!r}") from None
    if seconds <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return seconds


def function_env(spec: FunctionSpec, endpoint: str, region: str) -> dict[str, str]:
    """Exactly this function's template environment, pointed at the local endpoint with local credentials."""
    env = dict(spec.environment)
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
class DevStack:
    aws_port: int = 4566
    api_port: int = 3000
    workers: int = 2  # execution environments per function, at most (each is a process on a small machine)
    poller_concurrency: int = 2
    parameters: dict[str, Any] = field(default_factory=dict)
    template_path: Path = TEMPLATE_PATH

    def __post_init__(self) -> None:
        self.template = load_template(self.template_path)
        self.settings = split_parameters(self.parameters, self.template)  # fails before anything starts
        self.aws = LocalAws(self.aws_port)
        self.runtime: LambdaRuntime | None = None
        self.api: GatewayServer | None = None
        self.function_urls: list[FunctionUrlServer] = []  # FunctionUrlConfig: each function URL its own server
        self.pollers: list[SqsPoller] = []
        self.scheduler: Scheduler | None = None
        self.s3_events: ObjectCreatedWatcher | None = None
        self.names = LocalNames()
        self.environments: dict[str, dict[str, str]] = {}  # function logical id -> its environment
        self.queue_urls: dict[str, str] = {}

    @property
    def endpoint(self) -> str:
        return self.aws.endpoint

    @property
    def api_url(self) -> str:
        return self.api.url if self.api else f"http://127.0.0.1:{self.api_port}"

    @property
    def shared_environment(self) -> dict[str, str]:
        """What every function's environment holds (the template's Globals: table names and the like)."""
        envs = list(self.environments.values())
        return {k: v for k, v in envs[0].items() if all(e.get(k) == v for e in envs[1:])} if envs else {}

    def start(self) -> None:
        self.aws.start()
        self.names = LocalNames(endpoint=self.aws.endpoint, parameters=dict(self.settings.template_parameters))
        # Function URLs first: their local addresses go into the environments that name them (GetAtt ...Url).
        for function_id in url_functions(self.template):
            server = FunctionUrlServer(
                function_id, self.names.physical(function_id), self.names.account_id, self.names.region
            )
            server.start()
            self.function_urls.append(server)
            self.names.function_urls[function_id] = server.function_url
        resolver = Resolver(self.template, self.names)
        specs = functions(resolver)
        region = self.names.region
        self.queue_urls = create_resources(
            lambda service: aws_client(service, self.endpoint, region), self.names, self.template
        )
        # A current RNE snapshot, as the platform operator keeps one on AWS (`smsctl exclusions import`): marketing to
        # CO is refused without it. Empty here; the demo seed replaces it with one listing a demo number.
        # A template without the exclusion tables (tests/tooling's probe stack) has no RNE to seed.
        if {"ExclusionsTable", "SettingsTable"} <= self.template["Resources"].keys():
            seed_exclusion_snapshot(aws_client("dynamodb", self.endpoint, region), self.names)
        sqs = aws_client("sqs", self.endpoint, region)
        self.environments = {fid: function_env(spec, self.endpoint, region) for fid, spec in specs.items()}
        local_functions = [
            LocalFunction(
                function_id=fid,
                function_name=self.names.physical(fid),
                module=spec.module,
                attribute=spec.handler,
                timeout_seconds=self.settings.function_timeouts.get(fid, float(spec.timeout)),
                memory_mb=spec.memory_mb,
                environment=self.environments[fid],
            )
            for fid, spec in specs.items()
        ]
        self.runtime = LambdaRuntime(local_functions, self.workers, region, self.names.account_id)
        config = api_config(resolver)
        # Warm one environment of each function a request or a queue calls; scheduled ones start on their first run.
        warm = {fid for fid, spec in specs.items() if spec.routes or spec.sqs_events}
        if config.authorizer_function:
            warm.add(config.authorizer_function)
        self.runtime.start(warm=sorted(warm))
        runtime = self.runtime
        gateway = ApiGateway(config, runtime.invoke, integration_timeout_seconds=self.settings.gateway_timeout_seconds)
        self.api = GatewayServer(gateway, self.api_port, aws_endpoint=self.endpoint)
        self.api.start()
        for server in self.function_urls:
            server.invoke = runtime.invoke
        arn_to_queue = {self.names.queue_arn(q): url for q, url in self.queue_urls.items()}
        for fid, spec in specs.items():
            for properties in spec.sqs_events:
                source = event_source_from_template(
                    properties, arn_to_queue[str(properties["Queue"])], region, self.poller_concurrency
                )
                poller = SqsPoller(sqs, source, functools.partial(runtime.invoke, fid))
                poller.start()
                self.pollers.append(poller)
        schedules = [schedule for spec in specs.values() for schedule in spec.schedules]
        self.scheduler = Scheduler(schedules, runtime.invoke, self.names, self.settings.schedule_rate_seconds)
        self.scheduler.start()
        s3 = aws_client("s3", self.endpoint, region)
        self.s3_events = ObjectCreatedWatcher(object_created_rules(resolver), s3, runtime.invoke, self.names)
        self.s3_events.start()

    def stop(self) -> None:
        if self.s3_events is not None:
            self.s3_events.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        for poller in self.pollers:
            poller.stop()
        if self.api is not None:
            self.api.stop()
        for server in self.function_urls:
            server.stop()
        if self.runtime is not None:
            self.runtime.stop()
        self.aws.stop()
