"""Issue 20, item 4 in the template: receipts have their own throttle and pass through SQS before any table."""

from __future__ import annotations

from typing import Any

import pytest

from smsdev.template import load_template
from tests.unit.test_alarms import alarms_on
from tests.unit.test_iam import grants
from tests.unit.test_template import transformed

# The delivery ceiling the review measured (one opt-out partition: about 3,000 msg/s), and Twilio's callbacks
# per message: the status webhook's throttle must let through 3 x the ceiling.
DELIVERY_CEILING_MPS = 3_000
TWILIO_CALLBACKS_PER_MESSAGE = 3
STATUS_PATH = "/~1api~1webhooks~1twilio~1status"


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the SAM transform needs one


def resources(resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in transformed()["Resources"].items() if v["Type"] == resource_type}


def parameter(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = load_template()["Parameters"][name]
    return spec


def method_settings() -> list[dict[str, Any]]:
    (stage,) = resources("AWS::ApiGateway::Stage").values()
    settings: list[dict[str, Any]] = stage["MethodSettings"]
    return settings


def test_status_callbacks_have_their_own_throttle_of_three_times_the_delivery_ceiling() -> None:
    # Given the stage's method settings
    by_path = {(s["ResourcePath"], s["HttpMethod"]): s for s in method_settings()}
    # Then every route shares the stage's 100 req/s, except Twilio's status callback, which has its own limit
    assert by_path[("/*", "*")]["ThrottlingRateLimit"] == 100
    status = by_path[(STATUS_PATH, "POST")]
    assert status["ThrottlingRateLimit"] == {"Ref": "ReceiptsWebhookRateLimit"}
    assert status["ThrottlingBurstLimit"] == {"Ref": "ReceiptsWebhookBurstLimit"}
    # And its default admits 3 callbacks per message at the delivery ceiling
    assert parameter("ReceiptsWebhookRateLimit")["Default"] >= TWILIO_CALLBACKS_PER_MESSAGE * DELIVERY_CEILING_MPS


def test_the_status_webhook_writes_no_table_it_only_queues_receipts() -> None:
    # Given what the Twilio status function's role may do
    twilio = [g for g in grants() if g.role == "TwilioStatusFunctionRole"]
    # Then it reaches no table a receipt moves: only what its inbound-keyword route writes (the suppressions, and the
    # consent records a STOP appends to the contacts of the tenants on that sender) or reads for the contact events a
    # keyword emits (the endpoints' event types), and it may send to the receipts queue and the webhook queue
    touched = {r.split("/")[0] for g in twilio for r in g.resources if "dynamodb" in " ".join(g.actions)}
    keyword_tables = {
        "${SuppressionsTable.Arn}",
        "${ContactsTable.Arn}",
        "${TagMembersTable.Arn}",
        "${TenantsTable.Arn}",
        "${WebhooksTable.Arn}",
    }
    assert "${SuppressionsTable.Arn}" in touched
    assert touched <= keyword_tables
    on_webhooks = {a for g in twilio if "${WebhooksTable.Arn}" in g.resources for a in g.actions}
    assert on_webhooks == {"dynamodb:Query"}
    assert any(g.actions == ("sqs:SendMessage",) and g.resources == ("${ReceiptsQueue.Arn}",) for g in twilio)
    assert any(g.actions == ("sqs:SendMessage",) and g.resources == ("${WebhookQueue.Arn}",) for g in twilio)


def test_aws_sms_delivery_events_go_to_the_receipts_queue_which_only_that_rule_may_send_to() -> None:
    (rule,) = [r for r in resources("AWS::Events::Rule").values() if "aws.sms-voice" in str(r)]
    assert rule["Targets"] == [{"Id": "ReceiptsQueue", "Arn": {"Fn::GetAtt": ["ReceiptsQueue", "Arn"]}}]
    (policy,) = resources("AWS::SQS::QueuePolicy").values()
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["SmsDeliveryEventsRule", "Arn"]}}}


def test_the_receipts_consumer_reads_the_receipts_queue_with_partial_batch_responses() -> None:
    (mapping,) = [
        m
        for m in resources("AWS::Lambda::EventSourceMapping").values()
        if m["EventSourceArn"] == {"Fn::GetAtt": ["ReceiptsQueue", "Arn"]}
    ]
    assert mapping["FunctionName"] == {"Ref": "ReceiptsFunctionAliaslive"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = resources("AWS::SQS::Queue")["ReceiptsQueue"]
    function = resources("AWS::Lambda::Function")["ReceiptsFunction"]
    # Six times the consumer's timeout: a record is never handed to a second consumer while the first still runs
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    retries = int(function["Environment"]["Variables"]["RECEIPT_RETRY_RECEIVES"])
    assert retries < queue["RedrivePolicy"]["maxReceiveCount"]


def test_receipt_lag_alarms_above_the_retries_of_a_receipt_ahead_of_sent() -> None:
    # Given the alarm on the age of the receipts queue's oldest receipt
    (alarm,) = alarms_on("ApproximateAgeOfOldestMessage", "ReceiptsQueue")
    assert alarm["Threshold"] == {"Ref": "ReceiptLagAlarmSeconds"}
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    # Then a receipt retried once on purpose (one visibility timeout) does not fire it, and lag is sustained
    visibility = resources("AWS::SQS::Queue")["ReceiptsQueue"]["VisibilityTimeout"]
    assert parameter("ReceiptLagAlarmSeconds")["Default"] > visibility
    assert alarm["Period"] * alarm["EvaluationPeriods"] >= 600


def test_twilio_is_given_the_status_webhooks_function_url_not_the_rest_route() -> None:
    # Given the deployed CloudFormation
    deployed = transformed()["Resources"]
    # Then the status webhook has a public function URL on its alias `live` (the signature is the gate), which
    # Lambda lets anyone invoke through the URL only (both permissions of function URLs created since October 2025)
    url = deployed["TwilioStatusFunctionUrl"]
    assert url["Type"] == "AWS::Lambda::Url"
    assert url["Properties"] == {"TargetFunctionArn": {"Ref": "TwilioStatusFunctionAliaslive"}, "AuthType": "NONE"}
    permissions = [
        r["Properties"]
        for r in deployed.values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"]["FunctionName"] == {"Ref": "TwilioStatusFunctionAliaslive"}
        and r["Properties"]["Principal"] == "*"
    ]
    assert sorted(p["Action"] for p in permissions) == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
    assert all(p.get("FunctionUrlAuthType") == "NONE" or p.get("InvokedViaFunctionUrl") is True for p in permissions)
    # And the deliver function gives Twilio that URL, which the stack's output names too
    callback = {"Fn::GetAtt": ["TwilioStatusFunctionUrl", "FunctionUrl"]}
    deliver = resources("AWS::Lambda::Function")["DeliverFunction"]
    assert deliver["Environment"]["Variables"]["TWILIO_STATUS_CALLBACK_URL"] == callback
    assert transformed()["Outputs"]["TwilioStatusCallbackUrl"]["Value"] == callback
