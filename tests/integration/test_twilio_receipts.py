"""Issue 12, item 5 on moto: Twilio receipts found by the message id in the signed callback URL, API-key mode
signatures (sent with the key, verified with the account's Auth Token), and receipts that stay with their provider
(Twilio callbacks and AWS SMS events alike)."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from functions.deliver import app as deliver_app
from smscore import wiring
from smscore.dal.message_queries import DynamoMessageQueries
from smscore.dal.receipt_store import DynamoReceiptStore
from smscore.dal.tables import MessageRecord, TenantRecord
from smscore.domain.receipts import ReceiptOutcome
from smscore.providers.registry import twilio_credentials_from
from smscore.providers.twilio import request_signature
from smsdev.fake_twilio import ACCOUNT_SID, MESSAGING_SERVICE_SID, FakeTwilio
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack, load_event
from tests.integration.conftest import Campaign
from tests.integration.receipts_helpers import (
    CALLBACK_URL,
    FUNCTION_URL,
    deliver_as_sent,
    drain_receipts,
    function_url_event,
    post_twilio,
    provider_id,
    put_sms_event,
    twilio_event,
)
from tests.integration.test_webhooks import send_one, sms_event

ACCOUNT_AUTH_TOKEN = "account-auth-token"
API_KEY_SID = "SK" + "5" * 32
API_KEY_SECRET = "api-key-secret"


@pytest.fixture(autouse=True)
def _forget_cached_credentials() -> Iterator[None]:
    """Powertools caches parameters per process: credentials stored here must not outlive these tests."""
    yield
    parameters.clear_caches()


def _basic(user: str, secret: str) -> str:
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def put_credentials(credentials: dict[str, str]) -> None:
    """The credentials JSON in SSM, and Powertools' 5-minute cache of the previous value forgotten."""
    parameters.clear_caches()
    settings = wiring.bound_settings()
    boto3.client("ssm", region_name=settings.aws_region).put_parameter(
        Name=settings.twilio_credentials_parameter, Value=json.dumps(credentials), Type="SecureString", Overwrite=True
    )


def delivered(message_id: str) -> dict[str, str]:
    return {"MessageSid": provider_id(message_id), "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}


def callback_to(url: str, params: dict[str, str], *, signed_with: str, signed_url: str | None = None) -> dict[str, Any]:
    """Twilio's POST to `url` (query included, as API Gateway presents it), signed for `signed_url` or `url`."""
    event = twilio_event(params, request_signature(signed_url or url, list(params.items()), signed_with))
    query = parse_qs(urlsplit(url).query)
    event["queryStringParameters"] = {name: values[-1] for name, values in query.items()} or None
    event["multiValueQueryStringParameters"] = query or None
    return event


def post(event: dict[str, Any], receipts: wiring.ReceiptsDeps | None = None) -> tuple[int, dict[str, Any]]:
    """The webhook, then the receipts consumer (with `receipts`) over what it queued: see post_twilio."""
    return post_twilio(event, receipts=receipts)


def statuses(message_id: str) -> tuple[str, list[str]]:
    record = MessageRecord.get(message_id, consistent_read=True)
    return record.status, [change.status for change in record.history]


class IndexNotYetUpdated:
    """by_provider_message_id right after the send: the GSI is eventually consistent and has nothing yet."""

    def find_by_provider_message_id(self, provider_message_id: str) -> str | None:
        return None


@pytest.fixture
def lagging_index_deps(stack: Stack) -> wiring.ReceiptsDeps:
    store = DynamoReceiptStore(region=stack.names.region, index=IndexNotYetUpdated())
    return dataclasses.replace(wiring.receipts_deps(), receipts=store)


class TestStatusCallbacksOnTheFunctionUrl:
    """The URL the deliver function gives Twilio: the webhook's function URL (payload format 2.0), no API Gateway."""

    def test_a_callback_signed_for_the_function_url_is_queued_and_applied(self, campaign: Campaign) -> None:
        # Given a SENT Twilio message
        put_credentials({"account_sid": ACCOUNT_SID, "auth_token": ACCOUNT_AUTH_TOKEN})
        _, message_id = send_one(campaign)
        deliver_as_sent(message_id, provider="twilio")
        # When Twilio posts its receipt to the function URL with our id, signed for exactly that URL
        url = f"{FUNCTION_URL}?messageId={message_id}"
        signature = request_signature(url, list(delivered(message_id).items()), ACCOUNT_AUTH_TOKEN)
        # Then it is queued (200), and the receipts consumer applies it once
        assert post(function_url_event(url, delivered(message_id), signature)) == (200, {"outcome": "APPLIED"})
        assert statuses(message_id) == ("DELIVERED", ["QUEUED", "SENDING", "SENT", "DELIVERED"])

    @pytest.mark.parametrize("signed_for", ["rest-route", "other-message", "no-signature"])
    def test_a_callback_not_signed_for_the_function_url_it_reached_is_refused(
        self, campaign: Campaign, signed_for: str
    ) -> None:
        # Given a SENT Twilio message
        put_credentials({"account_sid": ACCOUNT_SID, "auth_token": ACCOUNT_AUTH_TOKEN})
        _, message_id = send_one(campaign)
        deliver_as_sent(message_id, provider="twilio")
        url = f"{FUNCTION_URL}?messageId={message_id}"
        signed_url = {
            "rest-route": f"{CALLBACK_URL}?messageId={message_id}",
            "other-message": f"{FUNCTION_URL}?messageId={uuid.uuid4()}",
            "no-signature": url,
        }[signed_for]
        signature = request_signature(signed_url, list(delivered(message_id).items()), ACCOUNT_AUTH_TOKEN)
        # When it reaches the function URL signed for another URL (or not signed)
        event = function_url_event(url, delivered(message_id), None if signed_for == "no-signature" else signature)
        status, body = post(event)
        # Then it is refused with the API's error body, nothing is queued, and the message stays SENT
        assert (status, body["code"]) == (403, "INVALID_SIGNATURE")
        assert drain_receipts() == []
        assert statuses(message_id) == ("SENT", ["QUEUED", "SENDING", "SENT"])


class TestReceiptFoundByTheIdInTheCallbackUrl:
    def test_a_receipt_ahead_of_the_index_is_applied_by_primary_key(
        self, campaign: Campaign, lagging_index_deps: wiring.ReceiptsDeps
    ) -> None:
        # Given a message Twilio accepted moments ago: the by_provider_message_id index does not have it yet
        put_credentials({"account_sid": ACCOUNT_SID, "auth_token": ACCOUNT_AUTH_TOKEN})
        _, message_id = send_one(campaign)
        deliver_as_sent(message_id, provider="twilio")
        # When its receipt arrives at the URL the deliver function gives Twilio, with our id in the signed query
        url = f"{CALLBACK_URL}?messageId={message_id}"
        status = post(callback_to(url, delivered(message_id), signed_with=ACCOUNT_AUTH_TOKEN), lagging_index_deps)
        # Then it is found by primary key and applied, once
        assert status == (200, {"outcome": "APPLIED"})
        assert statuses(message_id) == ("DELIVERED", ["QUEUED", "SENDING", "SENT", "DELIVERED"])

    def test_an_old_style_receipt_ahead_of_the_index_is_parked_then_applied_by_its_retry(
        self, campaign: Campaign, lagging_index_deps: wiring.ReceiptsDeps
    ) -> None:
        # Given a message Twilio accepted moments ago: the by_provider_message_id index does not have it yet
        put_credentials({"account_sid": ACCOUNT_SID, "auth_token": ACCOUNT_AUTH_TOKEN})
        _, message_id = send_one(campaign)
        deliver_as_sent(message_id, provider="twilio")
        # When its receipt arrives without our id (a callback at an old StatusCallback URL)
        old_style = post(
            callback_to(CALLBACK_URL, delivered(message_id), signed_with=ACCOUNT_AUTH_TOKEN), lagging_index_deps
        )
        # Then it is kept, not dropped: parked under Twilio's id, its record left for a retry; nothing moved yet
        assert old_style == (200, {"outcome": "PARKED"})
        assert statuses(message_id) == ("SENT", ["QUEUED", "SENDING", "SENT"])
        # When SQS hands it back and the index has caught up / Then it is applied, once, and the record is done
        assert drain_receipts() == [ReceiptOutcome.APPLIED]
        assert drain_receipts() == []
        assert statuses(message_id) == ("DELIVERED", ["QUEUED", "SENDING", "SENT", "DELIVERED"])

    def test_the_id_in_the_url_is_covered_by_the_signature(
        self, campaign: Campaign, lagging_index_deps: wiring.ReceiptsDeps
    ) -> None:
        # Given two SENT Twilio messages
        put_credentials({"account_sid": ACCOUNT_SID, "auth_token": ACCOUNT_AUTH_TOKEN})
        _, first = send_one(campaign)
        _, second = send_one(campaign)
        deliver_as_sent(first, second, provider="twilio")
        # When a callback signed for the first message's URL arrives naming the second one in the query
        event = callback_to(
            f"{CALLBACK_URL}?messageId={second}",
            delivered(first),
            signed_with=ACCOUNT_AUTH_TOKEN,
            signed_url=f"{CALLBACK_URL}?messageId={first}",
        )
        # Then the signature does not hold: refused, and neither message moves
        status, body = post(event, lagging_index_deps)
        assert (status, body["code"]) == (403, "INVALID_SIGNATURE")
        assert [statuses(m)[0] for m in (first, second)] == ["SENT", "SENT"]

    @pytest.mark.parametrize("sent_by", ["sandbox", "aws_sms"])
    def test_a_twilio_callback_naming_another_providers_message_changes_nothing(
        self, campaign: Campaign, lagging_index_deps: wiring.ReceiptsDeps, sent_by: str
    ) -> None:
        # Given a message the sandbox (or AWS) sent
        put_credentials({"account_sid": ACCOUNT_SID, "auth_token": ACCOUNT_AUTH_TOKEN})
        _, message_id = send_one(campaign)
        deliver_as_sent(message_id, provider=sent_by)
        # When a correctly signed Twilio callback names it by our id
        url = f"{CALLBACK_URL}?messageId={message_id}"
        status = post(callback_to(url, delivered(message_id), signed_with=ACCOUNT_AUTH_TOKEN), lagging_index_deps)
        # Then Twilio cannot speak for it
        assert status == (200, {"outcome": "UNKNOWN_MESSAGE"})
        assert statuses(message_id) == ("SENT", ["QUEUED", "SENDING", "SENT"])


class TestAwsEventsStayWithAws:
    @pytest.mark.parametrize("sent_by", ["sandbox", "twilio"])
    def test_an_aws_event_for_another_providers_message_changes_nothing(
        self, stack: Stack, campaign: Campaign, sent_by: str
    ) -> None:
        # Given a message another provider sent / When an AWS delivery event names it in its Context
        _, message_id = send_one(campaign)
        deliver_as_sent(message_id, provider=sent_by)
        result = put_sms_event(sms_event(message_id, "TEXT_CARRIER_BLOCKED"))
        # Then nothing moves
        assert result == {"outcome": "UNKNOWN_MESSAGE"}
        assert statuses(message_id) == ("SENT", ["QUEUED", "SENDING", "SENT"])

    def test_an_event_without_is_final_is_not_a_receipt(self, stack: Stack, campaign: Campaign) -> None:
        # Given an AWS message / When an event arrives without isFinal (the rule would not pass it on)
        _, message_id = send_one(campaign)
        deliver_as_sent(message_id, provider="aws_sms")
        event = sms_event(message_id, "TEXT_CARRIER_UNREACHABLE")
        del event["detail"]["isFinal"]
        # Then it is not applied: an intermediate state is never final by default
        assert put_sms_event(event) == {"outcome": None}
        assert statuses(message_id)[0] == "SENT"


@pytest.fixture
def twilio_deliver_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    """The deliver function's template environment, pointed at a fake Twilio that takes the API key."""
    with (
        serialised_moto(),
        FakeTwilio(auth_token="only-the-api-key-is-used", api_key=(API_KEY_SID, API_KEY_SECRET)) as fake,
    ):
        environment = {
            **function_environment(stack.names, "DeliverFunction"),
            "TWILIO_API_BASE_URL": fake.url,
            "TWILIO_MESSAGING_SERVICE_SID": MESSAGING_SERVICE_SID,
            "TWILIO_STATUS_CALLBACK_URL": CALLBACK_URL,
        }
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        wiring.reset()
        try:
            yield fake
        finally:
            wiring.reset()


def deliver_queued(stack: Stack) -> dict[str, Any]:
    template = load_event("sqs_delivery_batch.json")["Records"][0]
    records = []
    for body in stack.drain_delivery_queue():
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps(body)
        records.append(record)
    result: dict[str, Any] = deliver_app.lambda_handler({"Records": records}, LambdaContextStub(remaining_ms=55_000))
    return result


class TestApiKeyMode:
    def test_sends_with_the_api_key_and_verifies_receipts_with_the_auth_token(
        self, stack: Stack, campaign: Campaign, twilio_deliver_env: FakeTwilio, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Given API-key credentials with the account's Auth Token next to them, and a tenant on Twilio
        put_credentials(
            {
                "account_sid": ACCOUNT_SID,
                "auth_token": ACCOUNT_AUTH_TOKEN,
                "api_key_sid": API_KEY_SID,
                "api_key_secret": API_KEY_SECRET,
            }
        )
        TenantRecord(campaign.tenant_id).update(actions=[TenantRecord.provider.set("twilio")])
        _, message_id = send_one(campaign)
        # When the production deliver function sends it
        assert deliver_queued(stack) == {"batchItemFailures": []}
        # Then Twilio was called with the API key, and given a callback URL that names our message
        (request,) = twilio_deliver_env.requests
        assert request.authorization == "Basic " + _basic(API_KEY_SID, API_KEY_SECRET)
        status_callback = request.form["StatusCallback"]
        assert status_callback == f"{CALLBACK_URL}?messageId={message_id}"
        record = MessageRecord.get(message_id, consistent_read=True)
        assert (record.status, record.provider) == ("SENT", "twilio")
        # And the callbacks name our message, so SENT wrote no provider-id index entry (Twilio's sid kept unindexed)
        assert (record.provider_message_id, (record.provider_ref or "")[:2]) == (None, "SM")
        # When Twilio posts the receipt to that URL (the deployed webhook rebuilds it from the request)
        monkeypatch.delenv("TWILIO_STATUS_CALLBACK_URL")
        wiring.reset()
        params = {"MessageSid": record.sent_provider_id(), "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
        with_key_secret = post(callback_to(status_callback, params, signed_with=API_KEY_SECRET))
        with_auth_token = post(callback_to(status_callback, params, signed_with=ACCOUNT_AUTH_TOKEN))
        # Then only the Auth Token's signature is Twilio's: that receipt is applied, the other refused
        assert (with_key_secret[0], with_key_secret[1]["code"]) == (403, "INVALID_SIGNATURE")
        assert with_auth_token == (200, {"outcome": "APPLIED"})
        assert statuses(message_id) == ("DELIVERED", ["QUEUED", "SENDING", "SENT", "DELIVERED"])

    def test_a_message_sent_with_the_function_url_is_delivered_by_its_callback_there(
        self, stack: Stack, campaign: Campaign, twilio_deliver_env: FakeTwilio, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Given the deliver function configured as deployed: Twilio's StatusCallback is the webhook's function URL
        put_credentials(
            {
                "account_sid": ACCOUNT_SID,
                "auth_token": ACCOUNT_AUTH_TOKEN,
                "api_key_sid": API_KEY_SID,
                "api_key_secret": API_KEY_SECRET,
            }
        )
        monkeypatch.setenv("TWILIO_STATUS_CALLBACK_URL", FUNCTION_URL)
        wiring.reset()
        TenantRecord(campaign.tenant_id).update(actions=[TenantRecord.provider.set("twilio")])
        _, message_id = send_one(campaign)
        # When the deliver function sends it
        assert deliver_queued(stack) == {"batchItemFailures": []}
        (request,) = twilio_deliver_env.requests
        status_callback = request.form["StatusCallback"]
        assert status_callback == f"{FUNCTION_URL}?messageId={message_id}"
        # Then SENT wrote no provider-id index entry (the callbacks name the message)
        record = MessageRecord.get(message_id, consistent_read=True)
        assert record.provider_message_id is None
        assert list(MessageRecord.by_provider_message_id.query(record.sent_provider_id())) == []
        # When Twilio posts "sent" then "delivered" to that URL, signed for it, as a function URL event
        for twilio_status, answer in (("sent", {"outcome": None}), ("delivered", {"outcome": "APPLIED"})):
            sid = record.sent_provider_id() or ""
            params = {"MessageSid": sid, "MessageStatus": twilio_status, "AccountSid": ACCOUNT_SID}
            signature = request_signature(status_callback, list(params.items()), ACCOUNT_AUTH_TOKEN)
            assert post(function_url_event(status_callback, params, signature)) == (200, answer)
        # Then the message is DELIVERED, once, and its view still shows Twilio's id (kept unindexed)
        assert statuses(message_id) == ("DELIVERED", ["QUEUED", "SENDING", "SENT", "DELIVERED"])
        view = DynamoMessageQueries().message(campaign.tenant_id, message_id)
        assert view is not None
        assert (view.provider_message_id or "").startswith("SM")

    def test_the_earlier_api_key_shape_still_sends_and_refuses_callbacks_it_cannot_verify(
        self, stack: Stack, campaign: Campaign
    ) -> None:
        # Given the earlier JSON shape: an API key whose secret sits under `auth_token`, no Auth Token at all
        put_credentials({"account_sid": ACCOUNT_SID, "api_key_sid": API_KEY_SID, "auth_token": API_KEY_SECRET})
        credentials = twilio_credentials_from(wiring.bound_settings().twilio_credentials_parameter)()
        # Then it still sends with the key
        assert credentials.basic_auth() == (API_KEY_SID, API_KEY_SECRET)
        assert credentials.auth_token is None
        # And a callback (signed with the key secret, or with anything) is refused rather than trusted
        _, message_id = send_one(campaign)
        deliver_as_sent(message_id, provider="twilio")
        url = f"{CALLBACK_URL}?messageId={message_id}"
        for secret in (API_KEY_SECRET, ACCOUNT_AUTH_TOKEN):
            status, body = post(callback_to(url, delivered(message_id), signed_with=secret))
            assert (status, body["code"]) == (403, "INVALID_SIGNATURE")
        assert statuses(message_id)[0] == "SENT"
