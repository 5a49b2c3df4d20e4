"""The RNE exclusion list on in-memory ports: what a load keeps, when a snapshot is current, who a campaign skips."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from smscore.domain.campaign import CampaignLimits, CampaignRequest, send_campaign
from smscore.domain.compliance import CompliancePolicy
from smscore.domain.errors import ExclusionListStale, InvalidRequest, SenderNameRequired
from smscore.domain.exclusions import ExclusionSnapshot, load_snapshot, normalise_listed, require_fresh, sms_numbers
from smscore.domain.model import ComplianceSettings, Purpose, TagRecipient
from smscore.domain.windows import sendat_only
from tests.fakes import InMemoryCampaignStore, InMemoryExclusionList, InMemoryQueue

NOW = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
TODAY = date(2026, 12, 6)
TENANT = "tenant-1"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("3001234567", "+573001234567"),
        ("573001234567", "+573001234567"),
        ("+57 300 123 4567", "+573001234567"),
        ("(300) 123-4567", "+573001234567"),
        ("6015551234", None),  # a Bogota landline: no SMS reaches it
        ("12345", None),
        ("", None),
    ],
)
def test_listed_numbers_are_read_as_colombian_mobiles(raw: str, e164: str | None) -> None:
    assert normalise_listed(raw) == e164


def test_only_rows_for_sms_or_all_channels_are_kept() -> None:
    lines = [
        "number,channels",  # a header: not a number, skipped
        "3001111111",  # no channel: every channel
        "3002222222,sms",
        "3003333333,ALL",
        "3004444444,voz",  # another channel only: ignored
        "3005555555,voz;sms",
        "3006666666,email|whatsapp",
        "",
        "not-a-number,sms",
    ]
    assert list(sms_numbers(lines)) == ["+573001111111", "+573002222222", "+573003333333", "+573005555555"]


def test_a_load_writes_every_number_before_it_publishes_the_snapshot() -> None:
    # Given a list of 12 numbers loaded 5 at a time
    store = InMemoryExclusionList()
    published_after: list[int] = []
    original_publish = store.publish

    def publish(snapshot: ExclusionSnapshot) -> None:
        published_after.append(sum(len(n) for n in store.snapshots.values()))
        original_publish(snapshot)

    store.publish = publish  # type: ignore[method-assign]
    lines = [f"30000000{i:02d}" for i in range(12)] + ["3000000000"]  # one repeated
    snapshot = load_snapshot(lines, TODAY, store, now=NOW, batch_size=5)
    # Then every number was stored when the snapshot became current, and it says how many
    assert published_after == [12]
    assert store.current() == snapshot
    assert (snapshot.snapshot_date, snapshot.count) == (TODAY, 13)  # 13 rows: the repeat crossed a batch


def test_a_load_that_fails_publishes_nothing_and_the_old_snapshot_stays() -> None:
    store = InMemoryExclusionList()
    old = load_snapshot(["3001111111"], date(2026, 12, 1), store, now=NOW)

    def broken() -> list[str]:
        yield "3002222222"
        raise OSError("the upload was cut")

    with pytest.raises(OSError, match="cut"):
        load_snapshot(broken(), TODAY, store, now=NOW, batch_size=1)
    assert store.current() == old


def test_a_snapshot_dated_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        load_snapshot([], date(2026, 12, 7), InMemoryExclusionList(), now=NOW)


def test_fifteen_days_is_current_and_sixteen_is_stale() -> None:
    today = date(2026, 12, 6)
    assert require_fresh(ExclusionSnapshot("s", date(2026, 11, 21), 1, NOW), today, 15).snapshot_id == "s"
    with pytest.raises(ExclusionListStale) as stale:
        require_fresh(ExclusionSnapshot("s", date(2026, 11, 20), 1, NOW), today, 15)
    assert stale.value.extra == {"snapshotDate": "2026-11-20", "maxAgeDays": 15}
    with pytest.raises(ExclusionListStale) as none:
        require_fresh(None, today, 15)
    assert none.value.extra == {"snapshotDate": None}


# ---------------------------------------------------------------------------------------------- the send path


@pytest.fixture
def listed() -> InMemoryExclusionList:
    store = InMemoryExclusionList()
    load_snapshot(["3001234567"], TODAY, store, now=NOW)
    return store


@pytest.fixture
def store() -> InMemoryCampaignStore:
    store = InMemoryCampaignStore()
    store.add_tenant(TENANT, credits=100)
    store.tag(
        TENANT,
        "all",
        TagRecipient("c1", "3001234567"),  # on the list
        TagRecipient("c2", "3007654321"),
        TagRecipient("c3", "+14155550123"),  # not Colombian: the RNE does not apply
    )
    return store


def limits(exclusions: InMemoryExclusionList) -> CampaignLimits:
    return CampaignLimits(
        max_recipients=100,
        recipients_per_queue_message=10,
        default_provider="sandbox",
        character_limits={"sandbox": 1600},
        compliance=CompliancePolicy(exclusions, max_age_days=15, today=lambda: TODAY),
    )


def send(store: InMemoryCampaignStore, exclusions: InMemoryExclusionList, purpose: Purpose = Purpose.MARKETING):  # type: ignore[no-untyped-def]
    request = CampaignRequest(TENANT, "m1", "Hola", ["all"], country="CO", purpose=purpose)
    return send_campaign(request, store=store, queue=InMemoryQueue(), limits=limits(exclusions), opening=sendat_only)


def test_marketing_skips_listed_numbers_before_pricing(
    store: InMemoryCampaignStore, listed: InMemoryExclusionList
) -> None:
    result = send(store, listed)
    assert sorted(m.recipient for m in result.messages) == ["+14155550123", "+573007654321"]
    assert (result.audience.skipped_excluded, result.credits_debited, store.balance(TENANT)) == (1, 2, 98)


def test_transactional_reaches_listed_numbers_without_reading_the_list(
    store: InMemoryCampaignStore, listed: InMemoryExclusionList
) -> None:
    listed.pointer = None  # not even a snapshot is needed
    result = send(store, listed, Purpose.TRANSACTIONAL)
    assert len(result.messages) == 3
    assert (result.audience.skipped_excluded, listed.reads) == (0, 0)


def test_a_stale_list_refuses_marketing_to_co_and_debits_nothing(
    store: InMemoryCampaignStore, listed: InMemoryExclusionList
) -> None:
    assert listed.pointer is not None
    listed.pointer = replace(listed.pointer, snapshot_date=date(2026, 11, 1))
    with pytest.raises(ExclusionListStale):
        send(store, listed)
    assert (store.balance(TENANT), store.messages, store.dispatches) == (100, {}, {})


def test_marketing_outside_colombia_needs_no_list(store: InMemoryCampaignStore) -> None:
    store.memberships[(TENANT, "all")] = [TagRecipient("c3", "+14155550123")]
    result = send(store, InMemoryExclusionList())  # nothing loaded
    assert len(result.messages) == 1


def test_a_cleared_sender_name_refuses_marketing_to_co(
    store: InMemoryCampaignStore, listed: InMemoryExclusionList
) -> None:
    store.tenants[TENANT] = replace(store.tenants[TENANT], compliance=ComplianceSettings(sender_name=None))
    with pytest.raises(SenderNameRequired):
        send(store, listed)
    assert store.balance(TENANT) == 100
    assert len(send(store, listed, Purpose.TRANSACTIONAL).messages) == 3
