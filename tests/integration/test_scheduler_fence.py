"""Issue 20, item 6: overlapping scheduler runs enqueue each message once.

A second run starts while the first is enqueueing (a slow run still going when the schedule fires again, or a
retried invocation): both would read the same due entries before either released them. The run lease fences it.
With the release queue, the same holds for the workers: a key handed out twice (a task delivered twice, or the
next minute's run handing out a key still being released) is read by one worker only, fenced by the key's lease.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, timedelta

import boto3

from functions.scheduler import app as scheduler_app
from smscore import wiring
from smscore.api.campaigns import CampaignRequest
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.scheduler_store import DynamoRunLease, DynamoSchedulerStore
from smscore.domain.campaign import FanoutBudget, send_campaign
from smscore.domain.model import QueueBatch
from smscore.domain.ports import DeliveryQueue
from smscore.domain.scheduler import Scheduler, SweepResult
from smscore.domain.windows import next_opening
from tests.conftest import LambdaContextStub, Stack
from tests.integration.conftest import Campaign
from tests.integration.scheduler_helpers import deps_at, release_tasks, run_workers
from tests.integration.test_schedule_and_cancel import (
    MONDAY_0700,
    NUMBERS,
    SATURDAY_1530,
    statuses,
    tag_numbers,
    windows_on,
)

__all__ = ["windows_on"]  # the fixture, used by name

AT_OPENING = MONDAY_0700 + timedelta(seconds=30)


class SecondRunDuringEnqueue:
    """The delivery queue, with another scheduler run starting while the first one enqueues."""

    def __init__(self, inner: DeliveryQueue) -> None:
        self.inner = inner
        self.second_run: Callable[[], SweepResult] | None = None
        self.second_result: SweepResult | None = None

    def enqueue(self, batches: Sequence[QueueBatch]) -> list[QueueBatch]:
        if self.second_run is not None:
            run, self.second_run = self.second_run, None
            self.second_result = run()
        return self.inner.enqueue(batches)


def scheduled_campaign(campaign: Campaign) -> list[str]:
    """Four marketing messages sent on a Saturday afternoon: SCHEDULED for Monday 07:00, paid."""
    tag_id = tag_numbers(campaign, *NUMBERS[:4])
    request = CampaignRequest(campaign.tenant_id, campaign.member_id, "Promo", [tag_id])
    result = send_campaign(
        request,
        store=wiring.campaign_store(),
        queue=wiring.delivery_queue(),
        limits=wiring.campaign_limits(wiring.bound_settings()),
        now=lambda: SATURDAY_1530.astimezone(UTC),
        budget=FanoutBudget.from_timeout(29.0),
        opening=next_opening,
    )
    ids = [m.message_id for m in result.messages]
    assert statuses(ids) == ["SCHEDULED"] * 4
    return ids


def scheduler(queue: DeliveryQueue, fenced: bool) -> Scheduler:
    """The scheduler as wiring builds it (its lease on the Senders table), at Monday 07:00:30; `fenced=False`: the
    run lease taken away, as before issue 20."""
    settings = wiring.bound_settings()
    assert settings.senders_table
    lease = DynamoRunLease(boto3.client("dynamodb", region_name=settings.aws_region), settings.senders_table)
    return Scheduler(
        store=DynamoSchedulerStore(DynamoMessageStore(region=settings.aws_region)),
        queue=queue,
        recipients_per_queue_message=settings.recipients_per_queue_message,
        now=lambda: AT_OPENING,
        lease=lease if fenced else None,
        lease_seconds=settings.scheduler_lease_seconds,
    )


def enqueued(stack: Stack) -> Counter[str]:
    return Counter(mid for body in stack.drain_delivery_queue() for mid in body["messageIds"])


def overlapping_runs(fenced: bool) -> tuple[SweepResult, SweepResult | None]:
    queue = SecondRunDuringEnqueue(wiring.delivery_queue())
    first, second = scheduler(queue, fenced), scheduler(wiring.delivery_queue(), fenced)
    queue.second_run = lambda: second.sweep(20_000)
    return first.sweep(20_000), queue.second_result


def test_overlapping_scheduler_runs_enqueue_each_message_once(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given four messages due at Monday's opening
    ids = scheduled_campaign(campaign)
    # When a second run starts while the first one is enqueueing them
    first, second = overlapping_runs(fenced=True)
    # Then the second run was fenced (it read and enqueued nothing), and each message was enqueued once
    assert second == SweepResult(due=0, enqueued=0, released=0, not_enqueued=0, fenced=True)
    assert first == SweepResult(due=4, enqueued=4, released=4, not_enqueued=0)
    assert enqueued(stack) == dict.fromkeys(ids, 1)
    assert statuses(ids) == ["QUEUED"] * 4
    # And the lease was given back: the next run is not fenced (and finds nothing due)
    assert scheduler(wiring.delivery_queue(), fenced=True).sweep(20_000) == SweepResult(0, 0, 0, 0)


def test_without_the_run_lease_the_same_overlap_enqueues_messages_twice(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given the same due messages, and runs without the lease (the scheduler before issue 20)
    ids = scheduled_campaign(campaign)
    # When the second run starts while the first one enqueues
    overlapping_runs(fenced=False)
    # Then both read the same due entries before either released them: what the first run had read when the
    # second one started (its first key's page) is on the queue twice
    counts = enqueued(stack)
    assert set(counts) == set(ids)
    assert 2 in counts.values()


# -- the release workers: one reader per due key ------------------------------------------------------------------


class SecondWorkerDuringEnqueue:
    """The delivery queue, with a second worker of the same key starting while the first enqueues its page."""

    def __init__(self, inner: DeliveryQueue) -> None:
        self.inner = inner
        self.second: Callable[[], SweepResult] | None = None
        self.seconds: list[SweepResult] = []

    def enqueue(self, batches: Sequence[QueueBatch]) -> list[QueueBatch]:
        if self.second is not None:
            run, self.second = self.second, None
            self.seconds.append(run())
        return self.inner.enqueue(batches)


def worker(queue: DeliveryQueue, key_leases: bool) -> Scheduler:
    """A release worker as wiring builds it (its key leases on the Senders table), at Monday 07:00:30."""
    settings = wiring.bound_settings()
    assert settings.senders_table
    table = settings.senders_table
    client = boto3.client("dynamodb", region_name=settings.aws_region)
    return Scheduler(
        store=DynamoSchedulerStore(DynamoMessageStore(region=settings.aws_region)),
        queue=queue,
        recipients_per_queue_message=settings.recipients_per_queue_message,
        now=lambda: AT_OPENING,
        key_lease=(lambda key: DynamoRunLease.for_due_key(client, table, key)) if key_leases else None,
        lease_seconds=settings.scheduler_lease_seconds,
    )


def each_key_released_twice_at_once(key_leases: bool) -> tuple[list[SweepResult], list[SweepResult]]:
    """The minute's run hands out the due keys (the release queue); each task is then taken by two workers at
    once: the second starts while the first enqueues (a task delivered twice, or handed out again by the next run)."""
    answer = scheduler_app.lambda_handler({}, LambdaContextStub(), deps=deps_at(AT_OPENING))
    keys = [json.loads(record["body"])["dueKey"] for record in release_tasks()]
    assert answer["dispatched"] == len(keys) > 0
    firsts: list[SweepResult] = []
    seconds: list[SweepResult] = []
    for key in keys:
        queue = SecondWorkerDuringEnqueue(wiring.delivery_queue())
        second = worker(wiring.delivery_queue(), key_leases)
        queue.second = lambda key=key, second=second: second.release(key, 20_000)  # type: ignore[misc]
        firsts.append(worker(queue, key_leases).release(key, 20_000))
        seconds += queue.seconds
    return firsts, seconds


def test_two_workers_of_one_due_key_enqueue_each_message_once(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given four messages due at Monday's opening, their keys handed out by the minute's run
    ids = scheduled_campaign(campaign)
    # When every key is taken by two workers at once
    firsts, seconds = each_key_released_twice_at_once(key_leases=True)
    # Then each second worker was fenced by the key's lease, and each message was enqueued and released once
    assert all(result.fenced and result.due == 0 for result in seconds)
    assert sum(r.released for r in firsts) == 4
    assert enqueued(stack) == dict.fromkeys(ids, 1)
    assert statuses(ids) == ["QUEUED"] * 4


def test_without_the_key_lease_two_workers_of_one_key_enqueue_its_messages_twice(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given the same due messages, and workers without the key lease
    ids = scheduled_campaign(campaign)
    # When every key is taken by two workers at once
    each_key_released_twice_at_once(key_leases=False)
    # Then both read the key's entries before either released them: every message is on the queue twice
    assert enqueued(stack) == dict.fromkeys(ids, 2)


def test_overlapping_minute_runs_with_workers_enqueue_each_message_once(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given four messages due at Monday's opening
    ids = scheduled_campaign(campaign)
    # When the minute's run hands out their keys, a second run (its lease given back) hands them out again
    # before any worker ran, and every task of both runs is taken by a worker
    first = scheduler_app.lambda_handler({}, LambdaContextStub(), deps=deps_at(AT_OPENING))
    second = scheduler_app.lambda_handler({}, LambdaContextStub(), deps=deps_at(AT_OPENING))
    tasks = release_tasks()
    assert len(tasks) == first["dispatched"] + second["dispatched"] == 2 * first["dispatched"]
    results = run_workers(deps_at(AT_OPENING), tasks)
    # Then each message was enqueued once: the second task of a key found it drained (or its lease held)
    assert enqueued(stack) == dict.fromkeys(ids, 1)
    assert sum(r.released for r in results) == 4
    assert statuses(ids) == ["QUEUED"] * 4
