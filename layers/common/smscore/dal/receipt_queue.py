"""The receipts queue: status webhooks put receipts here before any DynamoDB read or write (the ReceiptBuffer port),
and the receipts consumer (functions/receipts) takes them off.

Two kinds of body arrive: our own `ReceiptModel` (the Twilio status webhook, once the signature checked out) and
AWS End User Messaging SMS delivery events, which the template's EventBridge rule sends to the queue as they are
(the whole event as the body). `read_body` tells them apart; the consumer has the provider module read an event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from smscore.domain.model import MessageStatus, Receipt

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class ReceiptModel(BaseModel):
    """`{"provider", "status", "reportedAt", "providerStatus", "errorCode", "messageId", "providerMessageId"}`."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_alias=True, validate_by_name=False, serialize_by_alias=True
    )

    provider: str = Field(min_length=1)
    status: MessageStatus
    reported_at: datetime
    provider_status: str
    error_code: str | None = None
    message_id: str | None = None
    provider_message_id: str | None = None

    @classmethod
    def of(cls, receipt: Receipt) -> ReceiptModel:
        return cls.model_construct(**{name: getattr(receipt, name) for name in cls.model_fields})

    def to_receipt(self) -> Receipt:
        return Receipt(**{name: getattr(self, name) for name in type(self).model_fields})


class UnreadableReceipt(ValueError):
    """A body that is neither of the two shapes; `reason` never quotes it (it may hold a phone number)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DeliveryEvent:
    """An AWS End User Messaging SMS event as EventBridge put it on the queue; smscore.providers.aws_sms reads it."""

    detail_type: str
    detail: dict[str, Any]


def read_body(body: str) -> Receipt | DeliveryEvent:
    """What a queue message carries: our own receipt, or a provider's event to be read by its provider module.
    Raises UnreadableReceipt for anything else (retrying cannot fix it)."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise UnreadableReceipt("not JSON") from None
    if not isinstance(data, dict):
        raise UnreadableReceipt("not a JSON object")
    if "detail-type" in data:  # an EventBridge event, as the rule delivered it
        detail = data.get("detail")
        if not isinstance(detail, dict):
            raise UnreadableReceipt("an EventBridge event without a detail object")
        return DeliveryEvent(str(data["detail-type"]), detail)
    try:
        return ReceiptModel.model_validate(data).to_receipt()
    except ValidationError as exc:
        from smscore.observability import validation_reason

        raise UnreadableReceipt(validation_reason(exc)) from None


class SqsReceiptBuffer:
    """One SendMessage per receipt; the SQS client is created on the first receipt (not at import)."""

    def __init__(self, region: str, queue_url: str, client: SQSClient | None = None) -> None:
        self._region = region
        self._queue_url = queue_url
        self._client = client

    def put(self, receipt: Receipt) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs", region_name=self._region)
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=ReceiptModel.of(receipt).model_dump_json())
