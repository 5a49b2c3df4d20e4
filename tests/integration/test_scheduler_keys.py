"""Issue 20, item 6: due entries keyed per tenant and minute, found through the bucket index, released by workers;
entries written by the previous release (platform-wide "due#<0..15>" keys) are still released."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smscore import wiring
from smscore.dal.outbox_store import DynamoOutbox
from smscore.dal.scheduler_store import DUE_BUCKET_GRACE_SECONDS
from smscore.dal.tables import (
    DUE_BUCKETS_KEY,
    LEGACY_DUE_SHARDS,
    DueBucketRecord,
    MessageRecord,
    due_bucket,
    message_shard,
)
from smscore.domain.model import QueueBatch
from smscore.providers.sandbox import SandboxProvider
from tests.conftest import Stack
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.scheduler_helpers import scheduler_run
from tests.integration.test_deliver import Counting
from tests.integration.test_schedule_and_cancel import (
    MONDAY_0700,
    NUMBERS,
    SATURDAY_1530,
    deliverer,
    post,
    statuses,
    tag_numbers,
    windows_on,
)
from tests.integration.test_scheduler_fence import AT_OPENING, enqueued, scheduled_campaign

__all__ = ["windows_on"]  # the fixture, used by name


def bucket_index() -> set[tuple[str, str]]:
    return {(item.bucket_key.split("#")[1], item.tenant_id) for item in DueBucketRecord.by_due.query(DUE_BUCKETS_KEY)}


def test_two_tenants_due_at_one_opening_wait_under_their_own_keys_and_are_released(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given two tenants whose campaigns wait for Monday's 07:00 opening
    other = make_campaign(campaign.admin)
    ids = scheduled_campaign(campaign)
    other_ids = scheduled_campaign(other)
    # Then each message waits under "due#<minute>#<its tenant>#<shard>", and the bucket index names both tenants
    bucket = due_bucket(MONDAY_0700)
    for tenant, messages in ((campaign.tenant_id, ids), (other.tenant_id, other_ids)):
        for mid in messages:
            key = MessageRecord.get(mid).due_shard
            assert key is not None
            assert key.startswith(f"due#{bucket}#{tenant}#"), key
    assert bucket_index() == {(bucket, campaign.tenant_id), (bucket, other.tenant_id)}
    keys = {MessageRecord.get(m).due_shard for m in [*ids, *other_ids]}
    # When the minute's run at 07:00:30 hands out the keys holding them and the workers release them
    result = scheduler_run(AT_OPENING)
    # Then every message of both tenants is enqueued once and QUEUED, one key per distinct shard
    assert result["keys"] == len(keys)
    assert result["released"] == 8
    assert enqueued(stack) == dict.fromkeys([*ids, *other_ids], 1)
    assert statuses([*ids, *other_ids]) == ["QUEUED"] * 8
    assert all(MessageRecord.get(m).due_shard is None for m in [*ids, *other_ids])
    # And a run before the opening would have found nothing (the index is read by due time)
    assert scheduler_run(MONDAY_0700 - timedelta(minutes=1)) == {"due": 0, "enqueued": 0, "released": 0, "keys": 0}


def test_a_drained_bucket_leaves_the_bucket_index_after_its_grace(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given a campaign released at Monday's opening
    scheduled_campaign(campaign)
    assert scheduler_run(AT_OPENING)["released"] == 4
    bucket = due_bucket(MONDAY_0700)
    # When the next run comes within the bucket's grace, and another one after it
    within = scheduler_run(AT_OPENING + timedelta(minutes=1))
    still = bucket_index()
    after = scheduler_run(MONDAY_0700 + timedelta(seconds=60 + DUE_BUCKET_GRACE_SECONDS + 1))
    # Then neither hands out a key (every key of the bucket is empty); the bucket stays in the index during the
    # grace, and leaves it after (its item was last written at the send, before both runs)
    assert within["keys"] == after["keys"] == 0
    assert (bucket, campaign.tenant_id) in still
    assert bucket_index() == set()


def test_entries_of_the_previous_release_are_still_released(stack: Stack, windows_on: None, campaign: Campaign) -> None:
    # Given messages that wait under the previous release's platform-wide keys "due#<0..15>", with no bucket item
    ids = scheduled_campaign(campaign)
    for mid in ids:
        legacy_key = f"due#{message_shard(mid) % LEGACY_DUE_SHARDS}"
        MessageRecord(mid).update(actions=[MessageRecord.due_shard.set(legacy_key)])
    DueBucketRecord(DueBucketRecord.key_for(due_bucket(MONDAY_0700), campaign.tenant_id)).delete()
    assert bucket_index() == set()
    # When the minute's run comes at the opening
    result = scheduler_run(AT_OPENING)
    # Then its legacy keys are handed out too, and every message is enqueued once and QUEUED
    assert result["released"] == 4
    assert enqueued(stack) == dict.fromkeys(ids, 1)
    assert statuses(ids) == ["QUEUED"] * 4


def test_messages_delivery_puts_back_at_the_window_close_are_found_and_released_at_the_opening(
    stack: Stack, windows_on: None, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign accepted while the window was open (QUEUED), reaching delivery on Saturday at 15:30 (closed)
    monkeypatch.setenv("SEND_WINDOWS", "off")
    wiring.reset()
    tag_id = tag_numbers(campaign, *NUMBERS[:3])
    status, _body = post(campaign, "/api/messages/sms/tags", {"message": "Promo", "tagIds": [tag_id]})
    assert status == 201
    (record,) = stack.drain_delivery_queue()
    ids = record["messageIds"]
    sandbox = Counting(SandboxProvider(DynamoOutbox()))
    report = deliverer(sandbox, now=SATURDAY_1530).deliver(QueueBatch(record["tenantId"], record["queueId"], ids))
    assert {o.value for o in report.outcomes.values()} == {"SCHEDULED"}
    # Then each waits under its tenant's key of Monday 07:00, and the bucket index names that minute and tenant
    bucket = due_bucket(MONDAY_0700)
    for mid in ids:
        key = MessageRecord.get(mid).due_shard
        assert key is not None
        assert key.startswith(f"due#{bucket}#{campaign.tenant_id}#"), key
    assert (bucket, campaign.tenant_id) in bucket_index()
    # When the minute's run comes at the opening
    result = scheduler_run(AT_OPENING)
    # Then they are enqueued once each and QUEUED
    assert result["released"] == 3
    assert enqueued(stack) == dict.fromkeys(ids, 1)
    assert statuses(ids) == ["QUEUED"] * 3
