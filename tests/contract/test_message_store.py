"""Delivery's MessageStore: claim, lease, fencing, requeue and refund behave the same in the fake and in DynamoDB."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from smscore.domain.model import MessageStatus, StoredMessage
from smscore.domain.ports import Accepted, FailedSend, PermanentFailure, TransientFailure
from tests.contract.sides import LedgerLine, MessageStoreSide, stored

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=3)
TENANT = "t-1"
QUEUE = "q-1"
BAD_NUMBER = PermanentFailure("21211", "invalid To")
THROTTLED = TransientFailure("20429", "slow down")
OPENING = LedgerLine("TOPUP", 10)


@pytest.fixture
def funded(messages: MessageStoreSide) -> MessageStoreSide:
    """A tenant with 10 credits; each seeded message then costs it 2."""
    messages.fund(TENANT, 10)
    return messages


def given(side: MessageStoreSide, message_id: str = "m-1", **changes: object) -> StoredMessage:
    message = stored(message_id, TENANT, **{"queue_id": QUEUE, **changes})
    side.given(message)
    return message


def current(side: MessageStoreSide, message_id: str = "m-1") -> StoredMessage:
    return side.store.load([message_id])[message_id]


def debit(message_id: str = "m-1") -> LedgerLine:
    return LedgerLine("DEBIT", -2, (message_id,))


def refund(message_id: str = "m-1") -> LedgerLine:
    return LedgerLine("REFUND", 2, (message_id,))


# -- load ---------------------------------------------------------------------------------------------------


def test_load_returns_the_messages_as_stored_and_skips_unknown_ids(funded: MessageStoreSide) -> None:
    # Given a queued message and one whose lease is running
    queued = given(funded, "m-1")
    sending = given(funded, "m-2", status=MessageStatus.SENDING, attempts=2, lease_until=T0 + LEASE)
    # When both and an unknown id are loaded
    loaded = funded.store.load(["m-1", "m-2", "m-404"])
    # Then each reads back exactly as stored, and the unknown id is absent
    assert loaded == {"m-1": queued, "m-2": sending}


# -- claim --------------------------------------------------------------------------------------------------


def test_a_claim_takes_a_lease_and_counts_the_attempt(funded: MessageStoreSide) -> None:
    # Given a queued message never attempted
    queued = given(funded)
    # When it is claimed
    claimed = funded.store.claim(queued, T0, T0 + LEASE)
    # Then it is SENDING, first attempt, leased until T0 + 3 min; the campaign counts it as sending
    assert claimed is not None
    assert (claimed.status, claimed.attempts, claimed.lease_until) == (MessageStatus.SENDING, 1, T0 + LEASE)
    assert current(funded) == claimed
    assert funded.counts(QUEUE) == {"SENDING": 1}
    assert funded.balance(TENANT) == 8


def test_of_two_claims_from_the_same_read_only_one_wins(funded: MessageStoreSide) -> None:
    # Given two consumers that read the same queued message (a duplicate SQS delivery)
    read = given(funded)
    # When both claim it
    first = funded.store.claim(read, T0, T0 + LEASE)
    second = funded.store.claim(read, T0, T0 + LEASE)
    # Then only the first holds it, and the attempt and the counters moved once
    assert first is not None
    assert second is None
    assert current(funded).attempts == 1
    assert funded.counts(QUEUE) == {"SENDING": 1}


def test_a_claim_from_a_read_older_than_a_requeue_is_refused(funded: MessageStoreSide) -> None:
    # Given a consumer read the message QUEUED, then another claimed it and requeued it (QUEUED again, attempt 1)
    stale_read = given(funded)
    other = funded.store.claim(stale_read, T0, T0 + LEASE)
    assert other is not None
    assert funded.store.requeue(other, "sandbox", "sandbox", THROTTLED, T0)
    # When the first consumer claims from its old read
    late = funded.store.claim(stale_read, T0, T0 + LEASE)
    # Then it is refused: the status is the same but the attempt count is not
    assert late is None
    assert (current(funded).status, current(funded).attempts) == (MessageStatus.QUEUED, 1)


@pytest.mark.parametrize("lease_left", [timedelta(seconds=60), timedelta(0)], ids=["running", "ending-now"])
def test_a_live_lease_is_not_taken_over(funded: MessageStoreSide, lease_left: timedelta) -> None:
    # Given a message another consumer is sending, its lease not yet past
    sending = given(funded, status=MessageStatus.SENDING, attempts=1, lease_until=T0 + lease_left)
    # When a duplicate claims it
    claimed = funded.store.claim(sending, T0, T0 + LEASE)
    # Then it is refused and the owner's lease and attempt stand
    assert claimed is None
    assert current(funded) == sending


def test_an_expired_lease_is_taken_over_as_the_next_attempt(funded: MessageStoreSide) -> None:
    # Given a message whose owner crashed: SENDING, lease past
    crashed = given(funded, status=MessageStatus.SENDING, attempts=1, lease_until=T0 - timedelta(seconds=1))
    # When its record comes back and it is claimed
    claimed = funded.store.claim(crashed, T0, T0 + LEASE)
    # Then the new owner holds attempt 2 with a fresh lease; still one message sending
    assert claimed is not None
    assert (claimed.status, claimed.attempts, claimed.lease_until) == (MessageStatus.SENDING, 2, T0 + LEASE)
    assert current(funded) == claimed
    assert funded.counts(QUEUE) == {"SENDING": 1}


@pytest.mark.parametrize(
    "status", [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED]
)
def test_a_finished_message_cannot_be_claimed(funded: MessageStoreSide, status: MessageStatus) -> None:
    # Given a message that is done (a replayed record names it)
    done = given(funded, status=status, attempts=1)
    # When it is claimed from that very read
    claimed = funded.store.claim(done, T0, T0 + LEASE)
    # Then nothing moves: no second send is possible
    assert claimed is None
    assert current(funded) == done
    assert funded.counts(QUEUE) == {status.value: 1}


def test_an_unknown_message_cannot_be_claimed(funded: MessageStoreSide) -> None:
    # Given no message m-404 / When a record naming it is claimed
    claimed = funded.store.claim(stored("m-404", TENANT, queue_id=QUEUE), T0, T0 + LEASE)
    # Then nothing is claimed and nothing is created
    assert claimed is None
    assert funded.store.load(["m-404"]) == {}


def test_another_tenants_message_cannot_be_claimed(funded: MessageStoreSide) -> None:
    # Given a message of tenant t-1, and a record that says it belongs to t-2
    queued = given(funded)
    # When t-2's record claims it
    claimed = funded.store.claim(replace(queued, tenant_id="t-2"), T0, T0 + LEASE)
    # Then it is refused and the message is untouched
    assert claimed is None
    assert current(funded) == queued


def test_of_concurrent_claims_from_the_same_read_exactly_one_wins(funded: MessageStoreSide) -> None:
    # Given eight consumers holding the same read of a queued message
    read = given(funded)
    start = threading.Barrier(8)

    def claim(_: int) -> StoredMessage | None:
        start.wait()
        return funded.store.claim(read, T0, T0 + LEASE)

    # When they all claim it at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(claim, range(8)))
    # Then exactly one holds it, as attempt 1, counted once
    assert len([r for r in results if r is not None]) == 1
    assert (current(funded).status, current(funded).attempts) == (MessageStatus.SENDING, 1)
    assert funded.counts(QUEUE) == {"SENDING": 1}


# -- outcomes of a claim and fencing ------------------------------------------------------------------------


def test_sent_records_the_provider_and_releases_the_lease_without_refund(funded: MessageStoreSide) -> None:
    # Given a claimed message
    claimed = funded.store.claim(given(funded), T0, T0 + LEASE)
    assert claimed is not None
    # When the provider accepted it and SENT is recorded
    recorded = funded.store.mark_sent(claimed, "twilio", Accepted("SM1"), T0)
    # Then it is SENT via that provider, lease released, attempt kept; it stays paid
    assert recorded
    assert current(funded) == replace(claimed, status=MessageStatus.SENT, provider="twilio", lease_until=None)
    assert funded.counts(QUEUE) == {"SENT": 1}
    assert funded.balance(TENANT) == 8
    assert funded.ledger(TENANT) == sorted([OPENING, debit()])


def test_a_stale_owner_cannot_record_an_outcome(funded: MessageStoreSide) -> None:
    # Given a claim that was taken over after its lease expired
    stale = funded.store.claim(given(funded), T0, T0 + timedelta(seconds=1))
    assert stale is not None
    fresh = funded.store.claim(stale, T0 + timedelta(seconds=2), T0 + LEASE)
    assert fresh is not None
    # When the stale owner records FAILED (with its refund), SENT, or a requeue
    refused = [
        funded.store.mark_failed(stale, "sandbox", BAD_NUMBER, T0),
        funded.store.mark_sent(stale, "sandbox", Accepted("SM-stale"), T0),
        funded.store.requeue(stale, "sandbox", "sandbox", THROTTLED, T0),
    ]
    # Then every write is refused: no refund, the new owner still holds attempt 2
    assert refused == [False, False, False]
    assert funded.balance(TENANT) == 8
    assert funded.ledger(TENANT) == sorted([OPENING, debit()])
    assert (current(funded).status, current(funded).attempts) == (MessageStatus.SENDING, 2)
    # And the new owner's SENT is accepted
    assert funded.store.mark_sent(fresh, "sandbox", Accepted("SM1"), T0)
    assert current(funded).status == MessageStatus.SENT
    assert funded.counts(QUEUE) == {"SENT": 1}


def test_an_outcome_is_recorded_once(funded: MessageStoreSide) -> None:
    # Given a claimed message that was recorded SENT
    claimed = funded.store.claim(given(funded), T0, T0 + LEASE)
    assert claimed is not None
    assert funded.store.mark_sent(claimed, "sandbox", Accepted("SM1"), T0)
    # When the same owner records an outcome again (a retried invocation)
    again = [
        funded.store.mark_sent(claimed, "sandbox", Accepted("SM2"), T0),
        funded.store.mark_failed(claimed, "sandbox", BAD_NUMBER, T0),
        funded.store.requeue(claimed, "sandbox", "sandbox", THROTTLED, T0),
    ]
    # Then nothing is written: SENT stands, paid, counted once
    assert again == [False, False, False]
    assert current(funded).status == MessageStatus.SENT
    assert funded.balance(TENANT) == 8
    assert funded.counts(QUEUE) == {"SENT": 1}


def test_an_outcome_for_another_tenant_is_refused(funded: MessageStoreSide) -> None:
    # Given a claimed message of t-1
    claimed = funded.store.claim(given(funded), T0, T0 + LEASE)
    assert claimed is not None
    # When FAILED is recorded for it under t-2 (whose balance would get the refund)
    other_tenant = replace(claimed, tenant_id="t-2")
    # Then it is refused and no credit moves anywhere
    assert not funded.store.mark_failed(other_tenant, "sandbox", BAD_NUMBER, T0)
    assert current(funded) == claimed
    assert funded.balance(TENANT) == 8
    assert funded.ledger(TENANT) == sorted([OPENING, debit()])


# -- requeue ------------------------------------------------------------------------------------------------


def test_a_requeue_releases_the_lease_keeps_the_attempt_and_the_payment(funded: MessageStoreSide) -> None:
    # Given a claimed message whose provider throttled
    claimed = funded.store.claim(given(funded), T0, T0 + LEASE)
    assert claimed is not None
    # When it is requeued for the failover provider
    requeued = funded.store.requeue(claimed, "sandbox", "twilio", THROTTLED, T0)
    # Then it is QUEUED for twilio, no lease, attempt 1 kept, still paid, no refund
    assert requeued
    assert current(funded) == replace(claimed, status=MessageStatus.QUEUED, provider="twilio", lease_until=None)
    assert funded.counts(QUEUE) == {"QUEUED": 1}
    assert funded.balance(TENANT) == 8
    assert funded.ledger(TENANT) == sorted([OPENING, debit()])


def test_a_requeued_message_is_claimed_again_as_the_next_attempt(funded: MessageStoreSide) -> None:
    # Given a message requeued after its first attempt
    first = funded.store.claim(given(funded), T0, T0 + LEASE)
    assert first is not None
    assert funded.store.requeue(first, "sandbox", "sandbox", THROTTLED, T0)
    # When its record comes back and it is claimed from a fresh read
    second = funded.store.claim(current(funded), T0 + timedelta(seconds=30), T0 + LEASE * 2)
    # Then it is the second attempt
    assert second is not None
    assert (current(funded).status, current(funded).attempts) == (MessageStatus.SENDING, 2)


# -- refund -------------------------------------------------------------------------------------------------


def test_failed_refunds_the_message_exactly_once(funded: MessageStoreSide) -> None:
    # Given two paid messages (10 - 2 - 2 = 6 credits), the first claimed
    given(funded, "m-2")
    claimed = funded.store.claim(given(funded, "m-1"), T0, T0 + LEASE)
    assert claimed is not None
    # When its permanent failure is recorded twice (a retried invocation)
    first = funded.store.mark_failed(claimed, "sandbox", BAD_NUMBER, T0)
    second = funded.store.mark_failed(claimed, "sandbox", BAD_NUMBER, T0)
    # Then it is FAILED, its 2 credits came back once with one REFUND naming it, and the balance is the ledger
    assert (first, second) == (True, False)
    assert current(funded).status == MessageStatus.FAILED
    assert current(funded).lease_until is None
    assert funded.balance(TENANT) == 8
    assert funded.ledger(TENANT) == sorted([OPENING, debit("m-1"), debit("m-2"), refund("m-1")])
    assert funded.balance(TENANT) == sum(line.amount for line in funded.ledger(TENANT))
    assert funded.counts(QUEUE) == {"QUEUED": 1, "FAILED": 1}


def test_a_message_that_was_never_claimed_cannot_fail_or_be_refunded(funded: MessageStoreSide) -> None:
    # Given a queued message nobody claimed
    queued = given(funded)
    # When FAILED or SENT is recorded from that read
    results = [
        funded.store.mark_failed(queued, "sandbox", BAD_NUMBER, T0),
        funded.store.mark_sent(queued, "sandbox", Accepted("SM1"), T0),
    ]
    # Then both are refused: it stays QUEUED and paid
    assert results == [False, False]
    assert current(funded) == queued
    assert funded.balance(TENANT) == 8


def test_a_message_retried_to_exhaustion_ends_failed_and_refunded_once(funded: MessageStoreSide) -> None:
    # Given a message that fails transiently on each of three attempts
    message = given(funded)
    for attempt in range(1, 3):
        claimed = funded.store.claim(message, T0, T0 + LEASE)
        assert claimed is not None
        assert funded.store.requeue(claimed, "sandbox", "sandbox", THROTTLED, T0)
        message = current(funded)
        assert message.attempts == attempt
    last = funded.store.claim(message, T0, T0 + LEASE)
    assert last is not None
    # When the third failure is final
    assert funded.store.mark_failed(last, "sandbox", THROTTLED, T0)
    # Then it is FAILED after 3 attempts, one refund, and the counters only count it as failed
    assert (current(funded).status, current(funded).attempts) == (MessageStatus.FAILED, 3)
    assert funded.ledger(TENANT) == sorted([OPENING, debit(), refund()])
    assert funded.balance(TENANT) == 10
    assert funded.counts(QUEUE) == {"FAILED": 1}


def test_each_campaign_counts_only_its_own_messages(funded: MessageStoreSide) -> None:
    # Given one queued message in each of two campaigns
    mine = given(funded, "m-1")
    given(funded, "m-2", queue_id="q-2")
    # When the first is claimed and sent
    claimed = funded.store.claim(mine, T0, T0 + LEASE)
    assert claimed is not None
    assert funded.store.mark_sent(claimed, "sandbox", Accepted("SM1"), T0)
    # Then only its campaign's counters moved
    assert funded.counts(QUEUE) == {"SENT": 1}
    assert funded.counts("q-2") == {"QUEUED": 1}


# -- defer (waiting for the sender) -------------------------------------------------------------------------


def test_a_deferral_requeues_without_counting_an_attempt_or_refunding(funded: MessageStoreSide) -> None:
    # Given a claimed message that the provider throttled
    claimed = funded.store.claim(given(funded), T0, T0 + LEASE)
    assert claimed is not None
    # When it is deferred
    deferred = funded.store.defer(claimed, "sandbox", THROTTLED, T0)
    # Then it is QUEUED again, lease released, one deferral counted against its one attempt, still paid for
    assert deferred
    after = current(funded)
    assert (after.status, after.attempts, after.deferrals, after.lease_until) == (MessageStatus.QUEUED, 1, 1, None)
    assert funded.counts(QUEUE) == {"QUEUED": 1}
    assert funded.balance(TENANT) == 8
    assert funded.ledger(TENANT) == sorted([OPENING, debit()])
    # And the next claim is the next attempt, with the deferral kept
    again = funded.store.claim(after, T0, T0 + LEASE)
    assert again is not None
    assert (again.attempts, again.deferrals) == (2, 1)


def test_a_stale_owner_cannot_defer(funded: MessageStoreSide) -> None:
    # Given a claim taken over after its lease ran out
    stale = funded.store.claim(given(funded), T0, T0 + LEASE)
    assert stale is not None
    later = T0 + LEASE + timedelta(seconds=1)
    assert funded.store.claim(current(funded), later, later + LEASE) is not None
    # When the stale owner defers: refused, the new owner's claim stands
    assert not funded.store.defer(stale, "sandbox", THROTTLED, later)
    now = current(funded)
    assert (now.status, now.attempts, now.deferrals) == (MessageStatus.SENDING, 2, 0)


# -- batched refunds ----------------------------------------------------------------------------------------


def test_a_batch_of_failures_is_refunded_once_with_one_entry(funded: MessageStoreSide) -> None:
    # Given three claimed messages of one campaign
    claimed = [funded.store.claim(given(funded, f"m-{n}"), T0, T0 + LEASE) for n in range(3)]
    assert all(c is not None for c in claimed)
    failures = [FailedSend(c, "sandbox", BAD_NUMBER) for c in claimed if c is not None]
    # When they fail together, and the same batch is recorded again
    first = funded.store.fail_all(failures, T0)
    again = funded.store.fail_all(failures, T0)
    # Then all three are FAILED and refunded by one entry naming them; the repeat changes nothing
    assert sorted(first) == ["m-0", "m-1", "m-2"]
    assert again == []
    assert {current(funded, f"m-{n}").status for n in range(3)} == {MessageStatus.FAILED}
    assert funded.counts(QUEUE) == {"FAILED": 3}
    assert funded.balance(TENANT) == 10
    assert funded.ledger(TENANT) == sorted(
        [OPENING, debit("m-0"), debit("m-1"), debit("m-2"), LedgerLine("REFUND", 6, ("m-0", "m-1", "m-2"))]
    )


def test_a_batch_leaves_out_a_message_whose_claim_was_taken_over(funded: MessageStoreSide) -> None:
    # Given two claimed messages, one of which another consumer took over after its lease ran out
    kept = funded.store.claim(given(funded, "m-1"), T0, T0 + LEASE)
    stale = funded.store.claim(given(funded, "m-2"), T0, T0 + LEASE)
    assert kept is not None
    assert stale is not None
    later = T0 + LEASE + timedelta(seconds=1)
    assert funded.store.claim(current(funded, "m-2"), later, later + LEASE) is not None
    # When both are recorded as failed together
    failed = funded.store.fail_all(
        [FailedSend(kept, "sandbox", BAD_NUMBER), FailedSend(stale, "sandbox", BAD_NUMBER)], later
    )
    # Then only the one still under its claim failed and was refunded; the other is its new owner's
    assert failed == ["m-1"]
    assert current(funded, "m-2").status == MessageStatus.SENDING
    assert funded.ledger(TENANT) == sorted([OPENING, debit("m-1"), debit("m-2"), LedgerLine("REFUND", 2, ("m-1",))])
    assert funded.balance(TENANT) == 8
