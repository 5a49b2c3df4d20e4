"""Sandbox test numbers and the AWS End User Messaging SMS provider (botocore Stubber: moto lacks the API)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from smscore.domain.ports import OutcomeUnknown, PermanentFailure, SmsRequest, TransientFailure
from smscore.providers.aws_sms import AwsSmsConfig, AwsSmsProvider
from smscore.providers.sandbox import (
    PERMANENT_INVALID_NUMBER,
    PERMANENT_OPTED_OUT_NUMBER,
    TIMEOUT_NUMBER,
    TRANSIENT_THROTTLED_NUMBER,
    SandboxProvider,
)
from tests.delivery_fakes import InMemoryOutbox


def request(to: str, message_id: str = "m-1") -> SmsRequest:
    return SmsRequest(message_id=message_id, tenant_id="t-1", recipient=to, body="hola", segments=1)


class TestSandbox:
    def test_accepts_records_in_the_outbox_and_is_idempotent_by_message_id(self) -> None:
        # Given the sandbox with an outbox
        outbox = InMemoryOutbox()
        sandbox = SandboxProvider(outbox)
        # When the same message is sent twice (a retry after a crash in the window)
        first = sandbox.send(request("+573001234567"))
        second = sandbox.send(request("+573001234567"))
        # Then the second request returns the first provider id: one delivery, two requests counted
        assert second.provider_message_id == first.provider_message_id
        assert outbox.entries["m-1"].send_count == 2
        assert first.price == "0.0000"

    @pytest.mark.parametrize(
        ("number", "code"), [(PERMANENT_INVALID_NUMBER, "SANDBOX_21211"), (PERMANENT_OPTED_OUT_NUMBER, "SANDBOX_21610")]
    )
    def test_permanent_test_numbers(self, number: str, code: str) -> None:
        outbox = InMemoryOutbox()
        with pytest.raises(PermanentFailure) as failure:
            SandboxProvider(outbox).send(request(number))
        assert failure.value.code == code
        assert outbox.entries == {}

    def test_transient_test_number(self) -> None:
        with pytest.raises(TransientFailure) as failure:
            SandboxProvider(InMemoryOutbox()).send(request(TRANSIENT_THROTTLED_NUMBER))
        assert failure.value.code == "SANDBOX_429"

    def test_timeout_test_number_waits_then_reports_an_unknown_outcome(self) -> None:
        waits: list[float] = []
        with pytest.raises(OutcomeUnknown):
            SandboxProvider(InMemoryOutbox(), timeout_seconds=3, sleep=waits.append).send(request(TIMEOUT_NUMBER))
        assert waits == [3]

    def test_latency_is_applied(self) -> None:
        waits: list[float] = []
        SandboxProvider(InMemoryOutbox(), latency_ms=50, sleep=waits.append).send(request("+573001234567"))
        assert waits == [0.05]


@pytest.fixture
def stubbed(aws_env: None) -> Iterator[tuple[AwsSmsProvider, Stubber]]:
    client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
    config = AwsSmsConfig(
        origination_identity="+15550100000", configuration_set="sms-events", max_price="0.05", time_to_live_seconds=300
    )
    with Stubber(client) as stubber:
        yield AwsSmsProvider(client, config), stubber
        stubber.assert_no_pending_responses()


class TestAwsSms:
    def test_sends_with_origination_identity_config_set_price_ttl_and_our_id_in_context(
        self, stubbed: tuple[AwsSmsProvider, Stubber]
    ) -> None:
        provider, stubber = stubbed
        stubber.add_response(
            "send_text_message",
            {"MessageId": "aws-123"},
            {
                "DestinationPhoneNumber": "+573001234567",
                "OriginationIdentity": "+15550100000",
                "MessageBody": "hola",
                "MessageType": "PROMOTIONAL",  # campaigns, unless configured: AWS reserves TRANSACTIONAL
                "ConfigurationSetName": "sms-events",
                "MaxPrice": "0.05",
                "TimeToLive": 300,
                "Context": {"messageId": "m-1", "tenantId": "t-1"},
            },
        )
        accepted = provider.send(request("+573001234567"))
        assert accepted.provider_message_id == "aws-123"
        assert accepted.price is None
        # Every delivery event echoes the Context: the message needs no provider-id index entry to be found
        assert accepted.receipts_name_message is True

    def test_the_message_type_is_configurable(self, aws_env: None) -> None:
        client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
        provider = AwsSmsProvider(client, AwsSmsConfig(message_type="TRANSACTIONAL"))
        with Stubber(client) as stubber:
            expected = {
                "DestinationPhoneNumber": "+573001234567",
                "MessageBody": "hola",
                "MessageType": "TRANSACTIONAL",
                "Context": {"messageId": "m-1", "tenantId": "t-1"},
            }
            stubber.add_response("send_text_message", {"MessageId": "aws-9"}, expected)
            assert provider.send(request("+573001234567")).provider_message_id == "aws-9"
            stubber.assert_no_pending_responses()

    @pytest.mark.parametrize(
        ("error", "reason", "status", "permanent"),
        [
            ("ValidationException", "CANNOT_PARSE", 400, True),
            ("ValidationException", "DESTINATION_COUNTRY_BLOCKED", 400, True),
            ("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT", 409, True),
            ("ThrottlingException", None, 400, False),
            ("ServiceQuotaExceededException", "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT", 402, False),
            ("InternalServerException", None, 500, False),
            ("AccessDeniedException", None, 403, False),
        ],
    )
    def test_errors_are_classified_by_code_and_reason(
        self, stubbed: tuple[AwsSmsProvider, Stubber], error: str, reason: str | None, status: int, permanent: bool
    ) -> None:
        provider, stubber = stubbed
        stubber.add_client_error(
            "send_text_message",
            service_error_code=error,
            http_status_code=status,
            modeled_fields={"Message": "nope", **({"Reason": reason} if reason else {})},
        )
        with pytest.raises(PermanentFailure if permanent else TransientFailure) as failure:
            provider.send(request("+573001234567"))
        assert failure.value.code == (f"{error}:{reason}" if reason else error)
        assert failure.value.permanent is permanent
