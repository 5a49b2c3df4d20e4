"""template.yaml as the single source of truth: tables, queues, routes, functions and their environment.

The local stack and the tests read resources from here instead of repeating them. Only the handful of
intrinsic functions the template uses are resolved (Ref, GetAtt, Sub, If/Equals on parameters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

_INTRINSICS = {
    "!Ref": "Ref",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Join": "Fn::Join",
    "!Select": "Fn::Select",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Split": "Fn::Split",
    "!FindInMap": "Fn::FindInMap",
}


# libyaml's parser when PyYAML has it (it does from its wheels): the same documents, six times less CPU for
# template.yaml (0.03 s instead of 0.2 s), which every test process and every local stack process reads.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = _INTRINSICS.get("!" + suffix, "Fn::" + suffix)
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open() as handle:
        data: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return data


@dataclass
class LocalNames:
    """Physical names the local stack gives to the template's resources, and how to resolve references."""

    stack_name: str = "sms-local"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    endpoint: str = "http://127.0.0.1:4566"
    parameters: dict[str, Any] = field(default_factory=dict)
    # Function URLs the running local stack serves (smsdev.function_urls), by the function's logical id.
    function_urls: dict[str, str] = field(default_factory=dict)

    def physical(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"

    def function_url(self, function_id: str) -> str:
        """The function's URL: the local server's when the stack serves it, else the shape AWS gives one."""
        return self.function_urls.get(function_id) or (
            f"https://{self.physical(function_id).lower()}.lambda-url.{self.region}.on.aws/"
        )

    def bucket(self, logical_id: str) -> str:
        """S3 bucket names are lower case (and DNS-like)."""
        return self.physical(logical_id).lower()

    def queue_url(self, logical_id: str) -> str:
        return f"{self.endpoint}/{self.account_id}/{self.physical(logical_id)}"

    def queue_arn(self, logical_id: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account_id}:{self.physical(logical_id)}"


class Resolver:
    """Resolves intrinsic functions of template.yaml against local physical names."""

    def __init__(self, template: dict[str, Any], names: LocalNames) -> None:
        self.template = template
        self.names = names
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.parameters = {
            key: names.parameters.get(key, spec.get("Default")) for key, spec in template.get("Parameters", {}).items()
        }
        self.conditions = template.get("Conditions", {})

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.names.region,
            "AWS::AccountId": self.names.account_id,
            "AWS::StackName": self.names.stack_name,
            "AWS::Partition": "aws",
            "AWS::NoValue": None,  # the property is absent; functions() drops such variables
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource_type = self.resources[name]["Type"]
        if resource_type == "AWS::SQS::Queue":
            return self.names.queue_url(name)
        if resource_type == "AWS::S3::Bucket":
            return self.names.bucket(name)
        return self.names.physical(name)

    def get_att(self, name: str, attribute: str) -> Any:
        function_id = name.removesuffix("Url")
        if name not in self.resources and "FunctionUrlConfig" in self._properties(function_id):
            # SAM's generated AWS::Lambda::Url of a function with FunctionUrlConfig: `!GetAtt <Function>Url.FunctionUrl`
            if attribute != "FunctionUrl":
                raise KeyError(f"GetAtt {name}.{attribute} is not resolved locally")
            return self.names.function_url(function_id)
        resource_type = self.resources[name]["Type"]
        if resource_type == "AWS::SQS::Queue":
            return {"Arn": self.names.queue_arn(name), "QueueName": self.names.physical(name)}[attribute]
        if resource_type == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self.names.bucket(name)}"
        if resource_type == "AWS::CloudFront::Distribution" and attribute == "DomainName":
            # No CloudFront locally (the local gateway serves /admin itself): a reserved .invalid name (RFC 2606)
            # keeps the Outputs that name the distribution resolvable, and can never be reached by mistake.
            return f"{self.names.physical(name).lower()}.cloudfront.invalid"
        if attribute == "Arn":
            service = {"AWS::DynamoDB::Table": "dynamodb"}.get(resource_type, "lambda")
            return f"arn:aws:{service}:{self.names.region}:{self.names.account_id}:{self.names.physical(name)}"
        raise KeyError(f"GetAtt {name}.{attribute} is not resolved locally")

    def _properties(self, logical_id: str) -> dict[str, Any]:
        resource = self.resources.get(logical_id) or {}
        if resource.get("Type") != "AWS::Serverless::Function":
            return {}
        properties: dict[str, Any] = resource.get("Properties") or {}
        return properties

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.conditions[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(arg[0], arg[1])
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._sub_var(m.group(1))), arg)
            if key == "Fn::Equals":
                left, right = self.resolve(arg)
                return str(left) == str(right)
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub_var(self, expr: str) -> Any:
        if "." in expr:
            name, attribute = expr.split(".", 1)
            return self.get_att(name, attribute)
        return self.ref(expr)


def resources_of_type(resource_type: str, template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    template = template or load_template()
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def table_create_kwargs(logical_id: str, names: LocalNames, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """CreateTable arguments for a table exactly as template.yaml declares it."""
    props = resources_of_type("AWS::DynamoDB::Table", template)[logical_id]["Properties"]
    kwargs: dict[str, Any] = {
        "TableName": names.physical(logical_id),
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            # Warm throughput is a deployed table's pre-warming (the capacity model reads it): moto has no throughput.
            kwargs[key] = [{k: v for k, v in index.items() if k != "WarmThroughput"} for index in props[key]]
    return kwargs


@dataclass(frozen=True)
class Route:
    function_id: str
    method: str
    path: str
    authorized: bool


@dataclass(frozen=True)
class ScheduleSpec:
    """A function's `Schedule` (EventBridge rule) or `ScheduleV2` (EventBridge Scheduler) event."""

    function_id: str
    event_name: str
    event_type: str  # "Schedule" or "ScheduleV2"
    expression: str  # rate(5 minutes), cron(...)
    input: str | None  # the JSON the target receives, when the template sets one
    enabled: bool

    @property
    def rate_seconds(self) -> int | None:
        """The period of a `rate(...)` expression; None for a cron expression."""
        found = re.fullmatch(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)", self.expression.strip())
        if found is None:
            return None
        unit = found.group(2).rstrip("s")
        return int(found.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[unit]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    module: str  # importable module of the handler, e.g. functions.send_by_tags.app
    handler: str  # attribute name in that module
    timeout: int
    memory_mb: int
    environment: dict[str, str]  # exactly this function's: Globals merged with its own Variables
    routes: list[Route]
    sqs_events: list[dict[str, Any]]
    schedules: list[ScheduleSpec] = field(default_factory=list)


def _schedule(logical_id: str, event_name: str, event: dict[str, Any], resolver: Resolver) -> ScheduleSpec:
    props = resolver.resolve(event.get("Properties", {}))
    expression = props["Schedule"] if event["Type"] == "Schedule" else props["ScheduleExpression"]
    enabled = bool(props.get("Enabled", True)) and str(props.get("State", "ENABLED")).upper() != "DISABLED"
    return ScheduleSpec(logical_id, event_name, event["Type"], str(expression), props.get("Input"), enabled)


def functions(resolver: Resolver) -> dict[str, FunctionSpec]:
    template = resolver.template
    globals_fn = template.get("Globals", {}).get("Function", {})
    base_env = globals_fn.get("Environment", {}).get("Variables", {})
    api = next(iter(resources_of_type("AWS::Serverless::Api", template).values()))
    default_authorizer = api["Properties"].get("Auth", {}).get("DefaultAuthorizer")
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in resources_of_type("AWS::Serverless::Function", template).items():
        props = resource["Properties"]
        env = {**base_env, **props.get("Environment", {}).get("Variables", {})}
        module_file, handler = props["Handler"].rsplit(".", 1)
        module = ".".join((*Path(props["CodeUri"]).parts, module_file))
        routes, sqs_events, schedules = [], [], []
        for event_name, event in props.get("Events", {}).items():
            if event["Type"] == "Api":
                auth = event["Properties"].get("Auth", {}).get("Authorizer", default_authorizer)
                routes.append(
                    Route(
                        logical_id, event["Properties"]["Method"].upper(), event["Properties"]["Path"], auth != "NONE"
                    )
                )
            elif event["Type"] == "SQS":
                sqs_events.append(resolver.resolve(event["Properties"]))
            elif event["Type"] in ("Schedule", "ScheduleV2"):
                schedules.append(_schedule(logical_id, event_name, event, resolver))
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            module=module,
            handler=handler,
            timeout=int(resolver.resolve(props.get("Timeout", globals_fn.get("Timeout", 3)))),
            memory_mb=int(resolver.resolve(props.get("MemorySize", globals_fn.get("MemorySize", 128)))),
            environment={k: str(value) for k, v in env.items() if (value := resolver.resolve(v)) is not None},
            routes=routes,
            sqs_events=sqs_events,
            schedules=schedules,
        )
    return specs
