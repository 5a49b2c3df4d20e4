"""The sandbox plays a carrier of 4 messages/second and the fleet sends at 4/s: every message goes once, none fails.

The local stack runs here as `make dev ARGS="--param 'ProviderRateLimits={\"sandbox\":4}' --param
SandboxCapacityMps=4"` would start it: the deliver function's environments (two processes) share the sender's
bucket in the Senders table, and the sandbox answers 429 above 4 accepted messages in any calendar second. The pace
is checked from outside, with `smsctl outbox` (acceptedAt, ISO 8601 with milliseconds), as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.devstack import FAKE_CREDENTIALS, bind_local_tables
from smsdev.provision import function_environment
from smsdev.template import LocalNames
from smsdev.testing import RunningDevStack, dev_stack_process, http_call

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]

RATE = 4
RECIPIENTS = 60
STACK_ARGS = ["--no-seed", "--param", 'ProviderRateLimits={"sandbox":4}', "--param", "SandboxCapacityMps=4"]
SMSCTL = Path(sys.executable).with_name("smsctl")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevStack]:
    with ExitStack() as cleanup:
        patch = cleanup.enter_context(pytest.MonkeyPatch.context())
        running = cleanup.enter_context(dev_stack_process(tmp_path_factory.mktemp("pacing-stack"), STACK_ARGS))
        for key, value in FAKE_CREDENTIALS.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("AWS_ENDPOINT_URL", running.endpoint)
        yield running


def smsctl(stack: RunningDevStack, *args: str) -> dict[str, object]:
    port = str(urlsplit(stack.endpoint).port)
    done = subprocess.run(
        [str(SMSCTL), "--json", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "LOCAL_AWS_PORT": port},
        check=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_campaign_at_the_carriers_pace_is_sent_once_each_never_above_the_rate(stack: RunningDevStack) -> None:
    # Given a tenant with 60 recipients under one tag
    names = LocalNames(endpoint=stack.endpoint)
    bind_local_tables(function_environment(names), names.region, stack.endpoint)
    admin = DynamoAdminStore(region=names.region, host=stack.endpoint)
    tenant_id = admin.create_tenant(f"Pace {uuid.uuid4().hex[:6]}", credits=1_000, default_country="CO")
    member = admin.create_member(tenant_id, "ops@pace.test", accept_terms=True)
    admin.add_contacts(tenant_id, [ContactInput(phone=f"+57302{n:07d}", tag_names=["all"]) for n in range(RECIPIENTS)])
    tag_id = admin.tags(tenant_id)[0].tag_id
    token = member.token.token

    # When the campaign is sent
    sent = http_call(
        stack.api_url, "POST", "/api/messages/sms/tags", token=token, body={"message": "Hola", "tagIds": [tag_id]}
    )
    assert sent.status == 201, sent.body
    queue_id = sent.body["queueId"]
    message_ids = {m["id"] for m in sent.body["messages"]}
    assert len(message_ids) == RECIPIENTS

    # Then, once delivered (waiting, not timing: the bound only ends a broken run), every message is SENT
    deadline = time.monotonic() + 180
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        campaign = http_call(stack.api_url, "GET", f"/api/messages/queues/{queue_id}", token=token)
        counts = campaign.body["counts"]
        if counts.get("SENT", 0) + counts.get("FAILED", 0) >= RECIPIENTS:
            break
        time.sleep(1)
    assert counts.get("SENT") == RECIPIENTS, f"{counts}; log {stack.log_path.read_text()[-3000:]}"
    assert counts.get("FAILED", 0) == 0
    # And the carrier got each message exactly once
    outbox = smsctl(stack, "outbox", "--limit", "1000")
    items = [item for item in outbox["items"] if item["messageId"] in message_ids]  # type: ignore[attr-defined,index]
    assert sorted(item["messageId"] for item in items) == sorted(message_ids)
    assert {item["sendCount"] for item in items} == {1}
    # And no second of acceptedAt holds more than the rate + 1
    per_second = Counter(item["acceptedAt"][:19] for item in items)
    assert all(item["acceptedAt"].endswith("Z") and len(item["acceptedAt"]) == 24 for item in items)
    assert max(per_second.values()) <= RATE + 1, per_second
    # And nothing was refunded: the balance is the opening credits less the 60 sent
    assert int(admin.tenant(tenant_id).credits) == 1_000 - RECIPIENTS


def test_a_stop_received_mid_campaign_is_honoured_by_the_next_batch(stack: RunningDevStack) -> None:
    # Given a tenant with 120 recipients under one tag: three records of 50, 50 and 20 messages (recipients are
    # sorted by number), about 30 s of sending at 4/s, so the last record starts about 12 s after the first
    names = LocalNames(endpoint=stack.endpoint)
    bind_local_tables(function_environment(names), names.region, stack.endpoint)
    admin = DynamoAdminStore(region=names.region, host=stack.endpoint)
    tenant_id = admin.create_tenant(f"Stop {uuid.uuid4().hex[:6]}", credits=1_000, default_country="CO")
    member = admin.create_member(tenant_id, "ops@stop.test", accept_terms=True)
    numbers = [f"+57303{n:07d}" for n in range(120)]
    admin.add_contacts(tenant_id, [ContactInput(phone=number, tag_names=["all"]) for number in numbers])
    token = member.token.token
    sent = http_call(
        stack.api_url,
        "POST",
        "/api/messages/sms/tags",
        token=token,
        body={"message": "Hola", "tagIds": [admin.tags(tenant_id)[0].tag_id], "purpose": "transactional"},
    )
    assert sent.status == 201, sent.body
    queue_id = sent.body["queueId"]
    by_number = {m["recipient"]: m["id"] for m in sent.body["messages"]}
    last = numbers[-1]  # in the last record

    # When the campaign is under way (its first messages SENT) and the last number replies BAJA to the sandbox
    def counts() -> dict[str, int]:
        result: dict[str, int] = http_call(stack.api_url, "GET", f"/api/messages/queues/{queue_id}", token=token).body[
            "counts"
        ]
        return result

    deadline = time.monotonic() + 120
    while counts().get("SENT", 0) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    reply = smsctl(stack, "inbound", "--from", last, "--body", "BAJA")
    assert (reply["action"], reply["sender"], reply["applied"]) == ("OPT_OUT", "sandbox", True)
    assert 0 < counts().get("SENT", 0) < 120  # mid-campaign

    # Then, once the campaign is done, the last number's message was not sent: FAILED as OPTED_OUT and refunded
    deadline = time.monotonic() + 180
    while sum(counts().get(status, 0) for status in ("SENT", "FAILED")) < 120 and time.monotonic() < deadline:
        time.sleep(1)
    final = counts()
    assert (final.get("SENT"), final.get("FAILED")) == (119, 1), f"{final}; log {stack.log_path.read_text()[-3000:]}"
    stopped = http_call(stack.api_url, "GET", f"/api/messages/{by_number[last]}", token=token).body
    assert (stopped["status"], stopped["providerErrorCode"]) == ("FAILED", "OPTED_OUT")
    # And the carrier never got it, while every other message went once
    outbox = smsctl(stack, "outbox", "--limit", "1000")
    accepted = {item["messageId"]: item["sendCount"] for item in outbox["items"]}  # type: ignore[attr-defined,index]
    assert by_number[last] not in accepted
    assert all(accepted[by_number[number]] == 1 for number in numbers[:-1])
    # And it was refunded: 120 debited, 1 back
    assert int(admin.tenant(tenant_id).credits) == 1_000 - 119
