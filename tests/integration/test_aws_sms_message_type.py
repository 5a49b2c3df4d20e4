"""The MessageType of AWS End User Messaging SMS sends, from the template's default to the SendTextMessage call
the deliver function makes (botocore Stubber on the registry's own client: moto lacks the API)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from smscore import wiring
from smscore.domain.ports import SmsRequest
from smscore.providers.aws_sms import AwsSmsProvider
from smscore.providers.registry import default_registry
from smsdev.provision import function_environment
from tests.conftest import Stack


@pytest.fixture
def deliver_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in function_environment(stack.names, "DeliverFunction").items():
        monkeypatch.setenv(key, value)
    wiring.reset()
    yield
    wiring.reset()


def sent_message_type(expected: str) -> None:
    """Send one message through the registry's aws_sms provider; the stub refuses any other MessageType."""
    provider = default_registry(wiring.bound_settings()).get("aws_sms")
    assert isinstance(provider, AwsSmsProvider)
    client = provider._client
    with Stubber(client) as stubber:
        stubber.add_response(
            "send_text_message",
            {"MessageId": "aws-1"},
            {
                "DestinationPhoneNumber": "+573001234567",
                "MessageBody": "hola",
                "MessageType": expected,
                "Context": {"messageId": "m-1", "tenantId": "t-1"},
            },
        )
        request = SmsRequest(message_id="m-1", tenant_id="t-1", recipient="+573001234567", body="hola", segments=1)
        assert provider.send(request).provider_message_id == "aws-1"
        stubber.assert_no_pending_responses()


@pytest.mark.usefixtures("deliver_env")
def test_campaigns_go_out_as_promotional_by_default() -> None:
    sent_message_type("PROMOTIONAL")


@pytest.mark.usefixtures("deliver_env")
def test_the_setting_makes_them_transactional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SMS_MESSAGE_TYPE", "TRANSACTIONAL")
    wiring.reset()
    sent_message_type("TRANSACTIONAL")


@pytest.mark.usefixtures("deliver_env")
def test_an_unknown_message_type_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SMS_MESSAGE_TYPE", "MARKETING")
    wiring.reset()
    with pytest.raises(ValueError, match="aws_sms_message_type"):
        wiring.bound_settings()
