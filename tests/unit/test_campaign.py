"""The campaign use case on in-memory ports: who is reached, what is charged, and what happens on failure."""

from __future__ import annotations

import pytest

from smscore.domain.campaign import CampaignLimits, CampaignRequest, build_audience, send_campaign
from smscore.domain.errors import EnqueueFailure, InsufficientCredits, InvalidRequest, TooManyRecipients
from smscore.domain.model import TagRecipient
from smscore.domain.windows import sendat_only
from tests.fakes import InMemoryCampaignStore, InMemoryQueue

pytestmark = pytest.mark.clock_sensitive  # sends through the send-window seams: also run at the guard's frozen instants

LIMITS = CampaignLimits(
    max_recipients=100, recipients_per_queue_message=2, default_provider="sandbox", character_limits={"sandbox": 1600}
)
TENANT = "tenant-1"


@pytest.fixture
def store() -> InMemoryCampaignStore:
    store = InMemoryCampaignStore()
    store.add_tenant(TENANT, credits=100)
    store.tag(
        TENANT,
        "vip",
        TagRecipient("c1", "3001234567"),
        TagRecipient("c2", "+57 300 765 4321"),
        TagRecipient("c3", "12345"),
    )
    store.tag(
        TENANT,
        "buyers",
        TagRecipient("c1", "3001234567"),  # same contact in a second tag
        TagRecipient("c4", "573007654321"),  # another contact with c2's number
        TagRecipient("c5", "3005550000", opted_out=True),
        TagRecipient("c6", "3115550001"),
    )
    return store


def request(
    message: str = "Hola", tags: tuple[str, ...] = ("vip", "buyers"), country: str | None = None
) -> CampaignRequest:
    return CampaignRequest(tenant_id=TENANT, member_id="m1", message=message, tag_ids=list(tags), country=country)


def test_audience_dedupes_contacts_and_numbers_and_skips_invalid_and_opted_out() -> None:
    audience = build_audience(
        [
            TagRecipient("c1", "3001234567"),
            TagRecipient("c1", "3001234567"),
            TagRecipient("c2", "+573001234567"),
            TagRecipient("c3", "nope"),
            TagRecipient("c4", "3009999999", opted_out=True),
        ],
        "CO",
    )
    assert audience.recipients == [("+573001234567", "c1")]
    assert (audience.duplicates_removed, audience.skipped_invalid, audience.skipped_opted_out) == (2, 1, 1)


def test_a_resends_recipients_an_earlier_resend_texted_are_skipped_and_counted() -> None:
    audience = build_audience(
        [
            TagRecipient("c1", "3001234567", already_resent=True),
            TagRecipient("c2", "3009999999", opted_out=True, already_resent=True),  # counted as opted out
            TagRecipient("c3", "3115550001"),
        ],
        "CO",
    )
    assert audience.recipients == [("+573115550001", "c3")]
    assert (audience.skipped_already_resent, audience.skipped_opted_out) == (1, 1)


def test_charges_segments_times_recipients_and_enqueues_every_message(store: InMemoryCampaignStore) -> None:
    # Given 3 reachable numbers and a 2-segment message
    queue = InMemoryQueue()
    # When the campaign is sent
    result = send_campaign(request("a" * 161), store=store, queue=queue, limits=LIMITS, opening=sendat_only)
    # Then 3 messages are queued in recipient order, 6 credits taken, batches of 2 ids
    assert [m.recipient for m in result.messages] == ["+573001234567", "+573007654321", "+573115550001"]
    assert store.balance(TENANT) == 94
    assert sorted(queue.message_ids) == sorted(store.messages)
    assert [len(b.message_ids) for b in queue.batches] == [2, 1]
    assert result.audience.duplicates_removed == 2


def test_no_valid_recipient_answers_empty_and_takes_nothing(store: InMemoryCampaignStore) -> None:
    queue = InMemoryQueue()
    result = send_campaign(request(tags=("unknown-tag",)), store=store, queue=queue, limits=LIMITS, opening=sendat_only)
    assert (result.queue_id, result.messages) == ("", [])
    assert store.balance(TENANT) == 100
    assert queue.batches == []


def test_insufficient_credits_leaves_everything_untouched(store: InMemoryCampaignStore) -> None:
    # Given 20 credits and a 10-segment message to 3 numbers
    store.add_tenant(TENANT, credits=20)
    queue = InMemoryQueue()
    with pytest.raises(InsufficientCredits) as refused:
        send_campaign(request("a" * 153 * 10), store=store, queue=queue, limits=LIMITS, opening=sendat_only)
    assert (refused.value.required, refused.value.available) == (30, 20)
    assert store.balance(TENANT) == 20
    assert store.messages == {}
    assert queue.batches == []


def test_too_many_recipients_is_refused_before_any_debit(store: InMemoryCampaignStore) -> None:
    limits = CampaignLimits(2, 2, "sandbox", {"sandbox": 1600})
    with pytest.raises(TooManyRecipients):
        send_campaign(request(), store=store, queue=InMemoryQueue(), limits=limits, opening=sendat_only)
    assert store.balance(TENANT) == 100


def test_message_longer_than_the_provider_limit_is_refused(store: InMemoryCampaignStore) -> None:
    limits = CampaignLimits(100, 2, "sandbox", {"sandbox": 10})
    with pytest.raises(InvalidRequest):
        send_campaign(request("x" * 11), store=store, queue=InMemoryQueue(), limits=limits, opening=sendat_only)
    assert store.balance(TENANT) == 100


def test_queue_outage_midway_refunds_and_fails_exactly_what_was_not_enqueued(store: InMemoryCampaignStore) -> None:
    # Given a queue that accepts only the first batch (2 of 3 messages)
    queue = InMemoryQueue(reject_after=1)
    # When the campaign is sent
    with pytest.raises(EnqueueFailure) as failure:
        send_campaign(request(), store=store, queue=queue, limits=LIMITS, opening=sendat_only)
    # Then the third message is FAILED and its credit refunded; the two enqueued stay paid
    assert failure.value.enqueued == 2
    assert failure.value.refunded_credits == 1
    assert set(store.failed) == set(store.messages) - set(queue.message_ids)
    assert store.balance(TENANT) == 98
    assert sum(amount for _, amount, _ in store.ledger) == 98


def test_a_queue_outage_refunds_each_unenqueued_message_what_it_was_charged(store: InMemoryCampaignStore) -> None:
    # Given merge fields that make the messages 1, 2 and 3 segments (c1, c2, c6 by number), and a queue that takes
    # only the first batch (c1 and c2)
    for contact, name in (("c1", "Ana"), ("c2", "B" * 160), ("c6", "C" * 310)):
        store.contact_values[(TENANT, contact)] = {"nombre": name}
    queue = InMemoryQueue(reject_after=1)
    # When the campaign is sent
    with pytest.raises(EnqueueFailure) as failure:
        send_campaign(request("Hola {nombre}"), store=store, queue=queue, limits=LIMITS, opening=sendat_only)
    # Then c6's message is FAILED and its 3 credits (not the campaign's largest or first rate) come back
    assert [
        store.messages[mid].credits for mid in sorted(store.messages, key=lambda m: store.messages[m].recipient)
    ] == [
        1,
        2,
        3,
    ]
    assert (failure.value.enqueued, failure.value.refunded_credits) == (2, 3)
    assert store.balance(TENANT) == 100 - 1 - 2
    assert sum(amount for _, amount, _ in store.ledger) == 97


def test_persistence_failure_refunds_everything_and_enqueues_nothing(store: InMemoryCampaignStore) -> None:
    store.fail_saving = True
    queue = InMemoryQueue()
    with pytest.raises(EnqueueFailure) as failure:
        send_campaign(request(), store=store, queue=queue, limits=LIMITS, opening=sendat_only)
    assert isinstance(failure.value.__cause__, ConnectionError)
    assert queue.batches == []
    assert store.balance(TENANT) == 100
    assert [kind for _, _, kind in store.ledger] == ["TOPUP", "DEBIT", "REFUND"]
