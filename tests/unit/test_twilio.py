"""Twilio's inbound formats: X-Twilio-Signature against Twilio's published example (and what must make it fail),
and status callbacks mapped to provider-neutral receipts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smscore.domain.errors import InvalidSignature
from smscore.domain.model import MessageStatus
from smscore.providers.twilio import (
    MAX_CALLBACK_BYTES,
    is_valid_signature,
    receipt_from_callback,
    request_signature,
    verified_callback_params,
)

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)

# Twilio's documented request-validation example (auth token "12345").
DOC_TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]
DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_reproduces_twilios_published_example() -> None:
    assert request_signature(DOC_URL, DOC_PARAMS, DOC_TOKEN) == DOC_SIGNATURE


def test_parameter_order_does_not_matter() -> None:
    assert request_signature(DOC_URL, list(reversed(DOC_PARAMS)), DOC_TOKEN) == DOC_SIGNATURE


def test_the_published_signature_is_valid() -> None:
    assert is_valid_signature(DOC_URL, DOC_PARAMS, DOC_TOKEN, DOC_SIGNATURE)


@pytest.mark.parametrize(
    ("url", "params", "token", "signature"),
    [
        (DOC_URL, [*DOC_PARAMS[:2], ("Digits", "9999"), *DOC_PARAMS[3:]], DOC_TOKEN, DOC_SIGNATURE),  # tampered value
        (DOC_URL, [*DOC_PARAMS, ("ErrorCode", "30003")], DOC_TOKEN, DOC_SIGNATURE),  # added parameter
        (DOC_URL, DOC_PARAMS[1:], DOC_TOKEN, DOC_SIGNATURE),  # removed parameter
        ("https://mycompany.com/other.php?foo=1&bar=2", DOC_PARAMS, DOC_TOKEN, DOC_SIGNATURE),  # other URL
        (DOC_URL, DOC_PARAMS, "54321", DOC_SIGNATURE),  # other account's token
        (DOC_URL, DOC_PARAMS, DOC_TOKEN, DOC_SIGNATURE.lower()),  # mangled header
        (DOC_URL, DOC_PARAMS, DOC_TOKEN, ""),  # empty header
        (DOC_URL, DOC_PARAMS, DOC_TOKEN, None),  # missing header
        (DOC_URL, DOC_PARAMS, "", request_signature(DOC_URL, DOC_PARAMS, "")),  # unconfigured token never passes
        (DOC_URL, DOC_PARAMS, DOC_TOKEN, "ü" * 28),  # non-ASCII garbage
    ],
)
def test_anything_else_is_invalid(url: str, params: list[tuple[str, str]], token: str, signature: str | None) -> None:
    assert not is_valid_signature(url, params, token, signature)


def test_verified_callback_params_refuse_before_reading_and_without_a_token() -> None:
    url, body = "https://api.example.test/dev/api/webhooks/twilio/status", "MessageSid=SM1&MessageStatus=delivered"
    good = request_signature(url, [("MessageSid", "SM1"), ("MessageStatus", "delivered")], "secret")
    asked: list[str] = []

    def token() -> str:
        asked.append("token")
        return "secret"

    assert verified_callback_params(body, good, url, token) == {"MessageSid": "SM1", "MessageStatus": "delivered"}
    for raw, signature, source in (
        (body, None, token),  # no signature: the token is not even read
        ("x" * (MAX_CALLBACK_BYTES + 1), good, token),  # oversized
        (body, good, lambda: None),  # credentials unreadable
        (body, "AAAA" + good[4:], token),  # tampered
    ):
        with pytest.raises(InvalidSignature):
            verified_callback_params(raw, signature, url, source)
    assert asked == ["token", "token"]


class TestTwilioMapping:
    @pytest.mark.parametrize(
        ("twilio_status", "ours"),
        [
            ("delivered", MessageStatus.DELIVERED),
            ("undelivered", MessageStatus.UNDELIVERED),
            ("failed", MessageStatus.UNDELIVERED),
            ("Delivered", MessageStatus.DELIVERED),
        ],
    )
    def test_final_statuses_map_to_ours(self, twilio_status: str, ours: MessageStatus) -> None:
        # Given a Twilio callback with a final status / When mapped / Then it is our final status
        mapped = receipt_from_callback({"MessageSid": "SM1", "MessageStatus": twilio_status}, NOW)
        assert mapped is not None
        assert mapped.status is ours
        assert mapped.provider_message_id == "SM1"
        assert mapped.provider == "twilio"

    @pytest.mark.parametrize("twilio_status", ["queued", "accepted", "sending", "sent", "scheduled", "", "bogus"])
    def test_intermediate_statuses_are_not_receipts(self, twilio_status: str) -> None:
        assert receipt_from_callback({"MessageSid": "SM1", "MessageStatus": twilio_status}, NOW) is None

    def test_undelivered_keeps_the_error_code(self) -> None:
        mapped = receipt_from_callback({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}, NOW)
        assert mapped is not None
        assert (mapped.status, mapped.error_code) == (MessageStatus.UNDELIVERED, "30003")

    def test_delivered_drops_a_stray_error_code(self) -> None:
        mapped = receipt_from_callback({"MessageSid": "SM1", "MessageStatus": "delivered", "ErrorCode": "0"}, NOW)
        assert mapped is not None
        assert mapped.error_code is None

    def test_a_callback_without_sid_is_not_a_receipt(self) -> None:
        assert receipt_from_callback({"MessageStatus": "delivered"}, NOW) is None
