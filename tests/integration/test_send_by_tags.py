"""POST /api/messages/sms/tags through the real handler on moto: responses, persistence, queue, money."""

from __future__ import annotations

import json
from typing import Any

from smscore.dal.tables import DispatchRecord, MessageRecord

from functions.send_by_tags import app as handler
from tests.conftest import LambdaContextStub, Stack, api_event
from tests.integration.conftest import Campaign


def post(campaign: Campaign, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    event = api_event(body, tenant_id=campaign.tenant_id, member_id=campaign.member_id, headers=headers)
    response = handler.lambda_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def test_sends_one_message_per_distinct_number_and_debits_its_segments(stack: Stack, campaign: Campaign) -> None:
    # Given two tags, a contact in both, two contacts sharing a number and one invalid number
    campaign.add("3001234567", "vip", "buyers")
    campaign.add("+57 300 987 6543", "vip")
    campaign.add("573009876543", "buyers")
    campaign.add("12345", "buyers")
    # When the campaign is sent to both tags
    status, body = post(
        campaign,
        {"message": "VIP: 30% off", "tagIds": [campaign.tags["vip"], campaign.tags["buyers"]], "country": "CO"},
    )
    # Then each valid number gets exactly one message
    assert status == 201, body
    assert body["channel"] == "sms"
    assert [m["recipient"] for m in body["messages"]] == ["+573001234567", "+573009876543"]
    # And they were persisted as QUEUED with their cost, enqueued, and paid for
    stored = {m["id"]: MessageRecord.get(m["id"]) for m in body["messages"]}
    assert {r.status for r in stored.values()} == {"QUEUED"}
    assert {r.queue_id for r in stored.values()} == {body["queueId"]}
    queued = stack.drain_delivery_queue()
    assert sorted(mid for q in queued for mid in q["messageIds"]) == sorted(stored)
    assert campaign.balance() == 998
    assert campaign.ledger_sum() == 998
    assert DispatchRecord.get(body["queueId"]).credits_debited == 2
