"""Issue 20, item 6: overlapping scheduler runs enqueue each message once.

A second run starts while the first is enqueueing (a slow run still going when the schedule fires again, or a
retried invocation): both would read the same due entries before either released them. The run lease fences it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, timedelta

import boto3

from smscore import wiring
from smscore.api.campaigns import CampaignRequest
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.scheduler_store import DynamoRunLease, DynamoSchedulerStore
from smscore.domain.campaign import FanoutBudget, send_campaign
from smscore.domain.model import QueueBatch
from smscore.domain.ports import DeliveryQueue
from smscore.domain.scheduler import Scheduler, SweepResult
from smscore.domain.windows import next_opening
from tests.conftest import Stack
from tests.integration.conftest import Campaign
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


def test_without_the_run_lease_the_same_overlap_enqueues_every_message_twice(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given the same due messages, and runs without the lease (the scheduler before issue 20)
    ids = scheduled_campaign(campaign)
    # When the second run starts while the first one enqueues
    overlapping_runs(fenced=False)
    # Then both read the same due entries before either released them: every message is on the queue twice
    assert enqueued(stack) == dict.fromkeys(ids, 2)
