"""The message store when DynamoDB applies a write whose answer the client never sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from smscore.dal.campaign_store import DynamoCampaignStore
from smscore.dal.dispatch_counts import load_dispatch
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.tables import MessageRecord
from smscore.domain.model import Dispatch, MessageStatus, OutgoingMessage
from tests.conftest import Stack
from tests.integration.conftest import Campaign


def queued_message(stack: Stack, campaign: Campaign) -> OutgoingMessage:
    now = datetime.now(UTC)
    message = OutgoingMessage(
        "m-1", campaign.tenant_id, "q-1", "+573001234567", "c-1", "Hi", 1, "GSM-7", 1, "sandbox", now
    )
    store = DynamoCampaignStore(region=stack.names.region)
    store.debit(Dispatch("q-1", campaign.tenant_id, campaign.member_id, "Hi", ["t"], "CO", 1, 1, 1, now))
    store.save_messages([message])
    return message


def test_a_claim_applied_but_retried_by_the_client_counts_once(stack: Stack, campaign: Campaign) -> None:
    # Given a queued message, and a client that retries its first UpdateItem although DynamoDB applied it
    queued_message(stack, campaign)
    messages = DynamoMessageStore(region=stack.names.region)
    client = MessageRecord._get_connection().connection.client
    retried: list[str] = []

    def retry_once(response: Any, **_: Any) -> float | None:
        if not retried:
            retried.append("retried")
            return 0.0  # "retry now", as after a timeout whose request had in fact landed
        return None

    client.meta.events.register_first("needs-retry.dynamodb.UpdateItem", retry_once)
    try:
        (stored,) = messages.load(["m-1"]).values()
        now = datetime.now(UTC)
        # When the message is claimed (the retry meets its own first write: condition failed)
        claimed = messages.claim(stored, now, now + timedelta(minutes=3))
    finally:
        client.meta.events.unregister("needs-retry.dynamodb.UpdateItem", retry_once)
    # Then the claim is recognised as ours, and the campaign counters moved exactly once
    assert retried == ["retried"]
    assert claimed is not None
    assert MessageRecord.get("m-1").status == MessageStatus.SENDING.value
    dispatch = load_dispatch("q-1")
    assert (dispatch.count_queued, dispatch.count_sending) == (0, 1)


def test_someone_elses_claim_is_not_mistaken_for_ours(stack: Stack, campaign: Campaign) -> None:
    # Given two consumers that read the same queued message
    queued_message(stack, campaign)
    first, second = DynamoMessageStore(region=stack.names.region), DynamoMessageStore(region=stack.names.region)
    (stored,) = first.load(["m-1"]).values()
    now = datetime.now(UTC)
    # When both claim it
    assert first.claim(stored, now, now + timedelta(minutes=3)) is not None
    # Then the second loses, and the counters moved once
    assert second.claim(stored, now, now + timedelta(minutes=3)) is None
    dispatch = load_dispatch("q-1")
    assert (dispatch.count_queued, dispatch.count_sending) == (0, 1)
