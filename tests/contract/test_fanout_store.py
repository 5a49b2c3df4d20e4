"""The send path's fan-out bookkeeping behaves the same in the fake and in DynamoDB: open, find, fail, close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smscore.domain.campaign import FanoutState
from smscore.domain.model import Dispatch, MessageStatus, OutgoingMessage
from tests.contract.sides import CampaignStoreSide, LedgerLine

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(seconds=59)
TENANT = "t-1"


def dispatch(messages: int = 3) -> Dispatch:
    return Dispatch("q-1", TENANT, "member-1", "hola", ["vip"], "CO", messages, 1, messages, T0)


def outgoing(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        f"m-{n}", TENANT, "q-1", f"+5730012345{n:02d}", f"c-{n}", "hola", 1, "GSM-7", 1, "sandbox", T0
    )


def test_opening_a_fanout_debits_and_records_it_pending_until_its_deadline(campaigns: CampaignStoreSide) -> None:
    # Given 10 credits / When a 3-message campaign is debited with its fan-out open
    campaigns.fund(TENANT, 10)
    campaigns.store.open_fanout(dispatch(), deadline=DEADLINE, request_hash="abc")
    # Then it is charged once and found PENDING with its deadline and request hash; an unknown one is None
    found = campaigns.store.find_dispatch("q-1")
    assert (found.fanout, found.fanout_deadline, found.request_hash) == (FanoutState.PENDING, DEADLINE, "abc")
    assert (found.total_messages, found.credits_debited, found.finished) == (3, 3, False)
    assert campaigns.ledger(TENANT) == [LedgerLine("DEBIT", -3), LedgerLine("TOPUP", 10)]
    assert campaigns.store.find_dispatch("q-404") is None


def test_closing_refunds_once_and_a_second_close_changes_nothing(campaigns: CampaignStoreSide) -> None:
    # Given an open fan-out of 3 messages of which 1 was not enqueued
    campaigns.fund(TENANT, 10)
    campaigns.store.open_fanout(dispatch(), deadline=DEADLINE, request_hash=None)
    # When it is closed with that message refunded, and closed again
    first = campaigns.store.close_fanout("q-1", TENANT, enqueued=2, refunded_messages=1, refund_credits=1)
    again = campaigns.store.close_fanout("q-1", TENANT, enqueued=0, refunded_messages=3, refund_credits=3)
    # Then only the first close counts: COMPLETE with its counts, one REFUND of 1 credit
    assert (first, again) == (True, False)
    found = campaigns.store.find_dispatch("q-1")
    assert (found.fanout, found.fanout_enqueued, found.fanout_refunded, found.finished) == (
        FanoutState.COMPLETE,
        2,
        1,
        True,
    )
    assert campaigns.ledger(TENANT) == [LedgerLine("DEBIT", -3), LedgerLine("REFUND", 1), LedgerLine("TOPUP", 10)]


def test_only_queued_messages_are_failed_conditionally(campaigns: CampaignStoreSide) -> None:
    # Given a campaign with one QUEUED message and one already FAILED
    campaigns.fund(TENANT, 10)
    campaigns.store.save_messages([outgoing(1), outgoing(2)])
    campaigns.store.mark_failed([outgoing(2)], reason="not enqueued")
    # When both are failed if still queued
    moved = campaigns.store.fail_if_queued([outgoing(1), outgoing(2)], reason="not enqueued")
    # Then only the QUEUED one moved (and is FAILED now); no money moved
    assert [m.message_id for m in moved] == ["m-1"]
    assert [campaigns.status(f"m-{n}") for n in (1, 2)] == [MessageStatus.FAILED.value] * 2
    assert campaigns.ledger(TENANT) == [LedgerLine("TOPUP", 10)]
