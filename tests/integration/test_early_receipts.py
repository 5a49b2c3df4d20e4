"""Issue 20, item 4: a receipt that overtakes our own SENT write is kept and applied once the message is SENT.

The provider calls back from inside its send, before the deliver function has recorded SENT: the receipt is
parked, and the deliver function's SENT write applies it (once, through the same forward-only transition).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smscore import wiring
from smscore.dal.dispatch_counts import load_dispatch
from smscore.dal.tables import MessageRecord, TenantRecord
from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.ports import Accepted, SmsProvider, SmsRequest
from smscore.domain.receipts import ReceiptOutcome, apply_parked
from smscore.providers.registry import ProviderRegistry
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack, load_event
from tests.integration.conftest import Campaign
from tests.integration.receipts_helpers import (
    CALLBACK_URL,
    TWILIO_AUTH_TOKEN,
    drain_receipts,
    install_twilio_credentials,
    provider_id,
    put_sms_event,
)
from tests.integration.test_twilio_receipts import ACCOUNT_SID, callback_to, post
from tests.integration.test_webhooks import send_one, sms_event

Callback = Callable[[str], None]


class CallsBackWhileSending(SmsProvider):
    """Accepts every message as `provider_id(message id)`, after running `during_send` (the provider's early
    receipts, posted before the deliver function records SENT)."""

    character_limit = 1600

    def __init__(self, during_send: Callback) -> None:
        self.during_send = during_send

    def send(self, request: SmsRequest) -> Accepted:
        self.during_send(request.message_id)
        return Accepted(provider_message_id=provider_id(request.message_id), segments=request.segments)


def deliver_through(stack: Stack, provider: str, during_send: Callback) -> dict[str, Any]:
    """The production deliver function over the queued records, with `provider` calling back while it sends."""
    fake = type(f"CallsBack_{provider}", (CallsBackWhileSending,), {"name": provider})(during_send)
    deps = wiring.build_deliver_deps(wiring.bound_settings(), ProviderRegistry({provider: lambda: fake}))
    template = load_event("sqs_delivery_batch.json")["Records"][0]
    records = [
        dict(template, messageId=f"r{i}", body=json.dumps(body)) for i, body in enumerate(stack.drain_delivery_queue())
    ]
    from functions.deliver import app as deliver_app

    result: dict[str, Any] = deliver_app.lambda_handler(
        {"Records": records}, LambdaContextStub(remaining_ms=55_000), deps=deps
    )
    return result


def twilio_callback(message_id: str, status: str, error_code: str | None = None) -> dict[str, Any]:
    """Twilio's signed status callback at the URL the deliver function gives it (our id in the signed query)."""
    params = {"MessageSid": provider_id(message_id), "MessageStatus": status, "AccountSid": ACCOUNT_SID}
    if error_code:
        params["ErrorCode"] = error_code
    return callback_to(f"{CALLBACK_URL}?messageId={message_id}", params, signed_with=TWILIO_AUTH_TOKEN)


def state(message_id: str) -> tuple[str, list[str], str | None]:
    record = MessageRecord.get(message_id, consistent_read=True)
    return record.status, [change.status for change in record.history], record.provider_error_code


def counts(queue_id: str) -> dict[str, int]:
    d = load_dispatch(queue_id)
    return {"SENT": int(d.count_sent), "DELIVERED": int(d.count_delivered), "UNDELIVERED": int(d.count_undelivered)}


def assert_delivered_once(queue_id: str, message_id: str) -> None:
    """DELIVERED, after SENT, once in its history and once in the campaign's counters."""
    assert state(message_id) == ("DELIVERED", ["QUEUED", "SENDING", "SENT", "DELIVERED"], None)
    assert counts(queue_id) == {"SENT": 0, "DELIVERED": 1, "UNDELIVERED": 0}


@pytest.fixture(autouse=True)
def deliver_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The deliver function's template environment (the webhooks read the same tables and callback URL)."""
    with serialised_moto():
        environment = {
            **function_environment(stack.names, "DeliverFunction"),
            "TWILIO_STATUS_CALLBACK_URL": CALLBACK_URL,
        }
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        wiring.reset()
        try:
            yield
        finally:
            wiring.reset()


@pytest.fixture
def twilio_campaign(stack: Stack, campaign: Campaign) -> Campaign:
    install_twilio_credentials()
    TenantRecord(campaign.tenant_id).update(actions=[TenantRecord.provider.set("twilio")])
    return campaign


@pytest.fixture
def aws_campaign(stack: Stack, campaign: Campaign) -> Campaign:
    TenantRecord(campaign.tenant_id).update(actions=[TenantRecord.provider.set("aws_sms")])
    return campaign


class TestTwilioCallbackBeforeSent:
    def test_a_receipt_before_sent_ends_delivered(self, stack: Stack, twilio_campaign: Campaign) -> None:
        # Given a Twilio message whose "delivered" callback arrives while the deliver function is still sending it
        queue_id, message_id = send_one(twilio_campaign)
        answers: list[tuple[int, dict[str, Any]]] = []
        # When it is delivered / Then the early callback was answered 200 and kept, and SENT applied it
        assert deliver_through(stack, "twilio", lambda m: answers.append(post(twilio_callback(m, "delivered")))) == {
            "batchItemFailures": []
        }
        assert answers == [(200, {"outcome": "PARKED"})]
        assert_delivered_once(queue_id, message_id)

    def test_the_same_early_receipt_posted_twice_is_applied_once(self, stack: Stack, twilio_campaign: Campaign) -> None:
        # Given a callback Twilio posts twice before our SENT write
        queue_id, message_id = send_one(twilio_campaign)
        answers: list[tuple[int, dict[str, Any]]] = []

        def twice(m: str) -> None:
            answers.extend(post(twilio_callback(m, "delivered")) for _ in range(2))

        deliver_through(stack, "twilio", twice)
        # When the same callback arrives a third time, after SENT
        late = post(twilio_callback(message_id, "delivered"))
        # Then it was applied once: one DELIVERED in the history, counted once
        assert answers == [(200, {"outcome": "PARKED"})] * 2
        assert late == (200, {"outcome": "STALE"})
        assert_delivered_once(queue_id, message_id)

    def test_an_early_receipt_then_a_later_normal_one_keeps_the_first_final_status(
        self, stack: Stack, twilio_campaign: Campaign
    ) -> None:
        # Given an early "undelivered" callback (30003), parked, then applied by our SENT write
        queue_id, message_id = send_one(twilio_campaign)
        deliver_through(stack, "twilio", lambda m: post(twilio_callback(m, "undelivered", "30003")) and None)
        # When a later normal callback says "delivered"
        later = post(twilio_callback(message_id, "delivered"))
        # Then the first final status recorded stays (the existing forward-only rule), with its code
        assert later == (200, {"outcome": "STALE"})
        assert state(message_id) == ("UNDELIVERED", ["QUEUED", "SENDING", "SENT", "UNDELIVERED"], "30003")
        assert counts(queue_id) == {"SENT": 0, "DELIVERED": 0, "UNDELIVERED": 1}

    def test_a_receipt_parked_just_after_the_sent_write_looked_is_applied_by_the_webhook(
        self, stack: Stack, twilio_campaign: Campaign
    ) -> None:
        # Given a message SENT whose deliver function found nothing parked (the receipt was not there yet)
        queue_id, message_id = send_one(twilio_campaign)
        deliver_through(stack, "twilio", lambda m: None)
        # When a receipt that had read the message as SENDING is parked now / Then parking re-reads and applies it
        store = wiring.receipts_deps().parked_receipts
        early = Receipt(
            provider="twilio",
            status=MessageStatus.DELIVERED,
            reported_at=MessageRecord.get(message_id).created_at,
            provider_status="delivered",
            message_id=message_id,
            provider_message_id=provider_id(message_id),
        )
        assert store.park(early, MessageRecord.get(message_id).created_at)
        receipts = wiring.receipts_deps().receipts
        assert apply_parked("twilio", provider_id(message_id), receipts, store) is ReceiptOutcome.APPLIED
        assert apply_parked("twilio", provider_id(message_id), receipts, store) is ReceiptOutcome.STALE
        assert_delivered_once(queue_id, message_id)


class TestOldStyleCallbackBeforeSent:
    def test_a_callback_without_our_id_before_sent_ends_delivered(
        self, stack: Stack, twilio_campaign: Campaign
    ) -> None:
        # Given a Twilio message whose callback comes at an old StatusCallback URL (Twilio's SID only, no id of
        # ours) while the deliver function is still sending it: the provider-id index cannot have it yet
        queue_id, message_id = send_one(twilio_campaign)
        answers: list[tuple[int, dict[str, Any]]] = []

        def old_style(m: str) -> None:
            params = {"MessageSid": provider_id(m), "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
            answers.append(post(callback_to(CALLBACK_URL, params, signed_with=TWILIO_AUTH_TOKEN)))

        # When it is delivered / Then the callback was kept (parked under Twilio's SID), not answered unknown,
        # and our SENT write applied it once
        assert deliver_through(stack, "twilio", old_style) == {"batchItemFailures": []}
        assert answers == [(200, {"outcome": "PARKED"})]
        assert_delivered_once(queue_id, message_id)
        # And its record, handed back by SQS, finds the message DELIVERED already: done, nothing moves again
        assert drain_receipts() == [ReceiptOutcome.STALE]
        assert_delivered_once(queue_id, message_id)


def aws_event(message_id: str, event_type: str = "TEXT_DELIVERED") -> dict[str, Any]:
    event = sms_event(message_id, event_type)
    event["detail"]["messageId"] = provider_id(message_id)
    return event


class TestAwsSmsEventBeforeSent:
    def test_a_receipt_before_sent_ends_delivered(self, stack: Stack, aws_campaign: Campaign) -> None:
        # Given an AWS SMS message whose delivery event arrives before our SENT write
        queue_id, message_id = send_one(aws_campaign)
        results: list[dict[str, Any]] = []
        deliver_through(stack, "aws_sms", lambda m: results.append(put_sms_event(aws_event(m))))
        # Then the event was kept (no failed invocation, nothing to the DLQ), and SENT applied it
        assert results == [{"outcome": "PARKED"}]
        assert_delivered_once(queue_id, message_id)

    def test_the_same_early_event_twice_then_a_late_failure_is_applied_once(
        self, stack: Stack, aws_campaign: Campaign
    ) -> None:
        queue_id, message_id = send_one(aws_campaign)
        results: list[dict[str, Any]] = []

        def twice(m: str) -> None:
            results.extend(put_sms_event(aws_event(m)) for _ in range(2))

        deliver_through(stack, "aws_sms", twice)
        late = put_sms_event(aws_event(message_id, "TEXT_CARRIER_BLOCKED"))
        assert results == [{"outcome": "PARKED"}] * 2
        assert late == {"outcome": "STALE"}
        assert_delivered_once(queue_id, message_id)
