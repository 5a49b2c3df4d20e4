"""smsctl: the admin CLI. Talks to the local stack (`make dev`) by default, or to a deployed stack with --stack.

Every command prints one JSON object on stdout. Bad input: a message on stderr and exit 2 (usage) or 1
(rejected by the domain, missing resources, unreachable endpoint). Run `smsctl --help` for the commands.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError
from pynamodb.exceptions import PynamoDBException

from smscore.dal.tables import LedgerRecord, OutboxRecord, bind_tables
from smscore.domain.errors import DomainError, InvalidRequest
from smscore.domain.phone import is_supported_country
from smscore.settings import TableNames
from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.csv_import import ContactRow, CsvHeaderError, ImportReport, RejectedRow, parse_contacts

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

LOCAL_STACK_NAME = "sms-local"
DEFAULT_LOCAL_PORT = 4566
LOCAL_REGION = "us-east-1"
IMPORT_CHUNK_ROWS = 500  # rows handed to one worker: ~20 BatchWriteItem calls of contacts + memberships
# SQS error codes meaning "StartMessageMoveTask is not available here" (emulators, older partitions).
_MOVE_TASK_UNSUPPORTED = {"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "InvalidAction"}


class CliError(Exception):
    """A failure the user can act on; printed as `error: <message>` with exit status 1."""


# ---------------------------------------------------------------------------------------------- target stack
def local_aws_port() -> int:
    """The port of the local AWS endpoint, read the way `make dev` reads it (LOCAL_AWS_PORT, default 4566)."""
    raw = os.environ.get("LOCAL_AWS_PORT", "").strip()
    if not raw:  # unset or empty: the default, as smsdev.dev does
        return DEFAULT_LOCAL_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise CliError(f"LOCAL_AWS_PORT must be a TCP port number, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Target:
    """Where the commands act: physical resource names, region and (locally) the emulator endpoint."""

    description: str
    tables: TableNames
    region: str
    endpoint: str | None  # None: real AWS, endpoints from the normal botocore resolution
    delivery_queue_url: str
    dead_letter_queue_url: str
    delivery_queue_arn: str
    dead_letter_queue_arn: str

    @property
    def local(self) -> bool:
        return self.endpoint is not None

    def sqs(self) -> SQSClient:
        return boto3.client("sqs", region_name=self.region, endpoint_url=self.endpoint)

    def admin_store(self) -> DynamoAdminStore:
        bind_tables(self.tables, self.region, host=self.endpoint)
        return DynamoAdminStore(region=self.region, host=self.endpoint)


def table_names_from(values: dict[str, str]) -> TableNames:
    return TableNames.model_validate({field: values[field] for field in TableNames.model_fields})


def local_target() -> Target:
    """Names of the local stack, derived from template.yaml exactly as smsdev.provision creates them."""
    from smsdev.provision import function_environment
    from smsdev.template import LocalNames

    endpoint = f"http://127.0.0.1:{local_aws_port()}"
    names = LocalNames(stack_name=LOCAL_STACK_NAME, region=LOCAL_REGION, endpoint=endpoint)
    env = {key.lower(): value for key, value in function_environment(names).items()}
    return Target(
        description=f"local stack at {endpoint}",
        tables=table_names_from(env),
        region=names.region,
        endpoint=endpoint,
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
        raise CliError("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise CliError(f"stack {stack_name} in {session.region_name}: {exc.response['Error'].get('Message')}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    wanted = {setting: output_key(setting) for setting in TableNames.model_fields} | {
        "delivery_queue_url": "DeliveryQueueUrl",
        "dead_letter_queue_url": "DeliveryDeadLetterQueueUrl",
        "delivery_queue_arn": "DeliveryQueueArn",
        "dead_letter_queue_arn": "DeliveryDeadLetterQueueArn",
    }
    missing = sorted(key for key in wanted.values() if key not in outputs)
    if missing:
        raise CliError(f"stack {stack_name} lacks the outputs {', '.join(missing)} (deployed from an older template?)")
    values = {setting: outputs[key] for setting, key in wanted.items()}
    return Target(
        description=f"stack {stack_name} in {session.region_name}",
        tables=table_names_from(values),
        region=session.region_name,
        endpoint=None,
        delivery_queue_url=values["delivery_queue_url"],
        dead_letter_queue_url=values["dead_letter_queue_url"],
        delivery_queue_arn=values["delivery_queue_arn"],
        dead_letter_queue_arn=values["dead_letter_queue_arn"],
    )


@contextmanager
def local_credentials() -> Iterator[None]:
    """Fake credentials for the emulator, restored afterwards (a developer's real profile must not matter)."""
    overrides: dict[str, str | None] = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
    }
    saved = {key: os.environ.get(key) for key in overrides}
    try:
        for key, value in overrides.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


# ---------------------------------------------------------------------------------------------- argument types
def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of zero or more, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of zero or more, got {text!r}")
    return value


def country_code(text: str) -> str:
    code = text.strip().upper()
    if not is_supported_country(code):
        raise argparse.ArgumentTypeError(f"{text!r} is not a supported ISO 3166 alpha-2 country code (e.g. CO, US)")
    return code


def non_blank(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be blank")
    return text.strip()


# ---------------------------------------------------------------------------------------------- commands
Handler = Callable[[argparse.Namespace, Target], dict[str, Any]]


def tenant_create(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    store = target.admin_store()
    tenant_id = store.create_tenant(args.name, credits=args.credits, default_country=args.country)
    return {"tenantId": tenant_id, "name": args.name, "credits": args.credits, "defaultCountry": args.country}


def member_create(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    member = target.admin_store().create_member(args.tenant, args.email, accept_terms=args.accept_terms)
    print("note: the token is shown once and only its hash is stored; keep it now.", file=sys.stderr)
    return {
        "memberId": member.member_id,
        "tenantId": member.tenant_id,
        "email": member.email,
        "token": member.token.token,
        "tokenPrefix": member.token.prefix,
        "acceptedTermsVersion": member.accepted_terms_version,
    }


def member_accept_terms(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    version = target.admin_store().accept_terms(args.member)
    return {"memberId": args.member, "acceptedTermsVersion": version}


def terms_publish(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    """A new version makes every member whose accepted version differs read-only until they accept it."""
    store = target.admin_store()
    previous = store.current_terms_version()
    if previous == args.version:
        raise InvalidRequest(f"terms version {args.version} is already current; publish a new version")
    return {"termsVersion": store.publish_terms(args.version), "previousVersion": previous}


def token_revoke(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    return {"prefix": args.prefix, "revoked": target.admin_store().revoke_token(args.prefix)}


def _ledger_json(entry: LedgerRecord) -> dict[str, Any]:
    return {
        "entryId": entry.entry_id,
        "kind": entry.kind,
        "amount": int(entry.amount),
        "queueId": entry.queue_id,
        "reason": entry.reason,
        "createdAt": entry.created_at.isoformat(),
    }


def credits_add(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    balance = target.admin_store().add_credits(args.tenant, args.amount)
    return {"tenantId": args.tenant, "added": args.amount, "balance": balance}


def credits_show(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    store = target.admin_store()
    tenant = store.tenant(args.tenant)
    ledger = store.ledger(args.tenant)  # sorted by entry id = by time
    ledger_sum = sum(int(entry.amount) for entry in ledger)
    balance = int(tenant.credits)
    return {
        "tenantId": args.tenant,
        "name": tenant.name,
        "balance": balance,
        "ledgerSum": ledger_sum,
        "consistent": balance == ledger_sum,
        "ledgerEntries": len(ledger),
        "recent": [_ledger_json(entry) for entry in reversed(ledger[-args.limit :])],
    }


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, stream: IO[str], enabled: bool) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.enabled = enabled
        self._last = 0.0

    def update(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self._last < 0.1):
            return
        self._last = now
        share = min(done / self.total, 1.0)
        bar = "#" * int(share * 30)
        self.stream.write(f"\rimporting [{bar:<30}] {share:4.0%} {done:,}/{self.total:,} rows")
        if final:
            self.stream.write("\n")
        self.stream.flush()


def contacts_import(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    """Validate every row, then write contacts and memberships in batches from a few threads.

    Tag names are resolved (created on first use) on the main thread before a chunk is handed to a
    worker, so two workers never create the same tag. The import is not idempotent: running the same
    file twice creates the contacts twice.
    """
    path: Path = args.file
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # decode everything first: no half import on bad bytes
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    store = target.admin_store()
    tenant = store.tenant(args.tenant)
    report = ImportReport(limit=args.max_listed)
    tag_ids: dict[str, str] = {}
    tag_names: dict[str, str] = {}
    data_lines = text.count("\n") + (not text.endswith("\n")) - 1  # minus the header
    progress = Progress(data_lines, sys.stderr, enabled=sys.stderr.isatty())
    started = time.monotonic()
    in_flight: deque[tuple[Future[list[str]], int]] = deque()

    def settle(future: Future[list[str]], rows: int) -> None:
        future.result()
        report.imported += rows
        progress.update(report.imported + report.rejected)

    def submit(pool: ThreadPoolExecutor, chunk: list[ContactRow]) -> None:
        for row in chunk:
            for name in row.tags:
                key = name.casefold()
                if key not in tag_ids:
                    tag_ids[key] = store.ensure_tag(args.tenant, name)
                    tag_names[key] = name
        contacts = [ContactInput(phone=row.phone, name=row.name, tag_names=row.tags) for row in chunk]
        in_flight.append((pool.submit(store.add_contacts, args.tenant, contacts, tag_ids), len(chunk)))
        while len(in_flight) > args.workers * 2:
            settle(*in_flight.popleft())

    try:
        rows = parse_contacts(io.StringIO(text, newline=None), tenant.default_country)
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            chunk: list[ContactRow] = []
            try:
                for row in rows:
                    if isinstance(row, RejectedRow):
                        report.reject(row)
                        continue
                    if row.warning:
                        report.warn(row)
                    chunk.append(row)
                    if len(chunk) >= IMPORT_CHUNK_ROWS:
                        submit(pool, chunk)
                        chunk = []
                if chunk:
                    submit(pool, chunk)
                while in_flight:
                    settle(*in_flight.popleft())
            finally:
                for future, _ in in_flight:
                    future.cancel()
    except CsvHeaderError as exc:
        raise CliError(f"{path}: {exc}") from exc
    except (PynamoDBException, BotoCoreError, ClientError) as exc:
        raise CliError(
            f"writing contacts failed after {report.imported} rows were imported "
            f"(re-running the whole file would duplicate them): {describe_aws_error(exc)}"
        ) from exc
    progress.update(report.imported + report.rejected, final=True)
    elapsed = time.monotonic() - started
    return {
        "tenantId": args.tenant,
        "file": str(path),
        "imported": report.imported,
        "rejected": report.rejected,
        "warned": report.warned,
        "rejectedRows": [{"line": r.line, "reason": r.reason} for r in report.rejected_rows],
        "warnings": [{"line": r.line, "reason": r.reason} for r in report.warnings],
        "listsTruncated": report.rejected > len(report.rejected_rows) or report.warned > len(report.warnings),
        "tags": [{"name": tag_names[key], "tagId": tag_id} for key, tag_id in tag_ids.items()],
        "elapsedSeconds": round(elapsed, 3),
        "rowsPerSecond": round(report.imported / elapsed) if elapsed > 0 else None,
    }


def tags_list(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    store = target.admin_store()
    store.tenant(args.tenant)
    tags = [
        {"tagId": tag.tag_id, "name": tag.name, "contacts": store.tag_member_count(args.tenant, tag.tag_id)}
        for tag in store.tags(args.tenant)
    ]
    return {"tenantId": args.tenant, "tags": tags}


def _outbox_json(record: OutboxRecord) -> dict[str, Any]:
    return {
        "messageId": record.message_id,
        "providerMessageId": record.provider_message_id,
        "tenantId": record.tenant_id,
        "recipient": record.recipient,
        "body": record.body,
        "sentAt": record.sent_at.isoformat(),
        "sendCount": int(record.send_count),
    }


def outbox(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    records = target.admin_store().recent_outbox(args.limit)
    return {"count": len(records), "items": [_outbox_json(r) for r in records]}


def move_messages(sqs: SQSClient, source_url: str, destination_url: str, limit: int | None, wait_seconds: int) -> int:
    """Receive from `source`, send the same body and attributes to `destination`, then delete; up to `limit`.

    A message whose send fails is not deleted: it reappears on the source after its visibility timeout.
    """
    moved = 0
    while limit is None or moved < limit:
        want = 10 if limit is None else min(10, limit - moved)
        received = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=want,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=wait_seconds,
        ).get("Messages", [])
        if not received:
            return moved
        entries: list[Any] = []
        for index, message in enumerate(received):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=destination_url, Entries=entries).get("Successful", [])
        done = [received[int(s["Id"])] for s in sent]
        if done:
            sqs.delete_message_batch(
                QueueUrl=source_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        moved += len(done)
        if len(done) < len(received):
            return moved  # the destination refuses some: stop rather than spin on them
    return moved


def dlq_replay(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    """On AWS, an SQS message move task (server-side, whole DLQ); locally or with --max, receive/send/delete."""
    sqs = target.sqs()
    if not target.local and args.max is None:
        request: dict[str, Any] = {
            "SourceArn": target.dead_letter_queue_arn,
            "DestinationArn": target.delivery_queue_arn,
        }
        if args.rate:
            request["MaxNumberOfMessagesPerSecond"] = args.rate
        try:
            task = sqs.start_message_move_task(**request)
        except ClientError as exc:
            if exc.response["Error"].get("Code") not in _MOVE_TASK_UNSUPPORTED:
                raise
        except NotImplementedError:
            pass  # moto in-process (tests of --stack): fall back like an endpoint without the API
        else:
            waiting = sqs.get_queue_attributes(
                QueueUrl=target.dead_letter_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"].get("ApproximateNumberOfMessages", "0")
            return {
                "mode": "message-move-task",
                "taskHandle": task["TaskHandle"],
                "approximateMessages": int(waiting),
                "hint": "aws sqs list-message-move-tasks --source-arn " + target.dead_letter_queue_arn,
            }
    moved = move_messages(
        sqs, target.dead_letter_queue_url, target.delivery_queue_url, args.max, wait_seconds=0 if target.local else 1
    )
    return {"mode": "receive-send-delete", "moved": moved}


# ---------------------------------------------------------------------------------------------- parser and main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smsctl",
        description="Admin CLI of sms-by-tags. Prints one JSON object per command. "
        "Targets the local stack (127.0.0.1:$LOCAL_AWS_PORT, default 4566) unless --stack is given.",
    )
    parser.add_argument("--stack", metavar="NAME", help="a deployed CloudFormation stack (names from its outputs)")
    parser.add_argument("--region", help="region of --stack (default: the AWS credential chain's region)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def group(name: str, help_text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        sub = commands.add_parser(name, help=help_text)
        return sub.add_subparsers(dest="action", required=True, metavar="ACTION")

    def command(
        parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: Handler, help_text: str
    ) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    tenant = group("tenant", "tenants")
    p = command(tenant, "create", tenant_create, "create a tenant with an opening credit balance")
    p.add_argument("--name", required=True, type=non_blank)
    p.add_argument("--credits", required=True, type=non_negative_int)
    p.add_argument("--country", type=country_code, help="default country of its contacts' numbers, e.g. CO")

    member = group("member", "members and their tokens")
    p = command(member, "create", member_create, "create a member and print its API token (shown once)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--accept-terms", action="store_true", help="record acceptance of the current terms")
    p = command(member, "accept-terms", member_accept_terms, "record that a member accepted the current terms")
    p.add_argument("--member", required=True)

    terms = group("terms", "terms of service")
    p = command(terms, "publish", terms_publish, "publish a terms version; every member must accept it again")
    p.add_argument("--version", required=True, type=non_blank)

    token = group("token", "API tokens")
    p = command(token, "revoke", token_revoke, "revoke the active tokens with this display prefix")
    p.add_argument("--prefix", required=True, type=non_blank)

    credit = group("credits", "credit balance and ledger")
    p = command(credit, "add", credits_add, "top up a tenant (a TOPUP ledger entry)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--amount", required=True, type=positive_int)
    p = command(credit, "show", credits_show, "balance, ledger sum and the most recent ledger entries")
    p.add_argument("--tenant", required=True)
    p.add_argument("--limit", type=positive_int, default=20, help="recent entries to list (default 20)")

    contacts = group("contacts", "contacts")
    p = command(contacts, "import", contacts_import, "import a CSV with header phone,name,tags (tags split by ;)")
    p.add_argument("--tenant", required=True)
    p.add_argument("file", type=Path, metavar="FILE.csv")
    p.add_argument("--workers", type=positive_int, default=4, help="parallel batch writers (default 4)")
    p.add_argument("--max-listed", type=positive_int, default=100, help="rejected rows listed (default 100)")

    tags = group("tags", "tags")
    p = command(tags, "list", tags_list, "a tenant's tags with their contact counts")
    p.add_argument("--tenant", required=True)

    p = commands.add_parser("outbox", help="what the sandbox provider sent, newest first")
    p.set_defaults(handler=outbox)
    p.add_argument("--limit", type=positive_int, default=20)

    dlq = group("dlq", "the delivery dead-letter queue")
    p = command(dlq, "replay", dlq_replay, "move messages from the delivery DLQ back to the delivery queue")
    p.add_argument("--max", type=positive_int, help="move at most this many (receive/send/delete)")
    p.add_argument("--rate", type=positive_int, help="messages per second for the AWS move task")
    return parser


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps (PynamoDB keeps the botocore error in `.cause`, not `__cause__`)."""
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        wrapped = getattr(seen, "cause", None)
        seen = wrapped if isinstance(wrapped, BaseException) else seen.__cause__


def describe_aws_error(exc: BaseException) -> str:
    """The most useful line of an AWS failure: the service's error code and message, not a traceback."""
    for seen in _causes(exc):
        if isinstance(seen, ClientError):
            error = seen.response.get("Error", {})
            return f"{error.get('Code', 'Error')}: {error.get('Message', '')}"
        if isinstance(seen, BotoCoreError):
            return str(seen)
    return str(exc)


def _unreachable(exc: BaseException) -> bool:
    return any(isinstance(seen, EndpointConnectionError) for seen in _causes(exc))


def run(args: argparse.Namespace) -> dict[str, Any]:
    handler: Handler = args.handler
    if args.stack:
        return handler(args, deployed_target(args.stack, args.region))
    if args.region:
        raise CliError("--region applies to --stack only; the local stack is in us-east-1")
    target = local_target()
    with local_credentials():
        try:
            return handler(args, target)
        except (PynamoDBException, BotoCoreError, ClientError) as exc:
            if _unreachable(exc):
                raise CliError(f"cannot reach the {target.description}: start it with `make dev`") from exc
            raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (2) and --help (0), already printed by argparse
        return int(exc.code or 0)
    try:
        result = run(args)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (PynamoDBException, BotoCoreError, ClientError) as exc:
        if any(isinstance(seen, NoCredentialsError) for seen in _causes(exc)):
            print("error: no AWS credentials found (configure a profile or environment credentials)", file=sys.stderr)
        else:
            print(f"error: AWS request failed: {describe_aws_error(exc)}", file=sys.stderr)
        return 1
    try:
        print(json.dumps(result, indent=2, ensure_ascii=False), flush=True)
    except BrokenPipeError:  # `smsctl ... | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
