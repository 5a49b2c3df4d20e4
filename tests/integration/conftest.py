"""Fixtures that give a tenant, a member and tagged contacts on the in-process moto stack, and (for smsctl,
which talks HTTP like a developer's shell) an empty local-stack account on moto's HTTP server."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from smsdev import cli, targets
from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.moto_transactions import install as install_item_level_rollback
from smsdev.provision import create_buckets, create_queues, create_tables, function_environment
from smsdev.template import LocalNames
from smsdev.testing import serialised_moto
from tests.conftest import Stack


@dataclass
class Campaign:
    """A tenant with tags and contacts, ready to send to."""

    admin: DynamoAdminStore
    tenant_id: str
    member_id: str
    token: str
    tags: dict[str, str] = field(default_factory=dict)  # name -> id

    def add(self, phone: str, *tags: str, name: str | None = None, opted_out: bool = False) -> str:
        contact_id = self.admin.add_contacts(
            self.tenant_id, [ContactInput(phone=phone, name=name, tag_names=list(tags), opted_out=opted_out)]
        )[0]
        for tag in self.admin.tags(self.tenant_id):
            self.tags[tag.name] = tag.tag_id
        return contact_id

    def balance(self) -> int:
        return int(self.admin.tenant(self.tenant_id).credits)

    def ledger_sum(self) -> int:
        return sum(int(e.amount) for e in self.admin.ledger(self.tenant_id))


@pytest.fixture
def admin(stack: Stack) -> DynamoAdminStore:
    return DynamoAdminStore(region=stack.names.region)


def make_campaign(admin: DynamoAdminStore, credits: int = 1000, country: str | None = "CO") -> Campaign:
    tenant_id = admin.create_tenant("Acme", credits=credits, default_country=country)
    member = admin.create_member(tenant_id, f"owner-{tenant_id[:8]}@acme.test", accept_terms=True)
    return Campaign(admin, tenant_id, member.member_id, member.token.token)


@pytest.fixture
def campaign(admin: DynamoAdminStore) -> Campaign:
    return make_campaign(admin)


@pytest.fixture
def audience(campaign: Campaign) -> Campaign:
    """vip: 3 numbers (Ana also in buyers); buyers: a number shared with vip, an invalid one, one opted out."""
    campaign.add("3001234567", "vip", "buyers", name="Ana")
    campaign.add("+57 300 987 6543", "vip", name="Beto")
    campaign.add("(311) 555-0101", "vip", name="Caro")
    campaign.add("573009876543", "buyers", name="Beto's shop")
    campaign.add("12345", "buyers", name="Typo")
    campaign.add("3205550202", "buyers", name="Dani", opted_out=True)
    return campaign


@pytest.fixture
def contacts_stack(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The moto stack plus the imports bucket, with the contacts function's own environment.

    moto answers one request at a time: in-process it applies a condition and its write (and a transaction and
    its rollback) as separate steps, where DynamoDB makes each request atomic; races and the import's worker
    threads need DynamoDB's behaviour.
    """
    create_buckets(boto3.client("s3", region_name=stack.names.region), stack.names)
    for key, value in function_environment(stack.names, "ContactsFunction").items():
        monkeypatch.setenv(key, value)
    from smscore import wiring

    wiring.reset()
    install_item_level_rollback()
    with serialised_moto():
        yield stack
    wiring.reset()


# ---------------------------------------------------------------------------------------------- smsctl over HTTP
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@dataclass
class LocalEndpointStack:
    """The template's resources on moto's HTTP server, named as `make dev` names them."""

    endpoint: str
    names: LocalNames
    queue_urls: dict[str, str]

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=self.endpoint)


@pytest.fixture
def local(moto_server: str, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> LocalEndpointStack:
    """An empty account on the server with the template's tables, queues and buckets; LOCAL_AWS_PORT points at it."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).close()
    names = LocalNames(stack_name=targets.LOCAL_STACK_NAME, endpoint=moto_server)
    stack = LocalEndpointStack(moto_server, names, {})
    create_tables(stack.client("dynamodb"), names)
    stack.queue_urls = create_queues(stack.client("sqs"), names)
    create_buckets(stack.client("s3"), names)
    monkeypatch.setenv("LOCAL_AWS_PORT", moto_server.rsplit(":", 1)[1])
    return stack


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def smsctl(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """`smsctl ARGV` in this process (stdout is not a terminal here, so the output is JSON)."""
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def ok(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    result = smsctl(capsys, *argv)
    assert result.code == 0, result.err
    return result.json
