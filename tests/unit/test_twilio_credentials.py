"""The Twilio credentials JSON: which secret sends and which one verifies callbacks, in every accepted shape; and
the StatusCallback URL that carries our message id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from smscore.domain.model import MessageStatus
from smscore.domain.ports import CredentialsUnavailable
from smscore.providers.twilio import (
    TwilioCredentials,
    receipt_from_callback,
    status_callback_with_message_id,
)

AC, TOKEN, SK, SECRET = "AC" + "1" * 32, "auth-token", "SK" + "2" * 32, "key-secret"


@pytest.mark.parametrize(
    ("data", "sends_as", "verifies_with"),
    [
        pytest.param({"account_sid": AC, "auth_token": TOKEN}, (AC, TOKEN), TOKEN, id="auth-token-mode"),
        pytest.param(
            {"account_sid": AC, "auth_token": TOKEN, "api_key_sid": SK, "api_key_secret": SECRET},
            (SK, SECRET),
            TOKEN,
            id="api-key-mode",
        ),
        pytest.param(
            {"account_sid": AC, "api_key_sid": SK, "api_key_secret": SECRET}, (SK, SECRET), None, id="key-only"
        ),
        # The earlier API-key shape: the key secret under `auth_token`. It still sends; it cannot verify.
        pytest.param({"account_sid": AC, "api_key_sid": SK, "auth_token": SECRET}, (SK, SECRET), None, id="earlier"),
        pytest.param({"account_sid": AC, "auth_token": TOKEN, "api_key_sid": ""}, (AC, TOKEN), TOKEN, id="blank-key"),
    ],
)
def test_each_shape_sends_with_one_secret_and_verifies_with_the_auth_token(
    data: dict[str, Any], sends_as: tuple[str, str], verifies_with: str | None
) -> None:
    credentials = TwilioCredentials.from_json(data)
    assert credentials.basic_auth() == sends_as
    assert credentials.auth_token == verifies_with


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"auth_token": TOKEN}, id="no-account"),
        pytest.param({"account_sid": AC}, id="no-secret"),
        pytest.param({"account_sid": AC, "api_key_sid": SK}, id="key-without-secret"),
        pytest.param({"account_sid": AC, "auth_token": ""}, id="blank-token"),
    ],
)
def test_credentials_that_cannot_send_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises((KeyError, ValueError)):
        TwilioCredentials.from_json(data)


def test_credentials_built_without_any_secret_cannot_send() -> None:
    with pytest.raises(CredentialsUnavailable):
        TwilioCredentials(AC).basic_auth()


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("https://api.example.test/dev/api/webhooks/twilio/status", "…/status?messageId=m%2F1+x"),
        ("https://api.example.test/dev/api/webhooks/twilio/status?env=eu", "…/status?env=eu&messageId=m%2F1+x"),
    ],
)
def test_the_status_callback_url_names_our_message(configured: str, expected: str) -> None:
    url = status_callback_with_message_id(configured, "m/1 x")
    assert url == expected.replace("…", "https://api.example.test/dev/api/webhooks/twilio")


def test_a_callback_receipt_carries_our_id_and_twilios_sid() -> None:
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    with_id = receipt_from_callback(params, now, message_id="m-1")
    without = receipt_from_callback(params, now)
    assert with_id is not None
    assert without is not None
    assert (with_id.message_id, with_id.provider_message_id, with_id.status) == ("m-1", "SM1", MessageStatus.DELIVERED)
    assert (without.message_id, without.provider_message_id) == (None, "SM1")
