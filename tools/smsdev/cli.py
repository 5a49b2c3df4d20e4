"""smsctl: the admin CLI. Talks to the local stack (`make dev`) by default, or to a deployed stack with --stack.

Output: tables on a terminal, one JSON object when stdout is a pipe or with --json. Bad input: a message
on stderr and exit 2 (usage, checked by click before anything runs) or 1 (rejected by the domain, missing
resources, unreachable endpoint). Run `smsctl --help` for the commands.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import boto3
import click
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError
from pynamodb.exceptions import PynamoDBException
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from smscore.dal.tables import LedgerRecord, OutboxRecord
from smscore.domain.contacts import file_codec
from smscore.domain.encoding import decode_chunks, text_lines
from smscore.domain.errors import DomainError, InvalidRequest
from smscore.domain.phone import is_supported_country, normalise
from smsdev.csv_import import CsvFileError, ImportReport, data_rows_in, import_contacts, parse_contacts
from smsdev.targets import LocalEndpoint, Target, TargetError, deployed_target, find_local_endpoint, local_target

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SQS error codes meaning "StartMessageMoveTask is not available here" (emulators, older partitions).
_MOVE_TASK_UNSUPPORTED = {"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "InvalidAction"}
AWS_ERRORS = (PynamoDBException, BotoCoreError, ClientError)


# ---------------------------------------------------------------------------------------------- parameter types
class WholeNumber(click.ParamType):
    """An integer of at least `minimum`; decimals and words are refused with the same message."""

    name = "integer"

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum
        words = {0: "a whole number of zero or more", 1: "a positive whole number"}
        self.rule = words.get(minimum, f"a whole number of {minimum} or more")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            number = value
        else:
            text = str(value).strip()
            if not re.fullmatch(r"[+-]?[0-9]+", text):
                self.fail(f"must be {self.rule}, got {value!r}", param, ctx)
            number = int(text)
        if number < self.minimum:
            self.fail(f"must be {self.rule}, got {value!r}", param, ctx)
        return number


class CountryCode(click.ParamType):
    name = "country"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        code = str(value).strip().upper()
        if not is_supported_country(code):
            self.fail(f"{value!r} is not a supported ISO 3166 alpha-2 country code (e.g. CO, US)", param, ctx)
        return code


class NonBlank(click.ParamType):
    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        if not text:
            self.fail("must not be blank", param, ctx)
        return text


class Id(click.ParamType):
    """Tenant, member and tag ids are UUIDs; anything else cannot name one, so it is a usage error."""

    name = "uuid"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return str(uuid.UUID(str(value).strip()))
        except ValueError:
            self.fail(f"{value!r} is not an id (ids are UUIDs, e.g. 3f2b8a1e-5c4d-4e6f-9a0b-1c2d3e4f5a6b)", param, ctx)


class E164(click.ParamType):
    """A phone number written in international form (+ and country code), normalised to E.164."""

    name = "phone"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        checked = normalise(text, None)
        if checked.detail is not None:  # letters, an extension, a character that is not part of a number
            self.fail(f"{value!r}: {checked.detail}", param, ctx)
        if not text.startswith("+") or checked.e164 is None:
            self.fail(f"{value!r} is not a mobile number in international form (e.g. +573001234567)", param, ctx)
        return str(checked.e164)


class FunctionLogicalId(click.ParamType):
    """A function of template.yaml, by logical id (read when the argument is checked, not at import)."""

    name = "function"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from smsdev.invoke import function_ids

        known = function_ids()
        if value not in known:
            self.fail(f"{value!r} is not a function of template.yaml (choose from {', '.join(known)})", param, ctx)
        return str(value)


class JsonFile(click.File):
    """A file (or - for stdin) holding one JSON document, parsed."""

    name = "json_file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        handle = super().convert(value, param, ctx)
        try:
            return json.load(handle)
        except json.JSONDecodeError as exc:
            self.fail(f"{click.format_filename(value)} is not JSON: {exc}", param, ctx)
        except UnicodeDecodeError as exc:
            self.fail(f"{click.format_filename(value)} is not UTF-8 text: {exc.reason}", param, ctx)


POSITIVE = WholeNumber(1)
ZERO_OR_MORE = WholeNumber(0)


# ---------------------------------------------------------------------------------------------- output
def is_terminal(stream: IO[str]) -> bool:
    """Tables for a person, JSON for a pipe. TTY_COMPATIBLE=1/0 (rich's switch) overrides the detection."""
    forced = os.environ.get("TTY_COMPATIBLE", "")
    if forced in ("0", "1"):
        return forced == "1"
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass
class Session:
    """Per-invocation state: global options, the target (built on first use) and the consoles."""

    stack: str | None = None
    region: str | None = None
    endpoint: str | None = None  # --endpoint: the local stack's AWS endpoint
    force_json: bool = False
    stdout: Console | None = None  # tests pass a Console; otherwise built on first use from sys.stdout
    stderr: Console | None = None
    _target: Target | None = field(default=None, repr=False)

    @property
    def built_target(self) -> Target | None:
        """The target if a command got that far (to explain a failure), without building it."""
        return self._target

    def target(self) -> Target:
        if self._target is None:
            self._target = deployed_target(self.stack, self.region) if self.stack else local_target(self.local())
        return self._target

    def local(self) -> LocalEndpoint:
        """Where the local stack is: --endpoint, LOCAL_AWS_PORT, make dev's .smsdev/stack.json, or the default."""
        return find_local_endpoint(self.endpoint)

    def out(self) -> Console:
        if self.stdout is None:
            self.stdout = Console(file=sys.stdout, force_terminal=is_terminal(sys.stdout), soft_wrap=False)
        return self.stdout

    def err(self) -> Console:
        if self.stderr is None:
            self.stderr = Console(file=sys.stderr, force_terminal=is_terminal(sys.stderr))
        return self.stderr


@dataclass(frozen=True)
class Output:
    title: str  # the command, e.g. "credits show"
    data: Any
    json_only: bool = False  # documents meant for files and other tools (invoke, env-vars)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if value == []:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def tables_of(title: str, data: dict[str, Any]) -> Iterator[Table]:
    """The scalar fields (and empty lists) as one key/value table, then each list as a table of its own."""
    scalars = {key: value for key, value in data.items() if not (isinstance(value, list) and value)}
    if scalars:
        table = Table(title=title, show_header=False, title_justify="left")
        table.add_column("field", style="bold")
        table.add_column("value")
        for key, value in scalars.items():
            table.add_row(key, _cell(value))
        yield table
    for key, items in data.items():
        if not (isinstance(items, list) and items):
            continue
        table = Table(title=f"{key} ({len(items)})", title_justify="left")
        columns = list(dict.fromkeys(k for item in items if isinstance(item, dict) for k in item)) or ["value"]
        for column in columns:
            table.add_column(column, overflow="fold")
        for item in items:
            row = item if isinstance(item, dict) else {"value": item}
            table.add_row(*(_cell(row.get(column)) for column in columns))
        yield table


def emit(session: Session, output: Output) -> None:
    """Print the result; a reader that left (`smsctl ... | head`) ends the command with status 1, no traceback."""
    console = session.out()
    try:
        if session.force_json or not console.is_terminal:
            console.file.write(json.dumps(output.data, indent=2, ensure_ascii=False) + "\n")
            console.file.flush()
        elif output.json_only:
            console.print_json(data=output.data, ensure_ascii=False)
        else:
            for table in tables_of(output.title, output.data):
                console.print(table)
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise click.exceptions.Exit(1) from None


# ---------------------------------------------------------------------------------------------- errors
class SmsctlError(click.ClickException):
    """A failure the user can act on: `error: <message>` on stderr, exit status 1, nothing on stdout."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


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


def aws_failure(exc: BaseException, session: Session) -> SmsctlError:
    causes = list(_causes(exc))
    target = session.built_target
    if target is not None and target.local and any(isinstance(c, EndpointConnectionError) for c in causes):
        return SmsctlError(target.unreachable or f"cannot reach the {target.description}")
    if any(isinstance(c, NoCredentialsError) for c in causes):
        return SmsctlError("no AWS credentials found (configure a profile or environment credentials)")
    return SmsctlError(f"AWS request failed: {describe_aws_error(exc)}")


# ---------------------------------------------------------------------------------------------- click classes
def _force_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Session).force_json = True


class Command(click.Command):
    """A leaf command: takes --json too, and returns its result as an Output for the root to print."""

    def __init__(self, *args: Any, json_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.json_only = json_only
        self.params.append(
            click.Option(
                ["--json"],
                is_flag=True,
                expose_value=False,
                callback=_force_json,
                help="Print JSON even on a terminal.",
            )
        )

    def invoke(self, ctx: click.Context) -> Output:
        title = ctx.command_path.partition(" ")[2]
        return Output(title, super().invoke(ctx), self.json_only)


class Group(click.Group):
    command_class = Command


Group.group_class = Group  # subgroups are plain Groups: only the root prints and maps errors


class RootGroup(Group):
    """Maps domain, target and AWS failures to exit status 1, and prints the result once the command ran."""

    def invoke(self, ctx: click.Context) -> Any:
        session = ctx.ensure_object(Session)
        try:
            result = super().invoke(ctx)
        except DomainError as exc:
            raise SmsctlError(exc.message) from exc
        except TargetError as exc:
            raise SmsctlError(str(exc)) from exc
        except AWS_ERRORS as exc:
            raise aws_failure(exc, session) from exc
        if isinstance(result, Output):
            emit(session, result)
        return result


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


@click.group(cls=RootGroup, context_settings=CONTEXT)
@click.option("--stack", metavar="NAME", help="A deployed CloudFormation stack (names from its outputs).")
@click.option("--region", help="Region of --stack (default: the AWS credential chain's region).")
@click.option(
    "--endpoint",
    metavar="URL",
    help="The local stack's AWS endpoint (default: 127.0.0.1:$LOCAL_AWS_PORT, else what `make dev` wrote to "
    ".smsdev/stack.json, else 127.0.0.1:4566).",
)
@click.option("--json", "force_json", is_flag=True, help="Print JSON even on a terminal.")
@click.pass_context
def smsctl(ctx: click.Context, stack: str | None, region: str | None, endpoint: str | None, force_json: bool) -> None:
    """Admin CLI of sms-by-tags.

    Acts on the local stack unless --stack is given: at --endpoint, else 127.0.0.1:$LOCAL_AWS_PORT, else the
    endpoint `make dev` wrote to .smsdev/stack.json, else 127.0.0.1:4566. Prints tables on a terminal and one
    JSON object otherwise (pipes, files, or --json).
    """
    if region and not stack:
        raise click.UsageError("--region applies to --stack only; the local stack is in us-east-1")
    if endpoint and stack:
        raise click.UsageError("--endpoint names the local stack's endpoint; --stack a deployed stack: give one")
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise click.BadParameter(f"{endpoint!r} is not an http(s) URL", param_hint="--endpoint")
    session = ctx.ensure_object(Session)
    session.stack, session.region, session.endpoint = stack, region, endpoint
    session.force_json = session.force_json or force_json


def session_of(ctx: click.Context) -> Session:
    return ctx.ensure_object(Session)


# ---------------------------------------------------------------------------------------------- tenants, members
@smsctl.group()
def tenant() -> None:
    """Tenants."""


@tenant.command("create")
@click.option("--name", required=True, type=NonBlank())
@click.option("--credits", required=True, type=ZERO_OR_MORE, help="Opening balance (a TOPUP ledger entry).")
@click.option("--country", type=CountryCode(), help="Default country of its contacts' numbers, e.g. CO.")
@click.pass_context
def tenant_create(ctx: click.Context, name: str, credits: int, country: str | None) -> dict[str, Any]:
    """Create a tenant with an opening credit balance."""
    tenant_id = session_of(ctx).target().admin_store().create_tenant(name, credits=credits, default_country=country)
    return {"tenantId": tenant_id, "name": name, "credits": credits, "defaultCountry": country}


@tenant.command("quiet-hours")
@click.option("--tenant", "tenant_id", required=True, type=Id())
@click.option("--start", help="Local time the pause starts, HH:MM (e.g. 21:00).")
@click.option("--end", help="Local time it ends, HH:MM (e.g. 08:00; before --start: it spans midnight).")
@click.option("--time-zone", "time_zone", default="America/Bogota", show_default=True, help="IANA time zone.")
@click.option("--clear", is_flag=True, help="Remove the tenant's quiet hours.")
@click.pass_context
def tenant_quiet_hours(
    ctx: click.Context, tenant_id: str, start: str | None, end: str | None, time_zone: str, clear: bool
) -> dict[str, Any]:
    """Set (or --clear) the tenant's own quiet hours: marketing messages wait until they end (README, "Send
    windows"); transactional messages ignore them."""
    from smscore.dal.tenant_settings import set_quiet_hours
    from smscore.domain.windows import parse_quiet_hours, quiet_hours_json

    if (clear and (start or end)) or (not clear and not (start and end)):
        raise click.UsageError("give --start and --end, or --clear")
    quiet = None
    if not clear:
        try:
            quiet = parse_quiet_hours({"start": start or "", "end": end or "", "timeZone": time_zone})
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
    store = session_of(ctx).target().admin_store()
    store.tenant(tenant_id)  # an unknown tenant is an error here, not a silent write
    set_quiet_hours(tenant_id, quiet)
    return {"tenantId": tenant_id, "quietHours": quiet_hours_json(quiet) if quiet else None}


@tenant.command("credit-price")
@click.option("--tenant", "tenant_id", required=True, type=Id())
@click.option("--cop", help="Pesos per credit, a decimal (e.g. 13.5).")
@click.option("--clear", is_flag=True, help="Remove the price: the admin shows credits only.")
@click.pass_context
def tenant_credit_price(ctx: click.Context, tenant_id: str, cop: str | None, clear: bool) -> dict[str, Any]:
    """Set (or --clear) what one credit costs the tenant in Colombian pesos (`creditPriceCop`): the admin shows
    every cost in pesos beside credits, and confirms each send with both."""
    from decimal import Decimal, InvalidOperation

    from smscore.dal.tables import TenantRecord

    if clear == (cop is not None):
        raise click.UsageError("give --cop or --clear")
    price = None
    if cop is not None:
        try:
            value = Decimal(cop)
        except InvalidOperation as exc:
            raise click.BadParameter(f"{cop!r} is not a decimal number", param_hint="--cop") from exc
        if not value.is_finite() or value <= 0 or value.as_tuple().exponent < -4:  # type: ignore[operator]
            raise click.BadParameter("a positive amount with at most 4 decimals", param_hint="--cop")
        price = format(value.normalize(), "f")  # "13.50" -> "13.5", "140" stays "140"
    store = session_of(ctx).target().admin_store()
    store.tenant(tenant_id)  # an unknown tenant is an error here, not a silent write
    record = TenantRecord(tenant_id)
    record.update(
        actions=[TenantRecord.credit_price_cop.set(price) if price else TenantRecord.credit_price_cop.remove()],
        condition=TenantRecord.tenant_id.exists(),
    )
    return {"tenantId": tenant_id, "creditPriceCop": price}


# ---------------------------------------------------------------------------------------------- the RNE list
@smsctl.group()
def exclusions() -> None:
    """The RNE exclusion list (Registro de Numeros Excluidos): numbers marketing to Colombia must skip."""


def _snapshot_json(snapshot: Any) -> dict[str, Any]:
    return {
        "snapshotDate": snapshot.snapshot_date.isoformat(),
        "count": snapshot.count,
        "loadedAt": snapshot.loaded_at.isoformat(),
    }


@exclusions.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option(
    "--snapshot-date",
    "snapshot_date",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The CRC's date of the list, YYYY-MM-DD (a send refuses a snapshot older than ExclusionListMaxAgeDays).",
)
@click.pass_context
def exclusions_import(ctx: click.Context, file: IO[str], snapshot_date: datetime) -> dict[str, Any]:
    """Load FILE (CSV `number[,channels]`; channels `sms` or `all`, others ignored) as the new snapshot; it
    replaces the current one in one write once every number is stored."""
    from smscore.dal.exclusion_store import DynamoExclusionList
    from smscore.domain.exclusions import load_snapshot

    session_of(ctx).target().admin_store()  # binds the tables
    snapshot = load_snapshot(file, snapshot_date.date(), DynamoExclusionList(workers=16), now=datetime.now(UTC))
    return _snapshot_json(snapshot)


@exclusions.command("status")
@click.pass_context
def exclusions_status(ctx: click.Context) -> dict[str, Any]:
    """The current snapshot's date, its count and when it was loaded (snapshotDate null: none is loaded)."""
    from smscore.dal.exclusion_store import DynamoExclusionList

    session_of(ctx).target().admin_store()
    current = DynamoExclusionList().current()
    if current is None:
        return {"snapshotDate": None, "count": 0, "loadedAt": None}
    return _snapshot_json(current)


@smsctl.group()
def member() -> None:
    """Members and their tokens."""


@member.command("create")
@click.option("--tenant", "tenant_id", required=True, type=Id())
@click.option("--email", required=True, type=NonBlank())
@click.option("--accept-terms", is_flag=True, help="Record acceptance of the current terms.")
@click.option("--admin", is_flag=True, help="The admin role: manages every API key of the tenant.")
@click.pass_context
def member_create(ctx: click.Context, tenant_id: str, email: str, accept_terms: bool, admin: bool) -> dict[str, Any]:
    """Create a member and print its API token (shown once)."""
    session = session_of(ctx)
    created = session.target().admin_store().create_member(tenant_id, email, accept_terms=accept_terms, admin=admin)
    session.err().print("note: the token is shown once and only its hash is stored; keep it now.", highlight=False)
    return {
        "memberId": created.member_id,
        "tenantId": created.tenant_id,
        "email": created.email,
        "token": created.token.token,
        "tokenPrefix": created.token.prefix,
        "acceptedTermsVersion": created.accepted_terms_version,
        "role": "admin" if admin else "member",
    }


@member.command("role")
@click.option("--member", "member_id", required=True, type=Id())
@click.option("--role", required=True, type=click.Choice(["admin", "member"]))
@click.pass_context
def member_role(ctx: click.Context, member_id: str, role: str) -> dict[str, Any]:
    """Give a member the admin role (manages every API key of the tenant) or take it back."""
    return {"memberId": member_id, "role": session_of(ctx).target().admin_store().set_role(member_id, role)}


@member.command("accept-terms")
@click.option("--member", "member_id", required=True, type=Id())
@click.pass_context
def member_accept_terms(ctx: click.Context, member_id: str) -> dict[str, Any]:
    """Record that a member accepted the current terms."""
    version = session_of(ctx).target().admin_store().accept_terms(member_id)
    return {"memberId": member_id, "acceptedTermsVersion": version}


@smsctl.group()
def terms() -> None:
    """Terms of service."""


@terms.command("publish")
@click.option("--version", required=True, type=NonBlank())
@click.pass_context
def terms_publish(ctx: click.Context, version: str) -> dict[str, Any]:
    """Publish a terms version; every member must accept it again.

    A new version makes every member whose accepted version differs read-only until they accept it.
    """
    store = session_of(ctx).target().admin_store()
    previous = store.current_terms_version()
    if previous == version:
        raise InvalidRequest(f"terms version {version} is already current; publish a new version")
    return {"termsVersion": store.publish_terms(version), "previousVersion": previous}


@smsctl.group()
def token() -> None:
    """API tokens."""


@token.command("revoke")
@click.option("--prefix", required=True, type=NonBlank(), help="The token's 12-character display prefix.")
@click.pass_context
def token_revoke(ctx: click.Context, prefix: str) -> dict[str, Any]:
    """Revoke the active tokens with this display prefix."""
    return {"prefix": prefix, "revoked": session_of(ctx).target().admin_store().revoke_token(prefix)}


# ---------------------------------------------------------------------------------------------- credits
@smsctl.group("credits")
def credits_group() -> None:
    """Credit balance and ledger."""


def _ledger_json(entry: LedgerRecord) -> dict[str, Any]:
    return {
        "entryId": entry.entry_id,
        "kind": entry.kind,
        "amount": int(entry.amount),
        "queueId": entry.queue_id,
        "reason": entry.reason,
        "createdAt": entry.created_at.isoformat(),
    }


@credits_group.command("add")
@click.option("--tenant", "tenant_id", required=True, type=Id())
@click.option("--amount", required=True, type=POSITIVE)
@click.pass_context
def credits_add(ctx: click.Context, tenant_id: str, amount: int) -> dict[str, Any]:
    """Top up a tenant (a TOPUP ledger entry)."""
    balance = session_of(ctx).target().admin_store().add_credits(tenant_id, amount)
    return {"tenantId": tenant_id, "added": amount, "balance": balance}


@credits_group.command("show")
@click.option("--tenant", "tenant_id", required=True, type=Id())
@click.option("--limit", type=POSITIVE, default=20, show_default=True, help="Recent ledger entries to list.")
@click.pass_context
def credits_show(ctx: click.Context, tenant_id: str, limit: int) -> dict[str, Any]:
    """Balance, ledger sum (they must agree) and the most recent ledger entries."""
    store = session_of(ctx).target().admin_store()
    found = store.tenant(tenant_id)
    ledger = store.ledger(tenant_id)  # sorted by entry id = by time
    ledger_sum = sum(int(entry.amount) for entry in ledger)
    balance = int(found.credits)
    return {
        "tenantId": tenant_id,
        "name": found.name,
        "balance": balance,
        "ledgerSum": ledger_sum,
        "consistent": balance == ledger_sum,
        "ledgerEntries": len(ledger),
        "recent": [_ledger_json(entry) for entry in reversed(ledger[-limit:])],
    }


# ---------------------------------------------------------------------------------------------- contacts, tags
@smsctl.group()
def contacts() -> None:
    """Contacts."""


def import_progress(console: Console) -> Progress:
    """A rich progress bar on stderr, drawn only when stderr is a terminal (stdout keeps the JSON)."""
    return Progress(
        TextColumn("importing"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )


@contacts.command("import")
@click.option("--tenant", "tenant_id", required=True, type=Id())
@click.argument("file", metavar="FILE.csv", type=click.Path(path_type=Path))
@click.option("--workers", type=click.IntRange(1, 32), default=4, show_default=True, help="Parallel batch writers.")
@click.option("--max-listed", type=POSITIVE, default=100, show_default=True, help="Rejected rows listed.")
@click.pass_context
def contacts_import(ctx: click.Context, tenant_id: str, file: Path, workers: int, max_listed: int) -> dict[str, Any]:
    """Import a CSV with header phone,name,tags or telefono,nombre,etiquetas (tags split by ;).

    The file may be saved as Excel saves it: UTF-8 or Windows-1252 (or Latin-1, Mac Roman, UTF-16), separated by
    commas, semicolons or tabs; both are detected. A file that cannot be read is refused whole, with the reason.

    Every row is validated, then written through the contacts API's own import (smscore.domain.contacts): one
    contact per number in E.164, tags merged, so running the same file twice changes nothing. Optional columns
    consent (granted/revoked), consent_source (default import), consent_at (ISO 8601) and consent_evidence record
    the contact's marketing consent with its history, as the API's import does; a bad consent rejects the row.
    """
    session = session_of(ctx)
    if not file.is_file():  # checked here, not by click, so that it is exit 1 as documented
        raise SmsctlError(f"{file}: no such file")
    data = file.read_bytes()  # decoded by the API's rule (smscore.domain.encoding) as the rows are parsed
    store = session.target().admin_store()
    country = store.tenant(tenant_id).default_country
    report = ImportReport(limit=max_listed)
    started = time.monotonic()
    with import_progress(session.err()) as progress:
        task = progress.add_task("import", total=data_rows_in(data))
        try:
            tags = import_contacts(
                parse_contacts(text_lines(decode_chunks([data], file_codec([data]))), country),
                tenant_id,
                store.contact_store(),
                report,
                workers=workers,
                on_progress=lambda done: progress.update(task, completed=done),
            )
        except CsvFileError as exc:  # a bad header, bytes that are not UTF-8, an unclosed quote: nothing written
            raise SmsctlError(f"{file}: {exc}") from exc
        except AWS_ERRORS as exc:
            raise SmsctlError(
                f"writing contacts failed after {report.imported} rows were imported "
                f"(running the file again is safe: the import is idempotent): {describe_aws_error(exc)}"
            ) from exc
    elapsed = time.monotonic() - started
    return {
        "tenantId": tenant_id,
        "file": str(file),
        "imported": report.imported,
        "rejected": report.rejected,
        "warned": report.warned,
        "rejectedRows": [{"line": r.line, "reason": r.reason, "content": r.content} for r in report.rejected_rows],
        "warnings": [{"line": r.line, "reason": r.reason} for r in report.warnings],
        "listsTruncated": report.rejected > len(report.rejected_rows) or report.warned > len(report.warnings),
        "tags": [{"name": tag.name, "tagId": tag.tag_id} for tag in tags],
        "elapsedSeconds": round(elapsed, 3),
        "rowsPerSecond": round(report.imported / elapsed) if elapsed > 0 else None,
    }


@contacts.command("clear-keyword-flags")
@click.pass_context
def contacts_clear_keyword_flags(ctx: click.Context) -> dict[str, Any]:
    """Clear the opt-outs that STOP-type replies wrote on contacts before consent was derived per sender.

    A keyword now changes only the suppression of the sender it was sent to, and each tenant sees it only if it
    sends through that sender. Contacts flagged earlier (every tenant's contact with the number) are cleared here;
    a contact the tenant opted out itself is left as it is. Scans the Contacts table once; safe to run again.
    """
    return {"cleared": session_of(ctx).target().admin_store().clear_keyword_flags()}


@smsctl.group()
def names() -> None:
    """Stored tag and contact names against the name rules."""


@names.command("check")
@click.option("--tenant", "tenant_id", type=Id(), help="One tenant (default: every tenant: a Scan of Tenants).")
@click.option("--fix", is_flag=True, help="Apply the safe fixes (see below); the others are reported.")
@click.pass_context
def names_check(ctx: click.Context, tenant_id: str | None, fix: bool) -> dict[str, Any]:
    """Report stored names the name rules refuse, or whose uniqueness keys moved or now collide.

    Tag and contact names with invisible, control or noncharacters, tags whose stored key is not the NFKC
    case-folded key of their name, and tags that are now one name. --fix moves keys, and removes the refused
    characters where something visible remains and no other tag has the result; two tags that are now one name,
    or a tag name with nothing visible, need a person (rename, or move the contacts and delete one).
    """
    from smsdev.names_check import check_names

    return check_names(session_of(ctx).target().admin_store(), tenant_id, fix)


@smsctl.group()
def tags() -> None:
    """Tags."""


@tags.command("list")
@click.option("--tenant", "tenant_id", required=True, type=Id())
@click.pass_context
def tags_list(ctx: click.Context, tenant_id: str) -> dict[str, Any]:
    """A tenant's tags with their contact counts (one Select=COUNT query per tag)."""
    store = session_of(ctx).target().admin_store()
    store.tenant(tenant_id)
    listed = [
        {"tagId": tag.tag_id, "name": tag.name, "contacts": store.tag_member_count(tenant_id, tag.tag_id)}
        for tag in store.tags(tenant_id)
    ]
    return {"tenantId": tenant_id, "tags": listed}


# ---------------------------------------------------------------------------------------------- outbox, DLQ
def _outbox_json(record: OutboxRecord) -> dict[str, Any]:
    return {
        "messageId": record.message_id,
        "providerMessageId": record.provider_message_id,
        "tenantId": record.tenant_id,
        "recipient": record.recipient,
        "body": record.body,
        "sentAt": record.sent_at.isoformat(),
        # When the sandbox carrier accepted it (its first request), to the millisecond: the pace seen from outside.
        "acceptedAt": record.sent_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "sendCount": int(record.send_count),
    }


@smsctl.command("outbox")
@click.option("--limit", type=POSITIVE, default=20, show_default=True)
@click.option("--recipient", type=E164(), help="Only what was sent to this number (international form).")
@click.pass_context
def outbox(ctx: click.Context, limit: int, recipient: str | None) -> dict[str, Any]:
    """What the sandbox provider sent, newest first."""
    store = session_of(ctx).target().admin_store()
    records = store.recent_outbox(limit, recipient=recipient)
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


@smsctl.group()
def dlq() -> None:
    """The delivery dead-letter queue."""


@dlq.command("replay")
@click.option("--max", "limit", type=POSITIVE, help="Move at most this many (receive/send/delete).")
@click.option("--rate", type=POSITIVE, help="Messages per second for the AWS move task.")
@click.pass_context
def dlq_replay(ctx: click.Context, limit: int | None, rate: int | None) -> dict[str, Any]:
    """Move messages from the delivery DLQ back to the delivery queue.

    On AWS, an SQS message move task (server-side, whole DLQ); locally or with --max, receive/send/delete.
    """
    target = session_of(ctx).target()
    sqs = target.sqs()
    if not target.local and limit is None:
        request: dict[str, Any] = {
            "SourceArn": target.dead_letter_queue_arn,
            "DestinationArn": target.delivery_queue_arn,
        }
        if rate:
            request["MaxNumberOfMessagesPerSecond"] = rate
        try:
            task = sqs.start_message_move_task(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _MOVE_TASK_UNSUPPORTED:
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
        sqs, target.dead_letter_queue_url, target.delivery_queue_url, limit, wait_seconds=0 if target.local else 1
    )
    return {"mode": "receive-send-delete", "moved": moved}


# ---------------------------------------------------------------------------------------------- local invoke
def _local_only(ctx: click.Context, command: str) -> LocalEndpoint:
    """The local endpoint for commands that only make sense against `make dev`."""
    if session_of(ctx).stack:
        raise click.UsageError(f"{command} works with the local stack only; drop --stack")
    return session_of(ctx).local()


@smsctl.command("invoke", json_only=True)
@click.argument("function_id", metavar="FUNCTION", type=FunctionLogicalId())
@click.option("--event", metavar="FILE.json", type=JsonFile(), help="Event JSON file, - for stdin (default {}).")
@click.pass_context
def invoke(ctx: click.Context, function_id: str, event: Any) -> Any:
    """Run one function's handler against the local stack and print its result.

    FUNCTION is a logical id of template.yaml (e.g. SendByTagsFunction). The handler runs in a new process
    with exactly that function's template environment pointed at the local endpoint, and a Lambda context.
    Its logs go to stderr. A handler that raises is exit status 1 with Lambda's errorType and errorMessage.
    """
    from smsdev.invoke import LocalStackUnreachable, invoke_locally
    from smsdev.lambdas import InvocationError, InvocationTimeout

    local = _local_only(ctx, "invoke")
    try:
        return invoke_locally(function_id, {} if event is None else event, local.url)
    except LocalStackUnreachable as exc:
        raise SmsctlError(local.unreachable()) from exc
    except (InvocationError, InvocationTimeout) as exc:
        raise SmsctlError(f"{function_id} failed: {exc}") from exc


class SenderNumber(click.ParamType):
    """One of our sender numbers in E.164 (a test number such as the sandbox's +15005550006 included)."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        if not re.fullmatch(r"\+[1-9][0-9]{6,14}", text):
            self.fail(f"{value!r} is not a number in E.164 form (e.g. +15005550006)", param, ctx)
        return text


def two_way_sns_event(from_number: str, body: str, to: str, at: datetime) -> dict[str, Any]:
    """The SNS event AWS End User Messaging two-way SMS produces for a reply (smscore.providers.aws_sms)."""
    inbound_id = str(uuid.uuid4())
    payload = {
        "originationNumber": from_number,
        "destinationNumber": to,
        "messageKeyword": "",
        "messageBody": body,
        "inboundMessageId": inbound_id,
        "previousPublishedMessageId": "",
    }
    topic = "arn:aws:sns:us-east-1:000000000000:local-InboundSmsTopic"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:{inbound_id}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": inbound_id,
                    "TopicArn": topic,
                    "Message": json.dumps(payload),
                    "Timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "MessageAttributes": {},
                },
            }
        ]
    }


def _default_sender_number() -> str:
    from smscore.settings import Settings

    return str(Settings.model_fields["sandbox_sender_number"].default)


@smsctl.command("inbound", json_only=True)
@click.option("--from", "from_number", required=True, type=E164(), help="Who replies, e.g. +573001234567.")
@click.option("--body", required=True, help="The reply's text, e.g. STOP, BAJA, ALTA.")
@click.option(
    "--to",
    type=SenderNumber(),
    default=_default_sender_number,
    show_default="the sandbox sender's number, +15005550006",
    help="Our number the reply went to (the sender it opts out of).",
)
@click.pass_context
def inbound(ctx: click.Context, from_number: str, body: str, to: str) -> Any:
    """Reply to one of our numbers on the local stack, as AWS two-way SMS would deliver it.

    Runs InboundSmsFunction (the same handler code as on AWS) with an SNS two-way SMS event, in a fresh local
    Lambda environment, and prints what it did: the keyword action (OPT_OUT, OPT_IN or NONE), the sender, whether
    it applied (or was a duplicate) and the confirmation text. The default --to is the sandbox's number, so a STOP there
    removes the number from the local stack's next send.
    """
    from smsdev.invoke import LocalStackUnreachable, invoke_locally
    from smsdev.lambdas import InvocationError, InvocationTimeout

    local = _local_only(ctx, "inbound")
    event = two_way_sns_event(from_number, body, to, datetime.now(UTC))
    try:
        result = invoke_locally("InboundSmsFunction", event, local.url)
    except LocalStackUnreachable as exc:
        raise SmsctlError(local.unreachable()) from exc
    except (InvocationError, InvocationTimeout) as exc:
        raise SmsctlError(f"InboundSmsFunction failed: {exc}") from exc
    return result["results"][0]


@smsctl.command("env-vars", json_only=True)
@click.option(
    "--endpoint",
    metavar="URL",
    help="AWS endpoint the functions should use (default: the local stack's, as smsctl finds it).",
)
@click.pass_context
def env_vars(ctx: click.Context, endpoint: str | None) -> dict[str, dict[str, str]]:
    """Print sam local invoke's --env-vars file for the local stack.

    Every function's template environment, resolved to the local stack's names, with AWS_ENDPOINT_URL set.
    """
    from smsdev.invoke import sam_env_vars

    default = _local_only(ctx, "env-vars")
    return sam_env_vars(endpoint or default.url)


# ---------------------------------------------------------------------------------------------- upgrades
@smsctl.command("migrate")
@click.option("--page-size", type=POSITIVE, default=500, show_default=True, help="Items read per checkpoint.")
@click.pass_context
def migrate(ctx: click.Context, page_size: int) -> dict[str, Any]:
    """Backfill what the deployed release's key design needs (docs/operations.md, "Upgrading").

    Run after each deploy: every registered step not done yet runs, resuming from its last checkpoint (Settings
    item migration#<step>); done steps are skipped, so running it again is safe. Progress goes to stderr.
    """
    from smsdev import migrate as migrations
    from smsdev.targets import LOCAL_STACK_NAME

    session = session_of(ctx)
    target = session.target()
    target.bind_models()
    dynamodb = target.session().client("dynamodb", endpoint_url=target.endpoint)
    prefix = f"{session.stack or LOCAL_STACK_NAME}-"
    context = migrations.MigrationContext(dynamodb, prefix, target.tables.model_dump())
    checkpoints = migrations.Checkpoints(dynamodb, target.tables.settings_table)

    def progress(current: migrations.Step, items: int) -> None:
        click.echo(f"{current.id}: {items} items", err=True)

    steps = migrations.run(context, checkpoints, progress, page_size=page_size)
    return {"target": target.description, "steps": steps}


# ---------------------------------------------------------------------------------------------- secrets
@smsctl.group()
def secrets() -> None:
    """Provider credentials the functions read (docs/deploying.md)."""


@secrets.command("put")
@click.argument("provider", type=click.Choice(["twilio"]))
@click.option("--account-sid", prompt="Twilio account SID (AC...)", help="The account SID, AC...")
@click.option(
    "--auth-token",
    prompt="Twilio account Auth Token",
    hide_input=True,
    help="The account's Auth Token (Twilio signs status callbacks with it). Prompted, hidden, when not given.",
)
@click.option("--api-key-sid", help="Send with this API key (SK...) instead of the Auth Token.")
@click.option("--api-key-secret", help="The API key's secret (prompted, hidden, when --api-key-sid is given).")
@click.pass_context
def secrets_put(
    ctx: click.Context,
    provider: str,
    account_sid: str,
    auth_token: str,
    api_key_sid: str | None,
    api_key_secret: str | None,
) -> dict[str, Any]:
    """Store the Twilio credentials as the SSM SecureString /<stack>/providers/twilio.

    With --stack NAME, in that stack's account and region (the stack need not exist yet: `make deploy` checks
    for it first); without, in the local stack. Prints the parameter's name and version, never the secret.
    """
    from smsdev.deploy import put_twilio_secret, twilio_secret
    from smsdev.targets import LOCAL_STACK_NAME

    if api_key_sid and not api_key_secret:
        api_key_secret = click.prompt("API key secret", hide_input=True)
    try:
        secret = twilio_secret(account_sid.strip(), auth_token.strip(), api_key_sid, api_key_secret)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    session = session_of(ctx)
    if session.stack:
        aws = boto3.session.Session(region_name=session.region)
        if aws.region_name is None:
            raise SmsctlError("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
        return put_twilio_secret(aws.client("ssm"), session.stack, secret)
    target = session.target()
    return put_twilio_secret(target.session().client("ssm", endpoint_url=target.endpoint), LOCAL_STACK_NAME, secret)


# ---------------------------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    """The console script: click parses and validates; the exit status is returned, never raised."""
    try:
        result = smsctl.main(args=list(argv) if argv is not None else None, prog_name="smsctl", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
