"""Where smsctl acts: the local stack's endpoint (fake credentials) or a deployed stack (normal AWS credentials).

Everything a command needs to reach AWS hangs off a `Target`: a boto3 session, the endpoint, the physical
names. Credentials for the local endpoint are passed to boto3 and PynamoDB explicitly, never through
os.environ, so a developer's real profile neither leaks to the emulator nor changes for the rest of the
process.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import ClientError
from pynamodb.connection import Connection

from smscore.dal.tables import all_models, bind_tables
from smscore.settings import TableNames
from smsdev.admin_store import DynamoAdminStore
from smsdev.template import ROOT

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

LOCAL_STACK_NAME = "sms-local"
DEFAULT_LOCAL_PORT = 4566
LOCAL_REGION = "us-east-1"


@dataclass(frozen=True)
class StaticCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


# Any value works against the emulator; fixed ones keep a developer's real keys away from it.
LOCAL_CREDENTIALS = StaticCredentials("testing", "testing", "testing")


class TargetError(Exception):
    """The target cannot be used (bad LOCAL_AWS_PORT, unknown stack, missing outputs); exit status 1."""


# `make dev` (smsdev.dev) writes its endpoints here; git-ignored. smsctl reads it when neither --endpoint nor
# LOCAL_AWS_PORT says where the local stack is.
STACK_FILE = ROOT / ".smsdev" / "stack.json"


@dataclass(frozen=True)
class LocalEndpoint:
    url: str
    source: str  # how it was chosen, said when nothing answers there

    def unreachable(self) -> str:
        """What to tell a developer when nothing answers at this endpoint."""
        return (
            f"cannot reach the local stack at {self.url} ({self.source}): start it with `make dev`, or point smsctl "
            f"at the one running: `smsctl --endpoint URL ...`, LOCAL_AWS_PORT=<port>, or {STACK_FILE} (which "
            "`make dev` writes with its ports, and smsctl reads by default)"
        )


def find_local_endpoint(explicit: str | None = None) -> LocalEndpoint:
    """The local stack's AWS endpoint: --endpoint, else LOCAL_AWS_PORT (as `make dev` reads it), else the file
    `make dev` wrote (STACK_FILE), else 127.0.0.1:4566."""
    if explicit:
        return LocalEndpoint(explicit.rstrip("/"), "--endpoint")
    if os.environ.get("LOCAL_AWS_PORT", "").strip():
        return LocalEndpoint(f"http://127.0.0.1:{local_aws_port()}", "LOCAL_AWS_PORT")
    written = _written_endpoint()
    if written is not None:
        return LocalEndpoint(written, f"from {STACK_FILE}, written by `make dev`")
    return LocalEndpoint(f"http://127.0.0.1:{DEFAULT_LOCAL_PORT}", f"the default; no {STACK_FILE}")


def _written_endpoint() -> str | None:
    try:
        written = json.loads(STACK_FILE.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TargetError(f"{STACK_FILE} cannot be read ({exc}): remove it, or pass --endpoint") from exc
    endpoint = written.get("awsEndpoint") if isinstance(written, dict) else None
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise TargetError(f"{STACK_FILE} names no awsEndpoint: remove it, or pass --endpoint")
    return endpoint


def local_aws_port() -> int:
    """The port of the local AWS endpoint, read the way `make dev` reads it (LOCAL_AWS_PORT, default 4566)."""
    raw = os.environ.get("LOCAL_AWS_PORT", "").strip()
    if not raw:  # unset or empty: the default, as smsdev.dev does
        return DEFAULT_LOCAL_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise TargetError(f"LOCAL_AWS_PORT must be a TCP port number, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Target:
    """Physical resource names, region, and (locally) the emulator endpoint with its credentials."""

    description: str
    tables: TableNames
    region: str
    endpoint: str | None  # None: real AWS, endpoints from the normal botocore resolution
    credentials: StaticCredentials | None  # None: the normal AWS credential chain
    delivery_queue_url: str
    dead_letter_queue_url: str
    delivery_queue_arn: str
    dead_letter_queue_arn: str
    unreachable: str | None = None  # the local stack's "nothing answers here" message, with how to point smsctl

    @property
    def local(self) -> bool:
        return self.endpoint is not None

    def session(self) -> boto3.session.Session:
        if self.credentials is None:
            return boto3.session.Session(region_name=self.region)
        return boto3.session.Session(
            aws_access_key_id=self.credentials.access_key_id,
            aws_secret_access_key=self.credentials.secret_access_key,
            aws_session_token=self.credentials.session_token,
            region_name=self.region,
        )

    def sqs(self) -> SQSClient:
        return self.session().client("sqs", endpoint_url=self.endpoint)

    def dynamodb_connection(self) -> Connection:
        creds = self.credentials
        return Connection(
            region=self.region,
            host=self.endpoint,
            aws_access_key_id=creds.access_key_id if creds else None,
            aws_secret_access_key=creds.secret_access_key if creds else None,
            aws_session_token=creds.session_token if creds else None,
        )

    def bind_models(self) -> None:
        """Point the PynamoDB models at this target's tables, with its credentials (PynamoDB's per-model Meta)."""
        bind_tables(self.tables, self.region, host=self.endpoint)
        creds = self.credentials
        for _setting, model in all_models():
            model.Meta.aws_access_key_id = creds.access_key_id if creds else None
            model.Meta.aws_secret_access_key = creds.secret_access_key if creds else None
            model.Meta.aws_session_token = creds.session_token if creds else None

    def admin_store(self) -> DynamoAdminStore:
        self.bind_models()
        return DynamoAdminStore(region=self.region, host=self.endpoint, connection=self.dynamodb_connection())


def table_names_from(values: dict[str, str]) -> TableNames:
    return TableNames.model_validate({field: values[field] for field in TableNames.model_fields})


def local_target(where: LocalEndpoint | None = None) -> Target:
    """Names of the local stack, derived from template.yaml exactly as smsdev.provision creates them."""
    from smsdev.provision import function_environment
    from smsdev.template import LocalNames

    where = where or find_local_endpoint()
    endpoint = where.url
    names = LocalNames(stack_name=LOCAL_STACK_NAME, region=LOCAL_REGION, endpoint=endpoint)
    env = {key.lower(): value for key, value in function_environment(names).items()}
    return Target(
        description=f"local stack at {endpoint}",
        unreachable=where.unreachable(),
        tables=table_names_from(env),
        region=names.region,
        endpoint=endpoint,
        credentials=LOCAL_CREDENTIALS,
        delivery_queue_url=env["delivery_queue_url"],
        dead_letter_queue_url=names.queue_url("DeliveryDeadLetterQueue"),
        delivery_queue_arn=names.queue_arn("DeliveryQueue"),
        dead_letter_queue_arn=names.queue_arn("DeliveryDeadLetterQueue"),
    )


def output_key(table_setting: str) -> str:
    """CloudFormation output naming a table: tag_members_table -> TagMembersTableName."""
    return "".join(part.capitalize() for part in table_setting.split("_")) + "Name"


def deployed_target(stack_name: str, region: str | None) -> Target:
    """Physical names from the outputs of a deployed stack (template.yaml Outputs), normal credential chain."""
    session = boto3.session.Session(region_name=region)
    if session.region_name is None:
        raise TargetError("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message")
        raise TargetError(f"stack {stack_name} in {session.region_name}: {message}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    wanted = {setting: output_key(setting) for setting in TableNames.model_fields} | {
        "delivery_queue_url": "DeliveryQueueUrl",
        "dead_letter_queue_url": "DeliveryDeadLetterQueueUrl",
        "delivery_queue_arn": "DeliveryQueueArn",
        "dead_letter_queue_arn": "DeliveryDeadLetterQueueArn",
    }
    missing = sorted(key for key in wanted.values() if key not in outputs)
    if missing:
        raise TargetError(
            f"stack {stack_name} lacks the outputs {', '.join(missing)} (deployed from an older template?)"
        )
    values = {setting: outputs[key] for setting, key in wanted.items()}
    return Target(
        description=f"stack {stack_name} in {session.region_name}",
        tables=table_names_from(values),
        region=session.region_name,
        endpoint=None,
        credentials=None,
        delivery_queue_url=values["delivery_queue_url"],
        dead_letter_queue_url=values["dead_letter_queue_url"],
        delivery_queue_arn=values["delivery_queue_arn"],
        dead_letter_queue_arn=values["dead_letter_queue_arn"],
    )
