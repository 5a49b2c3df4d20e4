# ruff: noqa: RUF001 - look-alike characters are what these tests are about
"""The `encoding` option of a send and its preview, through the real handler on moto: the preview says what
gsm-transliterate would save, and a send with it is charged exactly that and stores the text it sends."""

from __future__ import annotations

from typing import Any

from smscore.dal.tables import DispatchRecord, MessageRecord
from tests.conftest import Stack
from tests.integration.conftest import Campaign
from tests.integration.test_preview_and_resend import preview, send

SPANISH = "Sábado de ofertas en Bogotá: 2x1 en calzado, ¡sólo hoy! Más información en la tienda, te esperamos. Ven ya"


def body(audience: Campaign, **extra: Any) -> dict[str, Any]:
    # sent as written: marketing to CO is framed (sender name + opt-out), tests/integration/test_compliance_text.py
    return {"message": SPANISH, "tagIds": [audience.tags["vip"]], "purpose": "transactional", **extra}


def test_the_preview_offers_transliteration_and_the_send_with_it_costs_what_was_offered(
    stack: Stack, audience: Campaign
) -> None:
    # Given a Spanish text of 107 characters with á and ó: UCS-2, 2 segments a message, to the 3 vip recipients
    assert len(SPANISH) > 70
    # When it is previewed as written (auto)
    status, shown = preview(audience, body(audience))
    # Then it costs 6 credits, and gsm-transliterate would save 3, showing the text it would send
    assert status == 200
    assert (shown["encoding"], shown["segments"], shown["creditsRequired"]) == ("UCS-2", 2, 6)
    assert shown["savingsIfTransliterated"] == 3
    transliterated = shown["transliteratedMessage"]
    assert transliterated.startswith("Sabado de ofertas en Bogota: 2x1 en calzado, ¡solo hoy! Mas informacion")
    # When the marketer accepts it: the preview with gsm-transliterate, then the send
    status, accepted = preview(audience, body(audience, encoding="gsm-transliterate"))
    assert (accepted["encoding"], accepted["segments"], accepted["creditsRequired"]) == ("GSM-7", 1, 3)
    assert accepted["savingsIfTransliterated"] == 0
    status, sent = send(audience, body(audience, encoding="gsm-transliterate"))
    # Then 3 credits are debited, and every stored message carries the transliterated text, 1 GSM-7 segment
    assert status == 201
    assert audience.balance() == 1000 - 3
    assert DispatchRecord.get(sent["queueId"]).credits_debited == 3
    stored = [MessageRecord.get(m["id"]) for m in sent["messages"]]
    assert {(m.body, m.encoding, int(m.segments), int(m.credits)) for m in stored} == {(transliterated, "GSM-7", 1, 1)}


def test_auto_replaces_curly_quotes_and_dashes_but_no_letter(stack: Stack, audience: Campaign) -> None:
    # Given a text pasted from a word processor: curly quotes, an en dash, an ellipsis, no accent
    text = "“Oferta” – 2x1 hoy…"
    # When it is sent with the default option
    status, sent = send(audience, {"message": text, "tagIds": [audience.tags["vip"]], "purpose": "transactional"})
    # Then the stored text is GSM-7 with their look-alikes
    assert status == 201
    stored = MessageRecord.get(sent["messages"][0]["id"])
    assert (stored.body, stored.encoding) == ('"Oferta" - 2x1 hoy...', "GSM-7")
    # And with unicode it goes as written
    unicode = {"message": text, "encoding": "unicode", "purpose": "transactional"}
    status, sent = send(audience, {**unicode, "tagIds": [audience.tags["vip"]]})
    assert MessageRecord.get(sent["messages"][0]["id"]).body == text
    assert MessageRecord.get(sent["messages"][0]["id"]).encoding == "UCS-2"


def test_an_unknown_encoding_is_refused_and_nothing_is_charged(stack: Stack, audience: Campaign) -> None:
    status, error = send(audience, body(audience, encoding="latin1"))
    assert status == 400
    assert error["code"] == "VALIDATION_ERROR"
    assert any("encoding" in detail["field"] for detail in error["details"])
    assert audience.balance() == 1000
