"""GET /api/messages on the sharded indexes returns exactly the pages one unsharded index returned.

The reference is the old contract written out: a tenant's messages newest first by `created_key`
("<created_at>#<message_id>"), a queue's by message id descending, filters applied to that order. Every
page size walks every page with the cursor, and the pages concatenated must be that list.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from smscore.dal.tables import MESSAGE_INDEX_SHARDS, MessageRecord, message_shard
from tests.conftest import Stack
from tests.integration.conftest import Campaign
from tests.integration.receipts_helpers import deliver_as_sent
from tests.integration.test_messages_api import get, send

PAGE_SIZES = (1, 4, 7, 50, 100)
PHONES = [f"30012{n:05d}" for n in range(12)]


@pytest.fixture
def messages(stack: Stack, campaign: Campaign) -> list[MessageRecord]:
    """Three campaigns of one tenant (12, 8 and 5 messages, two sharing recipients), some of them SENT."""
    for index, phone in enumerate(PHONES):
        campaign.add(phone, *(["all"] + (["half"] if index % 3 else []) + (["few"] if index < 5 else [])))
    ids: list[str] = []
    for tag in ("all", "half", "few"):
        ids += [m["id"] for m in send(campaign, tag, message=f"to {tag}")["messages"]]
    deliver_as_sent(*ids[::3])
    records = list(MessageRecord.batch_get(ids))
    assert len({message_shard(r.message_id) for r in records}) > MESSAGE_INDEX_SHARDS // 2  # really spread out
    return records


def by_id_descending(records: list[MessageRecord]) -> list[str]:
    return sorted((r.message_id for r in records), reverse=True)


def newest_first(records: list[MessageRecord]) -> list[str]:
    return [r.message_id for r in sorted(records, key=lambda r: r.created_key, reverse=True)]


def walk(campaign: Campaign, limit: int, **query: str) -> list[str]:
    """Every page, following the cursor; each page at most `limit` items and only the last one without a cursor."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params = {**query, "limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        status, body = get(campaign, "/api/messages", params)
        assert status == 200, body
        assert len(body["items"]) <= limit
        ids += [item["id"] for item in body["items"]]
        cursor = body["nextCursor"]
        if cursor is None:
            return ids
        assert len(body["items"]) == limit  # only the last page is short


Case = tuple[dict[str, str], Callable[[list[MessageRecord]], list[str]]]


def cases(records: list[MessageRecord]) -> list[Case]:
    queue_id = records[0].queue_id
    recipient = records[0].recipient
    middle = sorted({r.created_at for r in records})[1]
    return [
        ({}, newest_first),
        ({"status": "SENT"}, lambda rs: newest_first([r for r in rs if r.status == "SENT"])),
        ({"status": "QUEUED"}, lambda rs: newest_first([r for r in rs if r.status == "QUEUED"])),
        (
            {"queueId": queue_id},
            lambda rs: by_id_descending([r for r in rs if r.queue_id == queue_id]),
        ),
        (
            {"queueId": queue_id, "status": "SENT"},
            lambda rs: by_id_descending([r for r in rs if r.queue_id == queue_id and r.status == "SENT"]),
        ),
        ({"recipient": recipient}, lambda rs: newest_first([r for r in rs if r.recipient == recipient])),
        (
            {"from": middle.isoformat()},
            lambda rs: newest_first([r for r in rs if r.created_at >= middle]),
        ),
        (
            {"to": (middle - timedelta(microseconds=1)).isoformat(), "channel": "sms"},
            lambda rs: newest_first([r for r in rs if r.created_at < middle]),
        ),
    ]


@pytest.mark.parametrize("limit", PAGE_SIZES)
def test_every_filter_pages_through_the_same_messages_in_the_same_order(
    messages: list[MessageRecord], campaign: Campaign, limit: int
) -> None:
    # Given three campaigns spread over the index shards
    for query, expected in cases(messages):
        # When every page is read with the cursor, Then the pages are the unsharded index's order
        assert walk(campaign, limit, **query) == expected(messages), (limit, query)


def test_a_cursor_of_one_filter_is_refused_for_another(messages: list[MessageRecord], campaign: Campaign) -> None:
    # Given a cursor from the tenant-wide list
    _, first = get(campaign, "/api/messages", {"limit": "2"})
    # When it is used with a status filter, Then it is refused, not followed
    status, body = get(campaign, "/api/messages", {"limit": "2", "status": "SENT", "cursor": first["nextCursor"]})
    assert status == 400
    assert body["details"][0]["field"] == "cursor"


def test_the_cursor_carries_one_merge_position(messages: list[MessageRecord], campaign: Campaign) -> None:
    # Given the first page of the tenant-wide list
    _, body = get(campaign, "/api/messages", {"limit": "3"})
    # Then its cursor names the last message's position, not one position per shard (it stays short)
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body["nextCursor"] + "=="))
    last = next(r for r in messages if r.message_id == body["items"][-1]["id"])
    assert payload["k"] == {"tenant_id": campaign.tenant_id, "created_key": last.created_key}
