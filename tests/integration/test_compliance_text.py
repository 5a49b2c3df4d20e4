"""A marketing SMS to CO names its sender and ends with the opt-out, on moto: the preview shows the final text and
its price, the send persists exactly that text and debits exactly that price (issue 22, item 4)."""

from __future__ import annotations

from typing import Any

import pytest

from smscore.dal.tables import MessageRecord
from tests.conftest import Stack
from tests.integration.conftest import Campaign
from tests.integration.test_contacts_api import Client
from tests.integration.test_preview_and_resend import PREVIEW, SEND, call

FOOTER = "\nResponde SALIR para no recibir mas"


def body(audience: Campaign, message: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "tagIds": [audience.tags["vip"]], **extra}


@pytest.mark.parametrize(
    ("message", "segments"),
    [
        ("Oferta de temporada", 1),
        ("x" * 113, 1),  # "Acme: " (6) + 113 + footer (35) = 154 septets: one segment
        ("x" * 120, 2),  # 161: the prefix and the footer make it two, and the preview says so
    ],
)
def test_the_preview_shows_the_final_text_and_the_send_charges_exactly_it(
    stack: Stack, audience: Campaign, message: str, segments: int
) -> None:
    # When a marketing campaign to Colombian numbers is previewed
    status, preview = call(audience, PREVIEW, body(audience, message))
    assert status == 200
    # Then it shows the text with the tenant's name (its default sender name) and the opt-out, priced
    assert preview["finalMessage"] == f"Acme: {message}{FOOTER}"
    assert (preview["segments"], preview["creditsRequired"]) == (segments, 3 * segments)

    # When it is sent
    status, sent = call(audience, SEND, body(audience, message))
    assert status == 201
    # Then every message carries exactly that text and the debit is exactly the preview's figure
    stored = [MessageRecord.get(m["id"]) for m in sent["messages"]]
    assert {m.body for m in stored} == {preview["finalMessage"]}
    assert {int(m.segments) for m in stored} == {segments}
    assert audience.balance() == 1000 - preview["creditsRequired"]
    assert audience.ledger_sum() == audience.balance()


def test_the_tenants_own_sender_name_and_opt_out_text_are_used(contacts_stack: Stack, audience: Campaign) -> None:
    settings = Client(audience).call(
        "PUT", "/api/settings", {"senderName": "Tienda Ana", "optOutText": "Envia SALIR y no te escribimos mas"}
    )
    assert settings.status == 200
    status, preview = call(audience, PREVIEW, body(audience, "Hola"))
    assert status == 200
    assert preview["finalMessage"] == "Tienda Ana: Hola\nEnvia SALIR y no te escribimos mas"


def test_a_cleared_sender_name_refuses_marketing_to_co_and_charges_nothing(
    contacts_stack: Stack, audience: Campaign
) -> None:
    assert Client(audience).call("PUT", "/api/settings", {"senderName": None}).status == 200
    for path in (PREVIEW, SEND):
        status, answer = call(audience, path, body(audience, "Hola"))
        assert (status, answer["code"]) == (409, "SENDER_NAME_REQUIRED")
    assert list(MessageRecord.scan()) == []
    assert audience.balance() == audience.ledger_sum() == 1000
    # A transactional message needs no sender name and carries no frame
    status, sent = call(audience, SEND, body(audience, "Tu codigo: 1234", purpose="transactional"))
    assert status == 201
    assert {MessageRecord.get(m["id"]).body for m in sent["messages"]} == {"Tu codigo: 1234"}


def test_a_text_that_already_names_the_sender_is_not_prefixed_again(stack: Stack, audience: Campaign) -> None:
    status, preview = call(audience, PREVIEW, body(audience, "Acme: ya trae el nombre"))
    assert status == 200
    assert preview["finalMessage"] == f"Acme: ya trae el nombre{FOOTER}"
