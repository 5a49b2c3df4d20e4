"""Hostile input on every route, through the real handlers on moto: never a 5xx, nothing persisted or charged.

Two parts: the corpus a hostile pass over the local stack found (each a named regression case), then
property-based tests that generate deep, large, unicode-hostile, edge-of-range and type-confused inputs.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.authorizer import app as authorizer_app
from functions.messages import app as messages_app
from functions.send_by_tags import app as send_app
from smscore.api.authorization import Unauthorized
from smscore.dal.tables import ContactRecord, DispatchRecord, MessageRecord, SuppressionRecord, TagRecord
from smscore.domain.names import refused_character
from tests.conftest import LambdaContextStub, Stack, api_event, load_event
from tests.integration import test_opt_outs as inbound
from tests.integration.conftest import Campaign
from tests.integration.receipts_helpers import (
    install_twilio_credentials,
    post_twilio,
    signed_twilio_event,
    twilio_event,
)
from tests.integration.test_contacts_api import Client
from tests.integration.test_opt_outs import inbound_env  # noqa: F401 - a fixture

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every CI run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------------------------------------- helpers


def send_raw(campaign: Campaign, body: str | None, content_type: str | None = "application/json") -> dict[str, Any]:
    event = api_event(body, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token)
    for field in ("headers", "multiValueHeaders"):
        event[field].pop("Content-Type", None)
    if content_type is not None:
        event["headers"]["Content-Type"] = content_type
        event["multiValueHeaders"]["Content-Type"] = [content_type]
    response: dict[str, Any] = send_app.lambda_handler(event, LambdaContextStub())
    return response


def post_raw(
    campaign: Campaign,
    path: str,
    body: str | None,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A POST to another route of the send function (preview, resend), with whatever body and headers."""
    event = api_event(
        body, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token, headers=headers
    )
    event["path"] = path
    event["requestContext"]["path"] = f"/dev{path}"
    for field in ("headers", "multiValueHeaders"):
        event[field].pop("Content-Type", None)
    if content_type is not None:
        event["headers"]["Content-Type"] = content_type
        event["multiValueHeaders"]["Content-Type"] = [content_type]
    response: dict[str, Any] = send_app.lambda_handler(event, LambdaContextStub())
    return response


def send_json(campaign: Campaign, body: Any, content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
    response = send_raw(campaign, json.dumps(body), content_type)
    return response["statusCode"], json.loads(response["body"])


def get_raw(campaign: Campaign, path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("apigw_list_messages.json"))
    event["path"] = path
    event["requestContext"]["path"] = f"/dev{path}"
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["requestContext"]["authorizer"].update(
        tenantId=campaign.tenant_id, memberId=campaign.member_id, principalId=campaign.member_id
    )
    response: dict[str, Any] = messages_app.lambda_handler(event, LambdaContextStub())
    return response


def assert_documented_error(response: dict[str, Any], status: int, code: str) -> None:
    body = json.loads(response["body"])
    assert (response["statusCode"], body.get("code")) == (status, code), body
    assert isinstance(body["message"], str)
    assert isinstance(body["details"], list)


def assert_no_5xx_and_error_shape(response: dict[str, Any]) -> None:
    assert response["statusCode"] < 500, response["body"][:500]
    body = json.loads(response["body"])
    if response["statusCode"] >= 400:
        assert set(body) >= {"code", "message", "details"}, body


def assert_nothing_persisted_or_charged(stack: Stack, campaign: Campaign) -> None:
    assert list(MessageRecord.scan()) == []
    assert list(DispatchRecord.scan()) == []
    assert stack.drain_delivery_queue() == []
    assert campaign.balance() == 1000 == campaign.ledger_sum()


@pytest.fixture
def vip(campaign: Campaign) -> Campaign:
    campaign.add("3001234567", "vip")
    return campaign


# ---------------------------------------------------------------------------------------------- the corpus

DEEP_ARRAY = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000


class TestCorpus:
    """Inputs under the 64 KiB limit that used to crash a function or charge for nothing."""

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(DEEP_ARRAY, id="array nested 10,000 levels (RecursionError)"),
            pytest.param(DEEP_OBJECT, id="object nested 10,000 levels (RecursionError)"),
            pytest.param(
                '{"message": "x", "tagIds": ["00000000-0000-4000-8000-000000000000"], "n": ' + "9" * 4301 + "}",
                id="integer of 4,301 digits (int-digits ValueError)",
            ),
            pytest.param('{"message": ' + "1" * 5000 + "}", id="the message itself a 5,000-digit integer"),
        ],
    )
    def test_bodies_that_used_to_crash_are_400(self, stack: Stack, vip: Campaign, body: str) -> None:
        response = send_raw(vip, body)
        assert_documented_error(response, 400, "VALIDATION_ERROR")
        assert_nothing_persisted_or_charged(stack, vip)

    def test_nesting_up_to_the_limit_is_parsed_as_usual(self, stack: Stack, vip: Campaign) -> None:
        # A deep but bounded extra field is ignored, like any unknown field
        status, body = send_json(vip, {"message": "Hola", "tagIds": [vip.tags["vip"]], "x": [[[[[[[[1]]]]]]]]})
        assert status == 201, body

    @pytest.mark.parametrize(
        "content_type",
        ["APPLICATION/JSON", "Application/Json; charset=UTF-8", "application/vnd.acme.campaign+json"],
    )
    def test_json_media_types_are_accepted_in_any_case(self, stack: Stack, vip: Campaign, content_type: str) -> None:
        status, body = send_json(vip, {"message": "Hola", "tagIds": [vip.tags["vip"]]}, content_type)
        assert status == 201, body

    @pytest.mark.parametrize("content_type", [";;;", "json", "application/", " ; charset=utf-8", "text/plain"])
    def test_malformed_or_other_media_types_are_415_in_the_documented_shape(
        self, stack: Stack, vip: Campaign, content_type: str
    ) -> None:
        response = send_raw(vip, json.dumps({"message": "Hola", "tagIds": [vip.tags["vip"]]}), content_type)
        assert_documented_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        assert_nothing_persisted_or_charged(stack, vip)

    @pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=", "multipart/form-data", ";;;"])
    def test_an_empty_body_of_any_declared_type_is_400_not_502(
        self, stack: Stack, vip: Campaign, content_type: str
    ) -> None:
        # Powertools parses an empty body by its declared type: multipart without a boundary raised (502)
        response = send_raw(vip, "", content_type)
        assert_documented_error(response, 400, "VALIDATION_ERROR")
        assert_nothing_persisted_or_charged(stack, vip)

    @pytest.mark.parametrize(
        "message",
        [
            pytest.param("\u200b\u200d\u2060", id="zero-width only"),
            pytest.param("\ufeff\u00a0\u3000 \t", id="BOM and spaces"),
            pytest.param("\u2028\u2029", id="line and paragraph separators"),
            pytest.param("Hola\u0007", id="a bell control character"),
            pytest.param("Hola \ud800", id="an unpaired surrogate"),
        ],
    )
    def test_messages_with_nothing_visible_or_with_control_codes_are_400(
        self, stack: Stack, vip: Campaign, message: str
    ) -> None:
        status, body = send_json(vip, {"message": message, "tagIds": [vip.tags["vip"]]})
        assert (status, body["code"]) == (400, "VALIDATION_ERROR")
        assert body["details"][0]["field"] == "message"
        assert_nothing_persisted_or_charged(stack, vip)

    def test_line_breaks_and_zero_width_joiners_inside_visible_text_are_kept(self, stack: Stack, vip: Campaign) -> None:
        # transactional: sent as written (marketing to CO adds the sender's name and the opt-out, compliance-co.md)
        message = {"message": "Hola\r\nfamilia 👨\u200d👩\u200d👧", "purpose": "transactional"}
        status, body = send_json(vip, {**message, "tagIds": [vip.tags["vip"]]})
        assert status == 201, body
        assert MessageRecord.get(body["messages"][0]["id"]).body == "Hola\r\nfamilia 👨\u200d👩\u200d👧"

    def test_the_character_limit_counts_utf16_code_units_as_providers_do(self, stack: Stack, vip: Campaign) -> None:
        # 800 emoji are 1,600 UTF-16 code units: at the limit; one more is over it (transactional: no sender name or
        # opt-out added, which a marketing text to CO would count too)
        tags = {"tagIds": [vip.tags["vip"]], "purpose": "transactional"}
        status, _ = send_json(vip, {"message": "😀" * 801, **tags})
        assert status == 400
        assert_nothing_persisted_or_charged(stack, vip)
        status, body = send_json(vip, {"message": "😀" * 800, **tags})
        assert status == 201, body

    @pytest.mark.parametrize(
        "query",
        [
            {"from": "0001-01-01T00:00:00+01:00"},
            {"to": "9999-12-31T23:59:59-01:00"},
            {"from": "0001-01-01T00:00:00+14:00", "to": "9999-12-31T23:59:59-14:00"},
        ],
    )
    def test_dates_at_the_edges_of_the_range_are_400_not_502(
        self, stack: Stack, campaign: Campaign, query: dict[str, str]
    ) -> None:
        assert_documented_error(get_raw(campaign, "/api/messages", query), 400, "VALIDATION_ERROR")

    @pytest.mark.parametrize("body", ['{"message": "Mar\ufffda", "tagIds": []}', '{"message": "\ufffd"}'])
    def test_a_body_api_gateway_could_not_decode_is_400_naming_the_byte(
        self, stack: Stack, vip: Campaign, body: str
    ) -> None:
        # `Mar\xeda` sent as Latin-1 reaches the function as `Mar\ufffda`: refused, never sent with a lost letter
        response = send_raw(vip, body.replace("[]", json.dumps([vip.tags["vip"]])))
        assert_documented_error(response, 400, "VALIDATION_ERROR")
        assert json.loads(response["body"])["byteOffset"] == body.encode().index(b"\xef\xbf\xbd")
        assert_nothing_persisted_or_charged(stack, vip)


# ---------------------------------------------------------------------------------------------- names, numbers, CSVs
# The probe's inputs to the contacts function (issue 19, items 4-7): refused as written, in the documented shape,
# and nothing of a refused request is written.

PROBE_NUMBERS = {
    "vanity letters": "300ABC4567",
    "letter O for zero": "3OO1234567",
    "an extension": "+57 300 123 4575 ext 12",
    "an extension after #": "+57 300 123 4575#12",
    "an RFC 3966 extension": "+57 300 123 4575;ext=12",
    "a tel: URI": "tel:+573001234567",
    "a zero-width space": "\u200b3001234567",
    "a superscript digit": "300\u00b21234567",
    "full-width letters": "\uff13\uff10\uff10\uff21\uff22\uff23\uff14\uff15\uff16\uff17",
}
PROBE_NAMES = {
    "a zero-width space": "\u200b",
    "a zero-width space inside vip": "vi\u200bp",
    "a right-to-left override": "abc\u202egnp.exe",
    "an isolate": "a\u2066b\u2069",
    "NUL": "vip\x00",
    "BEL": "v\x07ip",
    "U+FFFF": "vip\uffff",
    "U+FDD0": "\ufdd0",
    "a byte order mark": "\ufeffvip",
    "a line separator": "a\u2028b",
}
PROBE_BYTES = {  # JSON bodies as bytes, base64-encoded by API Gateway for a binary media type
    "Latin-1": b'{"name": "Mar\xeda"}',
    "0xFF": b'{"name": "\xff"}',
    "a cut sequence": b'{"name": "\xc3("}',
    "an encoded surrogate": b'{"name": "\xed\xa0\x80"}',
    "an overlong slash": b'{"name": "\xc0\xaf"}',
    "truncated at the end": b'{"name": "x"}\xe2\x82',
}
UNREADABLE_CSVS = {  # files that cannot be read to their end: the whole file is refused, at its row
    "an unclosed quote mid-file": (
        'phone,name,tags\n3001234567,Ana,vip\n3105550101,"Luis,vip\n3205550202,Caro,vip\n',
        3,
    ),
    "an unclosed quote on the last line": ('phone,name,tags\n3001234567,"Ana', 2),
    "an unclosed quote in the header": ('phone,"name,tags\n3001234567,Ana,vip\n', 1),
    # (a Latin-1 byte is no longer unreadable: contact files are read as Excel saved them, Windows-1252 included)
    "a byte order mark then a bad byte": (b"\xef\xbb\xbfphone,name,tags\n\xff,Ana,vip\n", 2),
    "U+FFFD as API Gateway passes it": ("phone,name,tags\n3001234567,Mar\ufffda,vip\n", 2),
}
# Files of 3 data rows with a character str.splitlines() splits on inside a cell: 3 rows, never more
SPLITLINES_BREAKS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


@pytest.fixture
def contacts(contacts_stack: Stack, campaign: Campaign) -> Client:
    return Client(campaign)


def assert_nothing_stored(campaign: Campaign) -> None:
    assert list(ContactRecord.query(campaign.tenant_id)) == []
    assert list(TagRecord.query(campaign.tenant_id)) == []


def stored_names(campaign: Campaign) -> list[str]:
    return [t.name for t in TagRecord.query(campaign.tenant_id)] + [
        c.name for c in ContactRecord.query(campaign.tenant_id) if c.name
    ]


class TestContactsCorpus:
    @pytest.mark.parametrize("phone", list(PROBE_NUMBERS.values()), ids=list(PROBE_NUMBERS))
    def test_numbers_not_taken_literally_are_400_on_every_route(self, contacts: Client, phone: str) -> None:
        for method in ("POST", "PUT"):
            reply = contacts.call(method, "/api/contacts", {"phone": phone, "name": "Ana"})
            assert (reply.status, reply.body["code"], reply.body["details"][0]["field"]) == (
                400,
                "VALIDATION_ERROR",
                "phone",
            )
        assert contacts.call("GET", "/api/contacts", query={"phone": phone}).status == 400
        job = contacts.import_csv(f"phone,name,tags\n{phone},Ana,vip\n").body
        assert (job["rowsProcessed"], job["rejected"], job["rejectedRows"][0]["line"]) == (1, 1, 2)
        assert_nothing_stored(contacts.campaign)

    @pytest.mark.parametrize("name", list(PROBE_NAMES.values()), ids=list(PROBE_NAMES))
    def test_names_that_can_spoof_are_400_invalid_character_everywhere(self, contacts: Client, name: str) -> None:
        for path, body in (("/api/tags", {"name": name}), ("/api/contacts", {"phone": "3001234567", "name": name})):
            reply = contacts.call("POST", path, body)
            assert (reply.status, reply.body["code"]) == (400, "INVALID_CHARACTER"), reply.body
            assert {"codePoint", "position", "message", "details"} <= set(reply.body)
        cell = '"' + name.replace('"', '""') + '"'  # quoted, so that a line break stays inside the cell
        job = contacts.import_csv(f"phone,name,tags\n3001234567,{cell},\n3105550101,Luis,{cell}\n").body
        assert [(r["line"], "contains" in r["reason"]) for r in job["rejectedRows"]] == [(2, True), (3, True)]
        assert_nothing_stored(contacts.campaign)

    def test_the_replacement_character_is_refused_as_a_name_and_as_text(self, contacts: Client) -> None:
        # A JSON escape reaches the name rule; the character itself is a body API Gateway could not decode
        escaped = contacts.call("POST", "/api/tags", '{"name": "Mar\\ufffda"}')
        assert (escaped.status, escaped.body["code"], escaped.body["codePoint"]) == (400, "INVALID_CHARACTER", "U+FFFD")
        literal = contacts.call("POST", "/api/tags", '{"name": "Mar\ufffda"}')
        assert (literal.status, literal.body["code"], literal.body["byteOffset"]) == (400, "VALIDATION_ERROR", 13)
        assert_nothing_stored(contacts.campaign)

    @pytest.mark.parametrize("data", list(PROBE_BYTES.values()), ids=list(PROBE_BYTES))
    def test_bodies_that_are_not_utf8_are_400_naming_the_byte_offset(self, contacts: Client, data: bytes) -> None:
        for path in ("/api/tags", "/api/contacts"):
            reply = contacts.call("POST", path, data)
            assert (reply.status, reply.body["code"]) == (400, "VALIDATION_ERROR"), reply.body
            assert isinstance(reply.body["byteOffset"], int)
            assert f"at byte offset {reply.body['byteOffset']} cannot be read" in reply.body["message"]
        assert_nothing_stored(contacts.campaign)

    @pytest.mark.parametrize(("body", "line"), list(UNREADABLE_CSVS.values()), ids=list(UNREADABLE_CSVS))
    def test_csvs_that_cannot_be_read_are_400_at_their_row_and_write_nothing(
        self, contacts: Client, body: str | bytes, line: int
    ) -> None:
        reply = contacts.import_csv(body)
        assert (reply.status, reply.body["code"], reply.body["line"]) == (400, "VALIDATION_ERROR", line), reply.body
        assert_nothing_stored(contacts.campaign)

    @pytest.mark.parametrize("separator", SPLITLINES_BREAKS, ids=repr)
    def test_a_unicode_line_break_in_a_cell_never_makes_more_rows(self, contacts: Client, separator: str) -> None:
        job = contacts.import_csv(
            f"phone,name,tags\n3001234567,Ana,vip\n3105550101,Luis{separator}P,news{separator}x\n3205550202,Caro,vip\n"
        ).body
        assert (job["rowsProcessed"], job["imported"], job["rejected"]) == (3, 2, 1)
        assert [r["line"] for r in job["rejectedRows"]] == [3]
        assert all(refused_character(name) is None for name in stored_names(contacts.campaign))

    @FUZZ
    @given(
        text=st.text(
            st.sampled_from([*'3001234567,;"\r\n xA', "\u2028", "\x85", "\x0b", "\u200b", "\ufeff", "\x00"]),
            max_size=120,
        )
    )
    def test_any_csv_body_is_read_to_rows_that_exist_and_stores_no_refused_name(
        self, contacts: Client, text: str
    ) -> None:
        reply = contacts.import_csv("phone,name,tags\n" + text)
        assert reply.status in (201, 400), reply.body
        if reply.status == 201:
            rows = 1 + text.count("\n") + text.count("\r") + 1  # physical lines bound the spreadsheet's rows
            assert all(2 <= r["line"] <= rows for r in reply.body["rejectedRows"])
            assert reply.body["rowsProcessed"] <= rows
        else:
            assert reply.body["code"] == "VALIDATION_ERROR"
        assert all(refused_character(name) is None for name in stored_names(contacts.campaign))


# ---------------------------------------------------------------------------------------------- replays
# Keyword replies posted again: the captured signed Twilio request (its signature never expires), re-encoded or
# tampered with, and AWS two-way events delivered twice. A provider message applies once (issue 19, item 2).

SIGNED_SIDS = {
    "a Twilio MessageSid": "SM" + "a" * 32,
    "300 characters": "SM" + "9" * 298,
    "non-ASCII and spaces": "SM ñ\u200b🇨🇴 ",
    "a NUL": "SM\x00",
}


@pytest.mark.usefixtures("inbound_env")
class TestInboundReplays:
    def test_the_exact_bytes_of_a_signed_stop_posted_again_after_start(self, stack: Stack) -> None:
        captured = inbound.twilio_reply("STOP", sid="SM" + "a" * 32)
        inbound.post(copy.deepcopy(captured))
        inbound.post(inbound.twilio_reply("START", sid="SM" + "b" * 32))
        assert inbound.post(captured) == (200, "application/xml", inbound.EMPTY_TWIML)
        assert inbound.suppressions()[0].opted_out is False

    def test_the_same_signed_form_re_encoded_in_another_order_is_the_same_message(self, stack: Stack) -> None:
        # The signature covers the sorted parameters, so reordering the form keeps it valid: still a replay
        captured = inbound.twilio_reply("BAJA", sid="SM" + "a" * 32)
        inbound.post(copy.deepcopy(captured))
        inbound.post(inbound.twilio_reply("ALTA", sid="SM" + "b" * 32))
        reordered = copy.deepcopy(captured)
        reordered["body"] = urlencode(sorted(parse_qsl(captured["body"]), reverse=True))
        assert inbound.post(reordered) == (200, "application/xml", inbound.EMPTY_TWIML)
        assert inbound.suppressions()[0].opted_out is False

    @pytest.mark.parametrize("field", ["MessageSid", "Body", "From"])
    def test_a_captured_request_with_a_field_changed_is_403_and_writes_nothing(self, stack: Stack, field: str) -> None:
        captured = inbound.twilio_reply("STOP", sid="SM" + "a" * 32)
        tampered = dict(parse_qsl(captured["body"])) | {field: "SM" + "c" * 32 if field == "MessageSid" else "+1"}
        captured["body"] = urlencode(tampered)
        assert inbound.post(captured)[0] == 403
        assert list(SuppressionRecord.scan()) == []

    @pytest.mark.parametrize("sid", list(SIGNED_SIDS.values()), ids=list(SIGNED_SIDS))
    def test_any_signed_message_id_is_200_and_a_second_post_is_a_duplicate(self, stack: Stack, sid: str) -> None:
        captured = inbound.twilio_reply("BAJA", sid=sid)
        first = inbound.post(copy.deepcopy(captured))
        assert (first[0], "<Message>" in first[2]) == (200, True)
        assert inbound.post(captured) == (200, "application/xml", inbound.EMPTY_TWIML)

    def test_an_aws_event_delivered_again_with_a_later_timestamp_is_still_the_same_message(self, stack: Stack) -> None:
        inbound.invoke_inbound(inbound.sns_reply("STOP", message_id="m-1", at="2026-11-27T13:00:00.000Z"))
        inbound.invoke_inbound(inbound.sns_reply("START", message_id="m-2", at="2026-11-27T13:05:00.000Z"))
        again = inbound.invoke_inbound(inbound.sns_reply("STOP", message_id="m-1", at="2026-11-27T14:00:00.000Z"))
        assert (again["results"][0]["applied"], again["results"][0]["duplicate"]) == (False, True)
        assert inbound.suppressions()[0].opted_out is False


# ---------------------------------------------------------------------------------------------- strategies

# What API Gateway can hand a function: any Unicode scalar value (never a lone surrogate) in bodies and queries.
scalar_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
hostile_text = st.one_of(
    scalar_text,
    st.sampled_from(["\u200b\u200d\u2060", "\x00", "\ufeff", "'; DROP TABLE", "../../etc/passwd", "%00", "🇨🇴" * 30]),
    st.text(st.characters(codec="utf-8"), min_size=200, max_size=2000),
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    hostile_text,
)
json_value = st.recursive(
    json_leaf, lambda children: st.lists(children, max_size=4) | st.dictionaries(scalar_text, children, max_size=4)
)
send_bodies = st.one_of(
    # type-confused fields around the real shape
    st.fixed_dictionaries(
        {},
        optional={
            "message": json_value,
            "tagIds": st.one_of(json_value, st.lists(st.uuids().map(str), max_size=3)),
            "type": json_value,
            "country": json_value,
            "encoding": st.one_of(st.sampled_from(["auto", "unicode", "gsm-transliterate", "GSM-7"]), json_value),
            "templateId": st.one_of(st.uuids().map(str), json_value),
            "trackLinks": st.one_of(st.booleans(), json_value),
        },
    ).map(json.dumps),
    json_value.map(json.dumps),
    # deep, large and broken raw text
    st.integers(min_value=20, max_value=20_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(min_value=60, max_value=6_000).map(lambda digits: '{"message": ' + "7" * digits + "}"),
    scalar_text,
    st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
)
content_types = st.one_of(
    st.sampled_from(
        [
            None,
            "application/json",
            "APPLICATION/JSON",
            "application/json; charset=utf-8",
            "application/problem+json",
            "text/csv",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "application/x-www-form-urlencoded",
            ";;;",
            "",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
edge_dates = st.sampled_from(
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01",
        "9999-12-31T23:59:59.999999+14:00",
        "2026-02-30T00:00:00Z",
        "2026-11-27T25:00:00Z",
        "-2026-01-01T00:00:00Z",
        "2026-11-27T10:00:00+99:00",
        "1e309",
    ]
)
query_values = st.one_of(hostile_text, edge_dates, st.integers().map(str), st.just("9" * 5000))
list_queries = st.fixed_dictionaries(
    {},
    optional={
        name: query_values for name in ("queueId", "status", "recipient", "from", "to", "channel", "limit", "cursor")
    },
)
resend_bodies = st.fixed_dictionaries(
    {}, optional={"purpose": json_value, "sendAt": st.one_of(edge_dates, json_value)}
).map(json.dumps)
path_ids = st.one_of(scalar_text.filter(lambda s: "/" not in s and s.strip()), st.uuids().map(str), st.just("x" * 300))


# ---------------------------------------------------------------------------------------------- properties


class TestEveryRouteUnderGeneratedInput:
    @FUZZ
    @given(body=send_bodies, content_type=content_types, key=st.one_of(st.none(), scalar_text))
    def test_send_route(
        self, stack: Stack, campaign: Campaign, body: str, content_type: str | None, key: str | None
    ) -> None:
        event_body = body
        response = send_raw(campaign, event_body, content_type)
        assert_no_5xx_and_error_shape(response)
        if key:
            # The same input with an Idempotency-Key takes the idempotency path: still no 5xx
            event = api_event(
                event_body,
                tenant_id=campaign.tenant_id,
                member_id=campaign.member_id,
                token=campaign.token,
                headers={"Idempotency-Key": key},
            )
            assert_no_5xx_and_error_shape(send_app.lambda_handler(event, LambdaContextStub()))
        # The tags are random UUIDs, so no input can reach a recipient: nothing may be charged either way
        assert_nothing_persisted_or_charged(stack, campaign)

    @FUZZ
    @given(body=send_bodies, content_type=content_types)
    def test_preview_route(self, stack: Stack, campaign: Campaign, body: str, content_type: str | None) -> None:
        response = post_raw(campaign, "/api/messages/sms/tags/preview", body, content_type)
        assert_no_5xx_and_error_shape(response)
        assert response["statusCode"] != 201
        assert_nothing_persisted_or_charged(stack, campaign)

    @FUZZ
    @given(
        identifier=path_ids,
        body=st.one_of(st.none(), send_bodies, resend_bodies),
        content_type=content_types,
        key=st.one_of(st.none(), scalar_text),
    )
    def test_resend_route(
        self,
        stack: Stack,
        campaign: Campaign,
        identifier: str,
        body: str | None,
        content_type: str | None,
        key: str | None,
    ) -> None:
        headers = {"Idempotency-Key": key} if key else None
        response = post_raw(campaign, f"/api/messages/queues/{identifier}/resend", body, content_type, headers)
        assert_no_5xx_and_error_shape(response)
        # No campaign exists, so every answer is a refusal (or no route for an id the path cannot carry)
        assert response["statusCode"] in (400, 404, 413, 415)
        assert_nothing_persisted_or_charged(stack, campaign)

    @FUZZ
    @given(query=list_queries)
    def test_list_messages_route(self, stack: Stack, campaign: Campaign, query: dict[str, str]) -> None:
        assert_no_5xx_and_error_shape(get_raw(campaign, "/api/messages", query))

    @FUZZ
    @given(identifier=path_ids, route=st.sampled_from(["/api/messages/queues/{}", "/api/messages/{}"]))
    def test_status_routes(self, stack: Stack, campaign: Campaign, identifier: str, route: str) -> None:
        response = get_raw(campaign, route.format(identifier))
        assert_no_5xx_and_error_shape(response)
        assert response["statusCode"] in (400, 404)

    @FUZZ
    @given(
        params=st.dictionaries(
            st.sampled_from(["MessageSid", "MessageStatus", "ErrorCode", "AccountSid", "SmsSid", "To", "From"])
            | scalar_text,
            hostile_text,
            max_size=6,
        ),
        signed=st.booleans(),
        signature=st.one_of(st.none(), scalar_text),
    )
    def test_twilio_status_webhook(
        self,
        stack: Stack,
        campaign: Campaign,
        params: dict[str, str],
        signed: bool,
        signature: str | None,
    ) -> None:
        install_twilio_credentials()
        event = signed_twilio_event(params) if signed else twilio_event(params, signature)
        status, body = post_twilio(event)
        assert status == (200 if signed else 403), body
        assert_nothing_persisted_or_charged(stack, campaign)

    @FUZZ
    @given(
        authorization=st.one_of(
            st.none(),
            scalar_text,
            scalar_text.map(lambda token: f"Bearer {token}"),
            st.just("Bearer sms_" + "A" * 43),
            st.text(st.characters(codec="utf-8"), min_size=1000, max_size=5000),
        )
    )
    def test_authorizer(self, stack: Stack, campaign: Campaign, authorization: str | None) -> None:
        event = copy.deepcopy(load_event("apigw_token_authorizer.json"))
        event["authorizationToken"] = authorization
        try:
            policy = authorizer_app.lambda_handler(event, LambdaContextStub())
        except Unauthorized:
            return
        raise AssertionError(f"a token nobody was issued got a policy: {policy}")


def test_a_valid_send_still_works_after_the_fuzzing_fixtures(stack: Stack, vip: Campaign) -> None:
    """Guards the suite itself: the event builders above do reach a working handler."""
    status, body = send_json(vip, {"message": "Hola", "tagIds": [vip.tags["vip"]]})
    assert status == 201, body
    assert uuid.UUID(body["queueId"])


# ---------------------------------------------------------------------------------------------- integrations routes


def integrations_raw(
    campaign: Campaign, method: str, resource: str, path: str, body: str | None, content_type: str | None
) -> dict[str, Any]:
    """A request to the integrations function (API keys, webhooks, exports, reports) with whatever body."""
    from functions.integrations import app as integrations_app

    event = api_event(body, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token)
    event.update(httpMethod=method, resource=resource, path=path)
    event["requestContext"].update(httpMethod=method, resourcePath=resource, path=f"/dev{path}")
    for field in ("headers", "multiValueHeaders"):
        event[field].pop("Content-Type", None)
    if content_type is not None:
        event["headers"]["Content-Type"] = content_type
        event["multiValueHeaders"]["Content-Type"] = [content_type]
    response: dict[str, Any] = integrations_app.lambda_handler(event, LambdaContextStub())
    return response


def live_tokens() -> set[tuple[str, str | None]]:
    from smscore.dal.tables import TokenRecord

    return {(t.token_hash, t.name) for t in TokenRecord.scan() if t.revoked_at is None}


key_bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.one_of(hostile_text, json_value),
            "scope": st.one_of(st.sampled_from(["full", "read", "admin", "READ"]), json_value),
            "expiresAt": st.one_of(edge_dates, json_value),
        },
    ).map(json.dumps),
    send_bodies,
)


class TestIntegrationsRoutesUnderGeneratedInput:
    @FUZZ
    @given(body=key_bodies, content_type=content_types)
    def test_create_key_route(self, stack: Stack, campaign: Campaign, body: str, content_type: str | None) -> None:
        before = live_tokens()
        response = integrations_raw(campaign, "POST", "/api/keys", "/api/keys", body, content_type)
        assert_no_5xx_and_error_shape(response)
        after = live_tokens()
        if response["statusCode"] == 201:
            # Exactly one key was created, under the printable name the answer shows
            created = json.loads(response["body"])
            assert [name for _, name in after - before] == [created["name"]]
            assert created["name"].isprintable()
        else:
            assert after == before
        assert_nothing_persisted_or_charged(stack, campaign)

    @FUZZ
    @given(identifier=path_ids)
    def test_revoke_key_route(self, stack: Stack, campaign: Campaign, identifier: str) -> None:
        before = live_tokens()
        response = integrations_raw(campaign, "DELETE", "/api/keys/{keyId}", f"/api/keys/{identifier}", None, None)
        assert_no_5xx_and_error_shape(response)
        assert response["statusCode"] in (400, 404)
        assert live_tokens() == before


webhook_bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "url": st.one_of(
                hostile_text,
                json_value,
                st.sampled_from(
                    [
                        "https://hooks.example.com/x",
                        "http://127.0.0.1:1/x",
                        "https://169.254.169.254/",
                        "https://[::ffff:10.0.0.1]/",
                        "https://user:pw@example.com/",
                        "https://" + "a" * 3000 + ".com/",
                        "https://exa\u200bmple.com/",
                    ]
                ),
            ),
            "events": st.one_of(
                st.lists(st.sampled_from(["message.sent", "message.failed", "x"]), max_size=4), json_value
            ),
            "description": st.one_of(hostile_text, json_value),
            "enabled": json_value,
        },
    ).map(json.dumps),
    send_bodies,
)


def webhook_items() -> list[str]:
    from smscore.dal.tables import WebhookEndpointRecord

    return sorted(r.item_key for r in WebhookEndpointRecord.scan())


class TestWebhookRoutesUnderGeneratedInput:
    @FUZZ
    @given(body=webhook_bodies, content_type=content_types)
    def test_create_webhook_route(self, stack: Stack, campaign: Campaign, body: str, content_type: str | None) -> None:
        before = webhook_items()
        response = integrations_raw(campaign, "POST", "/api/webhooks", "/api/webhooks", body, content_type)
        assert_no_5xx_and_error_shape(response)
        if response["statusCode"] == 201:
            # Only an https URL on a public host is ever stored
            created = json.loads(response["body"])
            assert created["url"].startswith("https://")
            integrations_raw(
                campaign, "DELETE", "/api/webhooks/{webhookId}", f"/api/webhooks/{created['id']}", None, None
            )
        assert webhook_items() == before
        assert_nothing_persisted_or_charged(stack, campaign)

    @FUZZ
    @given(
        identifier=path_ids,
        second=path_ids,
        body=st.one_of(st.none(), webhook_bodies),
        content_type=content_types,
        route=st.sampled_from(
            [
                ("GET", "/api/webhooks/{webhookId}"),
                ("PATCH", "/api/webhooks/{webhookId}"),
                ("DELETE", "/api/webhooks/{webhookId}"),
                ("POST", "/api/webhooks/{webhookId}/secret"),
                ("GET", "/api/webhooks/{webhookId}/deliveries"),
                ("POST", "/api/webhooks/{webhookId}/deliveries/{deliveryId}/replay"),
            ]
        ),
    )
    def test_webhook_item_routes(
        self,
        stack: Stack,
        campaign: Campaign,
        identifier: str,
        second: str,
        body: str | None,
        content_type: str | None,
        route: tuple[str, str],
    ) -> None:
        method, resource = route
        path = resource.replace("{webhookId}", identifier).replace("{deliveryId}", second)
        response = integrations_raw(campaign, method, resource, path, body, content_type)
        assert_no_5xx_and_error_shape(response)
        # No endpoint exists: every answer is a refusal
        assert response["statusCode"] in (400, 404, 413, 415)
        assert webhook_items() == []
        assert_nothing_persisted_or_charged(stack, campaign)


# ---------------------------------------------------------------------------------------------- merge fields (issue 24)

field_declarations = st.one_of(
    json_value,
    st.fixed_dictionaries(
        {"fields": st.lists(st.fixed_dictionaries({"name": st.one_of(hostile_text, json_value)}), max_size=25)}
    ),
    st.fixed_dictionaries(
        {"fields": st.lists(st.fixed_dictionaries({"name": st.from_regex(r"[a-z][a-z0-9_]{0,35}", fullmatch=True)}))}
    ),
)
merge_messages = st.one_of(
    st.text(st.sampled_from("{}|ab nombre ciudad áé🎉"), min_size=1, max_size=80),
    st.builds(lambda name, fallback: f"Hola {{{name}|{fallback}}}", hostile_text, hostile_text),
    st.builds(lambda name: f"Hola {{{name}}}", st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,40}", fullmatch=True)),
)


class TestMergeFieldsUnderGeneratedInput:
    @FUZZ
    @given(body=field_declarations)
    def test_declaring_fields(self, contacts: Client, body: Any) -> None:
        # Given the tenant declared ciudad
        assert contacts.call("PUT", "/api/contacts/fields", {"fields": [{"name": "ciudad"}]}).status == 200
        # When any body is PUT
        reply = contacts.call("PUT", "/api/contacts/fields", body)
        # Then never a 5xx; a refusal changes nothing, an acceptance stores exactly valid names
        assert reply.status in (200, 400, 413), reply.body
        declared = [f["name"] for f in contacts.call("GET", "/api/contacts/fields").body["fields"]]
        if reply.status == 200:
            assert declared == [f["name"] for f in body["fields"]]
            assert len(declared) <= 20
        else:
            assert set(reply.body) >= {"code", "message", "details"}
            assert declared == ["ciudad"]

    @FUZZ
    @given(fields=st.one_of(json_value, st.dictionaries(st.one_of(scalar_text, st.just("ciudad")), hostile_text)))
    def test_contact_fields(self, contacts: Client, fields: Any) -> None:
        assert contacts.call("PUT", "/api/contacts/fields", {"fields": [{"name": "ciudad"}]}).status == 200
        reply = contacts.call("POST", "/api/contacts", {"phone": "3001234567", "fields": fields})
        assert reply.status < 500, reply.body
        stored = list(ContactRecord.query(contacts.campaign.tenant_id))
        if reply.status == 201:
            assert set(reply.body["fields"]) <= {"ciudad"}
            contacts.item("DELETE", "/api/contacts", reply.body["id"])
        else:
            assert set(reply.body) >= {"code", "message", "details"}
            assert stored == []

    @FUZZ
    @given(message=merge_messages, encoding=st.sampled_from(["auto", "unicode", "gsm-transliterate"]))
    def test_sending_merge_fields(self, stack: Stack, vip: Campaign, message: str, encoding: str) -> None:
        # Given one reachable contact (the fixture lives across examples: what each example adds is compared)
        balance, known = vip.balance(), {m.message_id for m in MessageRecord.scan()}
        # When any text with braces is previewed and sent
        body = {"message": message, "tagIds": [vip.tags["vip"]], "encoding": encoding}
        preview = post_raw(vip, "/api/messages/sms/tags/preview", json.dumps(body), "application/json")
        assert_no_5xx_and_error_shape(preview)
        response = send_raw(vip, json.dumps(body))
        assert_no_5xx_and_error_shape(response)
        # Then a refusal charges nothing, and an acceptance charges exactly what the preview said
        new = [m for m in MessageRecord.scan() if m.message_id not in known]
        charged = balance - vip.balance()
        if response["statusCode"] == 201:
            assert charged == json.loads(preview["body"])["creditsRequired"] == sum(int(m.credits) for m in new)
        else:
            assert charged == 0
            assert new == []


@pytest.fixture
def integrations_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The integrations function's own environment (the imports bucket and export queue of exports)."""
    from smscore import wiring
    from smsdev.provision import function_environment

    for key, value in function_environment(stack.names, "IntegrationsFunction").items():
        monkeypatch.setenv(key, value)
    wiring.reset()
    return stack


class TestExportRoutesUnderGeneratedInput:
    @FUZZ
    @given(
        identifier=path_ids,
        query=st.fixed_dictionaries({}, optional={"delimiter": query_values}),
        route=st.sampled_from(
            [
                ("/api/messages/queues/{queueId}/export", "/api/messages/queues/{}/export"),
                ("/api/exports/{jobId}", "/api/exports/{}"),
            ]
        ),
    )
    def test_export_routes(
        self,
        integrations_env: Stack,
        campaign: Campaign,
        identifier: str,
        query: dict[str, str],
        route: tuple[str, str],
    ) -> None:
        resource, template = route
        event = api_event(None, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token)
        path = template.format(identifier)
        event.update(
            httpMethod="GET",
            resource=resource,
            path=path,
            queryStringParameters=query or None,
            multiValueQueryStringParameters={k: [v] for k, v in query.items()} or None,
        )
        event["requestContext"].update(httpMethod="GET", resourcePath=resource, path=f"/dev{path}")
        from functions.integrations import app as integrations_app

        response = integrations_app.lambda_handler(event, LambdaContextStub())
        assert_no_5xx_and_error_shape(response)
        # No campaign or export exists: every answer is a refusal
        assert response["statusCode"] in (400, 404)
        assert_nothing_persisted_or_charged(integrations_env, campaign)


# ---------------------------------------------------------------------------------------------- templates (issue 24)

template_bodies = st.one_of(
    json_value,
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.one_of(hostile_text, json_value),
            "text": st.one_of(hostile_text, json_value),
            "purpose": st.one_of(st.sampled_from(["marketing", "transactional"]), json_value),
            "encoding": st.one_of(st.sampled_from(["auto", "unicode", "gsm-transliterate"]), json_value),
        },
    ),
)


def template_item(client: Client, method: str, template_id: str, body: Any = None) -> Any:
    return client.call(
        method,
        f"/api/templates/{template_id}",
        body,
        resource="/api/templates/{templateId}",
        path_parameters={"templateId": template_id},
    )


class TestTemplatesUnderGeneratedInput:
    @FUZZ
    @given(body=template_bodies, identifier=path_ids)
    def test_template_routes(self, contacts: Client, body: Any, identifier: str) -> None:
        before = len(contacts.call("GET", "/api/templates").body["items"])
        # Any body on create: never a 5xx; a refusal stores nothing, an acceptance exactly one template
        reply = contacts.call("POST", "/api/templates", body)
        assert reply.status in (201, 400), reply.body
        after = contacts.call("GET", "/api/templates").body["items"]
        assert len(after) == before + (1 if reply.status == 201 else 0)
        if reply.status >= 400:
            assert set(reply.body) >= {"code", "message", "details"}
        # Any id on the item routes: 400 or 404 for what is no template of the tenant, never a 5xx
        for method, payload in (("GET", None), ("PUT", body), ("DELETE", None)):
            answer = template_item(contacts, method, identifier, payload)
            assert answer.status in (400, 404), answer.body


# ---------------------------------------------------------------------------------------------- test send (issue 24)

test_send_bodies = st.one_of(
    send_bodies,
    st.fixed_dictionaries(
        {},
        optional={
            "message": st.one_of(hostile_text, json_value),
            "to": st.one_of(json_value, st.lists(hostile_text, max_size=7)),
            "contactId": st.one_of(st.uuids().map(str), json_value),
            "country": json_value,
            "encoding": json_value,
        },
    ).map(json.dumps),
)


class TestTestSendUnderGeneratedInput:
    @FUZZ
    @given(body=test_send_bodies, content_type=content_types)
    def test_test_send_route(self, stack: Stack, campaign: Campaign, body: str, content_type: str | None) -> None:
        # Whatever the body: never a 5xx, and what is charged is exactly what was persisted
        balance = campaign.balance()
        known = {m.message_id for m in MessageRecord.scan()}
        response = post_raw(campaign, "/api/messages/sms/test", body, content_type)
        assert_no_5xx_and_error_shape(response)
        new = [m for m in MessageRecord.scan() if m.message_id not in known]
        assert balance - campaign.balance() == sum(int(m.credits) for m in new)
        if response["statusCode"] != 201:
            assert new == []


class TestReportRouteUnderGeneratedInput:
    @FUZZ
    @given(
        query=st.fixed_dictionaries(
            {},
            optional={
                "from": st.one_of(query_values, edge_dates),
                "to": st.one_of(query_values, edge_dates),
                "granularity": query_values,
            },
        )
    )
    def test_usage_report_route(self, integrations_env: Stack, campaign: Campaign, query: dict[str, str]) -> None:
        from functions.integrations import app as integrations_app

        event = api_event(None, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token)
        event.update(
            httpMethod="GET",
            resource="/api/reports/usage",
            path="/api/reports/usage",
            queryStringParameters=query or None,
            multiValueQueryStringParameters={k: [v] for k, v in query.items()} or None,
        )
        event["requestContext"].update(httpMethod="GET", resourcePath="/api/reports/usage")
        response = integrations_app.lambda_handler(event, LambdaContextStub())
        assert_no_5xx_and_error_shape(response)
        assert response["statusCode"] in (200, 400)
        assert_nothing_persisted_or_charged(integrations_env, campaign)


# ---------------------------------------------------------------------------------------------- short links

LINK_URL = "https://tienda.example.co/ofertas"
user_agents = st.one_of(st.none(), hostile_text, st.sampled_from(["WhatsApp/2.23", "facebookexternalhit/1.1", ""]))


def follow_raw(code: str, method: str, user_agent: str | None) -> dict[str, Any]:
    """GET/HEAD /l/{code} as API Gateway hands it to the links function (no authorizer)."""
    from functions.links import app as links_app

    event = api_event(None, tenant_id="-", member_id="-")
    event["requestContext"].pop("authorizer", None)
    headers = {"Host": "abcdef1234.execute-api.us-east-1.amazonaws.com"}
    if user_agent is not None:
        headers["User-Agent"] = user_agent
    event.update(
        httpMethod=method,
        path=f"/l/{code}",
        resource="/l/{code}",
        pathParameters={"code": code},
        headers=headers,
        multiValueHeaders={k: [v] for k, v in headers.items()},
    )
    event["requestContext"].update(httpMethod=method, resourcePath="/l/{code}", path=f"/dev/l/{code}")
    response: dict[str, Any] = links_app.lambda_handler(event, LambdaContextStub())
    return response


def redirect_target(response: dict[str, Any]) -> str | None:
    found = (response.get("multiValueHeaders") or {}).get("Location") or []
    return found[0] if found else None


@pytest.fixture
def tracked(stack: Stack, vip: Campaign) -> str:
    """A sent campaign with one tracked link: the code its one recipient got."""
    import re

    from smscore.domain.links import CODE_LENGTH

    body = {"message": f"Mira {LINK_URL}", "tagIds": [vip.tags["vip"]], "purpose": "transactional", "trackLinks": True}
    status, sent = send_json(vip, body)
    assert status == 201, sent
    (message,) = list(MessageRecord.scan())
    (code,) = re.findall(r"/l/([0-9A-Za-z]{" + str(CODE_LENGTH) + "})", message.body)
    return str(code)


class TestShortLinkRouteUnderGeneratedInput:
    @FUZZ
    @given(
        code=st.one_of(path_ids, st.text(alphabet=st.sampled_from("0123456789abcXYZ"), min_size=14, max_size=16)),
        method=st.sampled_from(["GET", "HEAD"]),
        user_agent=user_agents,
    )
    def test_no_code_we_did_not_issue_redirects(
        self, stack: Stack, campaign: Campaign, code: str, method: str, user_agent: str | None
    ) -> None:
        # Given no link was ever issued: every code is refused in the documented shape, never a redirect
        response = follow_raw(code, method, user_agent)
        assert_no_5xx_and_error_shape(response)
        assert response["statusCode"] in (400, 404)
        assert redirect_target(response) is None
        assert_nothing_persisted_or_charged(stack, campaign)

    @FUZZ
    @given(
        position=st.integers(min_value=0, max_value=14),
        replacement=st.characters(codec="utf-8", exclude_categories=("Cs",)),
        method=st.sampled_from(["GET", "HEAD"]),
        user_agent=user_agents,
    )
    def test_a_real_code_with_one_character_changed_is_404(
        self, stack: Stack, tracked: str, position: int, replacement: str, method: str, user_agent: str | None
    ) -> None:
        # Given the code a recipient got, with one character replaced (or kept)
        code = tracked[:position] + replacement + tracked[position + 1 :]
        response = follow_raw(code, method, user_agent)
        # Then only the real code redirects, and only to the campaign's URL; any other is a documented refusal
        if code == tracked:
            assert (response["statusCode"], redirect_target(response)) == (302, LINK_URL)
        else:
            assert_no_5xx_and_error_shape(response)
            assert response["statusCode"] in (400, 404)
            assert redirect_target(response) is None


# ---------------------------------------------------------------------------------------------- terms acceptance


def contacts_raw(
    campaign: Campaign, method: str, path: str, body: str | None, content_type: str | None
) -> dict[str, Any]:
    """A request to the contacts function with whatever body (POST /api/me/terms)."""
    from functions.contacts import app as contacts_app

    event = api_event(body, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token)
    event.update(httpMethod=method, resource=path, path=path)
    event["requestContext"].update(httpMethod=method, resourcePath=path, path=f"/dev{path}")
    for field in ("headers", "multiValueHeaders"):
        event[field].pop("Content-Type", None)
    if content_type is not None:
        event["headers"]["Content-Type"] = content_type
        event["multiValueHeaders"]["Content-Type"] = [content_type]
    response: dict[str, Any] = contacts_app.lambda_handler(event, LambdaContextStub())
    return response


class TestTermsRouteUnderGeneratedInput:
    @FUZZ
    @given(body=st.one_of(st.none(), send_bodies), content_type=content_types)
    def test_accept_terms_route(
        self, stack: Stack, campaign: Campaign, body: str | None, content_type: str | None
    ) -> None:
        # Whatever the body (the route reads none): a documented answer, and with no terms published nothing written
        from smscore.dal.tables import TermsAcceptanceRecord

        response = contacts_raw(campaign, "POST", "/api/me/terms", body, content_type)
        assert_no_5xx_and_error_shape(response)
        assert response["statusCode"] in (400, 409, 415), response["body"]
        if response["statusCode"] == 400:  # only the API-wide guard against JSON it cannot parse safely
            refused = json.loads(response["body"])
            assert refused["code"] == "VALIDATION_ERROR", refused
            assert refused["details"][0]["message"].endswith(("levels of nesting", "digits")), refused
        assert list(TermsAcceptanceRecord.scan(TermsAcceptanceRecord.version.exists())) == []
        assert_nothing_persisted_or_charged(stack, campaign)
