"""Opt-out and opt-in keywords through the real handlers on moto: Twilio's signed inbound webhook, AWS two-way SMS
through SNS (InboundSmsFunction), replays and late deliveries of both, what the contacts API shows of them (only
the keywords of the sender a tenant sends through), and what the send and deliver handlers do with a suppressed
number."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.inbound import app as inbound_app
from functions.webhooks import app as webhooks
from smscore import wiring
from smscore.dal.dispatch_counts import load_dispatch
from smscore.dal.outbox_store import DynamoOutbox
from smscore.dal.suppression_store import DynamoSuppressionList
from smscore.dal.tables import (
    ContactRecord,
    InboundMessageRecord,
    LedgerRecord,
    MessageRecord,
    SuppressionRecord,
    TagMemberRecord,
    TenantRecord,
)
from smscore.domain.delivery import OPTED_OUT
from smscore.domain.inbound import REPLAY_WINDOW
from smscore.providers.aws_sms import TwoWayReplier
from smscore.providers.sandbox import SandboxProvider
from smscore.providers.twilio import request_signature
from smsdev import targets
from smsdev.admin_store import ContactInput
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack, load_event
from tests.integration.conftest import Campaign, LocalEndpointStack, make_campaign, ok
from tests.integration.receipts_helpers import TWILIO_AUTH_TOKEN, install_twilio_credentials
from tests.integration.test_contacts_api import Client
from tests.integration.test_deliver import Counting, Delivery
from tests.integration.test_preview_and_resend import preview

ANA = "+573001234567"
TWILIO_NUMBER = "+15550001111"
AWS_NUMBER = "+15550002222"
INBOUND_URL = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/dev/api/webhooks/twilio/inbound"


@pytest.fixture
def inbound_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Twilio webhook function's environment, sending from TWILIO_NUMBER, and its credentials in SSM."""
    for key, value in function_environment(stack.names, "TwilioStatusFunction").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TWILIO_FROM_NUMBER", TWILIO_NUMBER)
    monkeypatch.setenv("AWS_SMS_ORIGINATION_IDENTITY", AWS_NUMBER)
    wiring.reset()
    install_twilio_credentials()
    yield
    wiring.reset()


def twilio_reply(
    body: str, from_number: str = ANA, signature: str | None = None, sid: str | None = None, **extra: str
) -> dict[str, Any]:
    """Twilio's incoming-message webhook (tests/events/apigw_twilio_inbound.json) with this Body, signed; `sid`
    replaces the recorded MessageSid (each reply of a conversation is a message of its own)."""
    event = copy.deepcopy(load_event("apigw_twilio_inbound.json"))
    params = dict(parse_qsl(event["body"])) | {"Body": body, "From": from_number} | extra
    if sid is not None:
        params |= {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid}
    event["body"] = urlencode(params)
    signed = (
        signature if signature is not None else request_signature(INBOUND_URL, list(params.items()), TWILIO_AUTH_TOKEN)
    )
    for headers in (event["headers"], event["multiValueHeaders"]):
        headers["X-Twilio-Signature"] = signed if headers is event["headers"] else [signed]
    return event


def post(event: dict[str, Any]) -> tuple[int, str, str]:
    response = webhooks.twilio_handler(event, LambdaContextStub())
    return response["statusCode"], response["multiValueHeaders"]["Content-Type"][0], response["body"]


def sns_reply(
    body: str,
    to: str = AWS_NUMBER,
    from_number: str = ANA,
    at: str = "2026-11-27T13:00:00.000Z",
    message_id: str | None = None,
) -> dict[str, Any]:
    """AWS two-way SMS as SNS delivers it to the function (tests/events/sns_two_way_sms.json), a new inbound
    message (its own inboundMessageId and SNS MessageId) unless `message_id` names one."""
    event = copy.deepcopy(load_event("sns_two_way_sms.json"))
    sns = event["Records"][0]["Sns"]
    message_id = message_id or str(uuid.uuid4())
    payload = json.loads(sns["Message"]) | {
        "messageBody": body,
        "destinationNumber": to,
        "originationNumber": from_number,
        "inboundMessageId": message_id,
    }
    sns["Message"], sns["Timestamp"], sns["MessageId"] = json.dumps(payload), at, f"sns-{message_id}"
    return event


def contact_of(campaign: Campaign, contact_id: str) -> ContactRecord:
    return ContactRecord.get(campaign.tenant_id, contact_id, consistent_read=True)


def suppression(sender: str, number: str = ANA) -> SuppressionRecord | None:
    try:
        return SuppressionRecord.get(number, sender, consistent_read=True)
    except SuppressionRecord.DoesNotExist:
        return None


def suppressions() -> list[SuppressionRecord]:
    """Every (sender, number) item of the table (the replay markers it also holds left out)."""
    return [item for item in SuppressionRecord.scan() if not item.number.startswith("inbound#")]


def sends_through(campaign: Campaign, provider: str) -> None:
    """Given: the tenant's campaigns go out through `provider` (TenantRecord.provider; the stack's default else)."""
    TenantRecord(campaign.tenant_id).update(actions=[TenantRecord.provider.set(provider)])


def shown(campaign: Campaign, contact_id: str) -> dict[str, Any]:
    """The contact as GET /api/contacts/{id} shows it to the tenant (the admin UI reads the same)."""
    reply = Client(campaign).item("GET", "/api/contacts", contact_id)
    assert reply.status == 200, reply.body
    contact: dict[str, Any] = reply.body
    return contact


def consent(campaign: Campaign, contact_id: str) -> tuple[bool, list[tuple[str, str | None, str | None]]]:
    """(optedOut, [(reason, sender, keyword)...]) as shown."""
    contact = shown(campaign, contact_id)
    reasons = [(r["reason"], r["sender"], r["keyword"]) for r in contact["consent"]["reasons"]]
    return contact["optedOut"], reasons


def previewed_skips(campaign: Campaign, *tags: str) -> int:
    status, body = preview(campaign, {"message": "Hola", "tagIds": [campaign.tags[t] for t in tags]})
    assert status == 200, body
    skipped: int = body["skippedOptedOut"]
    return skipped


@pytest.fixture
def delivery(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Delivery]:
    """The deliver function's environment on moto (one request at a time, as DynamoDB is atomic), the sandbox
    provider counted per message (tests/integration/test_deliver.py's Delivery)."""
    for key, value in function_environment(stack.names, "DeliverFunction").items():
        monkeypatch.setenv(key, value)
    wiring.reset()
    with serialised_moto():
        yield Delivery(stack=stack, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    wiring.reset()


# -- Twilio: the signed inbound-message webhook ----------------------------------------------------------------


@pytest.mark.usefixtures("inbound_env")
def test_twilio_baja_suppresses_the_number_for_that_sender_confirms_and_writes_no_contact(admin: Any) -> None:
    # Given Ana is a contact (tagged) of two tenants
    shop, bakery = make_campaign(admin), make_campaign(admin)
    shop_contact, bakery_contact = shop.add("3001234567", "vip"), bakery.add(ANA, "news")
    # When she replies "BAJA" to our Twilio number, signed by Twilio
    status, content_type, body = post(twilio_reply("BAJA"))
    # Then Twilio gets TwiML confirming it (Twilio does not answer BAJA itself)
    assert (status, content_type) == (200, "application/xml")
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>You will receive no more')
    # And the number is suppressed for that sender, with the keyword and the inbound message id
    stored = suppression(f"twilio:{TWILIO_NUMBER}")
    assert stored is not None
    assert (stored.opted_out, stored.keyword, stored.provider) == (True, "BAJA", "twilio")
    assert stored.reference == "SM5f1d0c3a9b8e7d6c5b4a39281706f5e4"
    # And the message is remembered for the replay window (a TTL'd marker in the same table)
    marker = InboundMessageRecord.get("inbound#twilio#SM5f1d0c3a9b8e7d6c5b4a39281706f5e4", "message")
    assert marker.outcome == "APPLIED"
    assert REPLAY_WINDOW - timedelta(seconds=1) <= marker.expires_at - marker.handled_at <= REPLAY_WINDOW
    # And no contact is written (nor its membership copies, what the send path reads): consent is derived on read
    for campaign, contact_id in ((shop, shop_contact), (bakery, bakery_contact)):
        record = contact_of(campaign, contact_id)
        assert (record.opted_out, record.consent_source) == (False, None)
        (tag_id,) = record.tag_ids
        assert not TagMemberRecord.get(TagMemberRecord.key_for(campaign.tenant_id, tag_id), contact_id).opted_out


@pytest.mark.usefixtures("inbound_env")
def test_twilio_stop_is_applied_without_a_second_confirmation(admin: Any) -> None:
    # Given Ana's number is a contact of a tenant sending through Twilio / When she replies "stop" (Twilio answers
    # STOP itself)
    shop = make_campaign(admin)
    sends_through(shop, "twilio")
    contact_id = shop.add(ANA, "vip")
    status, _, body = post(twilio_reply(" stop "))
    # Then the TwiML is empty, and the opt-out is recorded all the same (and shown to the tenant)
    assert (status, body) == (200, '<?xml version="1.0" encoding="UTF-8"?><Response/>')
    assert DynamoSuppressionList().is_suppressed(ANA, f"twilio:{TWILIO_NUMBER}")
    assert consent(shop, contact_id) == (True, [("KEYWORD", f"twilio:{TWILIO_NUMBER}", "STOP")])


@pytest.mark.usefixtures("inbound_env")
@pytest.mark.parametrize(
    ("configured_service", "expected_sender"),
    [
        pytest.param("", f"twilio:{TWILIO_NUMBER}", id="we-send-from-the-number"),
        pytest.param("MG0123456789abcdef0123456789abcdef", "twilio:MG0123456789abcdef0123456789abcdef", id="service"),
    ],
)
def test_a_reply_to_a_number_of_a_messaging_service_is_tied_to_what_we_send_from(
    monkeypatch: pytest.MonkeyPatch, configured_service: str, expected_sender: str
) -> None:
    # Given we send from the From number, or through the Messaging Service the number belongs to
    monkeypatch.setenv("TWILIO_MESSAGING_SERVICE_SID", configured_service)
    wiring.reset()
    # When a STOP comes in on the number (Twilio adds the MessagingServiceSid)
    status, _, _ = post(twilio_reply("STOP", MessagingServiceSid="MG0123456789abcdef0123456789abcdef"))
    # Then it is recorded for the sender the send path and delivery use
    assert status == 200
    assert [(item.sender, item.number) for item in suppressions()] == [(expected_sender, ANA)]


@pytest.mark.usefixtures("inbound_env")
def test_a_reply_that_is_not_a_keyword_changes_nothing(admin: Any) -> None:
    shop = make_campaign(admin)
    contact_id = shop.add(ANA, "vip")
    status, _, body = post(twilio_reply("Stop sending me offers"))
    assert (status, body) == (200, '<?xml version="1.0" encoding="UTF-8"?><Response/>')
    assert list(SuppressionRecord.scan()) == []  # neither a suppression nor a marker
    assert not contact_of(shop, contact_id).opted_out


@pytest.mark.usefixtures("inbound_env")
@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="missing"),
        pytest.param("bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==", id="garbage"),
        pytest.param(
            request_signature(INBOUND_URL, [("Body", "STOP"), ("From", ANA)], "someone-elses-token"), id="other-token"
        ),
        pytest.param(
            request_signature(INBOUND_URL.replace("inbound", "status"), [("Body", "STOP")], TWILIO_AUTH_TOKEN),
            id="signed-for-another-url",
        ),
    ],
)
def test_a_badly_signed_reply_is_403_and_writes_nothing(admin: Any, signature: str) -> None:
    shop = make_campaign(admin)
    contact_id = shop.add(ANA, "vip")
    response = webhooks.twilio_handler(twilio_reply("STOP", signature=signature), LambdaContextStub())
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["code"] == "INVALID_SIGNATURE"
    assert list(SuppressionRecord.scan()) == []
    assert not contact_of(shop, contact_id).opted_out


# -- Twilio: replays of signed requests (a webhook carries no time: ordered by receipt, recognised by MessageSid) ---

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
SID_STOP, SID_START, SID_STOP_AGAIN = ("SM" + c * 32 for c in "abc")


@pytest.mark.usefixtures("inbound_env")
def test_re_posting_a_captured_signed_stop_is_200_empty_twiml_and_does_not_opt_out_again() -> None:
    # Given Ana replied STOP (SMaaa...) and later START (SMbbb...) to our Twilio number, both signed and applied
    captured_stop = twilio_reply("STOP", sid=SID_STOP)
    assert post(copy.deepcopy(captured_stop))[0] == 200
    assert post(twilio_reply("START", sid=SID_START))[0] == 200
    assert not DynamoSuppressionList().is_suppressed(ANA, f"twilio:{TWILIO_NUMBER}")
    # When the captured STOP bytes are posted again (same body, same signature)
    status, content_type, body = post(captured_stop)
    # Then Twilio's expected answer, with nothing in it, and she stays subscribed
    assert (status, content_type, body) == (200, "application/xml", EMPTY_TWIML)
    assert not DynamoSuppressionList().is_suppressed(ANA, f"twilio:{TWILIO_NUMBER}")


@pytest.mark.usefixtures("inbound_env")
def test_re_posting_a_captured_signed_start_does_not_resubscribe_a_number_whose_latest_word_was_stop() -> None:
    # Given STOP, START, then STOP again: her latest word is STOP
    captured_start = twilio_reply("START", sid=SID_START)
    post(twilio_reply("STOP", sid=SID_STOP))
    post(copy.deepcopy(captured_start))
    post(twilio_reply("STOP", sid=SID_STOP_AGAIN))
    # When the captured START is posted again
    status, _, body = post(captured_start)
    # Then it changes nothing: still suppressed, her latest STOP still the stored change
    assert (status, body) == (200, EMPTY_TWIML)
    stored = suppression(f"twilio:{TWILIO_NUMBER}")
    assert stored is not None
    assert (stored.opted_out, stored.reference) == (True, SID_STOP_AGAIN)


@pytest.mark.usefixtures("inbound_env")
def test_a_replayed_baja_is_not_confirmed_a_second_time() -> None:
    # Given a signed BAJA, confirmed in its TwiML
    captured = twilio_reply("BAJA", sid=SID_STOP)
    assert "<Message>" in post(copy.deepcopy(captured))[2]
    # When the same request arrives again (a Twilio retry, or a replay) / Then an empty answer: no second SMS
    assert post(captured)[2] == EMPTY_TWIML


# -- AWS End User Messaging: two-way SMS through SNS --------------------------------------------------------------


def invoke_inbound(event: dict[str, Any], replier: TwoWayReplier | None = None) -> dict[str, Any]:
    deps = wiring.inbound_deps()
    if replier is not None:
        deps = replace(deps, aws_replier=lambda: replier)
    result: dict[str, Any] = inbound_app.lambda_handler(event, LambdaContextStub(), deps=deps)
    return result


@pytest.mark.usefixtures("inbound_env")
def test_aws_two_way_baja_is_suppressed_for_the_origination_number_and_confirmed_from_it(admin: Any) -> None:
    # Given Ana is a contact, and AWS sends from AWS_NUMBER (moto lacks SendTextMessage: a Stubber checks the call)
    shop = make_campaign(admin)
    contact_id = shop.add(ANA, "vip")
    client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response(
            "send_text_message",
            {"MessageId": "aws-reply-1"},
            {
                "DestinationPhoneNumber": ANA,
                "OriginationIdentity": AWS_NUMBER,
                "MessageBody": wiring.bound_settings().opt_out_confirmation,
                "MessageType": "TRANSACTIONAL",
            },
        )
        # When the documented two-way payload ("Bája") arrives through SNS
        result = invoke_inbound(load_event("sns_two_way_sms.json"), TwoWayReplier(client))
        stubber.assert_no_pending_responses()
    # Then the number is suppressed for the AWS sender, and the confirmation went out once
    assert result["results"][0] | {"reply": None} == {
        "action": "OPT_OUT",
        "keyword": "BAJA",
        "number": "+********4567",
        "sender": f"aws_sms:{AWS_NUMBER}",
        "applied": True,
        "duplicate": False,
        "reply": None,
        "replySent": True,
    }
    stored = suppression(f"aws_sms:{AWS_NUMBER}")
    assert stored is not None
    assert (stored.opted_out, stored.provider, stored.reference) == (
        True,
        "aws_sms",
        "cae173d2-66b9-564c-8309-21f858e9fb84",
    )
    # And a tenant sending through that AWS number sees why its contact is skipped
    sends_through(shop, "aws_sms")
    assert consent(shop, contact_id) == (True, [("KEYWORD", f"aws_sms:{AWS_NUMBER}", "BAJA")])


@pytest.mark.usefixtures("inbound_env")
def test_aws_stop_is_recorded_and_left_to_aws_to_confirm() -> None:
    # Given a client that would refuse any call (no stubbed response) / When STOP arrives
    client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
    with Stubber(client):
        result = invoke_inbound(sns_reply("STOP"), TwoWayReplier(client))
    # Then it is recorded and nothing is sent: AWS answers STOP itself
    assert (result["results"][0]["action"], result["results"][0]["replySent"]) == ("OPT_OUT", False)
    assert suppression(f"aws_sms:{AWS_NUMBER}") is not None


@pytest.mark.usefixtures("inbound_env")
def test_aws_stop_then_a_later_start_leave_the_number_subscribed_whatever_the_order_sns_delivers_them() -> None:
    # When the START (13:05) is delivered before the STOP (13:00)
    invoke_inbound(sns_reply("START", at="2026-11-27T13:05:00.000Z"))
    late = invoke_inbound(sns_reply("STOP", at="2026-11-27T13:00:00.000Z"))
    # Then the late STOP is not applied
    assert late["results"][0]["applied"] is False
    assert not DynamoSuppressionList().is_suppressed(ANA, f"aws_sms:{AWS_NUMBER}")


@pytest.mark.usefixtures("inbound_env")
def test_a_redelivered_two_way_message_is_recognised_by_its_inbound_message_id_and_not_confirmed_again() -> None:
    # Given a BAJA through SNS, applied and confirmed (a Stubber holds exactly one SendTextMessage)
    event = sns_reply("BAJA", message_id="cae173d2-0000-4000-8000-000000000001")
    client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("send_text_message", {"MessageId": "aws-reply-1"})
        first = invoke_inbound(copy.deepcopy(event), TwoWayReplier(client))["results"][0]
        # When Lambda delivers the same event again (a retry after a timeout, or SNS's redelivery)
        again = invoke_inbound(event, TwoWayReplier(client))["results"][0]
        stubber.assert_no_pending_responses()
    # Then the second changes nothing and sends nothing
    assert (first["applied"], first["duplicate"], first["replySent"]) == (True, False, True)
    assert (again["applied"], again["duplicate"], again["reply"], again["replySent"]) == (False, True, None, False)


@pytest.mark.usefixtures("inbound_env")
def test_an_older_alta_delivered_after_a_newer_baja_is_not_applied_nor_confirmed() -> None:
    # Given BAJA at 13:05 was handled (and confirmed), and her ALTA of 13:00 arrives after it
    client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("send_text_message", {"MessageId": "aws-reply-1"})
        invoke_inbound(sns_reply("BAJA", at="2026-11-27T13:05:00.000Z"), TwoWayReplier(client))
        late = invoke_inbound(sns_reply("ALTA", at="2026-11-27T13:00:00.000Z"), TwoWayReplier(client))
        stubber.assert_no_pending_responses()
    # Then she stays opted out, and is not told she is subscribed again
    assert (late["results"][0]["applied"], late["results"][0]["reply"], late["results"][0]["replySent"]) == (
        False,
        None,
        False,
    )
    assert DynamoSuppressionList().is_suppressed(ANA, f"aws_sms:{AWS_NUMBER}")


@pytest.mark.usefixtures("inbound_env")
def test_an_sns_message_that_is_not_a_two_way_payload_is_dropped() -> None:
    event = load_event("sns_two_way_sms.json")
    event["Records"][0]["Sns"]["Message"] = "not json"
    assert invoke_inbound(event)["results"] == [{"action": "NONE", "dropped": "not JSON"}]
    assert list(SuppressionRecord.scan()) == []


# -- what a tenant is shown: its own opt-out, and the keywords of the sender it sends through -----------------------


@pytest.mark.usefixtures("inbound_env")
def test_a_stop_to_the_twilio_number_does_not_touch_tenants_that_send_through_the_sandbox(admin: Any) -> None:
    # Given tenants A and B both send through the sandbox, and both have Ana as a contact
    tenant_a, tenant_b = make_campaign(admin), make_campaign(admin)
    contact_a, contact_b = tenant_a.add(ANA, "vip"), tenant_b.add(ANA, "vip")
    # When she replies STOP to the Twilio number, signed by Twilio
    assert post(twilio_reply("STOP"))[0] == 200
    # Then B's preview still reaches her, and neither tenant shows her opted out
    assert previewed_skips(tenant_b, "vip") == 0
    assert [shown(t, c)["optedOut"] for t, c in ((tenant_a, contact_a), (tenant_b, contact_b))] == [False, False]
    assert consent(tenant_a, contact_a) == (False, [])
    assert shown(tenant_b, contact_b)["consent"] == {"state": "SUBSCRIBED", "reasons": []}


@pytest.mark.usefixtures("inbound_env")
def test_a_stop_to_the_twilio_number_shows_only_where_the_tenant_sends_through_twilio(admin: Any) -> None:
    # Given tenant A sends through Twilio and tenant B through the sandbox, both with Ana
    tenant_a, tenant_b = make_campaign(admin), make_campaign(admin)
    sends_through(tenant_a, "twilio")
    contact_a, contact_b = tenant_a.add(ANA, "vip"), tenant_b.add(ANA, "vip")
    # When she replies STOP to the Twilio number
    post(twilio_reply("STOP"))
    # Then B is untouched; A shows her skipped because of that keyword to that sender, and its preview skips her
    assert (shown(tenant_b, contact_b)["optedOut"], previewed_skips(tenant_b, "vip")) == (False, 0)
    assert consent(tenant_b, contact_b) == (False, [])
    assert consent(tenant_a, contact_a) == (True, [("KEYWORD", f"twilio:{TWILIO_NUMBER}", "STOP")])
    assert previewed_skips(tenant_a, "vip") == 1
    # And A's list, filtered on optedOut, agrees with what is shown
    assert [c["id"] for c in Client(tenant_a).all_contacts(optedOut="true")] == [contact_a]
    assert Client(tenant_b).all_contacts(optedOut="true") == []


@pytest.mark.usefixtures("inbound_env")
def test_a_twilio_start_after_baja_to_the_sandbox_does_not_show_subscribed_a_number_every_send_skips(
    admin: Any,
) -> None:
    # Given a tenant sending through the sandbox, and Ana replied BAJA to the sandbox's number
    shop = make_campaign(admin)
    contact_id = shop.add(ANA, "vip")
    stop_through_the_sandbox("BAJA")
    assert shown(shop, contact_id)["optedOut"] is True
    # When she replies START to the Twilio number
    assert post(twilio_reply("START"))[0] == 200
    # Then the contact still shows opted out, by her BAJA to the sandbox, as every send still skips her
    assert (shown(shop, contact_id)["optedOut"], previewed_skips(shop, "vip")) == (True, 1)
    assert consent(shop, contact_id) == (True, [("KEYWORD", "sandbox", "BAJA")])


@pytest.mark.usefixtures("inbound_env")
def test_the_tenants_own_opt_out_and_a_keyword_are_shown_apart_and_lifting_one_leaves_the_other(admin: Any) -> None:
    # Given Ana replied BAJA to the sandbox (the tenant's sender), and the tenant opted her out too
    shop = make_campaign(admin)
    contact_id = shop.add(ANA, "vip")
    stop_through_the_sandbox("BAJA")
    client = Client(shop)
    assert client.item("PATCH", "/api/contacts", contact_id, {"optedOut": True}).status == 200
    # When the tenant lifts its own opt-out
    lifted = client.item("PATCH", "/api/contacts", contact_id, {"optedOut": False})
    # Then the answer says she is still skipped, and why: her keyword, which only she can undo
    assert (lifted.status, lifted.body["optedOut"]) == (200, True)
    assert lifted.body["consent"]["state"] == "OPTED_OUT"
    assert [(r["reason"], r["sender"]) for r in lifted.body["consent"]["reasons"]] == [("KEYWORD", "sandbox")]
    assert previewed_skips(shop, "vip") == 1
    # And with both, both are listed, the tenant's own first
    both = client.item("PATCH", "/api/contacts", contact_id, {"optedOut": True})
    assert [r["reason"] for r in both.body["consent"]["reasons"]] == ["TENANT_OPT_OUT", "KEYWORD"]
    # And once she replies ALTA to the sandbox and the tenant lifts its own, she is subscribed again
    stop_through_the_sandbox("ALTA", at="2026-11-27T13:10:00.000Z")
    client.item("PATCH", "/api/contacts", contact_id, {"optedOut": False})
    assert consent(shop, contact_id) == (False, [])
    assert previewed_skips(shop, "vip") == 0


@pytest.mark.usefixtures("inbound_env")
def test_a_contact_flagged_by_a_keyword_before_derived_consent_shows_why_until_the_flag_is_cleared(
    admin: Any,
) -> None:
    # Given a contact the keyword handler used to flag (consentSource keyword, membership copies too)
    shop = make_campaign(admin)
    contact_id = shop.add(ANA, "vip")
    admin.contact_store().set_opted_out(shop.tenant_id, contact_id, True, "keyword", datetime(2026, 11, 1, tzinfo=UTC))
    # Then it shows what the send path does with it: skipped, by a keyword of unknown sender
    assert consent(shop, contact_id) == (True, [("KEYWORD", None, None)])
    assert previewed_skips(shop, "vip") == 1
    # When the flags keywords left are cleared / Then it is subscribed, in the contacts API and the send path
    assert admin.clear_keyword_flags() == 1
    assert consent(shop, contact_id) == (False, [])
    assert previewed_skips(shop, "vip") == 0


def test_smsctl_clears_the_flags_the_old_keyword_handler_left_and_nothing_else(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given, on the local stack, a contact the old keyword handler flagged, one the tenant opted out, one subscribed
    tenant_id = ok(capsys, "tenant", "create", "--name", "Acme", "--credits", "0", "--country", "CO")["tenantId"]
    store = targets.local_target().admin_store()
    numbers = [ANA, "+573001110000", "+573002220000"]
    ids = store.add_contacts(tenant_id, [ContactInput(phone=n, tag_names=["vip"]) for n in numbers])
    flagged_at = datetime(2026, 11, 1, tzinfo=UTC)
    store.contact_store().set_opted_out(tenant_id, ids[0], True, "keyword", flagged_at)
    store.contact_store().set_opted_out(tenant_id, ids[1], True, "api", flagged_at)
    # When `smsctl contacts clear-keyword-flags` runs, twice
    assert ok(capsys, "contacts", "clear-keyword-flags") == {"cleared": 1}
    assert ok(capsys, "contacts", "clear-keyword-flags") == {"cleared": 0}
    # Then only the keyword's flag is gone, membership copy included; the tenant's own opt-out stays
    assert [bool(ContactRecord.get(tenant_id, i).opted_out) for i in ids] == [False, True, False]
    tag_key = TagMemberRecord.key_for(tenant_id, store.tags(tenant_id)[0].tag_id)
    assert [bool(TagMemberRecord.get(tag_key, i).opted_out) for i in ids] == [False, True, False]


# -- the send and deliver paths ---------------------------------------------------------------------------------


def stop_through_the_sandbox(body: str = "STOP", number: str = ANA, at: str = "2026-11-27T13:00:00.000Z") -> None:
    """A reply to the sandbox's notional number (what `smsctl inbound` sends on the local stack)."""
    result = invoke_inbound(
        sns_reply(body, to=wiring.bound_settings().sandbox_sender_number, from_number=number, at=at)
    )
    assert result["results"][0]["sender"] == "sandbox"


def refunds(tenant_id: str) -> list[tuple[int, list[str]]]:
    return sorted(
        (int(e.amount), list(e.message_ids or [])) for e in LedgerRecord.query(tenant_id) if e.kind == "REFUND"
    )


def test_a_stop_in_the_middle_of_a_campaign_stops_its_message_not_sent_and_refunded(
    delivery: Delivery, campaign: Campaign
) -> None:
    # Given a paid campaign of three messages waiting on the delivery queue
    numbers = [ANA, "+573001110000", "+573002220000"]
    queue_id, ids = delivery.send_campaign(campaign, *numbers)
    bodies = delivery.sqs_bodies()
    assert campaign.balance() == 1000 - 3
    # When Ana replies STOP before her message goes out
    stop_through_the_sandbox()
    result = delivery.deliver(*bodies)
    # Then her message never reaches the provider: FAILED with OPTED_OUT, refunded with a ledger entry naming it
    assert result == {"batchItemFailures": []}
    assert ids[ANA] not in delivery.sandbox.calls
    assert sorted(delivery.sandbox.calls) == sorted(ids[n] for n in numbers[1:])
    record = MessageRecord.get(ids[ANA], consistent_read=True)
    assert (record.status, record.provider_error_code, record.permanent_failure) == ("FAILED", OPTED_OUT, True)
    assert record.history[-1].code == OPTED_OUT
    assert refunds(campaign.tenant_id) == [(1, [ids[ANA]])]
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 2
    assert {MessageRecord.get(ids[n]).status for n in numbers[1:]} == {"SENT"}
    assert load_dispatch(queue_id).count_failed == 1


def test_a_suppressed_number_is_left_out_of_the_next_send_uncharged_until_it_opts_back_in(
    delivery: Delivery, campaign: Campaign
) -> None:
    # Given Ana replied STOP to the sandbox sender before she was even a contact of this tenant
    stop_through_the_sandbox()
    # When the tenant sends to her and another contact
    _, first = delivery.send_campaign(campaign, ANA, "+573001110000")
    # Then only the other one is sent and paid (she is skipped as opted out, not charged)
    assert sorted(first) == ["+573001110000"]
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 1
    # When she replies ALTA, and the tenant sends again
    stop_through_the_sandbox("ALTA", at="2026-11-27T13:10:00.000Z")
    _, second = delivery.send_campaign(campaign, ANA, "+573001110000")
    # Then she is reached again
    assert sorted(second) == sorted([ANA, "+573001110000"])


def test_a_suppression_for_another_sender_does_not_stop_this_senders_campaign(
    delivery: Delivery, campaign: Campaign
) -> None:
    # Given Ana opted out of the AWS number only, before she became a contact of this tenant (on the sandbox)
    result = invoke_inbound(sns_reply("STOP"))
    assert result["results"][0]["sender"].startswith("aws_sms:")
    # When the tenant sends to her / Then she is reached and paid for: the sandbox sender is not suppressed
    _, ids = delivery.send_campaign(campaign, ANA)
    assert list(ids) == [ANA]
    assert campaign.balance() == 1000 - 1


# -- hostile input: the webhook never answers 5xx, and only a signed keyword changes anything ----------------------

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same examples on every CI run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hostile = st.text(st.characters(codec="utf-8"), max_size=300) | st.sampled_from(["STOP", " bája ", "ALTA", "+1", ""])


@pytest.mark.usefixtures("inbound_env")
@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["Body", "From", "To", "MessageSid", "MessagingServiceSid", "SmsSid"]) | st.text(max_size=20),
        hostile,
        max_size=6,
    ),
    signed=st.booleans(),
    signature=st.one_of(st.none(), st.text(max_size=60)),
)
def test_any_inbound_webhook_is_200_twiml_when_signed_and_403_otherwise(
    params: dict[str, str], signed: bool, signature: str | None
) -> None:
    # Given any form parameters, signed or not
    event = copy.deepcopy(load_event("apigw_twilio_inbound.json"))
    event["body"] = urlencode(params)
    sig = request_signature(INBOUND_URL, list(params.items()), TWILIO_AUTH_TOKEN) if signed else signature
    for headers in (event["headers"], event["multiValueHeaders"]):
        headers.pop("X-Twilio-Signature", None)
    if sig is not None:
        event["headers"]["X-Twilio-Signature"], event["multiValueHeaders"]["X-Twilio-Signature"] = sig, [sig]
    # When it is posted
    response = webhooks.twilio_handler(event, LambdaContextStub())
    # Then signed is 200 TwiML, anything else 403 with nothing recorded
    if signed:
        assert response["statusCode"] == 200, response["body"]
        assert response["body"].startswith('<?xml version="1.0" encoding="UTF-8"?><Response')
    else:
        assert response["statusCode"] == 403, response["body"]
    recorded = list(SuppressionRecord.scan())
    if not signed:
        assert recorded == []
    for record in recorded:
        record.delete()  # each example starts from an empty list
