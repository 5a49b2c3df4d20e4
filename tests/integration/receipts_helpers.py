"""Moving test messages the way production does: delivery's transition to SENT, then signed receipts."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.webhooks import app as webhooks
from smscore import wiring
from smscore.dal.message_store import DynamoMessageStore, StatusTransition
from smscore.dal.receipt_queue import ReceiptModel
from smscore.dal.tables import MessageRecord
from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.ports import ReceiptBuffer
from smscore.domain.receipts import ReceiptNotReady, ReceiptOutcome
from smscore.providers.twilio import request_signature
from smscore.wiring import ReceiptsDeps, WebhookDeps, bound_settings
from tests.conftest import LambdaContextStub, load_event

TWILIO_AUTH_TOKEN = "twilio-test-auth-token"
CALLBACK_URL = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/dev/api/webhooks/twilio/status"


def provider_id(message_id: str) -> str:
    return "SM" + message_id.replace("-", "")


def install_twilio_credentials() -> None:
    """The JSON credentials the Twilio provider and the webhook read through Powertools parameters."""
    boto3.client("ssm", region_name=bound_settings().aws_region).put_parameter(
        Name=bound_settings().twilio_credentials_parameter,
        Value=json.dumps({"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": TWILIO_AUTH_TOKEN}),
        Type="SecureString",
        Overwrite=True,
    )


def deliver_as_sent(*message_ids: str, provider: str = "twilio") -> None:
    """QUEUED -> SENDING -> SENT through delivery's own transaction, as if the provider accepted each one."""
    store = DynamoMessageStore(region=bound_settings().aws_region)
    for message_id in message_ids:
        record = MessageRecord.get(message_id)
        now = datetime.now(UTC)
        common = {"message_id": message_id, "tenant_id": record.tenant_id, "queue_id": record.queue_id, "at": now}
        assert store.apply_transition(
            StatusTransition(expected=MessageStatus.QUEUED, to=MessageStatus.SENDING, **common)
        )
        assert store.apply_transition(
            StatusTransition(
                expected=MessageStatus.SENDING,
                to=MessageStatus.SENT,
                set_fields={"provider": provider, "provider_message_id": provider_id(message_id), "sent_at": now},
                **common,
            )
        )


def twilio_event(params: dict[str, str], signature: str | None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("apigw_twilio_status.json"))
    event["body"] = urlencode(params)
    for headers in (event["headers"], event["multiValueHeaders"]):
        headers.pop("X-Twilio-Signature", None)
    if signature is not None:
        event["headers"]["X-Twilio-Signature"] = signature
        event["multiValueHeaders"]["X-Twilio-Signature"] = [signature]
    return event


FUNCTION_URL = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/"


def function_url_event(url: str, params: dict[str, str], signature: str | None) -> dict[str, Any]:
    """Twilio's POST to the status webhook's function URL `url` (payload format 2.0: the form body base64, the raw
    query as sent, lower-case headers)."""
    event = copy.deepcopy(load_event("function_url_twilio_status.json"))
    split = urlsplit(url)
    event["headers"]["host"] = event["requestContext"]["domainName"] = split.netloc
    event["rawPath"] = event["requestContext"]["http"]["path"] = split.path or "/"
    event["rawQueryString"] = split.query
    event["queryStringParameters"] = {name: values[-1] for name, values in parse_qs(split.query).items()} or None
    event["body"] = base64.b64encode(urlencode(params).encode()).decode()
    event["headers"].pop("x-twilio-signature")
    if signature is not None:
        event["headers"]["x-twilio-signature"] = signature
    return event


def signed_twilio_event(params: dict[str, str], token: str = TWILIO_AUTH_TOKEN) -> dict[str, Any]:
    return twilio_event(params, request_signature(CALLBACK_URL, list(params.items()), token))


class RecordingBuffer:
    """The webhook's receipt buffer, remembering the bodies it queued (to pick their outcomes out of a drain)."""

    def __init__(self, inner: ReceiptBuffer) -> None:
        self.inner = inner
        self.bodies: list[str] = []

    def put(self, receipt: Receipt) -> None:
        self.bodies.append(ReceiptModel.of(receipt).model_dump_json())
        self.inner.put(receipt)


def post_twilio(
    event: dict[str, Any], deps: WebhookDeps | None = None, receipts: ReceiptsDeps | None = None
) -> tuple[int, dict[str, Any]]:
    """Twilio's POST to the status webhook, then the receipts consumer over the receipts queue (as SQS would hand
    it over, with whatever else waits there): the HTTP status, and the consumer's outcome for the receipt this
    POST queued (the webhook's own answer when it queued nothing)."""
    webhook = deps or wiring.webhook_deps()
    recording = RecordingBuffer(webhook.receipt_buffer)
    response = webhooks.twilio_handler(
        event, LambdaContextStub(), deps=dataclasses.replace(webhook, receipt_buffer=recording)
    )
    status, body = response["statusCode"], json.loads(response["body"])
    if status != 200 or body.get("outcome") != ReceiptOutcome.ACCEPTED.value:
        assert recording.bodies == [], "the webhook queued a receipt it did not answer ACCEPTED"
        return status, body
    (queued,) = recording.bodies
    (outcome,) = [outcome for message_body, outcome in drain_receipt_records(receipts) if message_body == queued]
    return status, {"outcome": outcome.value if outcome else None}


def receipt_record(message: dict[str, Any]) -> dict[str, Any]:
    """One SQS event record of the receipts queue, from a ReceiveMessage result (the receive count included)."""
    record = copy.deepcopy(load_event("sqs_delivery_batch.json")["Records"][0])
    record.update(messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"], body=message["Body"])
    record["attributes"]["ApproximateReceiveCount"] = message["Attributes"]["ApproximateReceiveCount"]
    return record


def drain_receipts(deps: ReceiptsDeps | None = None) -> list[ReceiptOutcome | None]:
    """The outcomes of drain_receipt_records."""
    return [outcome for _, outcome in drain_receipt_records(deps)]


def drain_receipt_records(deps: ReceiptsDeps | None = None) -> list[tuple[str, ReceiptOutcome | None]]:
    """Each receipt waiting on the receipts queue, taken once through the consumer's record handler, with its body:
    done records are deleted; one it left for later (ahead of SENT) is made visible again at once (the visibility
    timeout, not waited) and reported by the outcome it was retried with."""
    from functions.receipts import app as receipts_app

    deps = deps or wiring.receipts_deps()
    sqs = boto3.client("sqs", region_name=bound_settings().aws_region)
    url = bound_settings().receipts_queue_url
    outcomes: list[tuple[str, ReceiptOutcome | None]] = []
    taken: list[dict[str, Any]] = []
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"]
    ).get("Messages", []):
        taken.extend(messages)
    for message in taken:
        try:
            outcomes.append((message["Body"], receipts_app.apply_record(SQSRecord(receipt_record(message)), deps)))
        except ReceiptNotReady as retried:
            outcomes.append((message["Body"], retried.outcome))
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            continue
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return outcomes


def receive(message_id: str, twilio_status: str, error_code: str | None = None) -> int:
    """Twilio's signed status callback for a message it sent; returns the HTTP status we answered."""
    install_twilio_credentials()
    params = {
        "MessageSid": provider_id(message_id),
        "SmsSid": provider_id(message_id),
        "MessageStatus": twilio_status,
        "SmsStatus": twilio_status,
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        params["ErrorCode"] = error_code
    status, _ = post_twilio(signed_twilio_event(params))
    return status


def put_sms_event(event: dict[str, Any], receipts: ReceiptsDeps | None = None) -> dict[str, Any]:
    """EventBridge's delivery of an AWS SMS event to the receipts queue (the whole event is the body, as the
    template's rule sends it), then the receipts consumer: `{"outcome": ...}` for that event."""
    body = json.dumps(event)
    boto3.client("sqs", region_name=bound_settings().aws_region).send_message(
        QueueUrl=bound_settings().receipts_queue_url, MessageBody=body
    )
    # The same event twice has the same body: both are taken (SQS hands the earlier one back too), same outcome.
    *_, outcome = [outcome for message_body, outcome in drain_receipt_records(receipts) if message_body == body]
    return {"outcome": outcome.value if outcome else None}
