"""Issue 20, item 7 on the local stack, scaled down: tenant B's small campaign is delivered while tenant A's large
one drains, instead of waiting behind it.

The stack runs with 2 messages per delivery record (`--param RecipientsPerQueueMessage=2`), so A's 400 messages are
200 records: a backlog far beyond what the deliver function's pollers hold at once (2 x 10 records), at a message
count this machine delivers in about a minute. (The shared demo stack packs 50 messages a record: the same backlog
would be 10,000 messages.) B then sends 3 messages (2 records). Every record carries its tenant as message group and
the local stack's queues play SQS fair queues, so B's records are received ahead of A's backlog. Checked from
outside through the API: when B's three are SENT, most of A's are still waiting. Without the groups B's records
were received only after A's 200, when A was almost all sent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.devstack import FAKE_CREDENTIALS, bind_local_tables
from smsdev.provision import function_environment
from smsdev.template import LocalNames
from smsdev.testing import RunningDevStack, dev_stack_process, http_call

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]

A_RECIPIENTS = 400
B_NUMBERS = ["+573007770001", "+573007770002", "+573007770003"]
STACK_ARGS = [
    "--no-seed",
    "--param",
    "RecipientsPerQueueMessage=2",
    "--param",
    "SendWindows=off",
    "--param",
    "MarketingMaxPerDayDefault=0",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevStack]:
    with ExitStack() as cleanup:
        patch = cleanup.enter_context(pytest.MonkeyPatch.context())
        running = cleanup.enter_context(dev_stack_process(tmp_path_factory.mktemp("fairness-stack"), STACK_ARGS))
        for key, value in FAKE_CREDENTIALS.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("AWS_ENDPOINT_URL", running.endpoint)
        yield running


def tenant(admin: DynamoAdminStore, name: str, numbers: list[str]) -> tuple[str, str]:
    """A tenant with `numbers` under one tag: (its token, the tag id)."""
    tenant_id = admin.create_tenant(f"{name} {uuid.uuid4().hex[:6]}", credits=1_000, default_country="CO")
    member = admin.create_member(tenant_id, f"ops@{name.lower()}.test", accept_terms=True)
    admin.add_contacts(tenant_id, [ContactInput(phone=n, tag_names=["all"]) for n in numbers])
    return member.token.token, admin.tags(tenant_id)[0].tag_id


def send(stack: RunningDevStack, token: str, tag_id: str, message: str) -> str:
    # Transactional: no send window applies, whatever the wall clock (the subject here is the queue, not windows)
    body = {"message": message, "tagIds": [tag_id], "purpose": "transactional"}
    answer = http_call(stack.api_url, "POST", "/api/messages/sms/tags", token=token, body=body)
    assert answer.status == 201, answer.body
    queue_id: str = answer.body["queueId"]
    return queue_id


def sent(stack: RunningDevStack, token: str, queue_id: str) -> int:
    answer = http_call(stack.api_url, "GET", f"/api/messages/queues/{queue_id}", token=token)
    assert answer.status == 200, answer.body
    counts: dict[str, Any] = answer.body["counts"]
    return int(counts.get("SENT", 0))


def test_a_small_campaign_is_delivered_while_another_tenants_large_one_drains(stack: RunningDevStack) -> None:
    names = LocalNames(endpoint=stack.endpoint)
    bind_local_tables(function_environment(names), names.region, stack.endpoint)
    admin = DynamoAdminStore(region=names.region, host=stack.endpoint)
    # Given tenant A with 400 contacts and tenant B with 3
    a_token, a_tag = tenant(admin, "Grande", [f"+5730088{n:05d}" for n in range(A_RECIPIENTS)])
    b_token, b_tag = tenant(admin, "Pequeno", B_NUMBERS)
    # When A sends to all of them (200 records on the delivery queue), and B then sends its 3 messages
    a_queue = send(stack, a_token, a_tag, "Oferta de la tienda grande")
    b_queue = send(stack, b_token, b_tag, "Su cita es manana a las 9")
    # Then B's three are SENT (waiting on progress; the bound only ends a broken run) ...
    deadline = time.monotonic() + 300
    b_sent = a_sent = 0
    while time.monotonic() < deadline:
        b_sent = sent(stack, b_token, b_queue)
        if b_sent == len(B_NUMBERS):
            a_sent = sent(stack, a_token, a_queue)
            break
        time.sleep(0.5)
    assert b_sent == len(B_NUMBERS)
    # ... while most of A's still wait: B was not queued behind A's backlog
    assert a_sent <= A_RECIPIENTS // 2, f"A had {a_sent} of {A_RECIPIENTS} SENT when B's last was SENT"
    # And A's campaign drains too: every message SENT
    while time.monotonic() < deadline + 300 and a_sent < A_RECIPIENTS:
        time.sleep(1)
        a_sent = sent(stack, a_token, a_queue)
    assert a_sent == A_RECIPIENTS
