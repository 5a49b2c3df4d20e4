"""Inputs a function cannot parse (issue 26, item 3): AWS's own sample events, as `sam local generate-event` writes
them, are logged once at ERROR with their message id and a reason that does not quote them, counted in the
UnparseableEvents metric, and dropped rather than retried into a dead-letter queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.contacts import app as contacts_app
from functions.deliver import app as deliver_app
from functions.inbound import app as inbound_app
from functions.receipts import app as receipts_app
from functions.webhooks import app as webhooks_app
from smscore import wiring
from smsdev.provision import function_environment
from tests.conftest import LambdaContextStub, Stack, load_event


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Metrics enabled (the test account disables them), in the template's namespace and service: the handlers'
    Metrics objects read the environment at import, so they are set on them too."""
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SmsByTags")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "sms-by-tags")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    for module in (deliver_app, inbound_app, webhooks_app, contacts_app, receipts_app):
        monkeypatch.setattr(module.metrics, "namespace", "SmsByTags")
        monkeypatch.setattr(module.metrics, "service", "sms-by-tags")
        # Powertools keeps one metric set per process: drop what an earlier test on this worker left unflushed
        module.metrics.clear_metrics()


@pytest.fixture
def function_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def use(function: str) -> None:
        for key, value in function_environment(stack.names, function).items():
            monkeypatch.setenv(key, value)
        wiring.reset()

    yield use
    wiring.reset()


def printed(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def errors(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The ERROR lines, as the JSON formatter prints them (its message and the extra keys)."""
    fields = ("source", "message_id", "reason")
    return [
        {"message": r.getMessage(), **{k: getattr(r, k) for k in fields if hasattr(r, k)}}
        for r in caplog.records
        if r.levelname == "ERROR"
    ]


def unparseable_count(lines: list[dict[str, Any]]) -> float:
    total = 0.0
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            assert directive["Namespace"] == "SmsByTags"
            if {"Name": "UnparseableEvents", "Unit": "Count"} in directive["Metrics"]:
                value = line["UnparseableEvents"]
                total += sum(value) if isinstance(value, list) else value
    return total


def visible(stack: Stack, queue: str) -> int:
    sqs = boto3.client("sqs", region_name=stack.names.region)
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.queue_urls[queue], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_the_sqs_sample_event_is_logged_once_counted_and_not_retried(
    stack: Stack, function_env: Any, emf: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given AWS's SQS sample event ("Hello from SQS!") arriving at the deliver function
    function_env("DeliverFunction")
    event = load_event("sample_sqs_receive_message.json")
    capsys.readouterr()
    # When it is delivered
    result = deliver_app.lambda_handler(event, LambdaContextStub())
    lines = printed(capsys.readouterr().out)
    # Then the record is not reported failed (SQS will not bring it back 5 times into the DLQ)
    assert result == {"batchItemFailures": []}
    assert visible(stack, "DeliveryDeadLetterQueue") == 0
    # And one ERROR line names its message id and why, without quoting the body
    (error,) = errors(caplog)
    assert error["message"] == "Unparseable input dropped"
    assert error["message_id"] == "19dd0b57-b21e-4ac1-bd88-01bbb068cb78"
    assert error["source"] == "delivery-queue"
    assert error["reason"] == "body: Invalid JSON: expected value at line 1 column 1"
    assert "Hello from SQS" not in json.dumps(lines) + caplog.text
    # And it is counted once in the UnparseableEvents metric
    assert unparseable_count(lines) == 1


def test_a_bad_record_does_not_hold_back_the_good_ones_in_its_batch(
    stack: Stack, function_env: Any, emf: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given one unparseable record and one delivery record whose body is valid (its messages do not exist)
    function_env("DeliverFunction")
    bad = load_event("sample_sqs_receive_message.json")["Records"][0]
    good = load_event("sqs_delivery_batch.json")["Records"][0]
    good["messageId"] = str(uuid.uuid4())
    capsys.readouterr()
    # When they arrive in one batch
    result = deliver_app.lambda_handler({"Records": [bad, good]}, LambdaContextStub())
    lines = printed(capsys.readouterr().out)
    # Then neither is failed, and only the bad one is reported
    assert result == {"batchItemFailures": []}
    dropped = [e["message_id"] for e in errors(caplog) if e["message"] == "Unparseable input dropped"]
    assert dropped == [bad["messageId"]]
    assert unparseable_count(lines) == 1


def test_the_sns_sample_event_is_an_error_with_its_sns_message_id(
    stack: Stack, function_env: Any, emf: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given AWS's SNS sample event ("example message") arriving at the two-way SMS function
    function_env("InboundSmsFunction")
    capsys.readouterr()
    # When it is handled
    result = inbound_app.lambda_handler(load_event("sample_sns_notification.json"), LambdaContextStub())
    lines = printed(capsys.readouterr().out)
    # Then it is dropped (no retry), logged once at ERROR with the SNS message id, and counted
    assert result["results"][0]["action"] == "NONE"
    (error,) = errors(caplog)
    assert (error["source"], error["message_id"], error["reason"]) == (
        "two-way-sms",
        "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "not JSON",
    )
    assert "example message" not in json.dumps(lines) + caplog.text
    assert unparseable_count(lines) == 1


def test_a_body_that_is_no_receipt_is_an_error_for_the_receipts_function(
    stack: Stack, function_env: Any, emf: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given AWS's SQS sample event (body "Test message.") sent to the receipts queue's consumer
    function_env("ReceiptsFunction")
    capsys.readouterr()
    # When it is handled
    result = receipts_app.lambda_handler(load_event("sample_sqs_receive_message.json"), LambdaContextStub())
    lines = printed(capsys.readouterr().out)
    # Then nothing is applied and the record is done, not retried (it would reach the dead-letter queue blind)
    assert result == {"batchItemFailures": []}
    (error,) = errors(caplog)
    assert (error["source"], error["reason"]) == ("receipts", "not JSON")
    assert "Test message" not in json.dumps(lines) + caplog.text
    assert unparseable_count(lines) == 1
    assert visible(stack, "ReceiptsDeadLetterQueue") == 0


def test_an_s3_notification_is_an_error_for_the_import_function(
    stack: Stack, function_env: Any, emf: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given AWS's S3 put sample (an S3 notification, not the EventBridge event the import function's rule sends)
    function_env("ContactsImportFunction")
    capsys.readouterr()
    # When it is handled
    result = contacts_app.import_handler(load_event("sample_s3_put.json"), LambdaContextStub())
    lines = printed(capsys.readouterr().out)
    # Then it is ignored, logged once at ERROR and counted
    assert result == {"status": "ignored"}
    (error,) = errors(caplog)
    assert error["source"] == "import-uploads"
    assert unparseable_count(lines) == 1


def test_the_sqs_sample_event_on_the_export_queue_is_an_error_not_a_retry(
    stack: Stack,
    function_env: Any,
    emf: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.integrations import app as integrations_app

    # Given AWS's SQS sample event arriving at the export function (its queue carries export jobs)
    function_env("ExportFunction")
    for name, value in (("namespace", "SmsByTags"), ("service", "sms-by-tags")):
        monkeypatch.setattr(integrations_app.metrics, name, value)
    capsys.readouterr()
    # When it is handled
    result = integrations_app.export_handler(load_event("sample_sqs_receive_message.json"), LambdaContextStub())
    lines = printed(capsys.readouterr().out)
    # Then no job ran, nothing raised (SQS would retry it into the DLQ), and it is one ERROR line and one count
    assert result == {"jobs": []}
    (error,) = errors(caplog)
    assert (error["source"], error["message_id"]) == ("export-queue", "19dd0b57-b21e-4ac1-bd88-01bbb068cb78")
    assert "Hello from SQS" not in json.dumps(lines) + caplog.text
    assert unparseable_count(lines) == 1


def test_an_s3_notification_is_an_error_for_the_exclusions_import(
    stack: Stack,
    function_env: Any,
    emf: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.exclusions import app as exclusions_app

    # Given AWS's S3 put sample at the RNE exclusion-list import function
    function_env("ExclusionsImportFunction")
    for name, value in (("namespace", "SmsByTags"), ("service", "sms-by-tags")):
        monkeypatch.setattr(exclusions_app.metrics, name, value)
    capsys.readouterr()
    # When it is handled
    result = exclusions_app.lambda_handler(load_event("sample_s3_put.json"), LambdaContextStub())
    lines = printed(capsys.readouterr().out)
    # Then nothing is loaded, and it is one ERROR line and one count
    assert result == {"status": "ignored"}
    (error,) = errors(caplog)
    assert error["source"] == "exclusion-uploads"
    assert unparseable_count(lines) == 1
