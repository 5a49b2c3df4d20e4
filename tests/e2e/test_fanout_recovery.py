"""A send worker killed mid-POST on the local stack: the reconciler finishes the campaign, the money adds up.

The local stack runs here with short settings (`--param`): the send function's Timeout, the fan-out grace and
the schedules' period, so the campaign's deadline and the reconciler's next run come within seconds. The send
function's execution environment is a process of the stack; it is sent SIGKILL once the debit is done (while it
writes the messages, when it gets there in time), as Lambda does past a Timeout or on running out of memory: no
answer, no compensation.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from smscore.dal.tables import DispatchRecord, LedgerRecord, MessageRecord, OutboxRecord
from smscore.domain.campaign import message_id_for, queue_id_for
from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.devstack import FAKE_CREDENTIALS, bind_local_tables
from smsdev.provision import function_environment
from smsdev.template import LocalNames, load_template
from smsdev.testing import HttpAnswer, RunningDevStack, dev_stack_process, http_call

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]

RECIPIENTS = 1_000  # enough that the worker is killed while it writes the messages, few enough to deliver quickly
# The send function's Timeout here: long enough to resolve the audience on a busy emulator, short enough that the
# campaign's deadline (the invocation's hard stop + the grace), which the reconciler must wait for, comes soon.
SEND_TIMEOUT_SECONDS = 30
STACK_ARGS = [
    "--no-seed",
    "--param",
    f"SendByTagsFunction.Timeout={SEND_TIMEOUT_SECONDS}",
    "--param",
    "FanoutGraceSeconds=1",
    "--param",
    "LocalScheduleRateSeconds=2",  # the reconciler (and every other schedule) runs every 2 s
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevStack]:
    with ExitStack() as cleanup:
        patch = cleanup.enter_context(pytest.MonkeyPatch.context())
        running = cleanup.enter_context(dev_stack_process(tmp_path_factory.mktemp("fanout-stack"), STACK_ARGS))
        for key, value in FAKE_CREDENTIALS.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("AWS_ENDPOINT_URL", running.endpoint)
        yield running


def lambda_processes(stack: RunningDevStack) -> dict[int, list[str]]:
    """The stack's execution environments: pid -> command line (`python -m smsdev.lambdas FD FunctionId`)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode().split("\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if parent == stack.pid and "smsdev.lambdas" in args:
            found[int(entry.name)] = args
    return found


def send_workers(stack: RunningDevStack) -> list[int]:
    """Pids of the send function's execution environments (their command line names the function)."""
    return [pid for pid, args in lambda_processes(stack).items() if "SendByTagsFunction" in args]


def wait_for(condition: Any, seconds: float) -> bool:
    """Poll until `condition()` holds (waiting, not timing: the bound only ends a broken run)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


def wait_while_progressing(measure: Callable[[], int], target: int, stall_seconds: float) -> bool:
    """Poll until `measure()` reaches `target`, giving up only when it has not moved for `stall_seconds`.

    Delivery on a loaded emulator is slow but steady; a fixed bound fails a slow run, this one only a stuck one.
    """
    last, moved_at = -1, time.monotonic()
    while (value := measure()) < target:
        if value != last:
            last, moved_at = value, time.monotonic()
        elif time.monotonic() - moved_at > stall_seconds:
            return False
        time.sleep(1)
    return value == target


def log_tail(stack: RunningDevStack) -> str:
    return stack.log_path.read_text()[-3000:]


def dispatch_of(queue_id: str) -> DispatchRecord | None:
    try:
        return DispatchRecord.get(queue_id, consistent_read=True)
    except DispatchRecord.DoesNotExist:
        return None


def message_exists(message_id: str) -> bool:
    try:
        MessageRecord.get(message_id, consistent_read=True, attributes_to_get=["message_id"])
    except MessageRecord.DoesNotExist:
        return False
    return True


def test_a_send_worker_killed_mid_post_is_finished_by_the_reconciler(stack: RunningDevStack) -> None:
    # Given a tenant with 1,000 recipients under one tag, on a stack whose send Timeout is 30 s
    names = LocalNames(endpoint=stack.endpoint)
    bind_local_tables(function_environment(names), names.region, stack.endpoint)
    admin = DynamoAdminStore(region=names.region, host=stack.endpoint)
    tenant_id = admin.create_tenant(f"Crash {uuid.uuid4().hex[:6]}", credits=10_000, default_country="CO")
    member = admin.create_member(tenant_id, "ops@crash.test", accept_terms=True)
    admin.add_contacts(tenant_id, [ContactInput(phone=f"+57301{n:07d}", tag_names=["all"]) for n in range(RECIPIENTS)])
    tag_id = admin.tags(tenant_id)[0].tag_id
    body = {"message": "Doors open at 9", "tagIds": [tag_id]}
    headers = {"Idempotency-Key": "doors-open"}
    queue_id = queue_id_for(tenant_id, "doors-open")
    assert send_workers(stack), "the send function has a warm execution environment"

    # When the campaign is posted and its worker is killed midway: once debited (and writing messages, if it gets there)
    answers: list[HttpAnswer] = []
    post = threading.Thread(
        target=lambda: answers.append(
            http_call(
                stack.api_url, "POST", "/api/messages/sms/tags", token=member.token.token, body=body, headers=headers
            )
        )
    )
    post.start()
    still_running = lambda: not answers or answers[0].status == 504  # noqa: E731 - the gateway gives up at 29 s
    wait_for(lambda: dispatch_of(queue_id) is not None or not still_running(), SEND_TIMEOUT_SECONDS)
    assert dispatch_of(queue_id) is not None, f"no debit; answer {answers}; log {stack.log_path.read_text()[-3000:]}"
    wait_for(lambda: message_exists(message_id_for(queue_id, 0)) or not still_running(), 5)  # midway, when it can
    killed = send_workers(stack)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    post.join(SEND_TIMEOUT_SECONDS)
    # Then the client got no answer from the function: the gateway's 502 (or its 504, when the 29 s came first)
    assert killed, f"no send environment among {lambda_processes(stack)}"
    assert [a.status for a in answers] in ([502], [504])
    # When the deadline passes and the reconciler runs (every 2 s here), the campaign is finished by it, not the sender
    assert wait_for(lambda: (d := dispatch_of(queue_id)) is not None and d.fanout == "RECONCILED", 180)
    reconciled = dispatch_of(queue_id)
    assert reconciled is not None
    refunded = int(reconciled.fanout_refunded)
    # And delivery drains what it enqueued
    ids = [message_id_for(queue_id, n) for n in range(RECIPIENTS)]

    def final_states() -> dict[str, str]:
        found = MessageRecord.batch_get(ids, consistent_read=True, attributes_to_get=["message_id", "status"])
        return {m.message_id: str(m.status) for m in found}

    def sent_count() -> int:
        return sum(s == "SENT" for s in final_states().values())

    # A deliver invocation that times out on the busy emulator leaves its record invisible for the queue's visibility
    # timeout (and its claims leased), so delivery may pause that long before it resumes.
    visibility = int(load_template()["Resources"]["DeliveryQueue"]["Properties"]["VisibilityTimeout"])
    drained = wait_while_progressing(sent_count, RECIPIENTS - refunded, stall_seconds=visibility + 60)
    assert drained, f"delivery stalled: {Counter(final_states().values())}, {refunded} refunded; log {log_tail(stack)}"
    # Then every paid message was SENT exactly once (the sandbox outbox counts sends) or refunded, never both
    states = final_states()
    outbox = {o.message_id: int(o.send_count) for o in OutboxRecord.scan() if o.tenant_id == tenant_id}
    sent = {mid for mid, status in states.items() if status == "SENT"}
    assert set(outbox) == sent
    assert set(outbox.values()) <= {1}
    assert all(states.get(mid, "never persisted") in ("FAILED", "never persisted") for mid in set(ids) - sent)
    assert len(sent) + refunded == RECIPIENTS
    # And the ledger adds up: one debit of 1,000, refunds of exactly what was not sent, balance = ledger
    entries = [e for e in LedgerRecord.query(tenant_id) if e.queue_id == queue_id]
    assert [int(e.amount) for e in entries if e.kind == "DEBIT"] == [-RECIPIENTS]
    assert sum(int(e.amount) for e in entries if e.kind == "REFUND") == refunded
    balance = int(admin.tenant(tenant_id).credits)
    assert balance == sum(int(e.amount) for e in LedgerRecord.query(tenant_id)) == 10_000 - len(sent)
    # And the retry now gets the first campaign's result: same queueId, nothing charged again
    again = http_call(
        stack.api_url, "POST", "/api/messages/sms/tags", token=member.token.token, body=body, headers=headers
    )
    if refunded:
        code, replayed = again.body.get("code"), again.body.get("queueId")
        assert (again.status, code, replayed) == (503, "ENQUEUE_FAILED", queue_id), again.body
        assert again.body["refundedCredits"] == refunded
    else:
        assert (again.status, again.body["queueId"], len(again.body["messages"])) == (201, queue_id, RECIPIENTS)
    assert int(admin.tenant(tenant_id).credits) == balance
