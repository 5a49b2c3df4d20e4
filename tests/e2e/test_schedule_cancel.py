"""Scheduling and cancel over HTTP on a local stack of its own, started with the send windows enforced (the shared
e2e stack runs with SendWindows=off so that the other tests do not depend on the hour), the schedules every 2 s and
a short send Timeout and fan-out grace, so a message scheduled a few seconds ahead is due within seconds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta, timezone
from datetime import time as clock
from typing import Any

import holidays
import pytest

from smsdev.admin_store import ContactInput, DynamoAdminStore
from smsdev.devstack import FAKE_CREDENTIALS, bind_local_tables
from smsdev.provision import function_environment
from smsdev.template import LocalNames
from smsdev.testing import HttpAnswer, RunningDevStack, dev_stack_process, http_call

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]

BOGOTA = timezone(timedelta(hours=-5))
STACK_ARGS = [
    "--no-seed",
    "--param",
    "SendWindows=enforced",
    "--param",
    "LocalScheduleRateSeconds=2",  # the scheduler (and every other schedule) runs every 2 s
    "--param",
    "SendByTagsFunction.Timeout=20",  # cold starts on a busy CI machine; a due time is at least this ahead
    "--param",
    "FanoutGraceSeconds=1",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevStack]:
    with ExitStack() as cleanup:
        patch = cleanup.enter_context(pytest.MonkeyPatch.context())
        running = cleanup.enter_context(dev_stack_process(tmp_path_factory.mktemp("schedule-stack"), STACK_ARGS))
        for key, value in FAKE_CREDENTIALS.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("AWS_ENDPOINT_URL", running.endpoint)
        yield running


class Tenant:
    """A tenant with 1,000 credits, a member with a token, and numbers under tags, on the local stack."""

    def __init__(self, stack: RunningDevStack) -> None:
        names = LocalNames(endpoint=stack.endpoint)
        bind_local_tables(function_environment(names), names.region, stack.endpoint)
        self.stack = stack
        self.admin = DynamoAdminStore(region=names.region, host=stack.endpoint)
        self.tenant_id = self.admin.create_tenant(f"Shop {uuid.uuid4().hex[:6]}", credits=1000, default_country="CO")
        self.token = self.admin.create_member(self.tenant_id, "ops@shop.test", accept_terms=True).token.token

    def tag(self, *numbers: str) -> str:
        name = f"t{uuid.uuid4().hex[:6]}"
        self.admin.add_contacts(self.tenant_id, [ContactInput(phone=n, tag_names=[name]) for n in numbers])
        return next(t.tag_id for t in self.admin.tags(self.tenant_id) if t.name == name)

    def call(self, method: str, path: str, body: Any = None) -> HttpAnswer:
        return http_call(self.stack.api_url, method, path, token=self.token, body=body)

    def balance(self) -> int:
        return int(self.admin.tenant(self.tenant_id).credits)

    def ledger_sum(self) -> int:
        return sum(int(e.amount) for e in self.admin.ledger(self.tenant_id))


def next_sunday(after: date) -> date:
    day = after + timedelta(days=2)
    while day.weekday() != 6:
        day += timedelta(days=1)
    return day


def next_opening_after_sunday(sunday: date) -> datetime:
    """Ley 2300: the first day after that Sunday that is not a Colombian holiday, at 07:00 (08:00 on a Saturday)."""
    colombian = holidays.country_holidays("CO")
    day = sunday + timedelta(days=1)
    while day.weekday() == 6 or day in colombian:
        day += timedelta(days=1)
    return datetime.combine(day, clock(8) if day.weekday() == 5 else clock(7), tzinfo=BOGOTA).astimezone(UTC)


def wait_for(predicate: Any, seconds: float = 120.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_send_at_on_a_future_sunday_answers_the_next_opening_and_counts_scheduled(stack: RunningDevStack) -> None:
    # Given a tenant with 3 Colombian numbers under a tag
    tenant = Tenant(stack)
    tag_id = tenant.tag("+573004560001", "+573004560002", "+573004560003")
    sunday = next_sunday(datetime.now(BOGOTA).date())
    send_at = datetime.combine(sunday, clock(10), tzinfo=BOGOTA)
    # When a marketing campaign is scheduled for 10:00 on that Sunday
    sent = tenant.call(
        "POST", "/api/messages/sms/tags", {"message": "Oferta", "tagIds": [tag_id], "sendAt": send_at.isoformat()}
    )
    # Then it is accepted with scheduledFor = the next legal opening, and paid now
    assert sent.status == 201, sent.body
    expected = next_opening_after_sunday(sunday)
    assert sent.body["scheduledFor"] == expected.isoformat().replace("+00:00", "Z")
    assert tenant.balance() == tenant.ledger_sum() == 997
    # And the campaign's counts show its 3 messages SCHEDULED, in the list of campaigns too
    status = tenant.call("GET", f"/api/messages/queues/{sent.body['queueId']}")
    assert status.status == 200
    assert (status.body["counts"]["SCHEDULED"], status.body["counts"]["QUEUED"]) == (3, 0)
    assert (status.body["purpose"], status.body["scheduledFor"]) == ("marketing", sent.body["scheduledFor"])
    listed = tenant.call("GET", "/api/messages/queues")
    assert [item["counts"]["SCHEDULED"] for item in listed.body["items"]] == [3]
    # And the messages can be filtered by that status
    scheduled = tenant.call("GET", f"/api/messages?status=SCHEDULED&queueId={sent.body['queueId']}")
    assert sorted(m["id"] for m in scheduled.body["items"]) == sorted(m["id"] for m in sent.body["messages"])


def test_cancel_refunds_a_scheduled_campaign_and_a_second_cancel_changes_nothing(stack: RunningDevStack) -> None:
    # Given a campaign of 4 messages scheduled two days ahead (debited 4)
    tenant = Tenant(stack)
    tag_id = tenant.tag(*[f"+57300456{n:04d}" for n in range(4)])
    send_at = datetime.now(UTC) + timedelta(days=2)
    sent = tenant.call(
        "POST",
        "/api/messages/sms/tags",
        {"message": "Hola", "tagIds": [tag_id], "sendAt": send_at.isoformat(), "purpose": "transactional"},
    )
    assert sent.status == 201, sent.body
    queue_id = sent.body["queueId"]
    assert tenant.balance() == 996
    # When it is cancelled
    first = tenant.call("POST", f"/api/messages/queues/{queue_id}/cancel")
    # Then every message is cancelled and refunded, and the counts say so
    assert (first.status, first.body) == (200, {"queueId": queue_id, "cancelled": 4, "refundedCredits": 4})
    assert tenant.balance() == tenant.ledger_sum() == 1000
    counts = tenant.call("GET", f"/api/messages/queues/{queue_id}").body["counts"]
    assert (counts["CANCELLED"], counts["SCHEDULED"]) == (4, 0)
    # And a second cancel changes nothing
    second = tenant.call("POST", f"/api/messages/queues/{queue_id}/cancel")
    assert (second.status, second.body) == (200, {"queueId": queue_id, "cancelled": 0, "refundedCredits": 0})
    assert tenant.balance() == tenant.ledger_sum() == 1000
    # And another tenant's cancel of it is 404, like an unknown queue
    other = Tenant(stack)
    assert other.call("POST", f"/api/messages/queues/{queue_id}/cancel").body["code"] == "QUEUE_NOT_FOUND"


def test_the_local_scheduler_releases_a_campaign_when_its_send_at_comes(stack: RunningDevStack) -> None:
    # Given a transactional campaign scheduled 20 seconds ahead (a cold start on a busy machine takes seconds)
    tenant = Tenant(stack)
    tag_id = tenant.tag("+573004569001", "+573004569002")
    send_at = datetime.now(UTC) + timedelta(seconds=20)
    sent = tenant.call(
        "POST",
        "/api/messages/sms/tags",
        {"message": "Tu codigo", "tagIds": [tag_id], "sendAt": send_at.isoformat(), "purpose": "transactional"},
    )
    assert sent.status == 201, sent.body
    queue_id = sent.body["queueId"]

    # When the local stack's scheduler and delivery poller run
    def counts() -> dict[str, int]:
        answer: dict[str, int] = tenant.call("GET", f"/api/messages/queues/{queue_id}").body["counts"]
        return answer

    assert counts()["SCHEDULED"] == 2
    # Then both messages are released and sent, once, and nothing is refunded
    final = wait_for(lambda: (c := counts())["SENT"] == 2 and c)
    assert final, counts()
    assert (final["SCHEDULED"], final["QUEUED"], final["FAILED"]) == (0, 0, 0)
    assert tenant.balance() == tenant.ledger_sum() == 998
