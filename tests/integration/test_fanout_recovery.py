"""No paid message is ever stranded: crashes and timeouts after the debit, the reconciler, retries, on moto.

The send function runs through its real handler with real adapters; faults are injected around them:
- `Killed` (a BaseException) stands for the invocation dying (Lambda Timeout, out of memory): nothing after it
  runs, not even the compensation, exactly as when the process is gone;
- a RuntimeError stands for an ordinary exception, which the send path compensates itself;
- a Lambda context whose remaining time drops stands for a slow invocation that must stop in time.
Then the reconciler runs (its handler, with a clock past every deadline) and the deliver function drains the
queue. Every paid message must end SENT once (the sandbox outbox counts sends) or FAILED and refunded, never
both, and the balance must equal the ledger.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.deliver import app as deliver_app
from functions.send_by_tags import app as send_app
from smscore import wiring
from smscore.api.campaigns import CampaignService, FanoutTiming
from smscore.dal.campaign_store import FANOUT_OPEN, DynamoCampaignStore
from smscore.dal.reconciler_store import DynamoReconcilerStore
from smscore.dal.tables import DispatchRecord, LedgerRecord, MessageRecord, OutboxRecord
from smscore.domain.campaign import message_id_for, queue_id_for
from smscore.domain.model import OutgoingMessage, QueueBatch
from smscore.wiring import SendDeps
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack, api_event, load_event
from tests.integration.conftest import Campaign
from tests.integration.reconciler_helpers import run_reconciler

NUMBERS = [f"+57300123{n:04d}" for n in range(7)]  # 7 recipients, 2 per queue message: 4 batches
BODY_TEXT = "Flash sale today"


class Killed(BaseException):
    """The invocation dies here (BaseException: no `except Exception` in the send path sees it)."""


def fault(kind: str) -> BaseException:
    return Killed() if kind == "killed" else RuntimeError("injected failure")


@dataclass
class Faults:
    """Where the send path fails: entering a phase, inside a store or queue call, or running out of time."""

    kind: str = "killed"  # killed | exception
    at_phase: str | None = None  # raise when this phase starts
    persist_then_fail_after: int | None = None  # save that many messages, then fail
    enqueue_then_fail_after: int | None = None  # enqueue that many batches, then fail
    reject_after: int | None = None  # the queue takes that many batches and reports the rest failed
    out_of_time_at_phase: str | None = None  # the Lambda context's remaining time drops to 1 s at this phase
    context: LambdaContextStub = field(default_factory=LambdaContextStub)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name == self.out_of_time_at_phase:
            self.context.remaining_ms = 1_000
        if name == self.at_phase:
            raise fault(self.kind)
        yield


class FaultyStore:
    """The real campaign store, failing partway through saving messages when asked to."""

    def __init__(self, real: DynamoCampaignStore, faults: Faults) -> None:
        self._real = real
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def save_messages(self, messages: Sequence[OutgoingMessage]) -> None:
        limit = self._faults.persist_then_fail_after
        if limit is None:
            self._real.save_messages(messages)
            return
        self._real.save_messages(messages[:limit])
        raise fault(self._faults.kind)


class FaultyQueue:
    """The real SQS queue, failing (or refusing batches) partway through when asked to."""

    def __init__(self, real: Any, faults: Faults) -> None:
        self._real = real
        self._faults = faults

    def enqueue(self, batches: Sequence[QueueBatch]) -> list[QueueBatch]:
        if self._faults.enqueue_then_fail_after is not None:
            self._real.enqueue(batches[: self._faults.enqueue_then_fail_after])
            raise fault(self._faults.kind)
        if self._faults.reject_after is not None:
            failed: list[QueueBatch] = self._real.enqueue(batches[: self._faults.reject_after])
            return failed + list(batches[self._faults.reject_after :])
        result: list[QueueBatch] = self._real.enqueue(batches)
        return result


@dataclass
class World:
    stack: Stack
    campaign: Campaign
    tag_id: str

    def send_deps(self, faults: Faults, timing: FanoutTiming | None = None) -> SendDeps:
        settings = wiring.bound_settings()
        service = CampaignService(
            store=FaultyStore(wiring.campaign_store(), faults),  # type: ignore[arg-type]
            queue=FaultyQueue(wiring.delivery_queue(), faults),
            limits=wiring.campaign_limits(settings),
            idempotency_store=wiring.idempotency_store,
            idempotency_ttl_seconds=3600,
            phase=faults.phase,
            timing=timing or FanoutTiming(grace_seconds=30),
            opening=wiring.opening_rule(settings),
        )
        return dataclasses.replace(wiring.send_deps(), campaigns=service)

    def post(
        self, faults: Faults | None = None, key: str | None = None, body: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        faults = faults or Faults()
        event = api_event(
            body or {"message": BODY_TEXT, "tagIds": [self.tag_id]},
            tenant_id=self.campaign.tenant_id,
            member_id=self.campaign.member_id,
            token=self.campaign.token,
            headers={"Idempotency-Key": key} if key else None,
        )
        response = send_app.lambda_handler(event, faults.context, deps=self.send_deps(faults, **kw))
        return response["statusCode"], json.loads(response["body"])

    def reconcile(self, hours_later: float = 1.0) -> dict[str, Any]:
        """One scheduled run of the reconciler handler, at a time past every deadline (and every lease)."""
        return run_reconciler(hours_later)

    def deliver_everything(self) -> int:
        """Run the deliver handler over the delivery queue until it is empty; the records it processed."""
        template = load_event("sqs_delivery_batch.json")["Records"][0]
        processed = 0
        while bodies := self.stack.drain_delivery_queue():
            records = []
            for body in bodies:
                record = copy.deepcopy(template)
                record["messageId"] = str(uuid.uuid4())
                record["body"] = json.dumps(body)
                records.append(record)
            for start in range(0, len(records), 10):
                deliver_app.lambda_handler({"Records": records[start : start + 10]}, LambdaContextStub())
            processed += len(records)
        return processed

    def the_queue_id(self) -> str:
        (dispatch,) = [d for d in DispatchRecord.scan() if d.tenant_id == self.campaign.tenant_id]
        return str(dispatch.queue_id)

    def open_fanouts(self) -> list[str]:
        far = datetime.now(UTC) + timedelta(days=365)
        return [
            r.queue_id for r in DispatchRecord.by_fanout_due.query(FANOUT_OPEN, DispatchRecord.fanout_deadline <= far)
        ]

    def assert_settled(self, queue_id: str) -> tuple[int, int]:
        """Every paid message SENT exactly once or FAILED-and-refunded, never both; balance = ledger.

        Returns (sent, refunded) message counts.
        """
        dispatch = DispatchRecord.get(queue_id, consistent_read=True)
        assert dispatch.fanout in ("COMPLETE", "RECONCILED")
        assert dispatch.fanout_due is None
        ids = [message_id_for(queue_id, n) for n in range(int(dispatch.total_messages))]
        records = {m.message_id: m for m in MessageRecord.batch_get(ids, consistent_read=True)}
        outbox = {o.message_id: int(o.send_count) for o in OutboxRecord.scan()}
        sent = [mid for mid in ids if mid in records and records[mid].status == "SENT"]
        not_sent = [mid for mid in ids if mid not in sent]
        assert all(outbox.get(mid) == 1 for mid in sent), "a SENT message reached the provider exactly once"
        assert not set(not_sent) & set(outbox), "a refunded message was never sent"
        assert all(mid not in records or records[mid].status == "FAILED" for mid in not_sent)
        refunds = [e for e in LedgerRecord.query(self.campaign.tenant_id) if e.queue_id == queue_id]
        debits = [int(e.amount) for e in refunds if e.kind == "DEBIT"]
        refunded = sum(int(e.amount) for e in refunds if e.kind == "REFUND")
        assert debits == [-len(ids)], "one debit, for every paid message"
        assert refunded == len(not_sent), "exactly the messages not sent are refunded (1 credit each)"
        assert int(dispatch.fanout_refunded) == len(not_sent)
        assert int(dispatch.credits_refunded) == refunded
        assert self.campaign.balance() == self.campaign.ledger_sum() == 1000 - len(sent)
        return len(sent), len(not_sent)


@pytest.fixture
def world(stack: Stack, campaign: Campaign, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A tenant with 1,000 credits and 7 recipients; the send, deliver and reconciler environments on moto."""
    for key, value in function_environment(stack.names, "DeliverFunction").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RECIPIENTS_PER_QUEUE_MESSAGE", "2")
    monkeypatch.setenv("SANDBOX_TIMEOUT_SECONDS", "0")
    wiring.reset()
    for number in NUMBERS:
        campaign.add(number, "vip")
    with serialised_moto():
        yield World(stack, campaign, campaign.tags["vip"])
    wiring.reset()


# -- a crash at each step after the debit, then the reconciler ------------------------------------------------

CRASHES = {
    "before persisting": Faults(at_phase="persist"),
    "midway through persisting": Faults(persist_then_fail_after=3),
    "before enqueueing": Faults(at_phase="enqueue"),
    "midway through enqueueing": Faults(enqueue_then_fail_after=2),
    "before closing the fan-out": Faults(at_phase="close"),
    "before marking the rejected ones FAILED": Faults(reject_after=1, at_phase="mark_failed"),
    "before refunding the rejected ones": Faults(reject_after=1, at_phase="close"),
}


@pytest.mark.parametrize(
    ("step", "sent", "refunded"),
    [
        ("before persisting", 0, 7),  # nothing persisted: all 7 paid and refunded by count
        ("midway through persisting", 3, 4),  # the 3 persisted are enqueued, the 4 never written refunded
        ("before enqueueing", 7, 0),
        ("midway through enqueueing", 7, 0),  # the 4 already on the queue are enqueued again: sent once anyway
        ("before closing the fan-out", 7, 0),
        ("before marking the rejected ones FAILED", 7, 0),  # still QUEUED: the reconciler enqueues them
        ("before refunding the rejected ones", 2, 5),  # marked FAILED, never refunded: the reconciler refunds
    ],
)
def test_an_invocation_killed_after_the_debit_is_finished_by_the_reconciler(
    world: World, step: str, sent: int, refunded: int
) -> None:
    # Given an invocation that dies at this step, after the debit (no answer, no compensation)
    with pytest.raises(Killed):
        world.post(dataclasses.replace(CRASHES[step], kind="killed"))
    queue_id = world.the_queue_id()
    assert world.campaign.balance() == 993
    assert world.open_fanouts() == [queue_id]
    # When the reconciler runs after the deadline, and delivery drains the queue
    run = world.reconcile()
    world.deliver_everything()
    # Then the campaign is reconciled: each message SENT once or FAILED and refunded, and the ledger adds up
    assert [(r["queueId"], r["settled"]) for r in run["reconciled"]] == [(queue_id, True)]
    assert DispatchRecord.get(queue_id).fanout == "RECONCILED"
    assert world.assert_settled(queue_id) == (sent, refunded)
    assert world.open_fanouts() == []
    # And a second run finds nothing left to do
    assert world.reconcile()["reconciled"] == []


@pytest.mark.parametrize(
    ("step", "answer", "sent", "refunded"),
    [
        ("before persisting", (503, 0, 7), 0, 7),
        ("midway through persisting", (503, 0, 7), 0, 7),
        ("before enqueueing", (503, 0, 7), 0, 7),
        # the queue call raised: the 4 it may have taken are moved to FAILED before delivery claims them
        ("midway through enqueueing", (503, 0, 7), 0, 7),
        ("before closing the fan-out", (201, 7, 0), 7, 0),  # the close failed: the reconciler closes it
        # marking failed: the 5 rejected stay QUEUED, nothing is refunded yet, the reconciler enqueues them
        ("before marking the rejected ones FAILED", (503, 2, 0), 7, 0),
        ("before refunding the rejected ones", (503, 2, 5), 2, 5),  # the refund failed: the reconciler refunds
    ],
)
def test_an_exception_after_the_debit_is_compensated_and_the_reconciler_agrees(
    world: World, step: str, answer: tuple[int, int, int], sent: int, refunded: int
) -> None:
    # Given an invocation that raises at this step
    status, body = world.post(dataclasses.replace(CRASHES[step], kind="exception"))
    queue_id = world.the_queue_id()
    # Then it answers: 201 when everything was enqueued, else 503 ENQUEUE_FAILED with what is enqueued and refunded
    if status == 201:
        assert [m["id"] for m in body["messages"]] == [message_id_for(queue_id, n) for n in range(7)]
        assert answer == (201, 7, 0)
    else:
        assert (body["code"], body["queueId"]) == ("ENQUEUE_FAILED", queue_id)
        assert (status, body["enqueued"], body["refundedCredits"]) == answer
    # When the reconciler runs after the deadline (only a failed compensation left anything to it), delivery drains
    world.reconcile()
    world.deliver_everything()
    # Then each message is sent once or refunded, and the ledger adds up
    assert world.assert_settled(queue_id) == (sent, refunded)


@pytest.mark.clock_sensitive
def test_an_invocation_running_out_of_time_stops_refunds_and_answers_503(world: World) -> None:
    # Given an invocation whose remaining time drops below its reserve once the messages are persisted
    faults = Faults(out_of_time_at_phase="enqueue")
    # When it sends
    status, body = world.post(faults)
    # Then it stops before enqueueing, marks every message FAILED, refunds them and answers 503 in time
    queue_id = world.the_queue_id()
    assert (status, body["code"], body["enqueued"], body["refundedCredits"]) == (503, "ENQUEUE_FAILED", 0, 7)
    assert world.stack.drain_delivery_queue() == []
    assert DispatchRecord.get(queue_id).fanout == "COMPLETE"
    # And the reconciler has nothing to add
    assert world.reconcile()["reconciled"] == []
    assert world.assert_settled(queue_id) == (0, 7)


def test_a_reconciler_never_touches_a_campaign_before_its_deadline(world: World) -> None:
    # Given an invocation killed before enqueueing, whose deadline (hard stop + 30 s grace) has not passed
    with pytest.raises(Killed):
        world.post(Faults(at_phase="enqueue"))
    queue_id = world.the_queue_id()
    # When a reconciler runs now
    assert world.reconcile(hours_later=0)["reconciled"] == []
    # Then the campaign is still the sender's: PENDING, nothing enqueued, nothing refunded
    assert DispatchRecord.get(queue_id).fanout == "PENDING"
    assert world.stack.drain_delivery_queue() == []
    assert world.campaign.balance() == 993


def test_the_sender_cannot_close_what_a_reconciler_claimed(world: World) -> None:
    # Given a fan-out left open, claimed by a reconciler run past its deadline
    with pytest.raises(Killed):
        world.post(Faults(at_phase="enqueue"))
    queue_id = world.the_queue_id()
    reconciler_store = DynamoReconcilerStore(region=world.stack.names.region)
    later = datetime.now(UTC) + timedelta(hours=1)
    assert reconciler_store.claim(queue_id, "run-1", later, later + timedelta(minutes=10)) is not None
    # When a (very) slow sender finally tries to close it with a refund
    closed = wiring.campaign_store().close_fanout(
        queue_id, world.campaign.tenant_id, enqueued=0, refunded_messages=7, refund_credits=7
    )
    # Then it is refused and no money moved; a second run cannot claim it while the first one's lease lasts
    assert closed is False
    assert world.campaign.balance() == 993
    assert reconciler_store.claim(queue_id, "run-2", later, later + timedelta(minutes=10)) is None
    # And a run whose claim was taken over cannot settle it
    dispatch = reconciler_store.claim(queue_id, "run-3", later + timedelta(minutes=11), later + timedelta(minutes=21))
    assert dispatch is not None
    assert reconciler_store.settle(dispatch, "run-1", enqueued=0, refunded_messages=7, refund_credits=7) is False
    assert world.campaign.balance() == 993


# -- retries of the debit and the refunds ---------------------------------------------------------------------


class TransactionFaults:
    """Cancels the chosen TransactWriteItems calls of a connection with a TransactionConflict, as DynamoDB does when
    another transaction holds one of the items (botocore's before-call hook answers instead of the service)."""

    def __init__(self, client: Any, failing_calls: set[int]) -> None:
        self.calls = 0
        self._failing = failing_calls
        client.meta.events.register_first("before-call.dynamodb.TransactWriteItems", self)

    def __call__(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        self.calls += 1
        if self.calls not in self._failing:
            return None
        items = params.get("TransactItems", [])
        response = {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": "None"}] * (len(items) - 1) + [{"Code": "TransactionConflict"}],
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return _Http(400), response


@dataclass
class _Http:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""


def test_a_debit_cancelled_by_a_transaction_conflict_is_retried_and_charged_once(world: World) -> None:
    # Given DynamoDB cancels the first two attempts of the debit transaction (another debit of the tenant)
    conflicts = TransactionFaults(wiring.campaign_store()._connection.client, failing_calls={1, 2})
    # When the campaign is sent
    status, body = world.post()
    # Then the debit went through on the third attempt: 201, charged once, one DEBIT entry
    assert status == 201
    assert conflicts.calls >= 3
    assert len(body["messages"]) == 7
    assert world.campaign.balance() == 993
    debits = [e for e in LedgerRecord.query(world.campaign.tenant_id) if e.kind == "DEBIT"]
    assert [int(e.amount) for e in debits] == [-7]


def test_a_refund_cancelled_by_conflicts_is_retried(world: World) -> None:
    # Given a queue that takes only the first batch, and a refund whose first two attempts conflict
    conflicts = TransactionFaults(wiring.campaign_store()._connection.client, failing_calls={2, 3})
    # When the campaign is sent
    status, body = world.post(Faults(reject_after=1))
    # Then the refund went through: 503 with 5 refunded, the fan-out closed by the sender
    assert (status, body["enqueued"], body["refundedCredits"]) == (503, 2, 5)
    assert conflicts.calls >= 4
    assert DispatchRecord.get(body["queueId"]).fanout == "COMPLETE"
    world.deliver_everything()
    assert world.assert_settled(body["queueId"]) == (2, 5)


def test_a_refund_that_keeps_failing_is_left_to_the_reconciler_never_dropped(world: World) -> None:
    # Given a queue that takes only the first batch, and a refund that conflicts on every attempt
    TransactionFaults(wiring.campaign_store()._connection.client, failing_calls=set(range(2, 100)))
    status, body = world.post(Faults(reject_after=1))
    # Then the client is told what is refunded, the fan-out stays open, and nothing was refunded yet
    assert (status, body["enqueued"], body["refundedCredits"]) == (503, 2, 5)
    queue_id = body["queueId"]
    assert DispatchRecord.get(queue_id).fanout == "PENDING"
    assert world.campaign.balance() == 993
    # When the reconciler runs after the deadline
    world.reconcile()
    world.deliver_everything()
    # Then the 5 messages not enqueued are refunded, once
    assert world.assert_settled(queue_id) == (2, 5)


# -- an idempotent retry after a crash ------------------------------------------------------------------------


@pytest.mark.clock_sensitive
def test_a_retry_after_a_crash_gets_409_then_the_first_campaigns_result_with_one_debit(world: World) -> None:
    # Given a request with an Idempotency-Key killed before enqueueing, with 1 s left when it started (so that
    # Powertools' in-progress record expires at once, as it does when Lambda kills an invocation at its Timeout)
    faults = Faults(at_phase="enqueue", context=LambdaContextStub(remaining_ms=1_000))
    quick = FanoutTiming(reserve_seconds=0, reserve_per_message_seconds=0, grace_seconds=30)
    with pytest.raises(Killed):
        world.post(faults, key="spring-sale", timing=quick)
    queue_id = queue_id_for(world.campaign.tenant_id, "spring-sale")
    assert world.the_queue_id() == queue_id
    time.sleep(1.1)  # past the in-progress expiry: Powertools lets the retry run
    # When the client retries with the same key before the reconciler ran
    status, error = world.post(key="spring-sale")
    # Then it is told the first request is still in progress, and nothing is charged again
    assert (status, error["code"]) == (409, "REQUEST_IN_PROGRESS")
    assert world.campaign.balance() == 993
    # When the reconciler has finished the campaign and the client retries again
    world.reconcile()
    status, body = world.post(key="spring-sale")
    # Then it gets the first campaign: same queueId, its 7 messages, one debit in all
    assert status == 201
    assert body["queueId"] == queue_id
    assert sorted(m["id"] for m in body["messages"]) == sorted(message_id_for(queue_id, n) for n in range(7))
    world.deliver_everything()
    assert world.assert_settled(queue_id) == (7, 0)
    assert [d.queue_id for d in DispatchRecord.scan() if d.tenant_id == world.campaign.tenant_id] == [queue_id]


def test_a_retry_of_a_reconciled_campaign_with_refunds_gets_its_503(world: World) -> None:
    # Given a keyed request killed midway through persisting (4 of 7 messages never written), then reconciled
    faults = Faults(persist_then_fail_after=3, context=LambdaContextStub(remaining_ms=1_000))
    quick = FanoutTiming(reserve_seconds=0, reserve_per_message_seconds=0)
    with pytest.raises(Killed):
        world.post(faults, key="k-503", timing=quick)
    time.sleep(1.1)
    world.reconcile()
    # When the client retries with the same key
    status, body = world.post(key="k-503")
    # Then it gets the campaign's outcome, not a new campaign: 3 enqueued, 4 refunded
    assert (status, body["code"], body["queueId"]) == (
        503,
        "ENQUEUE_FAILED",
        queue_id_for(world.campaign.tenant_id, "k-503"),
    )
    assert (body["enqueued"], body["refundedCredits"]) == (3, 4)
    world.deliver_everything()
    assert world.assert_settled(body["queueId"]) == (3, 4)


def test_a_retry_with_the_same_key_and_another_body_after_a_crash_is_409_reused(world: World) -> None:
    faults = Faults(at_phase="enqueue", context=LambdaContextStub(remaining_ms=1_000))
    quick = FanoutTiming(reserve_seconds=0, reserve_per_message_seconds=0)
    with pytest.raises(Killed):
        world.post(faults, key="k-body", timing=quick)
    time.sleep(1.1)
    status, error = world.post(key="k-body", body={"message": "Another text", "tagIds": [world.tag_id]})
    assert (status, error["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert world.campaign.balance() == 993
