"""Moving test messages the way production does: delivery's transition to SENT, then signed receipts."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import boto3

from functions.webhooks import app as webhooks
from smscore.dal.message_store import DynamoMessageStore, StatusTransition
from smscore.dal.tables import MessageRecord
from smscore.domain.model import MessageStatus
from smscore.providers.twilio import request_signature
from smscore.wiring import bound_settings
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


def signed_twilio_event(params: dict[str, str], token: str = TWILIO_AUTH_TOKEN) -> dict[str, Any]:
    return twilio_event(params, request_signature(CALLBACK_URL, list(params.items()), token))


def post_twilio(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = webhooks.twilio_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


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
