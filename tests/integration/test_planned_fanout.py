"""Large campaigns on moto: the request plans, debits and answers the seed's 201; the fan-out workers write and
enqueue the messages; every id reads at once; a crash at any fan-out step ends SENT once or refunded.

The send, messages, fan-out, reconciler and deliver functions run through their real handlers with real adapters.
Faults are injected around the fan-out worker's store and queue: `Killed` (a BaseException) is the worker dying
(Lambda Timeout, out of memory), so nothing after it runs.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.deliver import app as deliver_app
from functions.fanout import app as fanout_app
from functions.messages import app as messages_app
from functions.send_by_tags import app as send_app
from smscore import wiring
from smscore.dal.plan_store import DynamoPlanStore, read_chunks
from smscore.dal.tables import DispatchRecord, FrequencyRecord, LedgerRecord, MessageRecord, OutboxRecord
from smscore.dal.tenant_settings import DynamoTenantSettings
from smscore.domain import plan
from smscore.domain.fanout import ChunkTask, FanoutProgress, FanoutWorker
from smscore.domain.frequency import BOGOTA, COUNTER_LIFETIME
from smscore.domain.model import ComplianceSettings, MarketingFrequency, OutgoingMessage, QueueBatch
from smscore.wiring import FanoutDeps
from smsdev.admin_store import ContactInput
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack, api_event, load_event
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.reconciler_helpers import run_reconciler

TEXT = "Flash sale today"


class Killed(BaseException):
    """The worker dies here: no `except Exception` (not even the batch processor's) sees it."""


def numbers(count: int) -> list[str]:
    return [f"+57310{n:07d}" for n in range(count)]


@dataclass
class Fanout:
    stack: Stack
    campaign: Campaign
    tag_id: str

    # -- the request and the reads ------------------------------------------------------------------------------
    def post(self, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
        event = api_event(
            {"message": TEXT, "tagIds": [self.tag_id]},
            tenant_id=self.campaign.tenant_id,
            member_id=self.campaign.member_id,
            token=self.campaign.token,
            headers=headers,
        )
        response = send_app.lambda_handler(event, LambdaContextStub())
        return response["statusCode"], json.loads(response["body"]), response["body"]

    def get(self, path: str, query: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        event = copy.deepcopy(load_event("apigw_list_messages.json"))
        event["path"] = path
        event["requestContext"]["path"] = f"/dev{path}"
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
        event["requestContext"]["authorizer"].update(
            tenantId=self.campaign.tenant_id, memberId=self.campaign.member_id, principalId=self.campaign.member_id
        )
        response = messages_app.lambda_handler(event, LambdaContextStub())
        return response["statusCode"], json.loads(response["body"])

    def listed(self, queue_id: str, limit: int = 100) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {"queueId": queue_id, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
            status, body = self.get("/api/messages", query)
            assert status == 200, body
            items += body["items"]
            cursor = body.get("nextCursor")
            if not cursor:
                return items

    # -- the workers ------------------------------------------------------------------------------------------
    def tasks(self) -> list[dict[str, Any]]:
        """Every task on the fan-out queue (removed)."""
        sqs = boto3.client("sqs", region_name=self.stack.names.region)
        url = self.stack.queue_urls["FanoutQueue"]
        found = []
        while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in got:
                found.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def run_workers(self, messages: Sequence[dict[str, Any]], deps: FanoutDeps | None = None) -> dict[str, Any]:
        template = load_event("sqs_delivery_batch.json")["Records"][0]
        failures: list[Any] = []
        for message in messages:
            record = copy.deepcopy(template)
            record["messageId"] = message["MessageId"]
            record["body"] = message["Body"]
            record["eventSourceARN"] = record["eventSourceARN"].rsplit(":", 1)[0] + ":fanout"
            try:
                result = fanout_app.lambda_handler({"Records": [record]}, LambdaContextStub(), deps=deps)
            except Killed:
                fanout_app.metrics.clear_metrics()  # a killed process's unflushed metrics die with it
                raise
            failures += result.get("batchItemFailures", [])
        return {"batchItemFailures": failures}

    def deliver_everything(self) -> None:
        template = load_event("sqs_delivery_batch.json")["Records"][0]
        while bodies := self.stack.drain_delivery_queue():
            records = []
            for body in bodies:
                record = copy.deepcopy(template)
                record["messageId"] = str(uuid.uuid4())
                record["body"] = json.dumps(body)
                records.append(record)
            for start in range(0, len(records), 10):
                deliver_app.lambda_handler({"Records": records[start : start + 10]}, LambdaContextStub())

    def reconcile(self, hours_later: float = 1.0) -> dict[str, Any]:
        return run_reconciler(hours_later)

    def assert_settled(self, queue_id: str, ids: Sequence[str]) -> tuple[int, int]:
        """Every paid message SENT exactly once or FAILED and refunded, never both; balance = ledger."""
        dispatch = DispatchRecord.get(queue_id, consistent_read=True)
        assert dispatch.fanout in ("COMPLETE", "RECONCILED")
        assert dispatch.fanout_due is None
        records = {m.message_id: m for m in MessageRecord.batch_get(list(ids), consistent_read=True)}
        outbox = {o.message_id: int(o.send_count) for o in OutboxRecord.scan()}
        sent = [mid for mid in ids if mid in records and records[mid].status == "SENT"]
        not_sent = [mid for mid in ids if mid not in sent]
        assert all(outbox.get(mid) == 1 for mid in sent), "a SENT message reached the provider exactly once"
        assert not set(not_sent) & set(outbox), "a refunded message was never sent"
        assert all(records[mid].status == "FAILED" for mid in not_sent), "a refunded message reads FAILED"
        entries = [e for e in LedgerRecord.query(self.campaign.tenant_id) if e.queue_id == queue_id]
        assert [int(e.amount) for e in entries if e.kind == "DEBIT"] == [-len(ids)]
        assert sum(int(e.amount) for e in entries if e.kind == "REFUND") == len(not_sent)
        assert int(dispatch.fanout_refunded) == len(not_sent)
        assert self.campaign.balance() == self.campaign.ledger_sum() == 100_000 - len(sent)
        return len(sent), len(not_sent)


@pytest.fixture
def fanout(stack: Stack, admin: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fanout]:
    """A tenant with 100,000 credits; every campaign above 10 messages planned, in chunks of 10."""
    for key, value in function_environment(stack.names, "DeliverFunction").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("INLINE_FANOUT_MAX_MESSAGES", "10")
    monkeypatch.setenv("RECIPIENTS_PER_QUEUE_MESSAGE", "4")
    monkeypatch.setenv("SANDBOX_TIMEOUT_SECONDS", "0")
    wiring.reset()
    campaign = make_campaign(admin, credits=100_000)
    yield_campaign = Fanout(stack, campaign, "")
    with serialised_moto():
        yield yield_campaign
    fanout_app.metrics.clear_metrics()  # Powertools keeps one metric set per process: leave none behind
    wiring.reset()


def seed(fanout: Fanout, count: int) -> None:
    admin = fanout.campaign.admin
    admin.add_contacts(fanout.campaign.tenant_id, [ContactInput(phone=n, tag_names=["all"]) for n in numbers(count)])
    fanout.tag_id = next(t.tag_id for t in admin.tags(fanout.campaign.tenant_id) if t.name == "all")


def test_a_3000_recipient_campaign_answers_the_seed_201_and_every_id_reads_at_once(fanout: Fanout) -> None:
    # Given 3,000 contacts under one tag (the default chunks of 1,000)
    seed(fanout, 3_000)
    # When the campaign is sent
    status, body, _raw = fanout.post()
    # Then the answer is the seed's 201: queueId, channel, and one {id, recipient} per number, by number
    assert status == 201
    assert list(body) == ["queueId", "channel", "messages"]
    assert body["channel"] == "sms"
    assert [m["recipient"] for m in body["messages"]] == numbers(3_000)
    assert all(list(m) == ["id", "recipient"] for m in body["messages"])
    ids = [m["id"] for m in body["messages"]]
    assert len(set(ids)) == 3_000
    # And it was debited once, and no message item was written by the request (the workers write them)
    assert fanout.campaign.balance() == fanout.campaign.ledger_sum() == 97_000
    assert list(MessageRecord.scan()) == []
    # And the campaign lists every id at once, QUEUED with its recipient, in the index's order (newest id first)
    listed = fanout.listed(body["queueId"])
    assert [m["id"] for m in listed] == sorted(ids, reverse=True)
    by_id = {m["id"]: m["recipient"] for m in body["messages"]}
    assert all(m["recipient"] == by_id[m["id"]] and m["status"] == "QUEUED" for m in listed)
    # And each id reads at once by GET /api/messages/{id} (every 50th, and the first and last of every chunk:
    # the emulator takes about 50 ms a call here, so all 3,000 would take minutes; the list above read them all)
    sample = sorted({*range(0, 3_000, 50), *(n for c in range(3) for n in (c * 1_000, c * 1_000 + 999))})
    for n in sample:
        message = body["messages"][n]
        code, read = fanout.get(f"/api/messages/{message['id']}")
        assert code == 200, read
        assert (read["id"], read["recipient"], read["status"], read["queueId"]) == (
            message["id"],
            message["recipient"],
            "QUEUED",
            body["queueId"],
        )
    # When the workers take the three chunks
    tasks = fanout.tasks()
    assert len(tasks) == 3
    assert fanout.run_workers(tasks) == {"batchItemFailures": []}
    # Then every message item exists, the fan-out is closed, and the same ids list and read the same
    assert {m.message_id for m in MessageRecord.scan()} == set(ids)
    dispatch = DispatchRecord.get(body["queueId"], consistent_read=True)
    assert (dispatch.fanout, int(dispatch.fanout_chunks_done), int(dispatch.fanout_enqueued)) == ("COMPLETE", 3, 3000)
    assert [m["id"] for m in fanout.listed(body["queueId"])] == sorted(ids, reverse=True)
    queued = [mid for batch in fanout.stack.drain_delivery_queue() for mid in batch["messageIds"]]
    assert sorted(queued) == sorted(ids)


def test_small_campaigns_are_still_written_by_the_request(fanout: Fanout) -> None:
    # Given 10 contacts (the inline limit in this test)
    seed(fanout, 10)
    # When the campaign is sent
    status, body, _raw = fanout.post()
    # Then the request wrote and enqueued its messages itself, and nothing went to the fan-out queue
    assert status == 201
    assert {m.message_id for m in MessageRecord.scan()} == {m["id"] for m in body["messages"]}
    assert fanout.tasks() == []


def test_an_idempotent_retry_of_a_planned_campaign_answers_the_same_201(fanout: Fanout) -> None:
    # Given a planned campaign sent with an Idempotency-Key
    seed(fanout, 25)
    status, first, _ = fanout.post({"Idempotency-Key": "campaign-25"})
    assert status == 201
    # When the same request is retried, before any worker ran
    status, again, _ = fanout.post({"Idempotency-Key": "campaign-25"})
    # Then it gets the same answer and is not debited again
    assert (status, again) == (201, first)
    assert fanout.campaign.balance() == 100_000 - 25


# -- a crash at each fan-out step ----------------------------------------------------------------------------


class FaultyPlanStore:
    """The real fan-out store, dying at one step."""

    def __init__(self, real: DynamoPlanStore, step: str) -> None:
        self._real = real
        self._step = step

    def claim_chunk(self, *args: Any) -> Any:
        chunk = self._real.claim_chunk(*args)
        if self._step == "after claiming":
            raise Killed
        return chunk

    def save_messages(self, messages: Sequence[OutgoingMessage]) -> None:
        if self._step == "midway through writing":
            self._real.save_messages(messages[:3])
            raise Killed
        self._real.save_messages(messages)
        if self._step == "after writing":
            raise Killed

    def mark_written(self, task: ChunkTask, owner: str) -> None:
        self._real.mark_written(task, owner)
        if self._step == "after marking written":
            raise Killed

    def mark_enqueued(self, task: ChunkTask, owner: str) -> FanoutProgress | None:
        if self._step == "after enqueueing":
            raise Killed
        progress = self._real.mark_enqueued(task, owner)
        if self._step == "after counting the chunk":
            raise Killed
        return progress

    def close_fanout(self, *args: Any, **kwargs: Any) -> bool:
        return self._real.close_fanout(*args, **kwargs)


class FaultyQueue:
    def __init__(self, real: Any, step: str) -> None:
        self._real = real
        self._step = step

    def enqueue(self, batches: Sequence[QueueBatch]) -> list[QueueBatch]:
        if self._step == "midway through enqueueing":
            self._real.enqueue(batches[:1])
            raise Killed
        result: list[QueueBatch] = self._real.enqueue(batches)
        return result


def worker_deps(step: str | None, minutes_later: float = 0, counters: Any = None) -> FanoutDeps:
    settings = wiring.bound_settings()
    at = datetime.now(UTC) + timedelta(minutes=minutes_later)
    store: Any = DynamoPlanStore(wiring.campaign_store(), region=settings.aws_region)
    queue: Any = wiring.delivery_queue()
    if step is not None:
        store, queue = FaultyPlanStore(store, step), FaultyQueue(queue, step)
    return FanoutDeps(
        worker=FanoutWorker(
            store=store,
            queue=queue,
            recipients_per_queue_message=settings.recipients_per_queue_message,
            lease_seconds=settings.fanout_lease_seconds,
            now=lambda: at,
            counters=counters or wiring.frequency_counters(),
        )
    )


class CountersKilledAfterWriting:
    """The real frequency counters; the worker dies right after its counts are written (before WRITTEN)."""

    def record(self, *args: Any) -> None:
        wiring.frequency_counters().record(*args)
        raise Killed


def test_frequency_counts_are_written_by_the_workers_once_with_their_ttl(fanout: Fanout) -> None:
    # Given a tenant capped at one marketing message a day and a planned campaign of 2 chunks to 20 numbers
    settings = ComplianceSettings(sender_name="Acme", frequency=MarketingFrequency(max_per_day=1, max_per_week=0))
    assert DynamoTenantSettings().write_settings(fanout.campaign.tenant_id, settings, None)
    seed(fanout, 20)
    plan.PLAN_CHUNK_MESSAGES = 10
    try:
        status, body, _ = fanout.post()
    finally:
        plan.PLAN_CHUNK_MESSAGES = 1_000
    assert status == 201
    counters = [i for i in FrequencyRecord.scan() if i.key.startswith(fanout.campaign.tenant_id)]
    # Then the request wrote no counter (the workers do)
    assert counters == []
    # When the first chunk's worker dies right after writing its counts, is retried after its lease, and the
    # second chunk fans out
    first, second = fanout.tasks()
    with pytest.raises(Killed):
        fanout.run_workers([first], deps=worker_deps(None, counters=CountersKilledAfterWriting()))
    assert fanout.run_workers([first, second], deps=worker_deps(None, minutes_later=4)) == {"batchItemFailures": []}
    # Then every number counts one message today (the retry wrote the same counts again, not one more), each item
    # expiring three weeks after the campaign
    today = datetime.now(BOGOTA).date().isoformat()
    counters = [i for i in FrequencyRecord.scan() if i.key.startswith(fanout.campaign.tenant_id)]
    assert sorted(i.key.split("#", 1)[1] for i in counters) == numbers(20)
    assert {(int(i.total), int(i.days.as_dict()[today])) for i in counters} == {(1, 1)}
    created = DispatchRecord.get(body["queueId"]).created_at
    assert {i.expires_at for i in counters} == {(created + COUNTER_LIFETIME).replace(microsecond=0)}
    # And a second campaign the same day reaches nobody and is not charged
    status, again, _ = fanout.post()
    assert (status, again["messages"]) == (200, [])
    assert fanout.campaign.balance() == fanout.campaign.ledger_sum() == 100_000 - 20


# (step, messages of the killed chunk the reconciler finds written and enqueues; the rest it refunds)
STEPS = [
    ("after claiming", 0),
    ("midway through writing", 3),
    ("after writing", 10),
    ("after marking written", 10),
    ("midway through enqueueing", 10),
    ("after enqueueing", 10),
    ("after counting the chunk", 10),
]


@pytest.mark.parametrize(("step", "kept"), STEPS)
def test_a_worker_killed_at_each_step_then_the_reconciler_sends_once_or_refunds(
    fanout: Fanout, step: str, kept: int
) -> None:
    # Given a planned campaign of 3 chunks of 10
    seed(fanout, 30)
    plan.PLAN_CHUNK_MESSAGES = 10
    try:
        status, body, _ = fanout.post()
    finally:
        plan.PLAN_CHUNK_MESSAGES = 1_000
    assert status == 201
    ids = [m["id"] for m in body["messages"]]
    first, *rest = fanout.tasks()
    # And the worker of the first chunk is killed at this step; the other two chunks fan out
    with pytest.raises(Killed):
        fanout.run_workers([first], deps=worker_deps(step))
    assert fanout.run_workers(rest, deps=worker_deps(None)) == {"batchItemFailures": []}
    # When nobody retries the chunk, the reconciler runs after the deadline and delivery drains the queue
    run = fanout.reconcile()
    fanout.deliver_everything()
    # Then each message is SENT once or FAILED and refunded, and the balance equals the ledger
    # (a worker killed after counting its chunk left the close to the last chunk's worker: nothing to reconcile)
    assert len(run["reconciled"]) == (0 if step == "after counting the chunk" else 1)
    assert fanout.assert_settled(body["queueId"], ids) == (20 + kept, 10 - kept)
    # And every id still reads, with its final status
    for mid in ids:
        code, read = fanout.get(f"/api/messages/{mid}")
        assert code == 200
        assert read["status"] in ("SENT", "FAILED")


@pytest.mark.parametrize(("step", "kept"), STEPS)
def test_a_worker_killed_at_each_step_is_taken_over_by_the_retry_after_its_lease(
    fanout: Fanout, step: str, kept: int
) -> None:
    # Given a planned campaign of 2 chunks whose first worker is killed at this step
    seed(fanout, 20)
    plan.PLAN_CHUNK_MESSAGES = 10
    try:
        _status, body, _ = fanout.post()
    finally:
        plan.PLAN_CHUNK_MESSAGES = 1_000
    ids = [m["id"] for m in body["messages"]]
    first, second = fanout.tasks()
    with pytest.raises(Killed):
        fanout.run_workers([first], deps=worker_deps(step))
    # When the queue delivers the task again after the lease, and the second chunk fans out
    assert fanout.run_workers([first, second], deps=worker_deps(None, minutes_later=4)) == {"batchItemFailures": []}
    fanout.deliver_everything()
    # Then every message is SENT exactly once and nothing is refunded; the reconciler finds nothing to do
    assert DispatchRecord.get(body["queueId"]).fanout == "COMPLETE"
    assert fanout.reconcile()["reconciled"] == []
    assert fanout.assert_settled(body["queueId"], ids) == (20, 0)


def test_a_task_the_fan_out_queue_never_delivers_is_refunded_by_the_reconciler(fanout: Fanout) -> None:
    # Given a planned campaign whose fan-out tasks are lost
    seed(fanout, 15)
    _status, body, _ = fanout.post()
    (task,) = fanout.tasks()
    # When the reconciler runs after the deadline
    fanout.reconcile()
    # Then every message reads FAILED and is refunded; the balance equals the ledger
    ids = [m["id"] for m in body["messages"]]
    assert fanout.assert_settled(body["queueId"], ids) == (0, 15)
    for mid in ids[:3]:
        assert fanout.get(f"/api/messages/{mid}")[1]["status"] == "FAILED"
    # And a worker that gets the task late writes and enqueues nothing: the campaign is the reconciler's
    assert fanout.run_workers([task]) == {"batchItemFailures": []}
    assert fanout.stack.drain_delivery_queue() == []
    assert fanout.assert_settled(body["queueId"], ids) == (0, 15)
    where = plan.parse_planned_id(ids[0])
    assert where is not None
    assert read_chunks(where.prefix, 1)[0].state.value == "PLANNED"


# -- above MaxSyncRecipients: 202 ------------------------------------------------------------------------------


@pytest.fixture
def sync_limit(fanout: Fanout, monkeypatch: pytest.MonkeyPatch) -> Fanout:
    """MaxSyncRecipients 20: larger campaigns are answered 202."""
    monkeypatch.setenv("MAX_SYNC_RECIPIENTS", "20")
    monkeypatch.setenv("MAX_RECIPIENTS", "1000")
    wiring.reset()
    seed(fanout, 30)
    return fanout


def test_above_max_sync_recipients_without_an_idempotency_key_is_400_and_nothing_is_debited(sync_limit: Fanout) -> None:
    # When 30 recipients (above MaxSyncRecipients 20) are sent to without an Idempotency-Key
    status, body, _ = sync_limit.post()
    # Then 400 IDEMPOTENCY_KEY_REQUIRED names the sizes, and nothing is debited, planned or enqueued
    assert status == 400
    assert (body["code"], body["recipients"], body["maxSyncRecipients"]) == ("IDEMPOTENCY_KEY_REQUIRED", 30, 20)
    assert sync_limit.campaign.balance() == sync_limit.campaign.ledger_sum() == 100_000
    assert [d for d in DispatchRecord.scan() if d.tenant_id == sync_limit.campaign.tenant_id] == []
    assert sync_limit.tasks() == []
    assert sync_limit.stack.drain_delivery_queue() == []


def test_above_max_sync_recipients_is_accepted_202_and_a_retry_gets_the_same_queue(sync_limit: Fanout) -> None:
    # When 30 recipients are sent to with an Idempotency-Key
    event = api_event(
        {"message": TEXT, "tagIds": [sync_limit.tag_id]},
        tenant_id=sync_limit.campaign.tenant_id,
        member_id=sync_limit.campaign.member_id,
        token=sync_limit.campaign.token,
        headers={"Idempotency-Key": "big-one"},
    )
    response = send_app.lambda_handler(event, LambdaContextStub())
    body = json.loads(response["body"])
    # Then 202: the queueId, no message list, the tags' contacts, nothing debited yet (the workers plan it:
    # tests/integration/test_planning.py), and the campaign's status as Location
    assert response["statusCode"] == 202
    assert body == {
        "queueId": body["queueId"],
        "channel": "sms",
        "messages": [],
        "totalMessages": 30,
        "creditsDebited": 0,
        "planning": True,
    }
    assert response["multiValueHeaders"]["Location"] == [f"/api/messages/queues/{body['queueId']}"]
    assert sync_limit.campaign.balance() == sync_limit.campaign.ledger_sum() == 100_000
    # When the request is retried with the same key
    again = send_app.lambda_handler(event, LambdaContextStub())
    # Then it gets the same answer
    assert (again["statusCode"], json.loads(again["body"])) == (202, body)
    # When the planner runs: it debits the exact count once, and its messages are paged by queueId
    assert sync_limit.run_workers(sync_limit.tasks()) == {"batchItemFailures": []}
    assert sync_limit.campaign.balance() == sync_limit.campaign.ledger_sum() == 100_000 - 30
    status, queue = sync_limit.get(f"/api/messages/queues/{body['queueId']}")
    assert (status, queue["totalMessages"], queue["creditsDebited"], queue["counts"]["QUEUED"]) == (200, 30, 30, 30)
    listed = sync_limit.listed(body["queueId"], limit=7)
    assert sorted(m["recipient"] for m in listed) == numbers(30)
    # And once the fan-out workers ran and delivery drained the queue, every message is SENT once
    assert sync_limit.run_workers(sync_limit.tasks()) == {"batchItemFailures": []}
    sync_limit.deliver_everything()
    ids = [m["id"] for m in listed]
    assert sync_limit.assert_settled(body["queueId"], ids) == (30, 0)


def test_at_max_sync_recipients_the_201_is_unchanged(sync_limit: Fanout, admin: Any) -> None:
    # Given exactly MaxSyncRecipients (20) recipients of another tag
    admin.add_contacts(
        sync_limit.campaign.tenant_id, [ContactInput(phone=n, tag_names=["twenty"]) for n in numbers(20)]
    )
    sync_limit.tag_id = next(t.tag_id for t in admin.tags(sync_limit.campaign.tenant_id) if t.name == "twenty")
    # When they are sent to without a key
    status, body, _ = sync_limit.post()
    # Then it is the seed's 201 with every message, planned (above the inline limit 10) but answered in full
    assert status == 201
    assert list(body) == ["queueId", "channel", "messages"]
    assert [m["recipient"] for m in body["messages"]] == numbers(20)
