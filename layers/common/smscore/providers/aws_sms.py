"""AWS End User Messaging SMS (`pinpoint-sms-voice-v2` SendTextMessage).

Sends from a configured origination identity (phone number, sender id or pool ARN) with an optional
configuration set (where delivery events are published), MaxPrice (per segment, USD) and TimeToLive.
Our message id and tenant id travel in `Context`, which AWS echoes in every delivery event, so receipts
can be matched without storing the AWS MessageId first. Price is not in the reply (it arrives in events).

Credentials are the function's IAM role; nothing secret is configured. The client is built with botocore
retries off (max_attempts=1): retries, backoff and failover are the delivery policy's job, and a botocore
retry after a read timeout would be an invisible duplicate.

Classification by error code and `Reason`, never by message text:
- ThrottlingException, InternalServerException, ServiceQuotaExceededException (spend limit reached),
  AccessDeniedException, ResourceNotFoundException (our configuration): transient;
- ValidationException (unparseable or blocked destination, price over MaxPrice, ...) and ConflictException
  (DESTINATION_PHONE_NUMBER_OPTED_OUT, ...): permanent;
- read timeout / connection closed: OutcomeUnknown; cannot connect: transient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from smscore.providers.base import Accepted, OutcomeUnknown, PermanentFailure, SmsProvider, SmsRequest, TransientFailure

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


@dataclass(frozen=True)
class AwsSmsConfig:
    origination_identity: str | None = None
    configuration_set: str | None = None
    max_price: str | None = None  # USD per segment, e.g. "0.05"
    time_to_live_seconds: int | None = None
    message_type: str = "TRANSACTIONAL"


class AwsSmsProvider(SmsProvider):
    name: ClassVar[str] = "aws_sms"
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
            if code in PERMANENT_ERRORS:
                raise PermanentFailure(full_code, str(error.get("Message", ""))) from exc
            if code in TRANSIENT_ERRORS or status >= 500 or status == 0:
                raise TransientFailure(full_code, str(error.get("Message", ""))) from exc
            raise PermanentFailure(full_code, str(error.get("Message", ""))) from exc
        except (ReadTimeoutError, ConnectionClosedError) as exc:
            raise OutcomeUnknown("TIMEOUT", type(exc).__name__) from exc
        except (ConnectTimeoutError, EndpointConnectionError) as exc:
            raise TransientFailure("CONNECTION_FAILED", type(exc).__name__) from exc
        return Accepted(provider_message_id=reply["MessageId"], segments=request.segments)
