"""The opt-out link on moto (issue 22, items 4 and 5): on a route without two-way SMS in Colombia the preview shows
the link footer and the send charges exactly it, delivery sends each recipient its own code, and the page (the real
handler, no token) opts that number out of the tenant and the sender, once, so that the next campaign skips it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from functions.optout import app as optout_app
from smscore import wiring
from smscore.dal.contact_store import DynamoContactStore
from smscore.dal.link_secret import opt_out_link_key
from smscore.dal.tables import ContactRecord, MessageRecord, OutboxRecord, SuppressionRecord
from smscore.domain.consent_records import ConsentOrigin, ConsentStatus
from smscore.domain.opt_out_links import PLACEHOLDER, OptOutCodes
from tests.conftest import LambdaContextStub, load_event
from tests.integration.conftest import Campaign
from tests.integration.test_deliver import Delivery, atomic_moto, delivery  # noqa: F401 - fixtures
from tests.integration.test_preview_and_resend import PREVIEW, SEND, call


@pytest.fixture
def one_way(delivery: Delivery, monkeypatch: pytest.MonkeyPatch) -> Iterator[Delivery]:  # noqa: F811
    """The sandbox as a route without two-way SMS in Colombia (as AWS End User Messaging SMS is there)."""
    monkeypatch.setenv("TWO_WAY_SMS_COUNTRIES", '{"sandbox": "", "twilio": "*"}')
    wiring.reset()
    yield delivery
    wiring.reset()


def page(method: str, code: str) -> dict[str, Any]:
    """The page's route as API Gateway calls it: no Authorization header, no authorizer."""
    event = copy.deepcopy(load_event("apigw_send_by_tags.json"))
    event.update(httpMethod=method, path=f"/o/{code}", resource="/o/{code}", body=None, pathParameters={"code": code})
    event["requestContext"].update(httpMethod=method, resourcePath="/o/{code}", path=f"/dev/o/{code}")
    event["requestContext"].pop("authorizer", None)
    for headers in (event["headers"], event["multiValueHeaders"]):
        headers.pop("Authorization", None)
    result: dict[str, Any] = optout_app.lambda_handler(event, LambdaContextStub())
    return result


def header(answer: dict[str, Any], name: str) -> str:
    values = (answer.get("multiValueHeaders") or {}).get(name) or [(answer.get("headers") or {}).get(name)]
    return str(values[0])


def vip(audience: Campaign) -> dict[str, Any]:
    return {"message": "Oferta de temporada", "tagIds": [audience.tags["vip"]]}


def test_the_link_footer_is_previewed_charged_sent_with_each_code_and_opts_out_once(
    one_way: Delivery, audience: Campaign
) -> None:
    # When a marketing campaign to Colombian numbers is previewed and sent through a route without two-way SMS
    status, preview = call(audience, PREVIEW, vip(audience))
    assert status == 200, preview
    status, sent = call(audience, SEND, vip(audience))
    assert status == 201, sent

    # Then the preview shows the link footer (the code's placeholder, same length) and the debit is its price
    final = preview["finalMessage"]
    assert final.startswith("Acme: Oferta de temporada\nBaja: https://")
    assert final.endswith(f"/o/{PLACEHOLDER}")
    assert (preview["segments"], preview["creditsRequired"]) == (1, 3)
    stored = {m["recipient"]: MessageRecord.get(m["id"]) for m in sent["messages"]}
    assert {m.body for m in stored.values()} == {final}
    assert audience.balance() == 1000 - 3 == audience.ledger_sum()

    # When delivery sends them, Then each recipient gets its own code, which leads back to its message
    one_way.deliver(*one_way.sqs_bodies())
    codes = OptOutCodes(opt_out_link_key())
    received = {number: OutboxRecord.get(m.message_id, consistent_read=True).body for number, m in stored.items()}
    links = {number: body.rsplit("/o/", 1)[1] for number, body in received.items()}
    assert len(set(links.values())) == 3
    for number, body in received.items():
        assert len(body) == len(final)
        assert body == final.removesuffix(PLACEHOLDER) + links[number]
        assert codes.message_id_of(links[number]) == stored[number].message_id

    # When Ana opens her link, Then the page shows one button and changes nothing yet
    ana = "+573001234567"
    shown = page("GET", links[ana])
    assert shown["statusCode"] == 200
    assert header(shown, "Content-Type") == "text/html; charset=utf-8"
    assert "No quiero recibir más mensajes" in shown["body"]
    assert "+********4567" in shown["body"]
    assert ana not in shown["body"]
    assert "<script" not in shown["body"]
    assert "default-src 'none'" in header(shown, "Content-Security-Policy")
    assert not list(SuppressionRecord.query(ana))

    # When she presses it (twice: a double tap, a reload)
    first, second = page("POST", links[ana]), page("POST", links[ana])

    # Then both answer the same page; she is out of the tenant's marketing with one revoked consent record (link)
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert "Listo" in first["body"]
    assert first["body"] == second["body"]
    contacts = DynamoContactStore(region="us-east-1")
    [(_, contact_id)] = [
        (r.tenant_id, r.contact_id) for r in ContactRecord.by_number.query(ana) if r.tenant_id == audience.tenant_id
    ]
    contact = contacts.get_contact(audience.tenant_id, contact_id)
    assert contact is not None
    assert contact.opted_out
    [record] = contacts.consent_history(audience.tenant_id, contact_id)
    assert (record.status, record.source) == (ConsentStatus.REVOKED, ConsentOrigin.LINK)
    assert stored[ana].message_id in (record.evidence or "")
    # and out of the sender's messages, like a STOP reply
    [suppression] = list(SuppressionRecord.query(ana))
    assert (suppression.sender, bool(suppression.opted_out), suppression.keyword) == ("sandbox", True, "LINK")

    # When the next campaign is previewed and sent, Then it skips her, uncharged
    status, again = call(audience, PREVIEW, vip(audience))
    assert status == 200
    assert again["recipients"] == 2
    assert again["creditsRequired"] == 2
    status, resent = call(audience, SEND, vip(audience))
    assert status == 201
    assert ana not in {m["recipient"] for m in resent["messages"]}
    assert audience.balance() == 1000 - 3 - 2


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("A" * 38, id="forged, right length"),
        pytest.param("short", id="too short"),
        pytest.param("\u0085\u00f1", id="characters no route matches"),
        pytest.param(OptOutCodes(b"x" * 32).code_for("00000000-0000-0000-0000-000000000001"), id="another secret"),
    ],
)
def test_an_unknown_code_gets_a_404_page_and_changes_nothing(one_way: Delivery, code: str) -> None:
    for method in ("GET", "POST"):
        answer = page(method, code)
        assert answer["statusCode"] == 404
        assert "Este enlace no es válido" in answer["body"]
    assert not list(SuppressionRecord.scan())
