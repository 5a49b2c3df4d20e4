"""Usage reports and campaign outcomes on moto (issue 25, item 4): sends, deliveries, failures by code, credits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from functions.integrations import app as integrations
from functions.messages import app as messages_app
from smscore import wiring
from smscore.dal.outbox_store import DynamoOutbox
from smscore.dal.report_store import TALLY_SHARDS
from smscore.dal.tables import DispatchRecord
from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.receipts import apply_receipt
from smscore.domain.reports import REPORT_ZONE
from smscore.providers.sandbox import PERMANENT_INVALID_NUMBER, SandboxProvider
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack, api_event, load_event
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.test_deliver import Counting, Delivery


@pytest.fixture
def env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for function_id in ("IntegrationsFunction", "DeliverFunction"):
        for key, value in function_environment(stack.names, function_id).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("SANDBOX_TIMEOUT_SECONDS", "0")
    wiring.reset()
    with serialised_moto():
        yield stack
    wiring.reset()


def usage(who: Campaign, query: dict[str, str]) -> tuple[int, Any]:
    event = api_event(None, tenant_id=who.tenant_id, member_id=who.member_id, token=who.token)
    event.update(
        httpMethod="GET",
        resource="/api/reports/usage",
        path="/api/reports/usage",
        queryStringParameters=query,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()},
    )
    event["requestContext"].update(httpMethod="GET", resourcePath="/api/reports/usage")
    response = integrations.lambda_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def queue_status(who: Campaign, queue_id: str) -> dict[str, Any]:
    event = load_event("apigw_list_messages.json")
    event["path"] = f"/api/messages/queues/{queue_id}"
    event["requestContext"]["path"] = f"/dev/api/messages/queues/{queue_id}"
    event["queryStringParameters"] = event["multiValueQueryStringParameters"] = None
    event["requestContext"]["authorizer"].update(tenantId=who.tenant_id, memberId=who.member_id)
    response = messages_app.lambda_handler(event, LambdaContextStub())
    assert response["statusCode"] == 200, response["body"]
    return dict(json.loads(response["body"]))


@pytest.fixture
def settled(env: Stack, campaign: Campaign) -> tuple[str, dict[str, str]]:
    """A campaign of 4: one delivered, one undelivered (30003), one failed at the provider, one still SENT."""
    delivery = Delivery(stack=env, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    numbers = ["+573001112233", "+573001112244", "+573001112255", PERMANENT_INVALID_NUMBER]
    queue_id, ids = delivery.send_campaign(campaign, *numbers)
    delivery.deliver(*delivery.sqs_bodies())
    receipts = wiring.receipts_deps().receipts
    at = DispatchRecord.get(queue_id).created_at
    apply_receipt(Receipt("sandbox", MessageStatus.DELIVERED, at, "delivered", None, ids[numbers[0]]), receipts)
    apply_receipt(Receipt("sandbox", MessageStatus.UNDELIVERED, at, "undelivered", "30003", ids[numbers[1]]), receipts)
    return queue_id, ids


def test_a_days_usage_counts_sends_outcomes_failures_by_code_and_credits(
    settled: tuple[str, dict[str, str]], campaign: Campaign
) -> None:
    queue_id, _ = settled
    day = DispatchRecord.get(queue_id).created_at.astimezone(REPORT_ZONE).date()
    status, report = usage(campaign, {"from": str(day - timedelta(days=1)), "to": str(day)})
    assert status == 200, report
    assert [d["day"] for d in report["days"]] == [str(day - timedelta(days=1)), str(day)]
    quiet, busy = report["days"]
    assert (quiet["sends"], quiet["creditsSpent"], quiet["failuresByCode"]) == (0, 0, {})
    assert (busy["sends"], busy["delivered"], busy["undelivered"], busy["failed"]) == (4, 1, 1, 1)
    assert busy["failuresByCode"] == {"30003": 1, "SANDBOX_21211": 1}
    assert (busy["creditsSpent"], busy["creditsRefunded"]) == (4, 1)
    assert report["totals"]["failuresByCode"] == {"30003": 1, "SANDBOX_21211": 1}
    assert (busy["failuresUncounted"], report["totals"]["failuresUncounted"]) == (0, 0)
    assert report["timeZone"] == "America/Bogota"


def test_failures_of_a_campaign_without_a_tally_are_reported_uncounted_not_hidden(
    settled: tuple[str, dict[str, str]], campaign: Campaign, env: Stack
) -> None:
    # Given the campaign as one sent before failures were counted by code: its tally items do not exist
    queue_id, _ = settled
    dynamodb = boto3.client("dynamodb", region_name=env.names.region)
    table = wiring.bound_settings().webhooks_table
    for shard in range(TALLY_SHARDS):
        key = {"tenant_id": {"S": campaign.tenant_id}, "item_key": {"S": f"failures#{queue_id}#{shard}"}}
        dynamodb.delete_item(TableName=table, Key=key)
    # When the day is reported and the campaign's status read
    day = DispatchRecord.get(queue_id).created_at.astimezone(REPORT_ZONE).date()
    _status, report = usage(campaign, {"from": str(day), "to": str(day)})
    status = queue_status(campaign, queue_id)
    # Then its two failures are counted as uncounted, so the failures still add up
    (busy,) = report["days"]
    assert (busy["failed"], busy["undelivered"], busy["failuresByCode"], busy["failuresUncounted"]) == (1, 1, {}, 2)
    assert report["totals"]["failuresUncounted"] == 2
    assert (status["failureReasons"], status["failuresUncounted"]) == ({}, 2)


def test_a_campaigns_status_gains_its_delivery_rate_and_failure_reasons(
    settled: tuple[str, dict[str, str]], campaign: Campaign
) -> None:
    queue_id, _ = settled
    status = queue_status(campaign, queue_id)
    assert status["deliveryRate"] == round(1 / 3, 4)  # 1 delivered of 3 settled (one is still SENT)
    assert status["failureReasons"] == {"30003": 1, "SANDBOX_21211": 1}
    assert status["failuresUncounted"] == 0


def test_another_tenant_sees_none_of_it_and_bad_ranges_are_400(
    settled: tuple[str, dict[str, str]], campaign: Campaign, admin: Any
) -> None:
    queue_id, _ = settled
    day = DispatchRecord.get(queue_id).created_at.astimezone(REPORT_ZONE).date()
    stranger = make_campaign(admin)
    status, report = usage(stranger, {"from": str(day), "to": str(day)})
    assert status == 200
    assert report["totals"]["sends"] == 0
    for query in (
        {"from": str(day), "to": str(day - timedelta(days=1))},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "2026-02-30", "to": "2026-03-01"},
        {"from": str(day), "to": str(day), "granularity": "hour"},
        {"to": str(day)},
    ):
        status, body = usage(campaign, query)
        assert (status, body["code"]) == (400, "VALIDATION_ERROR"), query
