"""AWS End User Messaging SMS (`pinpoint-sms-voice-v2` SendTextMessage).

Sends from a configured origination identity (phone number, sender id or pool ARN) with an optional
configuration set (where delivery events are published), MaxPrice (per segment, USD) and TimeToLive, as
MessageType PROMOTIONAL unless configured otherwise (AWS_SMS_MESSAGE_TYPE; AWS reserves TRANSACTIONAL for
critical or time-sensitive messages such as one-time passwords).
Our message id and tenant id travel in `Context`, which AWS echoes in every delivery event, so receipts
can be matched without storing the AWS MessageId first. Price is not in the reply (it arrives in events).

Credentials are the function's IAM role; nothing secret is configured. The client is built with botocore
retries off (max_attempts=1): retries, backoff and failover are the delivery policy's job, and a botocore
retry after a read timeout would be an invisible duplicate.

Classification by error code and `Reason`, never by message text:
- ThrottlingException and ServiceQuotaExceededException (rate or quota): `Throttled`, the message waits;
- the sender's configuration (AccessDeniedException, ResourceNotFoundException, or Reason RESOURCE_NOT_ACTIVE,
  INVALID_IDENTITY_FOR_DESTINATION_COUNTRY, ACCOUNT_DISABLED, MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT):
  `SenderUnavailable`, the sender pauses (circuit breaker) and its messages wait;
- InternalServerException, 5xx: transient;
- ValidationException (unparseable or blocked destination, price over MaxPrice, ...) and ConflictException
  (DESTINATION_PHONE_NUMBER_OPTED_OUT, ...): permanent;
- read timeout / connection closed: OutcomeUnknown; cannot connect: transient.

Inbound: delivery events arrive through EventBridge (source aws.sms-voice, detail-type
"Text Message Delivery Status Updated", detail.isFinal true); `receipt_from_event` turns a final one into a
provider-neutral Receipt, matched by the message id we put in `Context` (and only for a message AWS sent).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.ports import (
    Accepted,
    OutcomeUnknown,
    PermanentFailure,
    SenderUnavailable,
    SmsProvider,
    SmsRequest,
    Throttled,
    TransientFailure,
)

if TYPE_CHECKING:
    from mypy_boto3_pinpoint_sms_voice_v2 import PinpointSMSVoiceV2Client

TRANSIENT_ERRORS = frozenset(
    {
        "ThrottlingException",
        "InternalServerException",
        "ServiceQuotaExceededException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "ServiceUnavailable",
        "RequestTimeout",
    }
)
PERMANENT_ERRORS = frozenset({"ValidationException", "ConflictException"})
# Waiting, not failing: the account's or the origination identity's rate or quota (message parts per second).
THROTTLING_ERRORS = frozenset({"ThrottlingException", "ServiceQuotaExceededException"})
# The sender cannot send (pause it, alarm, keep its messages waiting): a missing or inactive origination identity,
# one not allowed for the destination country, a disabled account, no permission, the monthly spend limit.
SENDER_CONFIGURATION_ERRORS = frozenset({"AccessDeniedException", "ResourceNotFoundException"})
SENDER_CONFIGURATION_REASONS = frozenset(
    {
        "RESOURCE_NOT_ACTIVE",
        "INVALID_IDENTITY_FOR_DESTINATION_COUNTRY",
        "ACCOUNT_DISABLED",
        "INSUFFICIENT_ACCOUNT_REPUTATION",
        "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT",
    }
)
PROVIDER_NAME = "aws_sms"


@dataclass(frozen=True)
class AwsSmsConfig:
    origination_identity: str | None = None
    configuration_set: str | None = None
    max_price: str | None = None  # USD per segment, e.g. "0.05"
    time_to_live_seconds: int | None = None
    message_type: str = "PROMOTIONAL"  # campaigns; AWS reserves TRANSACTIONAL for critical, time-sensitive ones


class AwsSmsProvider(SmsProvider):
    name: ClassVar[str] = PROVIDER_NAME
    character_limit: ClassVar[int] = 1600
    idempotent: ClassVar[bool] = False
    reports_price_at_send: ClassVar[bool] = False

    def __init__(self, client: PinpointSMSVoiceV2Client, config: AwsSmsConfig) -> None:
        self._client = client
        self._config = config

    def _params(self, request: SmsRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "DestinationPhoneNumber": request.recipient,
            "MessageBody": request.body,
            "MessageType": self._config.message_type,
            "Context": {"messageId": request.message_id, "tenantId": request.tenant_id},
        }
        if self._config.origination_identity:
            params["OriginationIdentity"] = self._config.origination_identity
        if self._config.configuration_set:
            params["ConfigurationSetName"] = self._config.configuration_set
        if self._config.max_price:
            params["MaxPrice"] = self._config.max_price
        if self._config.time_to_live_seconds:
            params["TimeToLive"] = self._config.time_to_live_seconds
        return params

    def send(self, request: SmsRequest) -> Accepted:
        try:
            reply = self._client.send_text_message(**self._params(request))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "ClientError"))
            reason = str(exc.response.get("Reason") or error.get("Reason") or "")
            full_code = f"{code}:{reason}" if reason else code
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code in SENDER_CONFIGURATION_ERRORS or reason in SENDER_CONFIGURATION_REASONS:
                raise SenderUnavailable(full_code, str(error.get("Message", ""))) from exc
            if code in THROTTLING_ERRORS:
                raise Throttled(full_code, str(error.get("Message", ""))) from exc
            if code in PERMANENT_ERRORS:
                raise PermanentFailure(full_code, str(error.get("Message", ""))) from exc
            if code in TRANSIENT_ERRORS or status >= 500 or status == 0:
                raise TransientFailure(full_code, str(error.get("Message", ""))) from exc
            raise PermanentFailure(full_code, str(error.get("Message", ""))) from exc
        except (ReadTimeoutError, ConnectionClosedError) as exc:
            raise OutcomeUnknown("TIMEOUT", type(exc).__name__) from exc
        except (ConnectTimeoutError, EndpointConnectionError) as exc:
            raise TransientFailure("CONNECTION_FAILED", type(exc).__name__) from exc
        # Every delivery event echoes `Context` (our message id): receipts are matched without the provider-id index.
        return Accepted(provider_message_id=reply["MessageId"], segments=request.segments, receipts_name_message=True)


# -- delivery events ----------------------------------------------------------------------------------------

DELIVERY_EVENT_DETAIL_TYPE = "Text Message Delivery Status Updated"
# Event types: configuration-sets-event-types in the AWS End User Messaging SMS user guide.
DELIVERED_EVENTS = frozenset({"TEXT_DELIVERED", "TEXT_SUCCESSFUL"})
UNDELIVERED_EVENTS = frozenset(
    {
        "TEXT_BLOCKED",
        "TEXT_TTL_EXPIRED",
        "TEXT_CARRIER_UNREACHABLE",
        "TEXT_INVALID",
        "TEXT_INVALID_MESSAGE",
        "TEXT_CARRIER_BLOCKED",
        "TEXT_UNREACHABLE",
        "TEXT_SPAM",
        "TEXT_UNKNOWN",
        "TEXT_PROTECT_BLOCKED",
    }
)
# Keys under which the deliver function may put our message id in SendTextMessage's Context.
CONTEXT_MESSAGE_ID_KEYS = ("messageId", "message_id")


def _reported_at(detail: Mapping[str, Any], received_at: datetime) -> datetime:
    stamp = detail.get("eventTimestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        try:
            return datetime.fromtimestamp(stamp / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            pass  # not a plausible epoch in milliseconds: fall back to when we received it
    return received_at


def receipt_from_event(detail_type: str, detail: Mapping[str, Any], received_at: datetime) -> Receipt | None:
    """The receipt in an EventBridge delivery event, or None when it is not a final receipt of one of ours.

    Only final events count: a non-final TEXT_CARRIER_UNREACHABLE may still turn into TEXT_DELIVERED. The
    template's rule already lets through only `detail.isFinal: true`; the same test here (a missing flag is not
    final, as for the rule) keeps a direct invocation or a widened rule from applying an intermediate state.
    """
    if detail_type != DELIVERY_EVENT_DETAIL_TYPE or detail.get("isFinal") is not True:
        return None
    event_type = str(detail.get("eventType", ""))
    if event_type in DELIVERED_EVENTS:
        status = MessageStatus.DELIVERED
    elif event_type in UNDELIVERED_EVENTS:
        status = MessageStatus.UNDELIVERED
    else:
        return None
    context = detail.get("context")
    if not isinstance(context, dict):
        return None
    message_id = next((str(context[k]) for k in CONTEXT_MESSAGE_ID_KEYS if context.get(k)), None)
    if message_id is None:
        return None
    return Receipt(
        provider=PROVIDER_NAME,
        status=status,
        reported_at=_reported_at(detail, received_at),
        provider_status=event_type,
        error_code=str(detail.get("messageStatus") or event_type) if status is MessageStatus.UNDELIVERED else None,
        message_id=message_id,
        provider_message_id=str(detail["messageId"]) if detail.get("messageId") else None,
    )


# -- two-way SMS (opt-out and opt-in replies) ---------------------------------------------------------------

# The opt-out keywords AWS itself answers and enforces (adds the number to the origination identity's opt-out
# list) unless self-managed opt-outs are enabled: https://docs.aws.amazon.com/sms-voice/latest/userguide/
# opt-out-list-keywords.html. We send no confirmation for these (the recipient would get two).
AWS_CONFIRMED_KEYWORDS = frozenset(
    {"arret", "cancel", "end", "opt-out", "optout", "quit", "remove", "stop", "td", "unsubscribe"}
)


@dataclass(frozen=True)
class TwoWayMessage:
    """An incoming SMS as two-way SMS publishes it to the number's SNS topic (JSON in the SNS `Message`):
    https://docs.aws.amazon.com/sms-voice/latest/userguide/two-way-sms-payload.html"""

    origination_number: str  # the customer who replied
    destination_number: str  # our number that received it
    body: str
    inbound_message_id: str | None
    keyword: str | None  # AWS's registered keyword the message matched, if any (informational)
    previous_published_message_id: str | None


class NotTwoWayMessage(ValueError):
    """The SNS message is not a two-way SMS payload (malformed JSON or missing numbers)."""


def two_way_message(sns_message: str) -> TwoWayMessage:
    """Parse the payload; raises NotTwoWayMessage for anything else (logged and dropped by the function)."""
    try:
        payload = json.loads(sns_message)
    except ValueError as exc:
        raise NotTwoWayMessage("not JSON") from exc
    if not isinstance(payload, dict):
        raise NotTwoWayMessage("not a JSON object")
    origination, destination = payload.get("originationNumber"), payload.get("destinationNumber")
    if not isinstance(origination, str) or not origination or not isinstance(destination, str) or not destination:
        raise NotTwoWayMessage("originationNumber and destinationNumber are required")
    body = payload.get("messageBody")

    def text(name: str) -> str | None:
        value = payload.get(name)
        return str(value) if value else None

    return TwoWayMessage(
        origination_number=origination,
        destination_number=destination,
        body=body if isinstance(body, str) else "",
        inbound_message_id=text("inboundMessageId"),
        keyword=text("messageKeyword"),
        previous_published_message_id=text("previousPublishedMessageId"),
    )


class TwoWayReplier:
    """Sends a keyword's confirmation back from the number that received the reply (SendTextMessage, TRANSACTIONAL:
    it answers the recipient's own request). Not charged to any tenant: honouring STOP is the platform's duty."""

    def __init__(self, client: PinpointSMSVoiceV2Client) -> None:
        self._client = client

    def reply(self, message: TwoWayMessage, text: str) -> str:
        answer = self._client.send_text_message(
            DestinationPhoneNumber=message.origination_number,
            OriginationIdentity=message.destination_number,
            MessageBody=text,
            MessageType="TRANSACTIONAL",
        )
        return str(answer.get("MessageId", ""))
