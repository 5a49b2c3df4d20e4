"""Delivery receipts through the real handlers on moto: Twilio status callbacks and AWS SMS EventBridge events."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from functions.send_by_tags import app as send_app
from functions.webhooks import app as webhooks
from smscore import wiring
from smscore.dal.dispatch_counts import load_dispatch
from smscore.dal.tables import MessageRecord, TenantRecord
from smscore.domain.receipts import ReceiptOutcome
from tests.conftest import LambdaContextStub, Stack, api_event, load_event
from tests.integration.conftest import Campaign
from tests.integration.receipts_helpers import (
    deliver_as_sent,
    drain_receipts,
    install_twilio_credentials,
    post_twilio,
    provider_id,
    put_sms_event,
    signed_twilio_event,
    twilio_event,
)


def send_one(campaign: Campaign) -> tuple[str, str]:
    campaign.add("3001234567", "vip")
    body = {"message": "Hi", "tagIds": [campaign.tags["vip"]]}
    response = send_app.lambda_handler(
        api_event(body, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token),
        LambdaContextStub(),
    )
    result = json.loads(response["body"])
    return result["queueId"], result["messages"][0]["id"]


def callback(message_id: str, status: str, error_code: str | None = None) -> dict[str, str]:
    params = {"MessageSid": provider_id(message_id), "MessageStatus": status, "AccountSid": "AC01"}
    return params | ({"ErrorCode": error_code} if error_code else {})


def counts(queue_id: str) -> dict[str, int]:
    d = load_dispatch(queue_id)
    return {
        "SENT": int(d.count_sent),
        "DELIVERED": int(d.count_delivered),
        "UNDELIVERED": int(d.count_undelivered),
    }


@pytest.fixture
def sent_message(stack: Stack, campaign: Campaign) -> tuple[str, str]:
    install_twilio_credentials()
    queue_id, message_id = send_one(campaign)
    deliver_as_sent(message_id)
    return queue_id, message_id


class TestTwilioCallback:
    def test_delivered_moves_the_message_and_the_counters(self, sent_message: tuple[str, str]) -> None:
        queue_id, message_id = sent_message
        # When Twilio reports the message delivered, correctly signed
        status, body = post_twilio(signed_twilio_event(callback(message_id, "delivered")))
        # Then it is DELIVERED, counted, and in the history
        assert (status, body) == (200, {"outcome": "APPLIED"})
        record = MessageRecord.get(message_id)
        assert record.status == "DELIVERED"
        assert record.history[-1].status == "DELIVERED"
        assert counts(queue_id) == {"SENT": 0, "DELIVERED": 1, "UNDELIVERED": 0}

    @pytest.mark.parametrize("twilio_status", ["undelivered", "failed"])
    def test_undelivered_and_failed_record_the_error_code(
        self, sent_message: tuple[str, str], twilio_status: str
    ) -> None:
        queue_id, message_id = sent_message
        status, _ = post_twilio(signed_twilio_event(callback(message_id, twilio_status, "30003")))
        assert status == 200
        record = MessageRecord.get(message_id)
        assert (record.status, record.provider_error_code) == ("UNDELIVERED", "30003")
        assert record.history[-1].code == "30003"
        assert counts(queue_id) == {"SENT": 0, "DELIVERED": 0, "UNDELIVERED": 1}

    def test_an_older_receipt_replayed_after_a_newer_one_changes_nothing(self, sent_message: tuple[str, str]) -> None:
        # Given the message is already UNDELIVERED
        queue_id, message_id = sent_message
        post_twilio(signed_twilio_event(callback(message_id, "undelivered", "30005")))
        before = MessageRecord.get(message_id)
        # When an out-of-order "sent" and a stale "delivered" arrive, and the same receipt again
        replies = [
            post_twilio(signed_twilio_event(callback(message_id, "sent"))),
            post_twilio(signed_twilio_event(callback(message_id, "delivered"))),
            post_twilio(signed_twilio_event(callback(message_id, "undelivered", "30005"))),
        ]
        # Then Twilio gets 200 each time and nothing moves
        assert [r[0] for r in replies] == [200, 200, 200]
        after = MessageRecord.get(message_id)
        assert after.status == "UNDELIVERED"
        assert len(after.history) == len(before.history)
        assert counts(queue_id) == {"SENT": 0, "DELIVERED": 0, "UNDELIVERED": 1}

    def test_an_unknown_message_is_200_and_writes_nothing(self, sent_message: tuple[str, str]) -> None:
        # Given a callback without our id naming a Twilio SID no message of ours has (not even in the index)
        queue_id, message_id = sent_message
        status, body = post_twilio(signed_twilio_event(callback("00000000-0000-0000-0000-000000000000", "delivered")))
        # Then it is answered 200, parked in case its message's SENT write is still coming, and retried until its
        # last retry receive, after which its record is done; no message and no counter moves
        assert (status, body) == (200, {"outcome": "PARKED"})
        retries = wiring.receipts_deps().retry_receives
        for _receive in range(2, retries + 1):  # each receive parks it again; the record is done on the last one
            assert drain_receipts() == [ReceiptOutcome.PARKED]
        assert drain_receipts() == []
        assert MessageRecord.get(message_id).status == "SENT"
        assert counts(queue_id) == {"SENT": 1, "DELIVERED": 0, "UNDELIVERED": 0}

    @pytest.mark.parametrize(
        "make_event",
        [
            pytest.param(lambda p: twilio_event(p, None), id="missing"),
            pytest.param(lambda p: twilio_event(p, ""), id="empty"),
            pytest.param(lambda p: twilio_event(p, "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA=="), id="garbage"),
            pytest.param(lambda p: signed_twilio_event(p, token="someone-elses-token"), id="other-token"),
            pytest.param(
                lambda p: {**signed_twilio_event(p), "body": signed_twilio_event(p)["body"] + "&ErrorCode=1"},
                id="tampered-body",
            ),
        ],
    )
    def test_a_bad_or_missing_signature_is_403_and_changes_nothing(
        self, sent_message: tuple[str, str], make_event: Any
    ) -> None:
        queue_id, message_id = sent_message
        status, body = post_twilio(make_event(callback(message_id, "delivered")))
        assert status == 403
        assert body["code"] == "INVALID_SIGNATURE"
        assert MessageRecord.get(message_id).status == "SENT"
        assert counts(queue_id) == {"SENT": 1, "DELIVERED": 0, "UNDELIVERED": 0}

    def test_a_bad_signature_queues_nothing(self, sent_message: tuple[str, str]) -> None:
        # Given a receipts queue that fails the test if it is touched at all
        class Untouchable:
            def put(self, receipt: object) -> None:
                raise AssertionError("queued before the signature was checked")

        deps = dataclasses.replace(wiring.webhook_deps(), receipt_buffer=Untouchable())
        _, message_id = sent_message
        response = webhooks.twilio_handler(
            twilio_event(callback(message_id, "delivered"), "forged"), LambdaContextStub(), deps=deps
        )
        assert response["statusCode"] == 403

    def test_intermediate_statuses_are_acknowledged_without_change(self, sent_message: tuple[str, str]) -> None:
        _, message_id = sent_message
        status, body = post_twilio(signed_twilio_event(callback(message_id, "sent")))
        assert (status, body) == (200, {"outcome": None})
        assert MessageRecord.get(message_id).status == "SENT"


def sms_event(message_id: str, event_type: str = "TEXT_DELIVERED", final: bool = True) -> dict[str, Any]:
    event = copy.deepcopy(load_event("eventbridge_sms_delivery.json"))
    event["detail"].update(eventType=event_type, isFinal=final, messageStatus=event_type.removeprefix("TEXT_"))
    event["detail"]["context"]["messageId"] = message_id
    return event


class TestAwsSmsEvents:
    @pytest.fixture
    def aws_sent(self, stack: Stack, campaign: Campaign) -> tuple[str, str]:
        queue_id, message_id = send_one(campaign)
        deliver_as_sent(message_id, provider="aws_sms")
        return queue_id, message_id

    def test_delivered_event_moves_the_message(self, aws_sent: tuple[str, str]) -> None:
        queue_id, message_id = aws_sent
        result = put_sms_event(sms_event(message_id))
        assert result == {"outcome": "APPLIED"}
        assert MessageRecord.get(message_id).status == "DELIVERED"
        assert counts(queue_id) == {"SENT": 0, "DELIVERED": 1, "UNDELIVERED": 0}

    def test_final_failure_is_undelivered_then_a_late_success_is_ignored(self, aws_sent: tuple[str, str]) -> None:
        queue_id, message_id = aws_sent
        put_sms_event(sms_event(message_id, "TEXT_CARRIER_BLOCKED"))
        late = put_sms_event(sms_event(message_id, "TEXT_DELIVERED"))
        record = MessageRecord.get(message_id)
        assert (record.status, record.provider_error_code) == ("UNDELIVERED", "CARRIER_BLOCKED")
        assert late == {"outcome": "STALE"}
        assert counts(queue_id) == {"SENT": 0, "DELIVERED": 0, "UNDELIVERED": 1}

    def test_non_final_and_unknown_events_change_nothing(self, aws_sent: tuple[str, str]) -> None:
        queue_id, message_id = aws_sent
        pending = put_sms_event(sms_event(message_id, "TEXT_PENDING"))
        not_final = put_sms_event(sms_event(message_id, "TEXT_CARRIER_UNREACHABLE", final=False))
        unknown = put_sms_event(sms_event("no-such-message"))
        assert (pending, not_final, unknown) == ({"outcome": None}, {"outcome": None}, {"outcome": "UNKNOWN_MESSAGE"})
        assert MessageRecord.get(message_id).status == "SENT"
        assert counts(queue_id) == {"SENT": 1, "DELIVERED": 0, "UNDELIVERED": 0}

    def test_an_event_ahead_of_our_sent_write_is_parked_and_applied_by_its_retry(
        self, stack: Stack, campaign: Campaign
    ) -> None:
        # Given a tenant on AWS SMS, and its message still QUEUED (the deliver function has not recorded SENT yet)
        TenantRecord(campaign.tenant_id).update(actions=[TenantRecord.provider.set("aws_sms")])
        queue_id, message_id = send_one(campaign)
        # When its delivery event arrives / Then it is kept for the SENT write (tests/integration/
        # test_early_receipts.py), its record stays on the receipts queue for a retry, and nothing moves yet
        result = put_sms_event(sms_event(message_id))
        assert result == {"outcome": "PARKED"}
        assert MessageRecord.get(message_id).status == "QUEUED"
        # When the SENT write lands without the deliver function's look for parked receipts (a crash in between,
        # played by delivery's bare transition) and SQS hands the record back
        deliver_as_sent(message_id, provider="aws_sms")
        # Then the retry applies it: DELIVERED once, and the record is done
        assert drain_receipts() == [ReceiptOutcome.APPLIED]
        assert drain_receipts() == []
        assert MessageRecord.get(message_id).status == "DELIVERED"
        assert counts(queue_id) == {"SENT": 0, "DELIVERED": 1, "UNDELIVERED": 0}

    def test_an_event_ahead_of_our_sent_write_that_cannot_be_parked_fails_so_lambda_retries_it(
        self, stack: Stack, campaign: Campaign
    ) -> None:
        # Given a message still QUEUED, and its event without AWS's message id (nothing to park it under)
        TenantRecord(campaign.tenant_id).update(actions=[TenantRecord.provider.set("aws_sms")])
        _, message_id = send_one(campaign)
        event = sms_event(message_id)
        del event["detail"]["messageId"]
        # When it arrives / Then its record fails (SQS hands it back, then the receipts dead-letter queue, alarmed)
        assert put_sms_event(event) == {"outcome": "NOT_YET_SENT"}
        assert drain_receipts() == [ReceiptOutcome.NOT_YET_SENT]
        assert MessageRecord.get(message_id).status == "QUEUED"


def test_without_a_readable_auth_token_every_callback_is_refused(stack: Stack, campaign: Campaign) -> None:
    # Given no Twilio credentials parameter exists / When a callback arrives with some signature
    _, message_id = send_one(campaign)
    deliver_as_sent(message_id)
    status, body = post_twilio(signed_twilio_event(callback(message_id, "delivered"), token="guess"))
    # Then it is refused like a bad signature, and nothing moves
    assert (status, body["code"]) == (403, "INVALID_SIGNATURE")
    assert MessageRecord.get(message_id).status == "SENT"


class TestReceiptsStayWithTheirProvider:
    """Issue 9, item 7: a provider's receipt moves only a message sent through that provider."""

    @pytest.mark.parametrize("sent_by", ["sandbox", "aws_sms"])
    def test_a_signed_twilio_callback_for_another_providers_message_changes_nothing(
        self, stack: Stack, campaign: Campaign, sent_by: str
    ) -> None:
        # Given a message the sandbox (or AWS) sent, whose provider id a Twilio callback names
        install_twilio_credentials()
        queue_id, message_id = send_one(campaign)
        deliver_as_sent(message_id, provider=sent_by)
        # When a correctly signed Twilio callback reports it undelivered
        status, body = post_twilio(signed_twilio_event(callback(message_id, "undelivered", "30003")))
        # Then it is acknowledged (parked, in case a Twilio message with that SID is still being recorded), and
        # neither the message nor the counters move
        assert (status, body) == (200, {"outcome": "PARKED"})
        record = MessageRecord.get(message_id)
        assert (record.status, record.provider, record.provider_error_code) == ("SENT", sent_by, None)
        assert [h.status for h in record.history] == ["QUEUED", "SENDING", "SENT"]
        assert counts(queue_id) == {"SENT": 1, "DELIVERED": 0, "UNDELIVERED": 0}

    def test_an_aws_event_for_a_twilio_message_changes_nothing(self, stack: Stack, campaign: Campaign) -> None:
        # Given a message Twilio sent
        queue_id, message_id = send_one(campaign)
        deliver_as_sent(message_id, provider="twilio")
        # When an AWS delivery event names it
        result = put_sms_event(sms_event(message_id, "TEXT_BLOCKED"))
        # Then nothing moves
        assert result == {"outcome": "UNKNOWN_MESSAGE"}
        assert MessageRecord.get(message_id).status == "SENT"
        assert counts(queue_id) == {"SENT": 1, "DELIVERED": 0, "UNDELIVERED": 0}
