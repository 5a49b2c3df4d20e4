"""Which provider answers mean 'wait for the sender' (throttled), 'the sender is broken' (pause it) or 'this
recipient cannot be reached' (permanent, refunded): by HTTP status, code and reason, never by message text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from smscore.domain.ports import PermanentFailure, SenderUnavailable, SmsRequest, Throttled, TransientFailure
from smscore.providers.aws_sms import AwsSmsConfig, AwsSmsProvider
from smscore.providers.sandbox import InProcessCapacity, SandboxProvider
from smscore.providers.twilio import TwilioProvider
from tests.delivery_fakes import InMemoryOutbox

REQUEST = SmsRequest(message_id="m-1", tenant_id="t-1", recipient="+573001234567", body="hola", segments=1)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, "20429", Throttled),
        (400, "21611", Throttled),
        (401, "20003", SenderUnavailable),
        (400, "21606", SenderUnavailable),
        (400, "21211", PermanentFailure),
        (400, "21610", PermanentFailure),
        (503, "20500", TransientFailure),
    ],
)
def test_twilio_errors(status: int, code: str, kind: type[Exception]) -> None:
    with pytest.raises(kind) as failure:
        TwilioProvider._interpret(status, {"code": int(code), "message": "nope", "status": status})
    assert type(failure.value) is kind
    assert failure.value.code == code  # type: ignore[attr-defined]


@pytest.fixture
def stubbed(aws_env: None) -> Iterator[tuple[AwsSmsProvider, Stubber]]:
    client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield AwsSmsProvider(client, AwsSmsConfig(origination_identity="+15550100000")), stubber


@pytest.mark.parametrize(
    ("error", "reason", "status", "kind"),
    [
        ("ThrottlingException", None, 400, Throttled),
        ("ServiceQuotaExceededException", "TEXT_MESSAGES_PER_SECOND", 402, Throttled),
        ("ServiceQuotaExceededException", "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT", 402, SenderUnavailable),
        ("ConflictException", "RESOURCE_NOT_ACTIVE", 409, SenderUnavailable),
        ("ValidationException", "INVALID_IDENTITY_FOR_DESTINATION_COUNTRY", 400, SenderUnavailable),
        ("AccessDeniedException", "ACCOUNT_DISABLED", 403, SenderUnavailable),
        ("ResourceNotFoundException", None, 404, SenderUnavailable),
        ("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT", 409, PermanentFailure),
        ("ValidationException", "CANNOT_PARSE", 400, PermanentFailure),
        ("InternalServerException", None, 500, TransientFailure),
    ],
)
def test_aws_errors(
    stubbed: tuple[AwsSmsProvider, Stubber], error: str, reason: str | None, status: int, kind: type[Exception]
) -> None:
    provider, stubber = stubbed
    stubber.add_client_error(
        "send_text_message",
        service_error_code=error,
        http_status_code=status,
        modeled_fields={"Message": "nope", **({"Reason": reason} if reason else {})},
    )
    with pytest.raises(kind) as failure:
        provider.send(REQUEST)
    assert type(failure.value) is kind


def test_the_sandbox_answers_429_above_its_capacity_in_each_second() -> None:
    # Given a sandbox carrier with a capacity of 2 messages/second and a clock frozen inside one second
    at = [datetime(2026, 11, 27, 12, 0, 0, 100_000, tzinfo=UTC)]
    outbox = InMemoryOutbox()
    sandbox = SandboxProvider(outbox, capacity_mps=2, capacity=InProcessCapacity(), clock=lambda: at[0])
    # When 3 messages are sent in that second: the third is throttled, not accepted
    sandbox.send(REQUEST)
    sandbox.send(SmsRequest("m-2", "t-1", "+573001234568", "hola", 1))
    with pytest.raises(Throttled) as throttled:
        sandbox.send(SmsRequest("m-3", "t-1", "+573001234569", "hola", 1))
    assert throttled.value.code == "SANDBOX_CAPACITY_429"
    assert set(outbox.entries) == {"m-1", "m-2"}
    # And in the next second it is accepted
    at[0] = at[0].replace(second=1)
    sandbox.send(SmsRequest("m-3", "t-1", "+573001234569", "hola", 1))
    assert set(outbox.entries) == {"m-1", "m-2", "m-3"}
