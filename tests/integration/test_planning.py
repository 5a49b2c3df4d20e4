"""Campaigns above MaxSyncRecipients planned by the fan-out workers, on moto (smscore.domain.planning).

The request answers 202 without reading the audience and debits nothing; a planner (a fan-out worker) pages through
the tags' members, plans them into chunks, debits the exact credits with a ledger entry and hands the chunks over.
A planner killed at any step, then the queue's retry or the reconciler: every message ends SENT once or was never
charged (or refunded), and balance = ledger. Insufficient credits at plan time: FAILED, nothing charged or sent.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.fanout import app as fanout_app
from functions.send_by_tags import app as send_app
from smscore import wiring
from smscore.dal.planning_store import DynamoPlanningStore
from smscore.dal.tables import LedgerRecord, MessageRecord, OutboxRecord
from smscore.domain.plan import PlanChunk
from smscore.domain.planning import MemberPage, PlanningState, PlanOutcome, PlanTask
from smscore.wiring import FanoutDeps
from smsdev.admin_store import ContactInput
from tests.conftest import LambdaContextStub, api_event, load_event
from tests.integration.reconciler_helpers import run_reconciler
from tests.integration.test_planned_fanout import Fanout, Killed, numbers, seed
from tests.integration.test_planned_fanout import fanout as fanout

TEXT = "Flash sale today"
PAGE = 7  # tag members per planning page: 30 members make 5 pages


@pytest.fixture
def planned(fanout: Fanout, monkeypatch: pytest.MonkeyPatch) -> Fanout:
    """MaxSyncRecipients 20, and 30 contacts under one tag: a send is planned by the workers."""
    monkeypatch.setenv("MAX_SYNC_RECIPIENTS", "20")
    monkeypatch.setenv("MAX_RECIPIENTS", "1000")
    wiring.reset()
    seed(fanout, 30)
    return fanout


def post(fanout: Fanout, key: str | None = "big-one", tag_ids: Sequence[str] | None = None) -> tuple[int, Any, Any]:
    event = api_event(
        {"message": TEXT, "tagIds": list(tag_ids or [fanout.tag_id])},
        tenant_id=fanout.campaign.tenant_id,
        member_id=fanout.campaign.member_id,
        token=fanout.campaign.token,
        headers={"Idempotency-Key": key} if key else None,
    )
    response = send_app.lambda_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"]), response.get("multiValueHeaders") or {}


class FaultyPlanning(DynamoPlanningStore):
    """The real planning store; the planner dies at `step` (Killed: nothing after it runs)."""

    def __init__(self, step: str | None) -> None:
        super().__init__(wiring.campaign_store(), region=wiring.bound_settings().aws_region)
        self.step = step
        self.pages = 0

    def claim(self, *args: Any) -> PlanningState | None:
        state = super().claim(*args)
        if self.step == "after claiming":
            raise Killed
        return state

    def member_page(self, *args: Any) -> MemberPage:
        self.pages += 1
        return super().member_page(*args)

    def write_chunks(self, chunks: Sequence[PlanChunk]) -> None:
        super().write_chunks(chunks)
        if self.step == "after writing a page's chunks" and self.pages == 2:
            raise Killed

    def checkpoint(self, state: PlanningState, owner: str) -> bool:
        done = super().checkpoint(state, owner)
        if self.step == "after a checkpoint" and self.pages == 3:
            raise Killed
        return done

    def debit(self, state: PlanningState, owner: str, fanout_deadline: datetime) -> bool:
        done = super().debit(state, owner, fanout_deadline)
        if self.step == "after the debit":
            raise Killed
        return done


class KilledHandOver:
    """The fan-out queue, dying after taking the first chunk task."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def submit(self, tasks: Sequence[Any]) -> list[Any]:
        self._real.submit(tasks[:1])
        raise Killed


def planner_deps(step: str | None = None, minutes_later: float = 0) -> FanoutDeps:
    at = datetime.now(UTC) + timedelta(minutes=minutes_later)
    settings = wiring.bound_settings()
    planner = wiring.planner(settings)
    assert planner is not None
    planner = replace(planner, store=FaultyPlanning(step), page_members=PAGE, now=lambda: at)
    if step == "while handing the chunks over":
        planner = replace(planner, chunk_tasks=KilledHandOver(planner.chunk_tasks))
    return FanoutDeps(worker=wiring.fanout_deps().worker, planner=planner)


def run(fanout: Fanout, deps: FanoutDeps | None = None, remaining_ms: int = 120_000) -> None:
    """Every task on the fan-out queue, until it is empty (planning tasks, then the chunks they hand over)."""
    template = load_event("sqs_delivery_batch.json")["Records"][0]
    while messages := fanout.tasks():
        for message in messages:
            record = copy.deepcopy(template)
            record["messageId"] = message["MessageId"]
            record["body"] = message["Body"]
            record["eventSourceARN"] = record["eventSourceARN"].rsplit(":", 1)[0] + ":fanout"
            result = fanout_app.lambda_handler(
                {"Records": [record]}, LambdaContextStub(remaining_ms=remaining_ms), deps=deps or planner_deps()
            )
            assert result == {"batchItemFailures": []}


def kill(fanout: Fanout, step: str) -> None:
    """The planning task, run by a planner that dies at `step` (its task is lost with it: tests redeliver it)."""
    template = load_event("sqs_delivery_batch.json")["Records"][0]
    (message,) = [m for m in fanout.tasks() if json.loads(m["Body"]).get("plan")]
    record = copy.deepcopy(template)
    record["messageId"], record["body"] = message["MessageId"], message["Body"]
    with pytest.raises(Killed):
        fanout_app.lambda_handler(
            {"Records": [record]}, LambdaContextStub(remaining_ms=120_000), deps=planner_deps(step)
        )
    fanout_app.metrics.clear_metrics()
    fanout.stack_task = message  # type: ignore[attr-defined]


def redeliver(fanout: Fanout, minutes_later: float) -> None:
    """The queue delivers the dead planner's task again (after the visibility timeout), to a live planner."""
    sqs_body = fanout.stack_task["Body"]  # type: ignore[attr-defined]
    template = load_event("sqs_delivery_batch.json")["Records"][0]
    record = copy.deepcopy(template)
    record["body"] = sqs_body
    result = fanout_app.lambda_handler(
        {"Records": [record]}, LambdaContextStub(remaining_ms=120_000), deps=planner_deps(minutes_later=minutes_later)
    )
    assert result == {"batchItemFailures": []}


def reconcile(fanout: Fanout, hours_later: float) -> dict[str, Any]:
    """A reconciler run `hours_later`, as wired (it ends unfinished planning too)."""
    return run_reconciler(hours_later)


def status(fanout: Fanout, queue_id: str) -> dict[str, Any]:
    code, body = fanout.get(f"/api/messages/queues/{queue_id}")
    assert code == 200, body
    return body


def charged(fanout: Fanout, queue_id: str) -> list[tuple[str, int]]:
    return [(e.kind, int(e.amount)) for e in LedgerRecord.query(fanout.campaign.tenant_id) if e.queue_id == queue_id]


def test_a_campaign_above_max_sync_recipients_is_planned_by_the_workers_and_debited_exactly(planned: Fanout) -> None:
    # Given 30 contacts under "all", plus under "extra": 3 of the same contacts, a new contact sharing a number with
    # one of them, an invalid number, an opted-out contact and 2 new numbers (34 memberships, 36 in the tag counts)
    admin = planned.campaign.admin
    tenant = planned.campaign.tenant_id
    all_tag = planned.tag_id
    ids = admin.add_contacts(
        tenant,
        [
            ContactInput(phone="+573109999990", tag_names=["extra"]),
            ContactInput(phone="+573109999991", tag_names=["extra"]),
            ContactInput(phone="12345", tag_names=["extra"]),
            ContactInput(phone="+573109999992", tag_names=["extra"], opted_out=True),
            ContactInput(phone="310 0000001", tag_names=["extra"]),  # the number of a contact under "all"
        ],
    )
    assert len(ids) == 5
    extra = next(t.tag_id for t in admin.tags(tenant) if t.name == "extra")
    admin.add_contacts(tenant, [ContactInput(phone=n, tag_names=["extra"]) for n in numbers(3)])  # already in "all"

    # When the campaign is sent to both tags with an Idempotency-Key
    code, body, headers = post(planned, tag_ids=[all_tag, extra])
    # Then 202 at once: the tags' contacts as an upper bound, nothing debited yet, planning true, Location
    assert code == 202, body
    queue_id = body["queueId"]
    estimate = body["totalMessages"]
    assert body == {
        "queueId": queue_id,
        "channel": "sms",
        "messages": [],
        "totalMessages": estimate,
        "creditsDebited": 0,
        "planning": True,
    }
    assert estimate >= 32
    assert headers["Location"] == [f"/api/messages/queues/{queue_id}"]
    assert planned.campaign.balance() == planned.campaign.ledger_sum() == 100_000
    assert status(planned, queue_id)["planning"] == {"status": "PLANNING", "contactsRead": 0, "messagesPlanned": 0}
    # And a retry with the same key gets the same answer, and records nothing more
    assert post(planned, tag_ids=[all_tag, extra])[:2] == (202, body)

    # When the planners (7 members a page) and the fan-out workers have run
    run(planned)
    # Then it is debited exactly once for the 32 distinct valid numbers not opted out (30 + 2 new), ledger included
    final = status(planned, queue_id)
    assert final["planning"] == {"status": "PLANNED", "contactsRead": 38, "messagesPlanned": 32}
    assert (final["totalMessages"], final["creditsDebited"]) == (32, 32)
    assert charged(planned, queue_id) == [("DEBIT", -32)]
    assert planned.campaign.balance() == planned.campaign.ledger_sum() == 100_000 - 32
    # And its messages are paged by queueId, one per number
    listed = planned.listed(queue_id, limit=9)
    assert sorted(m["recipient"] for m in listed) == sorted([*numbers(30), "+573109999990", "+573109999991"])
    # And once delivered every message is SENT exactly once
    planned.deliver_everything()
    assert planned.assert_settled(queue_id, [m["id"] for m in listed]) == (32, 0)
    # And a retry now still answers 202 for the same queue, debiting nothing more
    again_code, again, _ = post(planned, tag_ids=[all_tag, extra])
    assert (again_code, again["queueId"]) == (202, queue_id)
    assert charged(planned, queue_id) == [("DEBIT", -32)]


def test_the_request_does_not_read_the_audience_nor_need_a_key_at_or_under_the_limit(planned: Fanout) -> None:
    # Given tags whose memberships (30 + 30) exceed MaxSyncRecipients 20 but whose distinct contacts do not (10)...
    admin = planned.campaign.admin
    tenant = planned.campaign.tenant_id
    admin.add_contacts(tenant, [ContactInput(phone=f"+57311{n:07d}", tag_names=["a", "b"]) for n in range(10)])
    tags = {t.name: t.tag_id for t in admin.tags(tenant)}
    # When they are sent to without a key
    code, body, _ = post(planned, key=None, tag_ids=[tags["a"], tags["b"]])
    # Then the seed's 201 with every message, as always
    assert code == 201, body
    assert list(body) == ["queueId", "channel", "messages"]
    assert len(body["messages"]) == 10
    # And above it without a key: 400 IDEMPOTENCY_KEY_REQUIRED, nothing recorded, queued or debited
    code, body, _ = post(planned, key=None)
    assert (code, body["code"], body["recipients"], body["maxSyncRecipients"]) == (
        400,
        "IDEMPOTENCY_KEY_REQUIRED",
        30,
        20,
    )
    assert planned.tasks() == []
    assert planned.campaign.balance() == planned.campaign.ledger_sum() == 100_000 - 10


def test_insufficient_credits_at_plan_time_fails_the_campaign_and_charges_nothing(planned: Fanout) -> None:
    # Given the tenant has 25 credits for 30 recipients
    _set_credits(planned, 25)
    # When it is sent: accepted (the request cannot know the exact count)
    code, body, _ = post(planned)
    assert (code, body["creditsDebited"], body["planning"]) == (202, 0, True)
    # And the planners run
    run(planned)
    # Then the campaign is FAILED with INSUFFICIENT_CREDITS: nothing charged, no message, nothing enqueued
    final = status(planned, body["queueId"])
    assert final["planning"]["status"] == "FAILED"
    assert final["planning"]["error"]["code"] == "INSUFFICIENT_CREDITS"
    assert final["planning"]["error"]["message"] == "This campaign needs 30 credits but the balance is 25"
    assert (final["totalMessages"], final["creditsDebited"]) == (0, 0)
    assert charged(planned, body["queueId"]) == []
    assert planned.campaign.balance() == planned.campaign.ledger_sum() == 25
    assert planned.listed(body["queueId"]) == []
    assert planned.stack.drain_delivery_queue() == []
    assert [o for o in OutboxRecord.scan() if o.tenant_id == planned.campaign.tenant_id] == []
    # And the reconciler has nothing left to do
    assert reconcile(planned, hours_later=1)["reconciled"] == []


def _set_credits(fanout: Fanout, credits: int) -> None:
    """Take the balance down to `credits` with a ledger entry (balance = ledger)."""
    from smscore.dal.tables import TenantRecord, ledger_entry_id

    tenant = fanout.campaign.tenant_id
    now = datetime.now(UTC)
    delta = credits - fanout.campaign.balance()
    TenantRecord(tenant).update(actions=[TenantRecord.credits.add(delta)])
    LedgerRecord(tenant, ledger_entry_id(now), kind="DEBIT", amount=delta, reason="test", created_at=now).save()


PLANNING_STEPS = [
    "after claiming",
    "after writing a page's chunks",
    "after a checkpoint",
    "after the debit",
    "while handing the chunks over",
]


@pytest.mark.parametrize("step", PLANNING_STEPS)
def test_a_planner_killed_at_each_step_is_resumed_by_the_retry_and_every_message_is_sent_once(
    planned: Fanout, step: str
) -> None:
    # Given an accepted campaign whose planner dies at `step`
    code, body, _ = post(planned)
    assert code == 202
    queue_id = body["queueId"]
    kill(planned, step)
    # When the queue delivers the task again after the lease (4 minutes), then the fan-out workers run
    redeliver(planned, minutes_later=4)
    run(planned)
    planned.deliver_everything()
    # And the reconciler runs after every deadline
    reconcile(planned, hours_later=2)
    # Then every message is SENT exactly once, debited once, balance = ledger
    final = status(planned, queue_id)
    assert final["planning"]["status"] == "PLANNED"
    listed = planned.listed(queue_id)
    assert len(listed) == 30
    assert planned.assert_settled(queue_id, [m["id"] for m in listed]) == (30, 0)
    assert charged(planned, queue_id) == [("DEBIT", -30)]


@pytest.mark.parametrize("step", PLANNING_STEPS)
def test_a_planner_killed_at_each_step_then_the_reconciler_never_charges_an_unsent_message(
    planned: Fanout, step: str
) -> None:
    # Given an accepted campaign whose planner dies at `step`, and whose task is never delivered again
    _code, body, _ = post(planned)
    queue_id = body["queueId"]
    kill(planned, step)
    planned.tasks()  # chunk tasks a dying planner handed over are lost too
    # When the reconciler runs after the campaign's deadline
    reconcile(planned, hours_later=1)
    planned.deliver_everything()
    final = status(planned, queue_id)
    if step in ("after the debit", "while handing the chunks over"):
        # Then a debited campaign is settled: every message FAILED and refunded, none sent
        listed = planned.listed(queue_id)
        assert len(listed) == 30
        assert planned.assert_settled(queue_id, [m["id"] for m in listed]) == (0, 30)
    else:
        # Then a campaign still planning ends FAILED: nothing charged, no message, nothing sent
        assert final["planning"]["status"] == "FAILED"
        assert final["planning"]["error"]["code"] == "PLANNING_NOT_FINISHED"
        assert charged(planned, queue_id) == []
        assert planned.campaign.balance() == planned.campaign.ledger_sum() == 100_000
        assert planned.listed(queue_id) == []
        assert not [m for m in MessageRecord.scan() if m.queue_id == queue_id]
    assert [o for o in OutboxRecord.scan() if o.tenant_id == planned.campaign.tenant_id] == []


def one_page() -> Callable[[], float]:
    """A planner's remaining seconds: 11 before its first page, then under its 10 s reserve."""
    clock = iter([11.0])
    return lambda: next(clock, 0.0)


def test_a_planner_out_of_time_checkpoints_and_queues_its_continuation(planned: Fanout) -> None:
    # Given an accepted campaign
    _code, body, _ = post(planned)
    queue_id = body["queueId"]
    # When every planner has time for one page only (11 s left, then under its 10 s reserve)
    invocations = 0
    while tasks := [m for m in planned.tasks() if json.loads(m["Body"]).get("plan")]:
        assert len(tasks) == 1
        deps = planner_deps()
        assert deps.planner is not None
        outcome = deps.planner.run(PlanTask(planned.campaign.tenant_id, queue_id), one_page())
        invocations += 1
        assert outcome is (PlanOutcome.PLANNED if invocations == 5 else PlanOutcome.CONTINUED)
    # Then each one planned a page, checkpointed and queued the next (5 pages of 7), and the last one debited
    assert invocations == 5
    run(planned)
    assert status(planned, queue_id)["planning"] == {"status": "PLANNED", "contactsRead": 30, "messagesPlanned": 30}
    assert charged(planned, queue_id) == [("DEBIT", -30)]


def test_a_planning_task_the_queue_refused_is_503_then_a_retry_queues_it_again(planned: Fanout) -> None:
    # Given the fan-out queue refuses the request's planning task (after the campaign was recorded)
    from smscore.dal.planning_store import SqsPlanTasks

    with pytest.MonkeyPatch.context() as refusing:
        refusing.setattr(SqsPlanTasks, "submit_plan", lambda _self, _task: False)
        code, body, _ = post(planned)
    # Then 503 ENQUEUE_FAILED, nothing debited, nothing queued
    assert (code, body["code"]) == (503, "ENQUEUE_FAILED"), body
    assert planned.tasks() == []
    assert planned.campaign.balance() == planned.campaign.ledger_sum() == 100_000
    # When the client retries with the same key once the queue takes tasks again
    code, body, _ = post(planned)
    # Then the same campaign answers 202 and its planning task is queued again: planned, debited once, sent once
    assert (code, body["planning"], body["creditsDebited"]) == (202, True, 0)
    run(planned)
    planned.deliver_everything()
    listed = planned.listed(body["queueId"])
    assert planned.assert_settled(body["queueId"], [m["id"] for m in listed]) == (30, 0)


def test_a_planning_task_never_delivered_ends_failed_by_the_reconciler_and_nothing_is_charged(
    planned: Fanout,
) -> None:
    # Given an accepted campaign whose planning task is lost before any planner took it
    _code, body, _ = post(planned)
    assert len(planned.tasks()) == 1
    # When the reconciler runs after its deadline
    reconcile(planned, hours_later=1)
    # Then it is FAILED, PLANNING_NOT_FINISHED: nothing charged, nothing sent, balance = ledger
    final = status(planned, body["queueId"])
    assert final["planning"]["status"] == "FAILED"
    assert final["planning"]["error"]["code"] == "PLANNING_NOT_FINISHED"
    assert charged(planned, body["queueId"]) == []
    assert planned.campaign.balance() == planned.campaign.ledger_sum() == 100_000
    # And a retry with the same key answers the same campaign without planning or charging it again
    code, again, _ = post(planned)
    assert (code, again["queueId"], again["creditsDebited"]) == (202, body["queueId"], 0)
    assert planned.tasks() == []
