"""smsctl against a real HTTP AWS endpoint (moto's ThreadedMotoServer) provisioned like the local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from smscore.api.authorization import Unauthorized, authorize
from smscore.dal.identity_store import DynamoIdentityStore
from smscore.dal.tables import OutboxRecord, TagMemberRecord, TokenRecord
from smscore.domain.auth import hash_token
from smsdev import cli, targets
from smsdev.provision import create_queues, create_tables
from smsdev.template import LocalNames, Resolver, load_template
from tests.integration.conftest import LocalEndpointStack, free_port, ok, smsctl

SMSCTL = Path(sys.executable).with_name("smsctl")
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:api0/v1/POST/messages/send-by-tags"
NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"  # well formed, names nothing


def access_of(token: str) -> str:
    """What the real authorizer decides for this token against the stored state."""
    try:
        policy = authorize(f"Bearer {token}", METHOD_ARN, DynamoIdentityStore())
    except Unauthorized:
        return "DENIED"
    return str(policy["context"]["access"])


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_round_trip_tenant_member_credits_contacts_tags(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a tenant in Colombia with 100 credits
    tenant = ok(capsys, "tenant", "create", "--name", "Acme", "--credits", "100", "--country", "co")
    tenant_id = tenant["tenantId"]
    assert tenant["defaultCountry"] == "CO"

    # When a member is created, Then its token is printed once and only its hash is stored
    member = ok(capsys, "member", "create", "--tenant", tenant_id, "--email", "Owner@Acme.test", "--accept-terms")
    assert member["tenantId"] == tenant_id
    assert member["email"] == "owner@acme.test"
    token = member["token"]
    assert member["tokenPrefix"] == token[:12]
    stored = TokenRecord.get(hash_token(token))
    assert stored.member_id == member["memberId"]
    assert stored.prefix == member["tokenPrefix"]
    tokens_table = local.names.physical("TokensTable")
    assert token not in json.dumps(local.client("dynamodb").scan(TableName=tokens_table)["Items"])
    assert access_of(token) == "FULL"

    # When credits are added, Then the balance and the ledger agree
    assert ok(capsys, "credits", "add", "--tenant", tenant_id, "--amount", "250")["balance"] == 350
    shown = ok(capsys, "credits", "show", "--tenant", tenant_id)
    assert shown["balance"] == shown["ledgerSum"] == 350
    assert shown["consistent"] is True
    assert [(e["kind"], e["amount"]) for e in shown["recent"]] == [("TOPUP", 250), ("TOPUP", 100)]

    # When a CSV with good and bad rows is imported
    csv_file = write_csv(
        tmp_path,
        "phone,name,tags\n"
        "3001234567,Ana,VIP;Bogota\n"  # line 2
        ",No phone,VIP\n"  # line 3: missing phone
        "12345,Short,VIP\n"  # line 4: not a Colombian number
        "+57 300 123 4568,Luis,vip; bogota ;\n"  # line 5: same tags, other spelling
        "3001234569,Too,many,columns\n"  # line 6
        "6012345678,Office landline,Office\n"  # line 7: valid, but not mobile: imported with a warning
        "\n"  # line 8: blank, skipped
        '"3001234570","Pérez, María",\n',  # line 9: quoted comma, no tags
    )
    report = ok(capsys, "contacts", "import", "--tenant", tenant_id, str(csv_file))

    # Then good rows are imported and bad ones are reported with line and reason
    assert (report["imported"], report["rejected"], report["warned"]) == (4, 3, 1)
    assert [r["line"] for r in report["rejectedRows"]] == [3, 4, 6]
    reasons = [r["reason"] for r in report["rejectedRows"]]
    assert "missing" in reasons[0]
    assert "not a valid number in CO" in reasons[1]
    assert "columns" in reasons[2]
    assert report["warnings"][0]["line"] == 7
    assert "not_mobile" in report["warnings"][0]["reason"]
    tag_ids = {t["name"].casefold(): t["tagId"] for t in report["tags"]}
    assert set(tag_ids) == {"vip", "bogota", "office"}

    # And memberships are readable with one Query per tag
    vip = {m.phone for m in TagMemberRecord.query(TagMemberRecord.key_for(tenant_id, tag_ids["vip"]))}
    assert vip == {"+573001234567", "+573001234568"}  # in E.164, as the contacts API stores them

    # And tags list shows each tag once with its contact count
    listed = ok(capsys, "tags", "list", "--tenant", tenant_id)["tags"]
    assert sorted((t["name"], t["contacts"]) for t in listed) == [("Bogota", 2), ("Office", 1), ("VIP", 2)]


def test_revoked_token_is_denied_and_new_terms_need_acceptance(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two members who accepted terms v1
    ok(capsys, "terms", "publish", "--version", "v1")
    tenant_id = ok(capsys, "tenant", "create", "--name", "Acme", "--credits", "0")["tenantId"]
    first = ok(capsys, "member", "create", "--tenant", tenant_id, "--email", "a@acme.test", "--accept-terms")
    second = ok(capsys, "member", "create", "--tenant", tenant_id, "--email", "b@acme.test", "--accept-terms")
    assert first["acceptedTermsVersion"] == "v1"

    # When v2 is published, Then both are read-only until they accept it again
    assert ok(capsys, "terms", "publish", "--version", "v2") == {"termsVersion": "v2", "previousVersion": "v1"}
    assert access_of(first["token"]) == access_of(second["token"]) == "READ_ONLY"
    accepted = ok(capsys, "member", "accept-terms", "--member", first["memberId"])
    assert accepted["acceptedTermsVersion"] == "v2"
    assert access_of(first["token"]) == "FULL"
    assert access_of(second["token"]) == "READ_ONLY"

    # When the first member's token is revoked by prefix, Then the authorizer denies it
    assert ok(capsys, "token", "revoke", "--prefix", first["tokenPrefix"])["revoked"] == 1
    assert access_of(first["token"]) == "DENIED"

    # And revoking it again, or republishing the current version, is an error
    again = smsctl(capsys, "token", "revoke", "--prefix", first["tokenPrefix"])
    assert (again.code, again.out) == (1, "")
    assert "No active token" in again.err
    same = smsctl(capsys, "terms", "publish", "--version", "v2")
    assert (same.code, same.out) == (1, "")
    assert "already current" in same.err


def test_dlq_replay_moves_messages_back_to_the_delivery_queue(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given five dead-lettered delivery batches, one with a message attribute
    sqs = local.client("sqs")
    dlq, queue = local.queue_urls["DeliveryDeadLetterQueue"], local.queue_urls["DeliveryQueue"]
    bodies = [json.dumps({"tenantId": "t", "queueId": f"q{i}", "messageIds": [f"m{i}"]}) for i in range(5)]
    for body in bodies:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody="with-attributes",
        MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}},
    )

    # When at most 4 are replayed, Then 4 move; a second replay moves the rest
    assert ok(capsys, "dlq", "replay", "--max", "4") == {"mode": "receive-send-delete", "moved": 4}
    assert ok(capsys, "dlq", "replay")["moved"] == 2

    # And the delivery queue holds them all, with body and attributes intact, and the DLQ is empty
    received: dict[str, Any] = {}
    while got := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages"
    ):
        received.update({m["Body"]: m.get("MessageAttributes") for m in got})
    assert set(received) == {*bodies, "with-attributes"}
    assert received["with-attributes"]["origin"]["StringValue"] == "test"
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)


def test_outbox_lists_sandbox_records_newest_first(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given three records of the sandbox provider
    from datetime import UTC, datetime, timedelta

    ok(capsys, "outbox")  # binds the models to the local stack
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(3):
        OutboxRecord(
            f"m{i}",
            provider_message_id=f"p{i}",
            recipient="+573001234567",
            body=f"hello {i}",
            sent_at=start + timedelta(days=i, milliseconds=250),
        ).save()

    # When the outbox is listed with a limit, Then the newest come first
    shown = ok(capsys, "outbox", "--limit", "2")
    assert shown["count"] == 2
    assert [(i["messageId"], i["body"]) for i in shown["items"]] == [("m2", "hello 2"), ("m1", "hello 1")]
    # And each shows when the carrier accepted it, ISO 8601 with milliseconds in UTC
    assert [i["acceptedAt"] for i in shown["items"]] == ["2026-01-03T00:00:00.250Z", "2026-01-02T00:00:00.250Z"]

    # And --recipient keeps only what went to that number (written in any international form)
    OutboxRecord("m9", provider_message_id="p9", recipient="+573109998877", body="other", sent_at=start).save()
    only = ok(capsys, "outbox", "--recipient", "+57 310 999 8877")
    assert [i["messageId"] for i in only["items"]] == ["m9"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["credits", "show", "--tenant", NO_SUCH_ID], f"No tenant {NO_SUCH_ID}"),
        (["credits", "add", "--tenant", NO_SUCH_ID, "--amount", "5"], f"No tenant {NO_SUCH_ID}"),
        (["member", "create", "--tenant", NO_SUCH_ID, "--email", "a@b.c"], "No tenant"),
        (["tags", "list", "--tenant", NO_SUCH_ID], "No tenant"),
        (["member", "accept-terms", "--member", NO_SUCH_ID], f"No member {NO_SUCH_ID}"),
        (["contacts", "import", "--tenant", NO_SUCH_ID, "/nonexistent/contacts.csv"], "no such file"),
    ],
)
def test_domain_errors_exit_1_with_a_message_and_no_output(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    # When a command names something that does not exist
    result = smsctl(capsys, *argv)

    # Then it fails with exit 1, a one-line message and nothing on stdout
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith("error: ")
    assert message in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["credits", "add", "--tenant", NO_SUCH_ID, "--amount", "-5"], "positive whole number"),
        (["credits", "add", "--tenant", NO_SUCH_ID, "--amount", "1.5"], "positive whole number"),
        (["tenant", "create", "--name", "X", "--credits", "-1"], "zero or more"),
        (["tenant", "create", "--name", "X", "--credits", "10", "--country", "XX"], "country code"),
        (["tenant", "create", "--credits", "10"], "--name"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2_and_persist_nothing(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    # When the arguments are malformed
    result = smsctl(capsys, *argv)

    # Then click rejects them before anything is written
    assert (result.code, result.out) == (2, "")
    assert message in result.err
    assert local.client("dynamodb").scan(TableName=local.names.physical("TenantsTable"))["Items"] == []


def test_import_with_an_incomplete_header_is_refused_before_writing(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a tenant and a CSV whose header lacks the tags column
    tenant_id = ok(capsys, "tenant", "create", "--name", "Acme", "--credits", "0", "--country", "CO")["tenantId"]
    csv_file = write_csv(tmp_path, "phone,name\n3001234567,Ana\n")

    # When it is imported, Then the whole file is refused and no contact exists
    result = smsctl(capsys, "contacts", "import", "--tenant", tenant_id, str(csv_file))
    assert (result.code, result.out) == (1, "")
    assert "missing: tags" in result.err
    assert local.client("dynamodb").scan(TableName=local.names.physical("ContactsTable"))["Items"] == []


def test_unreachable_local_stack_gives_a_hint(aws_env: None, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    # Given nothing listening on LOCAL_AWS_PORT
    monkeypatch.setenv("LOCAL_AWS_PORT", str(free_port()))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    # When a command runs, Then it says where it tried and how to start the stack
    result = smsctl(capsys, "credits", "show", "--tenant", NO_SUCH_ID)
    assert (result.code, result.out) == (1, "")
    assert "make dev" in result.err


def test_console_script_round_trip(local: LocalEndpointStack, tmp_path: Path) -> None:
    """The installed `smsctl` entry point, as a developer runs it."""
    env = {**os.environ, "LOCAL_AWS_PORT": os.environ["LOCAL_AWS_PORT"]}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SMSCTL), *argv], capture_output=True, text=True, env=env, timeout=120, check=False)

    # Given a tenant created through the console script
    created = run("tenant", "create", "--name", "Shell", "--credits", "5", "--country", "CO")
    assert created.returncode == 0, created.stderr
    tenant_id = json.loads(created.stdout)["tenantId"]

    # When contacts are imported (stderr is not a terminal: no progress bar)
    csv_file = write_csv(tmp_path, "phone,name,tags\n3001234567,Ana,news\nnot-a-number,Bad,news\n")
    imported = run("contacts", "import", "--tenant", tenant_id, str(csv_file))

    # Then one JSON object comes out on stdout and stderr stays free of progress output
    assert imported.returncode == 0, imported.stderr
    assert (json.loads(imported.stdout)["imported"], json.loads(imported.stdout)["rejected"]) == (1, 1)
    assert "importing" not in imported.stderr

    # And on a terminal (rich's TTY_COMPATIBLE switch) the progress bar is drawn on stderr, while --json keeps
    # stdout one JSON object
    env["TTY_COMPATIBLE"] = "1"
    on_terminal = run("contacts", "import", "--tenant", tenant_id, str(csv_file), "--json")
    assert on_terminal.returncode == 0, on_terminal.stderr
    assert json.loads(on_terminal.stdout)["rejected"] == 1
    assert "importing" in on_terminal.stderr
    assert "2/2" in on_terminal.stderr  # rows done / rows in the file
    del env["TTY_COMPATIBLE"]

    # And a bad amount fails with usage status 2 and nothing on stdout
    bad = run("credits", "add", "--tenant", tenant_id, "--amount", "-3")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert "positive whole number" in bad.stderr


@pytest.fixture
def deployed(aws_env: None) -> Iterator[LocalNames]:
    """A "deployed" stack in moto: the template's tables and queues plus a CloudFormation stack whose
    outputs are template.yaml's Outputs resolved to those physical names."""
    with mock_aws():
        names = LocalNames(stack_name="sms-prod", endpoint="https://sqs.us-east-1.amazonaws.com")
        create_tables(boto3.client("dynamodb", region_name="us-east-1"), names)
        create_queues(boto3.client("sqs", region_name="us-east-1"), names)
        outputs = Resolver(load_template(), names).resolve(load_template()["Outputs"])
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="sms-prod",
            TemplateBody=json.dumps(
                {
                    "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                    "Outputs": {key: {"Value": str(spec["Value"])} for key, spec in outputs.items()},
                }
            ),
        )
        yield names


@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")
def test_stack_option_reads_names_from_the_stack_outputs(
    deployed: LocalNames, capsys: pytest.CaptureFixture[str]
) -> None:
    # When commands target the deployed stack by name
    tenant_id = ok(capsys, "--stack", "sms-prod", "tenant", "create", "--name", "Prod", "--credits", "7")["tenantId"]
    ok(capsys, "--stack", "sms-prod", "credits", "add", "--tenant", tenant_id, "--amount", "3")

    # Then they write to the stack's own tables
    tenants = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=deployed.physical("TenantsTable"), Key={"tenant_id": {"S": tenant_id}}
    )["Item"]
    assert tenants["credits"] == {"N": "10"}

    # And dlq replay falls back to receive/send/delete where the move task API is missing
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=deployed.queue_url("DeliveryDeadLetterQueue"), MessageBody="dead")
    assert ok(capsys, "--stack", "sms-prod", "dlq", "replay")["moved"] == 1
    assert sqs.receive_message(QueueUrl=deployed.queue_url("DeliveryQueue"))["Messages"][0]["Body"] == "dead"

    # And an unknown stack is a clear error
    missing = smsctl(capsys, "--stack", "no-such-stack", "outbox")
    assert (missing.code, missing.out) == (1, "")
    assert "no-such-stack" in missing.err


@pytest.mark.parametrize(("value", "port"), [("", 4566), (" 4570 ", 4570)])
def test_local_port_is_read_like_make_dev(monkeypatch: pytest.MonkeyPatch, value: str, port: int) -> None:
    monkeypatch.setenv("LOCAL_AWS_PORT", value)
    assert targets.local_aws_port() == port


def test_a_malformed_local_port_is_a_clear_error(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOCAL_AWS_PORT", "http://localhost")
    result = smsctl(capsys, "outbox")
    assert (result.code, result.out) == (1, "")
    assert "LOCAL_AWS_PORT must be a TCP port number" in result.err


# ---------------------------------------------------------------------------------------------- output and usage
def run_in_terminal(*argv: str, terminal: bool = True) -> Any:
    """smsctl through click's CliRunner, with stdout seen as a terminal (rich's TTY_COMPATIBLE switch) or not."""
    runner = CliRunner(mix_stderr=False)
    return runner.invoke(
        cli.smsctl, list(argv), env={"TTY_COMPATIBLE": "1" if terminal else "0", "COLUMNS": "160"}, prog_name="smsctl"
    )


def test_a_terminal_gets_tables_and_json_flag_forces_json(local: LocalEndpointStack, tmp_path: Path) -> None:
    # Given a tenant with tagged contacts
    tenant_id = json.loads(run_in_terminal("--json", "tenant", "create", "--name", "Acme", "--credits", "9").stdout)[
        "tenantId"
    ]
    csv_file = write_csv(tmp_path, "phone,name,tags\n+573001234567,Ana,vip;news\n+573001234568,Luis,vip\n")
    assert run_in_terminal("--json", "contacts", "import", "--tenant", tenant_id, str(csv_file)).exit_code == 0

    # When tags are listed on a terminal
    shown = run_in_terminal("tags", "list", "--tenant", tenant_id)

    # Then a person gets tables (a field/value table and a table of tags), not JSON
    assert shown.exit_code == 0, shown.stderr
    assert not shown.stdout.lstrip().startswith("{")
    assert "tags list" in shown.stdout
    assert "tags (2)" in shown.stdout
    rows = {line.split("│")[2].strip(): line.split("│")[3].strip() for line in shown.stdout.splitlines() if "│" in line}
    assert rows.get("vip") == "2"
    assert rows.get("news") == "1"

    # And --json, before or after the command, gives the same JSON a pipe gets
    piped = json.loads(run_in_terminal("tags", "list", "--tenant", tenant_id, terminal=False).stdout)
    assert json.loads(run_in_terminal("tags", "list", "--tenant", tenant_id, "--json").stdout) == piped
    assert json.loads(run_in_terminal("--json", "tags", "list", "--tenant", tenant_id).stdout) == piped
    assert sorted((t["name"], t["contacts"]) for t in piped["tags"]) == [("news", 1), ("vip", 2)]


def test_a_terminal_shows_credits_and_the_ledger_as_tables(local: LocalEndpointStack) -> None:
    tenant_id = json.loads(run_in_terminal("--json", "tenant", "create", "--name", "Acme", "--credits", "1500").stdout)[
        "tenantId"
    ]
    shown = run_in_terminal("credits", "show", "--tenant", tenant_id)
    assert shown.exit_code == 0, shown.stderr
    assert "credits show" in shown.stdout
    assert "1,500" in shown.stdout  # balance, as a person reads it
    assert "recent (1)" in shown.stdout
    assert "opening balance" in shown.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["credits", "show", "--tenant", "acme"], "'acme' is not an id"),
        (["member", "accept-terms", "--member", "42"], "'42' is not an id"),
        (["outbox", "--recipient", "3001234567"], "international form"),
        (["outbox", "--recipient", "+57 12"], "international form"),
        (["outbox", "--limit", "0"], "positive whole number"),
        (["outbox", "--limit", "\u00b2"], "positive whole number"),  # a digit to str.isdigit, not to int()
        (["credits", "add", "--tenant", NO_SUCH_ID, "--amount=--5"], "positive whole number"),
        (["contacts", "import", "--tenant", NO_SUCH_ID, "x.csv", "--workers", "0"], "--workers"),
        (["--region", "eu-west-1", "outbox"], "--region applies to --stack only"),
        (["tenant", "create", "--name", "   ", "--credits", "1"], "must not be blank"),
    ],
)
def test_click_rejects_malformed_options_with_exit_2_and_names_the_option(
    local: LocalEndpointStack, argv: list[str], message: str
) -> None:
    # When an option is malformed
    result = CliRunner(mix_stderr=False).invoke(cli.smsctl, argv, prog_name="smsctl")

    # Then click refuses it: status 2, usage and the reason on stderr, nothing on stdout or in the tables
    assert (result.exit_code, result.stdout) == (2, "")
    assert message in result.stderr
    assert "Usage: smsctl" in result.stderr
    assert local.client("dynamodb").scan(TableName=local.names.physical("TenantsTable"))["Items"] == []


def test_local_credentials_are_passed_explicitly_not_through_the_environment(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a shell with no AWS credentials at all (no variables, no shared files)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    before = dict(os.environ)

    # When smsctl writes to the local stack and reads back
    tenant_id = ok(capsys, "tenant", "create", "--name", "Acme", "--credits", "3", "--country", "CO")["tenantId"]
    csv_file = write_csv(tmp_path, "phone,name,tags\n3001234567,Ana,vip\n")
    assert ok(capsys, "contacts", "import", "--tenant", tenant_id, str(csv_file))["imported"] == 1
    assert ok(capsys, "credits", "show", "--tenant", tenant_id)["balance"] == 3

    # Then it worked with its own fake credentials, and the process environment is exactly as it was
    assert dict(os.environ) == before


def test_a_closed_stdout_pipe_ends_quietly(local: LocalEndpointStack) -> None:
    """`smsctl ... | head -0`: the reader is gone before the JSON is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        finished = subprocess.run(
            [str(SMSCTL), "outbox"], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120, check=False
        )
    finally:
        os.close(write_end)
    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    assert "Exception ignored" not in finished.stderr
