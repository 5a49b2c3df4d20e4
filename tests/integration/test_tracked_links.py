"""Tracked short links on moto, through the real handlers: a send with trackLinks gives every recipient their own
short link, priced at its length exactly as the preview said (with merge fields and transliteration), and the link
answers 302 to the original URL, counting a person's first click once and never a HEAD request or a preview bot;
a code we did not issue is 404 (no open redirect)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from functions.links import app as links_handler
from functions.messages import app as messages_handler
from smscore.dal.tables import DispatchRecord, LedgerRecord, LinkRecord, MessageRecord
from smscore.domain.events import Event
from smscore.domain.links import CODE_LENGTH
from smscore.wiring import LinksDeps, link_store
from tests.conftest import LambdaContextStub, Stack, api_event
from tests.integration.conftest import Campaign
from tests.integration.test_preview_and_resend import end_as, preview, queue_status, resend, send
from tests.integration.test_webhooks_out import add_endpoint, drain_webhook_queue, env  # noqa: F401 - a fixture

BASE = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/dev/l"  # the recorded event's API URL + /l
SHORT = re.compile(re.escape(BASE) + r"/([0-9A-Za-z]{" + str(CODE_LENGTH) + r"})")
URL = "https://tienda.example.co/ofertas?utm_source=sms&cupón=Sábado"


class Recorded:
    """The event sink of the links function: what it published."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, events: Any) -> None:
        self.events.extend(events)


def click(code: str, method: str = "GET", user_agent: str = "Mozilla/5.0 (Linux; Android 14)", sink: Any = None) -> Any:
    deps = LinksDeps(links=link_store(), events=sink or Recorded())
    return links_handler.lambda_handler(click_event(code, method, user_agent), LambdaContextStub(), deps=deps)


def click_event(code: str, method: str, user_agent: str) -> dict[str, Any]:
    """GET/HEAD /l/{code} as API Gateway hands it to the links function (no authorizer)."""
    event = api_event(None, tenant_id="-", member_id="-")
    event["requestContext"].pop("authorizer", None)
    event.update(
        httpMethod=method,
        path=f"/l/{code}",
        resource="/l/{code}",
        pathParameters={"code": code},
        headers={"User-Agent": user_agent, "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com"},
        multiValueHeaders={"User-Agent": [user_agent]},
    )
    event["requestContext"].update(httpMethod=method, resourcePath="/l/{code}", path=f"/dev/l/{code}")
    return event


def location(response: dict[str, Any]) -> str | None:
    """The Location header of a handler's answer (REST proxy: multiValueHeaders)."""
    found = (response.get("multiValueHeaders") or {}).get("Location") or []
    return found[0] if found else (response.get("headers") or {}).get("Location")


def message(campaign: Campaign, message_id: str) -> dict[str, Any]:
    event = api_event(None, tenant_id=campaign.tenant_id, member_id=campaign.member_id)
    event.update(
        httpMethod="GET",
        path=f"/api/messages/{message_id}",
        resource="/api/messages/{id}",
        pathParameters={"id": message_id},
    )
    response = messages_handler.lambda_handler(event, LambdaContextStub())
    assert response["statusCode"] == 200, response["body"]
    body: dict[str, Any] = json.loads(response["body"])
    return body


@pytest.fixture
def people(stack: Stack, campaign: Campaign) -> Campaign:
    campaign.add("3001234567", "vip", name="Ana")
    campaign.add("3001234568", "vip", name="Bernardo Antonio")
    campaign.add("3001234569", "vip")
    return campaign


def tracked(campaign: Campaign, message: str, **extra: Any) -> dict[str, Any]:
    # transactional: sent as written (marketing to CO is framed: test_compliance_text.py)
    return {
        "message": message,
        "tagIds": [campaign.tags["vip"]],
        "purpose": "transactional",
        "trackLinks": True,
        **extra,
    }


def codes_of(body: str) -> list[str]:
    return SHORT.findall(body)


def test_preview_equals_charge_with_merge_fields_transliteration_and_tracked_links(people: Campaign) -> None:
    # Given a Spanish text with a merge field, an accent that costs UCS-2, and a long URL written twice
    text = f"Hola {{nombre|cliente}}, el sábado todo al 50%: {URL} Ver más: {URL}"
    body = tracked(people, text, encoding="gsm-transliterate")
    # When it is previewed
    status, shown = preview(people, body)
    assert status == 200, shown
    # Then every sample carries the short link's shape instead of the URL, transliterated to GSM-7
    for sample in shown["samples"]:
        assert URL not in sample["text"]
        assert "sabado" in sample["text"]
        assert "mas" in sample["text"]
        assert sample["encoding"] == "GSM-7"
        assert len(codes_of(sample["text"])) == 2
    previewed = {s["recipient"]: (s["text"], s["segments"]) for s in shown["samples"]}
    # When it is sent
    status, sent = send(people, body)
    assert status == 201, sent
    # Then the debit is exactly the preview's credits, and the ledger says so
    assert people.balance() == 1000 - shown["creditsRequired"]
    assert DispatchRecord.get(sent["queueId"]).credits_debited == shown["creditsRequired"]
    assert sum(int(e.amount) for e in LedgerRecord.scan() if e.queue_id == sent["queueId"]) == -shown["creditsRequired"]
    # And every stored text is the previewed one with the recipient's own code in place of the placeholder
    stored = {m.recipient: m for m in MessageRecord.scan()}
    assert set(stored) == set(previewed)
    codes: set[str] = set()
    for recipient, (text, segments) in previewed.items():
        body_sent = stored[recipient].body
        assert len(body_sent) == len(text)
        assert SHORT.sub("L", body_sent) == SHORT.sub("L", text)
        assert int(stored[recipient].segments) == segments == int(stored[recipient].credits)
        mine = codes_of(body_sent)
        assert len(mine) == 2
        assert mine[0] == mine[1]
        codes.add(mine[0])
    assert len(codes) == 3  # one code per recipient
    assert "Hola Ana," in stored["+573001234567"].body
    # And one link item for the campaign's one URL, none per recipient
    links = list(LinkRecord.scan())
    assert [(link.queue_id, link.url, int(link.messages)) for link in links] == [(sent["queueId"], URL, 3)]


def test_the_link_answers_302_to_the_original_and_counts_a_click_once_per_recipient(people: Campaign) -> None:
    status, sent = send(people, tracked(people, f"Hola {{nombre|cliente}}, mira {URL}."))
    assert status == 201, sent
    by_recipient = {m.recipient: m for m in MessageRecord.scan()}
    ana = by_recipient["+573001234567"]
    assert ana.body.endswith(".")  # the sentence's period is not part of the URL
    (code,) = codes_of(ana.body)
    sink = Recorded()
    # When a preview bot and a HEAD request follow Ana's link
    for method, agent in (("GET", "WhatsApp/2.23.20.0 A"), ("GET", "facebookexternalhit/1.1"), ("HEAD", "curl/8")):
        response = click(code, method, agent, sink)
        # Then they are redirected to the original URL (non-ASCII percent-encoded)
        assert response["statusCode"] == 302
        assert location(response) == "https://tienda.example.co/ofertas?utm_source=sms&cup%C3%B3n=S%C3%A1bado"
    # And nothing is counted
    assert queue_status(people, sent["queueId"])["clicks"] == 0
    assert message(people, ana.message_id)["clicks"] == 0
    assert sink.events == []
    # When Ana clicks twice
    first, second = click(code, sink=sink), click(code, sink=sink)
    assert (first["statusCode"], second["statusCode"]) == (302, 302)
    # Then the campaign counts one unique click, her message two clicks and its first click's time
    status_body = queue_status(people, sent["queueId"])
    assert status_body["clicks"] == 1
    shown = message(people, ana.message_id)
    assert shown["clicks"] == 2
    assert shown["firstClickedAt"] is not None
    # And message.clicked was emitted once, for her message
    assert [(e.event_type, e.data["messageId"], e.data["url"]) for e in sink.events] == [
        ("message.clicked", ana.message_id, URL)
    ]
    # When Bernardo clicks his own link once
    (bernardo_code,) = codes_of(by_recipient["+573001234568"].body)
    assert click(bernardo_code, sink=sink)["statusCode"] == 302
    # Then the campaign has 2 unique clicks; the others' messages none
    assert queue_status(people, sent["queueId"])["clicks"] == 2
    assert message(people, by_recipient["+573001234569"].message_id)["clicks"] == 0


def test_a_forged_or_unknown_code_is_404_and_counts_nothing(people: Campaign) -> None:
    status, sent = send(people, tracked(people, f"Mira {URL}"))
    assert status == 201
    (code,) = codes_of(next(iter(MessageRecord.scan())).body)
    key, ordinal, tag = code[:6], code[6:10], code[10:]
    forged = [
        key + ordinal + ("A" if tag[0] != "A" else "B") + tag[1:],  # another tag for a real message
        key + "zzzz" + tag,  # another ordinal with the real tag
        key + "0009" + tag,  # a message beyond the campaign
        ("A" if key[0] != "A" else "B") + key[1:] + ordinal + tag,  # a key that names no link
        code[:-1],  # too short
        code + "x",  # too long
        "https:%2F%2Fevil.example",  # a URL instead of a code
    ]
    for attempt in forged:
        response = click(attempt)
        # Then it is 404 with the API's error body, never a redirect
        assert response["statusCode"] == 404, attempt
        assert location(response) is None
        assert json.loads(response["body"])["code"] == "NOT_FOUND"
    assert queue_status(people, sent["queueId"])["clicks"] == 0
    assert all(not m.clicks for m in MessageRecord.scan())


def test_track_links_without_urls_sends_the_text_as_written(people: Campaign) -> None:
    status, _sent = send(people, tracked(people, "Hola {nombre|cliente}, sin enlaces"))
    assert status == 201
    assert {m.body for m in MessageRecord.scan()} >= {"Hola Ana, sin enlaces"}
    assert list(LinkRecord.scan()) == []


@pytest.mark.usefixtures("env")  # the integrations, webhook and deliver functions' environment
def test_the_first_click_emits_message_clicked_to_the_tenants_webhooks_once(stack: Stack, campaign: Campaign) -> None:
    # Given an endpoint of the tenant that wants message.clicked, and a tracked campaign to Ana
    add_endpoint(campaign, ["message.clicked"])
    campaign.add("3001234567", "vip", name="Ana")
    status, sent = send(campaign, tracked(campaign, f"Hola {{nombre}}, mira {URL}"))
    assert status == 201, sent
    (ana,) = list(MessageRecord.scan())
    (code,) = codes_of(ana.body)
    drain_webhook_queue(stack)
    # When a preview bot, then Ana twice, follow her link through the function's own wiring (the real emitter)
    for method, agent in (
        ("HEAD", "curl/8"),
        ("GET", "Slackbot-LinkExpanding 1.0"),
        ("GET", "Mozilla/5.0"),
        ("GET", "Mozilla/5.0"),
    ):
        assert links_handler.lambda_handler(click_event(code, method, agent), LambdaContextStub())["statusCode"] == 302
    # Then one message.clicked event is queued for the webhooks, for her message and the URL
    queued = [Event.from_body(m["event"]) for m in drain_webhook_queue(stack) if m.get("kind") == "event"]
    assert [(e.event_type, e.tenant_id, e.data["messageId"], e.data["url"], e.data["recipient"]) for e in queued] == [
        ("message.clicked", campaign.tenant_id, ana.message_id, URL, "+573001234567")
    ]


def test_a_resend_of_a_tracked_campaign_tracks_its_links_too_and_an_untracked_one_has_no_click_rate(
    stack: Stack, people: Campaign
) -> None:
    # Given a tracked campaign whose message to Bernardo failed at the carrier, and an untracked one
    status, sent = send(people, tracked(people, f"Hola {{nombre|cliente}}, mira {URL}"))
    assert status == 201, sent
    status, plain = send(people, {**tracked(people, f"Sin medir {URL}"), "trackLinks": False})
    assert status == 201, plain
    stack.drain_delivery_queue()
    bernardo = next(m for m in sent["messages"] if m["recipient"] == "+573001234568")
    end_as(bernardo["id"], "UNDELIVERED", "30003", None)  # unreachable handset (switched off): worth a resend
    assert queue_status(people, sent["queueId"])["trackLinks"] is True
    untracked = queue_status(people, plain["queueId"])
    assert (untracked["trackLinks"], untracked["clicks"], untracked["clickRate"]) == (False, 0, None)
    # When the failures are resent
    status, again = resend(people, sent["queueId"], {"purpose": "transactional"})
    assert status == 201, again
    # Then Bernardo's new message carries a short link of its own (a new code), not the URL, and the resend is tracked
    (message,) = again["messages"]
    body = MessageRecord.get(message["id"]).body
    assert URL not in body
    (code,) = codes_of(body)
    (first_code,) = codes_of(MessageRecord.get(bernardo["id"]).body)
    assert code != first_code
    assert queue_status(people, again["queueId"])["trackLinks"] is True
    assert click(code)["statusCode"] == 302
    assert queue_status(people, again["queueId"])["clicks"] == 1


def test_a_drawn_link_key_already_taken_is_never_overwritten_and_new_keys_are_drawn(
    people: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a link item of another campaign under the key the next draw will give first
    from datetime import UTC, datetime

    from smscore.domain import links

    LinkRecord(
        "TAKEN1",
        tenant_id="other",
        queue_id="q",
        url="https://other.example",
        secret="00" * 32,
        messages=1,
        created_at=datetime(2026, 12, 6, tzinfo=UTC),
    ).save()
    draws = iter(["TAKEN1", "FRESH1"])
    monkeypatch.setattr(links, "new_key", lambda: next(draws))
    # When a tracked campaign is sent
    status, sent = send(people, tracked(people, f"Mira {URL}"))
    # Then it is sent with the second key, and the other campaign's link is untouched
    assert status == 201, sent
    assert {m.body.split("/l/")[1][:6] for m in MessageRecord.scan()} == {"FRESH1"}
    assert LinkRecord.get("TAKEN1").url == "https://other.example"
    assert LinkRecord.get("FRESH1").queue_id == sent["queueId"]
