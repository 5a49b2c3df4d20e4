"""A campaign above MaxSyncRecipients on the local stack: 202, planned by the workers, paged, every message SENT once.

The stack runs with `--param MaxSyncRecipients=100` (and an inline limit of 100), so a 2,000-recipient campaign takes
the path a 60,000 to 1,000,000-recipient one takes in production: the request answers 202 without reading the
audience (nothing debited yet); a planner (FanoutFunction, polled from the fan-out queue like on Lambda) pages through
the tag's members, debits the exact credits and hands the plan's chunks to the fan-out workers, who write and enqueue
the messages; delivery sends them through the sandbox. The contacts are seeded with batch writes (the admin store's
bulk path, as `smsctl contacts import` writes them); every wait polls the campaign's progress, never a fixed sleep.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from smscore.dal.tables import LedgerRecord, OutboxRecord
from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.devstack import FAKE_CREDENTIALS, bind_local_tables
from smsdev.provision import function_environment
from smsdev.template import LocalNames
from smsdev.testing import RunningDevStack, dev_stack_process, http_call

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]

RECIPIENTS = 2_000
STACK_ARGS = [
    "--no-seed",
    "--param",
    "MaxSyncRecipients=100",
    "--param",
    "InlineFanoutMaxMessages=100",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevStack]:
    with ExitStack() as cleanup:
        patch = cleanup.enter_context(pytest.MonkeyPatch.context())
        running = cleanup.enter_context(dev_stack_process(tmp_path_factory.mktemp("large-stack"), STACK_ARGS))
        for key, value in FAKE_CREDENTIALS.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("AWS_ENDPOINT_URL", running.endpoint)
        yield running


def wait_while_progressing(measure: Any, target: int, stall_seconds: float) -> bool:
    """Poll until `measure()` reaches `target`, giving up only when it has not moved for `stall_seconds`."""
    last, moved_at = -1, time.monotonic()
    while (value := measure()) < target:
        if value != last:
            last, moved_at = value, time.monotonic()
        elif time.monotonic() - moved_at > stall_seconds:
            return False
        time.sleep(2)  # a poll interval, not a wait for an outcome: it ends as soon as the target is reached
    return bool(value == target)


def test_a_campaign_above_max_sync_recipients_is_accepted_planned_paged_and_sent_once(stack: RunningDevStack) -> None:
    # Given a tenant with RECIPIENTS recipients under one tag and 5,000 credits
    names = LocalNames(endpoint=stack.endpoint)
    bind_local_tables(function_environment(names), names.region, stack.endpoint)
    admin = DynamoAdminStore(region=names.region, host=stack.endpoint)
    tenant_id = admin.create_tenant(f"Large {uuid.uuid4().hex[:6]}", credits=5_000, default_country="CO")
    token = admin.create_member(tenant_id, "ops@large.test", accept_terms=True).token.token
    admin.add_contacts(tenant_id, [ContactInput(phone=f"+57302{n:07d}", tag_names=["all"]) for n in range(RECIPIENTS)])
    body = {"message": "Gran venta hoy", "tagIds": [admin.tags(tenant_id)[0].tag_id]}

    # When it is sent without an Idempotency-Key
    refused = http_call(stack.api_url, "POST", "/api/messages/sms/tags", token=token, body=body)
    # Then 400 IDEMPOTENCY_KEY_REQUIRED, and nothing is debited
    assert (refused.status, refused.body["code"]) == (400, "IDEMPOTENCY_KEY_REQUIRED"), refused.body
    assert int(admin.tenant(tenant_id).credits) == 5_000

    # When it is sent with one
    headers = {"Idempotency-Key": "gran-venta"}
    accepted = http_call(stack.api_url, "POST", "/api/messages/sms/tags", token=token, body=body, headers=headers)
    # Then 202 without reading the audience: the tag's contacts, nothing debited yet, the campaign's status as Location
    assert accepted.status == 202, accepted.body
    queue_id = accepted.body["queueId"]
    assert accepted.body == {
        "queueId": queue_id,
        "channel": "sms",
        "messages": [],
        "totalMessages": RECIPIENTS,
        "creditsDebited": 0,
        "planning": True,
    }
    assert accepted.headers.get("Location") == f"/api/messages/queues/{queue_id}"
    # And a retry with the same key gets the same answer
    again = http_call(stack.api_url, "POST", "/api/messages/sms/tags", token=token, body=body, headers=headers)
    assert (again.status, again.body) == (202, accepted.body)

    def campaign() -> dict[str, Any]:
        answer = http_call(stack.api_url, "GET", f"/api/messages/queues/{queue_id}", token=token)
        assert answer.status == 200, answer.body
        return dict(answer.body)

    # When the planner has run
    def planned() -> int:
        planning = campaign()["planning"]
        assert planning["status"] != "FAILED", planning
        return int(planning["contactsRead"]) + (1 if planning["status"] == "PLANNED" else 0)

    assert wait_while_progressing(planned, RECIPIENTS + 1, stall_seconds=120), campaign()["planning"]
    # Then it is debited exactly, once, for every recipient
    status = campaign()
    assert (status["totalMessages"], status["creditsDebited"]) == (RECIPIENTS, RECIPIENTS)
    assert int(admin.tenant(tenant_id).credits) == 5_000 - RECIPIENTS

    # When the fan-out workers and delivery have run (the stack's functions share its two cores: the list waits)
    def counted_sent() -> int:
        counts = campaign()["counts"]
        return int(counts["SENT"]) + int(counts.get("DELIVERED", 0))

    assert wait_while_progressing(counted_sent, RECIPIENTS, stall_seconds=120), campaign()["counts"]
    # And the messages are paged by queueId
    listed: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = f"?queueId={queue_id}&limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = http_call(stack.api_url, "GET", f"/api/messages{query}", token=token)
        assert page.status == 200, page.body
        listed += page.body["items"]
        cursor = page.body.get("nextCursor")
        if not cursor:
            break
    # Then all of them are there, one per recipient, SENT
    assert len({m["id"] for m in listed}) == RECIPIENTS
    assert sorted(m["recipient"] for m in listed) == [f"+57302{n:07d}" for n in range(RECIPIENTS)]
    assert {m["status"] for m in listed} <= {"SENT", "DELIVERED"}
    ids = {m["id"] for m in listed}
    # And every message reached the outbox exactly once
    outbox = [o for o in OutboxRecord.scan() if o.tenant_id == tenant_id]
    assert {o.message_id for o in outbox} == ids
    assert {int(o.send_count) for o in outbox} == {1}
    assert len(outbox) == RECIPIENTS
    # And the counts add up: the campaign's status, its messages, the money
    final = campaign()
    assert sum(int(n) for n in final["counts"].values()) == final["totalMessages"] == RECIPIENTS, final["counts"]
    entries = [e for e in LedgerRecord.query(tenant_id) if e.queue_id == queue_id]
    assert Counter(e.kind for e in entries) == Counter({"DEBIT": 1})
    assert (
        int(admin.tenant(tenant_id).credits)
        == sum(int(e.amount) for e in LedgerRecord.query(tenant_id))
        == 5_000 - RECIPIENTS
    )
