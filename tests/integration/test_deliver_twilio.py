"""The Twilio provider against the fake Twilio server on loopback: request shape and error classification."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from smscore.domain.ports import (
    CredentialsUnavailable,
    OutcomeUnknown,
    PermanentFailure,
    SmsRequest,
    TransientFailure,
)
from smscore.providers.twilio import TwilioConfig, TwilioCredentials, TwilioProvider
from smsdev.fake_twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    INVALID_NUMBER,
    MESSAGING_SERVICE_SID,
    UNSUBSCRIBED_NUMBER,
    FakeTwilio,
)

OK_NUMBER = "+573001112233"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(hang_seconds=1.0) as server:
        yield server


def provider(fake: FakeTwilio, **config: object) -> TwilioProvider:
    settings = {
        "api_base_url": fake.url,
        "messaging_service_sid": MESSAGING_SERVICE_SID,
        "status_callback_url": "https://api.example.test/api/webhooks/twilio/status",
        "timeout_seconds": 0.3,
        **config,
    }
    return TwilioProvider(TwilioConfig(**settings), lambda: TwilioCredentials(ACCOUNT_SID, AUTH_TOKEN))  # type: ignore[arg-type]


def request(to: str, message_id: str = "m-1") -> SmsRequest:
    return SmsRequest(message_id=message_id, tenant_id="t-1", recipient=to, body="Hola 30% off", segments=1)


def test_success_posts_the_real_form_and_returns_the_message_sid(fake: FakeTwilio) -> None:
    # When a message is sent
    accepted = provider(fake).send(request(OK_NUMBER))
    # Then Twilio got one form-encoded POST on the account's Messages.json with Basic auth
    (received,) = fake.requests
    assert received.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert received.authorization == "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert received.form["To"] == OK_NUMBER
    assert received.form["Body"] == "Hola 30% off"
    assert received.form["MessagingServiceSid"] == MESSAGING_SERVICE_SID
    # (our message id in the callback URL, which Twilio signs whole: the receipt finds it by primary key)
    assert received.form["StatusCallback"] == "https://api.example.test/api/webhooks/twilio/status?messageId=m-1"
    assert "From" not in received.form
    # And the reply is read: the SM sid, no price yet (Twilio bills later)
    assert accepted.provider_message_id.startswith("SM")
    assert accepted.price is None
    assert accepted.provider_status == "accepted"
    # And, as the callbacks name our message, it needs no provider-id index entry
    assert accepted.receipts_name_message is True


def test_without_a_status_callback_url_the_receipts_need_the_provider_id_index(fake: FakeTwilio) -> None:
    # Given no StatusCallback URL of ours (callbacks, if any, come from the Messaging Service's own, without our id)
    accepted = provider(fake, status_callback_url=None).send(request(OK_NUMBER))
    # Then Twilio got no StatusCallback, and the message is to be found by Twilio's sid (the index entry stays)
    assert "StatusCallback" not in fake.requests[0].form
    assert accepted.receipts_name_message is False


def test_from_number_is_sent_when_there_is_no_messaging_service(fake: FakeTwilio) -> None:
    provider(fake, messaging_service_sid=None, from_number="+15005550006").send(request(OK_NUMBER))
    assert fake.requests[0].form["From"] == "+15005550006"
    assert "MessagingServiceSid" not in fake.requests[0].form


@pytest.mark.parametrize(("to", "code"), [(INVALID_NUMBER, "21211"), (UNSUBSCRIBED_NUMBER, "21610")])
def test_invalid_and_unsubscribed_numbers_are_permanent(fake: FakeTwilio, to: str, code: str) -> None:
    with pytest.raises(PermanentFailure) as failure:
        provider(fake).send(request(to))
    assert failure.value.code == code


@pytest.mark.parametrize(("reply", "code"), [(429, "20429"), (500, "20500"), (503, "20503")])
def test_throttling_and_server_errors_are_transient(fake: FakeTwilio, reply: int, code: str) -> None:
    # Given Twilio answers this number once with an error, then normally
    fake.script(OK_NUMBER, reply)
    twilio = provider(fake)
    with pytest.raises(TransientFailure) as failure:
        twilio.send(request(OK_NUMBER))
    assert failure.value.code == code
    assert not failure.value.permanent
    # Then the next attempt (same keep-alive connection) succeeds
    assert twilio.send(request(OK_NUMBER)).provider_message_id.startswith("SM")


def test_a_reply_slower_than_the_timeout_is_an_unknown_outcome(fake: FakeTwilio) -> None:
    fake.script(OK_NUMBER, "hang")
    twilio = provider(fake)
    with pytest.raises(OutcomeUnknown) as failure:
        twilio.send(request(OK_NUMBER))
    assert failure.value.code == "TIMEOUT"
    # And the provider recovers with a fresh connection
    assert twilio.send(request(OK_NUMBER)).provider_message_id.startswith("SM")


def test_wrong_credentials_are_transient_not_a_refund(fake: FakeTwilio) -> None:
    twilio = TwilioProvider(
        TwilioConfig(api_base_url=fake.url, messaging_service_sid=MESSAGING_SERVICE_SID, timeout_seconds=0.3),
        lambda: TwilioCredentials(ACCOUNT_SID, "wrong-token"),
    )
    with pytest.raises(TransientFailure) as failure:
        twilio.send(request(OK_NUMBER))
    assert failure.value.code == "20003"


def test_credentials_that_cannot_be_read_are_transient(fake: FakeTwilio) -> None:
    def unavailable() -> TwilioCredentials:
        raise CredentialsUnavailable("/stack/providers/twilio: GetParameterError")

    config = TwilioConfig(api_base_url=fake.url, messaging_service_sid=MESSAGING_SERVICE_SID)
    twilio = TwilioProvider(config, unavailable)
    with pytest.raises(TransientFailure) as failure:
        twilio.send(request(OK_NUMBER))
    assert failure.value.code == "CREDENTIALS_UNAVAILABLE"
    assert fake.requests == []


def test_nothing_listening_is_transient() -> None:
    with FakeTwilio() as gone:
        url = gone.url
    twilio = TwilioProvider(
        TwilioConfig(api_base_url=url, messaging_service_sid=MESSAGING_SERVICE_SID, timeout_seconds=0.3),
        lambda: TwilioCredentials(ACCOUNT_SID, AUTH_TOKEN),
    )
    with pytest.raises(TransientFailure) as failure:
        twilio.send(request(OK_NUMBER))
    assert not isinstance(failure.value, OutcomeUnknown)
