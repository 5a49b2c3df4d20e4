"""contact.opted_out / contact.opted_in on moto (issue 25, item 1): each emitted exactly once per change of what a
contact shows (smscore.domain.consent_events), whichever way it changes: a STOP / START keyword reply through AWS
two-way SMS (InboundSmsFunction) and Twilio's inbound webhook, the opt-out link page (POST /o/{code}), and the
contacts API, and each of them against the others (a keyword does not re-announce a contact the tenant opted out,
nor the link a number that replied STOP).

The real handlers run with their template environments; events are read off the template's webhook queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from functions.contacts import app as contacts_app
from functions.inbound import app as inbound_app
from smscore import wiring
from smscore.dal.outbox_store import DynamoOutbox
from smscore.dal.tables import ContactRecord, OutboxRecord
from smscore.domain.events import Event
from smscore.providers.aws_sms import TwoWayReplier
from smscore.providers.sandbox import SandboxProvider
from smsdev.provision import function_environment
from tests.conftest import LambdaContextStub, Stack, api_event
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.receipts_helpers import install_twilio_credentials
from tests.integration.test_deliver import Counting, Delivery
from tests.integration.test_opt_out_link import page as opt_out_page
from tests.integration.test_opt_outs import (
    ANA,
    AWS_NUMBER,
    TWILIO_NUMBER,
    post,
    sends_through,
    shown,
    sns_reply,
    twilio_reply,
)
from tests.integration.test_webhooks_out import add_endpoint, drain_webhook_queue, env  # noqa: F401 - a fixture

CONSENT_EVENTS = ["contact.opted_out", "contact.opted_in"]
AWS_SENDER = f"aws_sms:{AWS_NUMBER}"


@pytest.fixture
def hooks(env: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:  # noqa: F811 - env is the fixture
    """On top of the webhook functions' environment: the keyword handlers' (AWS two-way SMS from AWS_NUMBER,
    Twilio from TWILIO_NUMBER, its auth token in SSM), the link page's and the contacts API's."""
    for function_id in ("InboundSmsFunction", "TwilioStatusFunction", "OptOutLinkFunction", "ContactsFunction"):
        for key, value in function_environment(env.names, function_id).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("TWILIO_FROM_NUMBER", TWILIO_NUMBER)
    monkeypatch.setenv("AWS_SMS_ORIGINATION_IDENTITY", AWS_NUMBER)
    wiring.reset()
    install_twilio_credentials()
    yield env
    wiring.reset()


class AnsweringClient:
    """The confirmation AWS does not send itself (ALTA, BAJA) goes out through this stand-in of SendTextMessage."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_text_message(self, **request: str) -> dict[str, str]:
        self.sent.append(request["MessageBody"])
        return {"MessageId": f"reply-{len(self.sent)}"}


def aws_reply(body: str, at: str, message_id: str | None = None) -> dict[str, Any]:
    """One reply through SNS to InboundSmsFunction; what it did (smsctl inbound's JSON)."""
    deps = replace(wiring.inbound_deps(), aws_replier=lambda: TwoWayReplier(AnsweringClient()))  # type: ignore[arg-type]
    event = sns_reply(body, at=at, message_id=message_id)
    result: dict[str, Any] = inbound_app.lambda_handler(event, LambdaContextStub(), deps=deps)["results"][0]
    return result


def consent_events(stack: Stack) -> list[Event]:
    return [Event.from_body(m["event"]) for m in drain_webhook_queue(stack) if m["kind"] == "event"]


def summary(events: list[Event]) -> list[tuple[str, str, str, bool, str]]:
    return [(e.tenant_id, e.event_type, e.data["contactId"], e.data["optedOut"], e.data["source"]) for e in events]


def contact_with(who: Campaign, number: str) -> str:
    (contact_id,) = [
        r.contact_id for r in ContactRecord.by_number.query(number, ContactRecord.tenant_id == who.tenant_id)
    ]
    return str(contact_id)


def patch_opted_out(who: Campaign, contact_id: str, opted_out: bool) -> None:
    event = api_event({"optedOut": opted_out}, tenant_id=who.tenant_id, member_id=who.member_id, token=who.token)
    resource = "/api/contacts/{contactId}"
    event.update(
        httpMethod="PATCH",
        resource=resource,
        path=f"/api/contacts/{contact_id}",
        pathParameters={"contactId": contact_id},
    )
    event["requestContext"].update(httpMethod="PATCH", resourcePath=resource)
    assert contacts_app.lambda_handler(event, LambdaContextStub())["statusCode"] == 200


def test_aws_keyword_replies_emit_each_change_of_state_once_to_each_tenant_on_that_sender(
    hooks: Stack, admin: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given three tenants with Ana as a contact, each with an endpoint for the consent events: A and B send through
    # the AWS number, C through the sandbox; B had opted Ana out itself
    a, b, c = make_campaign(admin), make_campaign(admin), make_campaign(admin)
    ana_at = {t.tenant_id: t.add(ANA, "vip", opted_out=t is b) for t in (a, b, c)}
    for tenant in (a, b, c):
        add_endpoint(tenant, CONSENT_EVENTS)
    sends_through(a, "aws_sms")
    sends_through(b, "aws_sms")
    assert drain_webhook_queue(hooks) == []

    # When Ana replies BAJA to the AWS number
    assert aws_reply("BAJA", "2026-11-27T13:00:00.000Z", message_id="m-1")["applied"] is True
    # Then A hears it once, as a keyword opt-out of its contact; B's contact showed opted out already, C's sender
    # is another one
    first = consent_events(hooks)
    assert summary(first) == [(a.tenant_id, "contact.opted_out", ana_at[a.tenant_id], True, "keyword")]
    assert shown(a, ana_at[a.tenant_id])["optedOut"] is True
    assert first[0].data["at"] == "2026-11-27T13:00:00.000Z" == first[0].body().split('"createdAt":"')[1][:24]

    # When SNS delivers the same message again, she replies STOP (a new message), and an ALTA older than the BAJA
    # arrives late
    assert aws_reply("BAJA", "2026-11-27T13:00:00.000Z", message_id="m-1")["duplicate"] is True
    assert aws_reply("STOP", "2026-11-27T13:01:00.000Z", message_id="m-2")["applied"] is True
    assert aws_reply("ALTA", "2026-11-27T12:59:00.000Z", message_id="m-3")["applied"] is False
    # Then none of them moved anything, and nothing is emitted
    assert consent_events(hooks) == []

    # When she replies ALTA (newer), and then START
    assert aws_reply("ALTA", "2026-11-27T13:02:00.000Z", message_id="m-4")["applied"] is True
    assert aws_reply("START", "2026-11-27T13:03:00.000Z", message_id="m-5")["applied"] is True
    # Then A hears the opt-in once; B's contact still shows its own opt-out, so B hears nothing
    back = consent_events(hooks)
    assert summary(back) == [(a.tenant_id, "contact.opted_in", ana_at[a.tenant_id], False, "keyword")]
    assert (shown(a, ana_at[a.tenant_id])["optedOut"], shown(b, ana_at[b.tenant_id])["optedOut"]) == (False, True)
    # And the two events have their own ids, each derived from its change, the shape every event has
    assert first[0].event_id != back[0].event_id
    assert set(json.loads(back[0].body())) == {"id", "type", "createdAt", "tenantId", "data"}
    assert set(back[0].data) == {"contactId", "phone", "optedOut", "source", "at"}
    # And no log line of the handler names her number
    logged = capsys.readouterr()
    assert ANA not in logged.out + logged.err
    assert ANA[-10:] not in logged.out + logged.err


def test_twilio_keyword_replies_emit_each_change_of_state_once(
    hooks: Stack, campaign: Campaign, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a tenant sending through Twilio, with Ana as a contact and an endpoint for the consent events
    contact_id = campaign.add(ANA, "vip")
    sends_through(campaign, "twilio")
    add_endpoint(campaign, CONSENT_EVENTS)
    # When Ana replies STOP twice (two messages), then START twice, through Twilio's signed webhook
    for n, word in enumerate(["STOP", "STOP", "START", "START"]):
        status, _, _ = post(twilio_reply(word, sid="SM" + f"{n}" * 32))
        assert status == 200
    # Then her tenant heard one opt-out and one opt-in, by keyword
    assert summary(consent_events(hooks)) == [
        (campaign.tenant_id, "contact.opted_out", contact_id, True, "keyword"),
        (campaign.tenant_id, "contact.opted_in", contact_id, False, "keyword"),
    ]
    # And no log line names her number
    logged = capsys.readouterr()
    assert ANA[-10:] not in logged.out + logged.err


def test_the_link_emits_once_per_contact_it_moves_and_never_for_one_already_opted_out(
    hooks: Stack, admin: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a marketing SMS with the person's own opt-out link (a route without two-way SMS in Colombia), sent by
    # tenant A to Ana and Beto; tenant B, on the same sender, has Ana too
    monkeypatch.setenv("TWO_WAY_SMS_COUNTRIES", '{"sandbox": "", "twilio": "*"}')
    wiring.reset()
    a, b = make_campaign(admin), make_campaign(admin)
    beto = "+573001119988"
    for tenant in (a, b):
        add_endpoint(tenant, CONSENT_EVENTS)
    delivery = Delivery(stack=hooks, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    _queue_id, ids = delivery.send_campaign(a, ANA, beto)  # adds them as A's contacts
    ana_at = {a.tenant_id: contact_with(a, ANA), b.tenant_id: b.add(ANA, "vip")}
    beto_at_a = contact_with(a, beto)
    delivery.deliver(*delivery.sqs_bodies())
    code_of = {n: OutboxRecord.get(ids[n], consistent_read=True).body.rsplit("/o/", 1)[1] for n in (ANA, beto)}
    drain_webhook_queue(hooks)  # the message events of the send
    # (and a STOP of Ana's to the AWS number, a sender neither tenant sends through, moves nothing of theirs)
    assert aws_reply("STOP", "2026-11-27T13:00:00.000Z")["applied"] is True
    assert consent_events(hooks) == []

    # When Ana presses her link's button twice (a double tap)
    assert [opt_out_page("POST", code_of[ANA])["statusCode"] for _ in range(2)] == [200, 200]
    # Then A hears of its contact (its own opt-out, set by the page) and B of its contact (the sender's opt-out),
    # once each, as opt-outs by link
    assert sorted(summary(consent_events(hooks))) == sorted(
        [
            (a.tenant_id, "contact.opted_out", ana_at[a.tenant_id], True, "link"),
            (b.tenant_id, "contact.opted_out", ana_at[b.tenant_id], True, "link"),
        ]
    )
    assert shown(b, ana_at[b.tenant_id])["optedOut"] is True

    # Given Beto is opted out of A by A itself (the contacts API: one event)
    patch_opted_out(a, beto_at_a, True)
    assert summary(consent_events(hooks)) == [(a.tenant_id, "contact.opted_out", beto_at_a, True, "api")]
    # When he then presses his link / Then nothing is emitted: he showed opted out already
    assert opt_out_page("POST", code_of[beto])["statusCode"] == 200
    assert consent_events(hooks) == []
    # And no log line names either number
    logged = capsys.readouterr()
    assert not [n for n in (ANA[-10:], beto[-10:]) if n in logged.out + logged.err]


def test_the_contacts_api_emits_only_when_what_the_contact_shows_moves(hooks: Stack, campaign: Campaign) -> None:
    # Given Ana, a contact of a tenant on the AWS number, who replied BAJA to it (one keyword event)
    contact_id = campaign.add(ANA, "vip")
    sends_through(campaign, "aws_sms")
    add_endpoint(campaign, CONSENT_EVENTS)
    aws_reply("BAJA", "2026-11-27T13:00:00.000Z")
    assert [e.event_type for e in consent_events(hooks)] == ["contact.opted_out"]
    # When the tenant opts her out as well, and then lifts its own opt-out
    patch_opted_out(campaign, contact_id, True)
    patch_opted_out(campaign, contact_id, False)
    # Then nothing is emitted: she showed opted out before and after (her BAJA stands)
    assert consent_events(hooks) == []
    assert shown(campaign, contact_id)["optedOut"] is True
    # When she replies ALTA / Then she shows subscribed again, and that is one opt-in
    aws_reply("ALTA", "2026-11-27T13:05:00.000Z")
    assert summary(consent_events(hooks)) == [(campaign.tenant_id, "contact.opted_in", contact_id, False, "keyword")]
    # And with the keyword lifted, the tenant's own opt-out is a change again
    patch_opted_out(campaign, contact_id, True)
    assert summary(consent_events(hooks)) == [(campaign.tenant_id, "contact.opted_out", contact_id, True, "api")]
