"""The send path's CampaignStore: debit, refund and message writes behave the same in the fake and in DynamoDB."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from smscore.domain.campaign import ResendRaced
from smscore.domain.errors import InsufficientCredits
from smscore.domain.model import Dispatch, OutgoingMessage, TagRecipient, Tenant
from tests.contract.sides import CampaignStoreSide, LedgerLine

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TENANT = "t-1"


@pytest.fixture
def funded(campaigns: CampaignStoreSide) -> CampaignStoreSide:
    """A Colombian tenant with 10 credits."""
    campaigns.fund(TENANT, 10, country="CO")
    return campaigns


def dispatch(queue_id: str = "q-1", messages: int = 3, segments: int = 2) -> Dispatch:
    return Dispatch(
        queue_id=queue_id,
        tenant_id=TENANT,
        member_id="member-1",
        body="hola",
        tag_ids=["vip"],
        country="CO",
        total_messages=messages,
        segments_per_message=segments,
        credits_debited=messages * segments,
        created_at=T0,
    )


def outgoing(n: int, queue_id: str = "q-1") -> OutgoingMessage:
    return OutgoingMessage(
        message_id=f"m-{n}",
        tenant_id=TENANT,
        queue_id=queue_id,
        recipient=f"+5730012345{n:02d}",
        contact_id=f"c-{n}",
        body="hola",
        segments=2,
        encoding="GSM-7",
        credits=2,
        provider="sandbox",
        created_at=T0,
    )


def balance(side: CampaignStoreSide) -> int:
    tenant = side.store.get_tenant(TENANT)
    assert tenant is not None
    return tenant.credits


# -- tenants and audiences ----------------------------------------------------------------------------------


def test_a_tenant_reads_back_with_its_balance_and_an_unknown_one_is_none(funded: CampaignStoreSide) -> None:
    # Given a funded tenant / When it and an unknown tenant are read
    # Then the tenant has its balance and default country; the unknown one is None
    assert funded.store.get_tenant(TENANT) == Tenant(TENANT, "Acme", 10, "CO")
    assert funded.store.get_tenant("t-404") is None


def test_tag_recipients_are_every_membership_of_the_tags_asked_for(funded: CampaignStoreSide) -> None:
    # Given two tags sharing a contact, and a tag of another tenant
    funded.tag(TENANT, "vip", TagRecipient("c-1", "+573001230001"), TagRecipient("c-2", "+573001230002", True))
    funded.tag(TENANT, "buyers", TagRecipient("c-1", "+573001230001"), TagRecipient("c-3", "+573001230003"))
    funded.tag("t-2", "vip", TagRecipient("c-9", "+573001230009"))
    # When the audience of vip, buyers and an unknown tag is read
    found = funded.store.tag_recipients(TENANT, ["vip", "buyers", "nope"])
    # Then every membership comes back (a contact once per tag, opt-outs flagged; deduping is the domain's)
    assert sorted(found, key=lambda r: (r.contact_id, r.phone)) == [
        TagRecipient("c-1", "+573001230001"),
        TagRecipient("c-1", "+573001230001"),
        TagRecipient("c-2", "+573001230002", opted_out=True),
        TagRecipient("c-3", "+573001230003"),
    ]
    assert funded.store.tag_recipients(TENANT, ["nope"]) == []


def test_no_tags_is_no_recipients(funded: CampaignStoreSide) -> None:
    # Given a tagged contact / When the audience of no tag at all is read / Then it is empty
    funded.tag(TENANT, "vip", TagRecipient("c-1", "+573001230001"))
    assert funded.store.tag_recipients(TENANT, []) == []


# -- debit --------------------------------------------------------------------------------------------------


def test_a_debit_within_the_balance_takes_the_credits_with_a_ledger_entry(funded: CampaignStoreSide) -> None:
    # Given 10 credits / When a 3 x 2-segment campaign is debited
    funded.store.debit(dispatch(messages=3, segments=2))
    # Then 6 credits are gone, one DEBIT says so, and the campaign is recorded
    assert balance(funded) == 4
    assert funded.ledger(TENANT) == [LedgerLine("DEBIT", -6), LedgerLine("TOPUP", 10)]
    assert funded.dispatch("q-1") == (6, 3)


def test_a_debit_of_exactly_the_balance_is_allowed(funded: CampaignStoreSide) -> None:
    # Given 10 credits / When a campaign costing 10 is debited
    funded.store.debit(dispatch(messages=5, segments=2))
    # Then the balance is zero, never below
    assert balance(funded) == 0
    assert funded.ledger(TENANT) == [LedgerLine("DEBIT", -10), LedgerLine("TOPUP", 10)]


def test_a_debit_beyond_the_balance_is_insufficient_credits_and_moves_nothing(funded: CampaignStoreSide) -> None:
    # Given 10 credits / When a campaign costing 12 is debited
    with pytest.raises(InsufficientCredits) as refused:
        funded.store.debit(dispatch(messages=6, segments=2))
    # Then it is refused with what it needed and what there is; no credit, entry or campaign is written
    assert (refused.value.required, refused.value.available) == (12, 10)
    assert balance(funded) == 10
    assert funded.ledger(TENANT) == [LedgerLine("TOPUP", 10)]
    assert funded.dispatch("q-1") is None


def test_a_debit_for_an_unknown_tenant_is_insufficient_credits_and_writes_nothing(
    campaigns: CampaignStoreSide,
) -> None:
    # Given no tenant t-404 / When a campaign is debited to it
    with pytest.raises(InsufficientCredits) as refused:
        campaigns.store.debit(replace(dispatch(), tenant_id="t-404"))
    # Then it is refused with nothing available, and no tenant, entry or campaign appears
    assert (refused.value.required, refused.value.available) == (6, 0)
    assert campaigns.store.get_tenant("t-404") is None
    assert campaigns.ledger("t-404") == []
    assert campaigns.dispatch("q-1") is None


def test_a_debit_that_loses_the_race_for_the_balance_is_refused_with_the_balance_left(
    funded: CampaignStoreSide,
) -> None:
    # Given two campaigns of 6 credits each priced from the same read of a 10-credit balance
    assert balance(funded) >= 6
    funded.store.debit(dispatch("q-first", messages=3, segments=2))
    # When the second one's debit lands after the first
    with pytest.raises(InsufficientCredits) as refused:
        funded.store.debit(dispatch("q-second", messages=3, segments=2))
    # Then it is refused with the 4 credits really left, and only the first is charged and recorded
    assert (refused.value.required, refused.value.available) == (6, 4)
    assert balance(funded) == 4
    assert funded.ledger(TENANT) == [LedgerLine("DEBIT", -6), LedgerLine("TOPUP", 10)]
    assert (funded.dispatch("q-first"), funded.dispatch("q-second")) == ((6, 3), None)


def test_concurrent_debits_never_take_the_balance_below_zero(funded: CampaignStoreSide) -> None:
    # Given 10 credits and five campaigns of 3 credits each, debited at the same instant
    start = threading.Barrier(5)

    def debit(n: int) -> bool:
        start.wait()
        try:
            funded.store.debit(dispatch(f"q-{n}", messages=3, segments=1))
        except InsufficientCredits:
            return False
        return True

    # When they race for the balance
    with ThreadPoolExecutor(max_workers=5) as pool:
        charged = list(pool.map(debit, range(5)))
    # Then three are charged and two refused: 1 credit left, three DEBIT entries, the balance is the ledger
    assert charged.count(True) == 3
    assert balance(funded) == 1
    assert funded.ledger(TENANT) == [LedgerLine("DEBIT", -3)] * 3 + [LedgerLine("TOPUP", 10)]
    assert [funded.dispatch(f"q-{n}") is not None for n in range(5)] == charged


def test_the_same_campaign_is_never_debited_twice(funded: CampaignStoreSide) -> None:
    # Given a campaign debited once
    funded.store.debit(dispatch("q-1", messages=1, segments=2))
    # When its debit is written again (same queue id)
    with pytest.raises(InsufficientCredits):
        funded.store.debit(dispatch("q-1", messages=1, segments=2))
    # Then the second write is refused: charged once, one entry, the campaign as first recorded
    assert balance(funded) == 8
    assert funded.ledger(TENANT) == [LedgerLine("DEBIT", -2), LedgerLine("TOPUP", 10)]
    assert funded.dispatch("q-1") == (2, 1)


# -- resends -----------------------------------------------------------------------------------------------


def resend_of(original: str, queue_id: str, seen: int | None) -> Dispatch:
    return replace(dispatch(queue_id, messages=1, segments=1), resend_of=original, resends_seen=seen)


def test_a_resends_debit_records_it_on_its_original(funded: CampaignStoreSide) -> None:
    funded.store.debit(dispatch("q-1", messages=1, segments=1))
    funded.store.debit(resend_of("q-1", "q-r1", seen=0))
    funded.store.debit(resend_of("q-1", "q-r2", seen=1))
    funded.store.debit(resend_of("q-1", "q-forced", seen=None))  # force: whatever the original has
    assert funded.resends("q-1") == {"q-r1", "q-r2", "q-forced"}
    assert balance(funded) == 6


def test_a_resend_planned_before_another_was_recorded_is_refused_and_changes_nothing(
    funded: CampaignStoreSide,
) -> None:
    # Given two resends planned from the same read of the original (no resend yet), the first recorded
    funded.store.debit(dispatch("q-1", messages=1, segments=1))
    funded.store.debit(resend_of("q-1", "q-r1", seen=0))
    # When the second one's debit lands
    with pytest.raises(ResendRaced):
        funded.store.debit(resend_of("q-1", "q-r2", seen=0))
    # Then it is refused as a whole: not charged, not recorded, not listed
    assert balance(funded) == 8
    assert funded.dispatch("q-r2") is None
    assert funded.resends("q-1") == {"q-r1"}


# -- refund -------------------------------------------------------------------------------------------------


def test_a_refund_gives_the_credits_back_with_one_ledger_entry(funded: CampaignStoreSide) -> None:
    # Given a debited campaign of 3 x 2 credits
    funded.store.debit(dispatch(messages=3, segments=2))
    # When the 2 credits of the one message that was not enqueued are refunded
    funded.store.refund(TENANT, "q-1", 2, reason="not enqueued", message_ids=["m-3"])
    # Then the balance is back up by 2 and the ledger shows debit and refund; balance == sum of the ledger
    assert balance(funded) == 6
    assert funded.ledger(TENANT) == [LedgerLine("DEBIT", -6), LedgerLine("REFUND", 2), LedgerLine("TOPUP", 10)]
    assert balance(funded) == sum(line.amount for line in funded.ledger(TENANT))


# -- message writes -----------------------------------------------------------------------------------------


def test_saved_messages_are_listed_by_campaign_in_recipient_order(funded: CampaignStoreSide) -> None:
    # Given three messages of q-1 (saved out of order) and one of another campaign
    funded.store.save_messages([outgoing(3), outgoing(1), outgoing(2), outgoing(9, queue_id="q-2")])
    # When q-1's messages are listed
    listed = funded.store.queue_messages("q-1")
    # Then they are q-1's only, sorted by recipient, each QUEUED
    assert listed == [(f"m-{n}", outgoing(n).recipient) for n in (1, 2, 3)]
    assert [funded.status(f"m-{n}") for n in (1, 2, 3)] == ["QUEUED"] * 3


def test_rewriting_the_same_batch_of_messages_is_a_no_op(funded: CampaignStoreSide) -> None:
    # Given a campaign's messages saved once
    batch = [outgoing(n) for n in range(1, 4)]
    funded.store.save_messages(batch)
    before = funded.store.queue_messages("q-1")
    # When the same batch is written again (a retried write)
    funded.store.save_messages(batch)
    # Then the campaign still has each message once, unchanged, and no money moved
    assert funded.store.queue_messages("q-1") == before
    assert len(before) == 3
    assert [funded.status(m.message_id) for m in batch] == ["QUEUED"] * 3
    assert balance(funded) == 10


def test_mark_failed_records_messages_whether_or_not_they_were_saved(funded: CampaignStoreSide) -> None:
    # Given a debited campaign of 3 messages of which only the first was saved
    funded.store.debit(dispatch(messages=3, segments=2))
    funded.store.save_messages([outgoing(1)])
    # When the two others (never persisted) and then the first are marked failed
    funded.store.mark_failed([outgoing(2), outgoing(3)], reason="not enqueued")
    funded.store.mark_failed([outgoing(1)], reason="not enqueued")
    # Then all three are FAILED and listed with the campaign; no money moved (the refund is separate)
    assert [funded.status(f"m-{n}") for n in (1, 2, 3)] == ["FAILED"] * 3
    assert funded.store.queue_messages("q-1") == [(f"m-{n}", outgoing(n).recipient) for n in (1, 2, 3)]
    assert balance(funded) == 4


def test_marking_no_messages_failed_writes_nothing(funded: CampaignStoreSide) -> None:
    # Given a saved message / When an empty list is marked failed
    funded.store.save_messages([outgoing(1)])
    funded.store.mark_failed([], reason="not enqueued")
    # Then the message is untouched
    assert funded.status("m-1") == "QUEUED"
    assert funded.store.queue_messages("q-1") == [("m-1", outgoing(1).recipient)]
