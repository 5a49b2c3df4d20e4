"""The planner's own rules (smscore.domain.planning) on an in-memory store: pages, de-duplication across pages,
the exact debit, refusals at plan time, a lost lease, continuation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from smscore.domain.campaign import CampaignLimits, CampaignRequest
from smscore.domain.model import TagRecipient, Tenant
from smscore.domain.planning import Planner, PlanningState, PlanningStatus, PlanOutcome, PlanTask
from smscore.domain.windows import sendat_only
from tests.planning_fakes import FakePlanningStore, FakeTasks

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
QUEUE = "q-1"
TENANT = "t-1"


def member(n: int, phone: str | None = None, **flags: bool) -> TagRecipient:
    return TagRecipient(contact_id=f"c-{n:04d}", phone=phone or f"+57300{n:07d}", **flags)


def planner_for(
    tags: dict[str, list[TagRecipient]], credits: int = 1_000, page: int = 3, max_recipients: int = 1_000
) -> tuple[Planner, FakePlanningStore, FakeTasks]:
    store = FakePlanningStore(Tenant(TENANT, "Acme", credits, default_country="CO"), tags)
    request = CampaignRequest(tenant_id=TENANT, member_id="m-1", message="Hola", tag_ids=list(tags), country="CO")
    store.states[QUEUE] = PlanningState(
        queue_id=QUEUE,
        tenant_id=TENANT,
        request=request,
        created_at=T0,
        prefix="00000000000000000001",
        deadline=T0 + timedelta(minutes=16),
        messages_deadline=T0 + timedelta(minutes=31),
    )
    tasks = FakeTasks()
    limits = CampaignLimits(
        max_recipients=max_recipients,
        recipients_per_queue_message=50,
        default_provider="sandbox",
        character_limits={"sandbox": 1600},
        max_sync_recipients=2,
    )
    planner = Planner(
        store=store,
        plan_tasks=tasks,
        chunk_tasks=tasks,
        limits=limits,
        opening=sendat_only,
        lease_seconds=180,
        window_seconds=900,
        page_members=page,
        now=lambda: T0,
    )
    return planner, store, tasks


def forever() -> float:
    return 120.0


def test_pages_are_deduplicated_across_tags_and_numbers_and_debited_exactly() -> None:
    # Given "a" with 5 contacts (one invalid, one opted out) and "b" with 2 of them again, a new contact sharing a
    # number with one of "a", and 1 new number; pages of 3 memberships
    a = [member(1), member(2), member(3, phone="12345"), member(4, opted_out=True), member(5)]
    b = [member(1), member(2), member(6, phone="+573000000005"), member(7)]
    planner, store, tasks = planner_for({"a": a, "b": b})
    # When the planner runs
    outcome = planner.run(PlanTask(TENANT, QUEUE), forever)
    # Then 4 distinct valid numbers are planned (1, 2, 5, 7) and debited once, exactly
    state = store.states[QUEUE]
    assert outcome is PlanOutcome.PLANNED
    assert (state.status, state.messages, state.credits, state.contacts_read) == (PlanningStatus.PLANNED, 4, 4, 9)
    assert store.ledger == [("DEBIT", -4)]
    assert store.tenant.credits == 996
    planned = sorted(m.recipient for c in store.planned_chunks(state.prefix, state.chunks) for m in c.messages)
    assert planned == ["+573000000001", "+573000000002", "+573000000005", "+573000000007"]
    # And the skips are counted: the 2 contacts met again, the shared number, the invalid and the opted-out one
    assert state.skipped["duplicates_removed"] == 3
    assert (state.skipped["skipped_invalid"], state.skipped["skipped_opted_out"]) == (1, 1)
    # And every chunk was handed to the fan-out workers, nothing queued to plan again
    assert sorted(t.chunk for t in tasks.chunks) == list(range(state.chunks))
    assert tasks.plans == []


def test_insufficient_credits_at_plan_time_fail_the_campaign_without_a_debit() -> None:
    planner, store, tasks = planner_for({"a": [member(n) for n in range(5)]}, credits=4)
    assert planner.run(PlanTask(TENANT, QUEUE), forever) is PlanOutcome.FAILED
    assert store.states[QUEUE].status is PlanningStatus.FAILED
    assert store.errors[QUEUE] == ("INSUFFICIENT_CREDITS", "This campaign needs 5 credits but the balance is 4")
    assert (store.ledger, store.tenant.credits, tasks.chunks) == ([], 4, [])


def test_more_messages_than_max_recipients_fail_at_plan_time() -> None:
    planner, store, _tasks = planner_for({"a": [member(n) for n in range(5)]}, max_recipients=4)
    assert planner.run(PlanTask(TENANT, QUEUE), forever) is PlanOutcome.FAILED
    assert store.errors[QUEUE][0] == "TOO_MANY_RECIPIENTS"
    assert store.ledger == []


def test_an_audience_with_nobody_valid_closes_without_a_debit() -> None:
    planner, store, tasks = planner_for({"a": [member(1, phone="12"), member(2, opted_out=True)]})
    assert planner.run(PlanTask(TENANT, QUEUE), forever) is PlanOutcome.PLANNED
    assert (store.states[QUEUE].messages, store.ledger, tasks.chunks) == (0, [], [])


def test_a_planner_that_lost_its_lease_stops_without_debiting() -> None:
    planner, store, tasks = planner_for({"a": [member(n) for n in range(7)]})
    store.lose_lease_at_checkpoint = 2
    assert planner.run(PlanTask(TENANT, QUEUE), forever) is PlanOutcome.SKIPPED
    assert (store.states[QUEUE].status, store.states[QUEUE].contacts_read) == (PlanningStatus.PLANNING, 3)
    assert (store.ledger, tasks.chunks) == ([], [])


@pytest.mark.parametrize("left", [9.9, 0.0])
def test_a_planner_short_of_time_releases_and_queues_its_continuation(left: float) -> None:
    # Given less than the 10 s reserve left
    planner, store, tasks = planner_for({"a": [member(n) for n in range(7)]})
    # When it runs: it plans nothing, gives its lease up and queues the same task again
    assert planner.run(PlanTask(TENANT, QUEUE), lambda: left) is PlanOutcome.CONTINUED
    assert tasks.plans == [PlanTask(TENANT, QUEUE)]
    assert store.states[QUEUE].contacts_read == 0
    assert QUEUE not in store.leases
    # And the continuation, with time, finishes it: each page counted once
    assert planner.run(tasks.plans[0], forever) is PlanOutcome.PLANNED
    assert (store.states[QUEUE].messages, store.ledger) == (7, [("DEBIT", -7)])


def test_a_resumed_planner_does_not_plan_again_what_an_earlier_page_planned() -> None:
    # Given a planner that planned the first page (3 of "a"), checkpointed, and was then replaced
    a = [member(n) for n in range(1, 5)]
    b = [member(1), member(9, phone="+573000000002")]  # the same contact, and another contact with a planned number
    planner, store, _tasks = planner_for({"a": a, "b": b})
    clock = iter([120.0])
    assert planner.run(PlanTask(TENANT, QUEUE), lambda: next(clock, 0.0)) is PlanOutcome.CONTINUED
    assert store.states[QUEUE].messages == 3
    # When another planner resumes from the checkpoint
    assert planner.run(PlanTask(TENANT, QUEUE), forever) is PlanOutcome.PLANNED
    # Then it rebuilt what was planned from the chunks: the 4 numbers of "a" only, debited once
    state = store.states[QUEUE]
    assert (state.messages, store.ledger) == (4, [("DEBIT", -4)])


def test_a_planner_stops_at_its_slice_so_its_invocations_stay_short() -> None:
    # Given a planner whose slice of an invocation is used up by one page (pages of 3, 7 memberships)
    planner, store, tasks = planner_for({"a": [member(n) for n in range(7)]})
    sliced = replace(planner, slice_seconds=0.0)
    # When it runs with plenty of Lambda time left, again and again on its continuations
    outcomes = [sliced.run(PlanTask(TENANT, QUEUE), forever) for _ in range(3)]
    # Then each invocation planned one page and queued the next; the third finished and debited once
    assert outcomes == [PlanOutcome.CONTINUED, PlanOutcome.CONTINUED, PlanOutcome.PLANNED]
    assert len(tasks.plans) == 2
    assert (store.states[QUEUE].contacts_read, store.ledger) == (7, [("DEBIT", -7)])
