"""The opt-out link (issue 22, items 4 and 5): its code, the footer it makes on a route without two-way SMS and
what that footer costs, the code put in at delivery, and the page's use case on fakes."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest

from smscore.domain.campaign import CampaignLimits, CampaignRequest, plan_campaign
from smscore.domain.compliance import CompliancePolicy, framing, has_two_way
from smscore.domain.consent_records import ConsentOrigin, ConsentStatus, MarketingConsent
from smscore.domain.delivery import Deliverer, Outcome, RetryPolicy
from smscore.domain.errors import OptOutLinkUnavailable
from smscore.domain.exclusions import load_snapshot
from smscore.domain.model import ComplianceSettings, MessageStatus, QueueBatch, StoredMessage, TagRecipient, Tenant
from smscore.domain.opt_out_links import (
    CODE_LENGTH,
    DEFAULT_TWO_WAY,
    PLACEHOLDER,
    LinkContacts,
    LinkedMessage,
    LinkOutcome,
    OptOutByLink,
    OptOutCodes,
    TwoWayRoutes,
    link_footer,
    opt_out_base,
    personal_text,
)
from smscore.domain.segments import Encoding
from tests.consent_fakes import InMemorySuppressionList
from tests.delivery_fakes import InMemoryMessageStore, ListDeadLetters, Providers, ScriptedProvider
from tests.fakes import InMemoryExclusionList

CODES = OptOutCodes(b"k" * 32)
BASE = "https://sms.example.co"
NOW = datetime(2026, 12, 7, 15, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- the code


def test_a_code_names_its_message_has_a_fixed_length_and_differs_per_message() -> None:
    ids = [str(uuid.uuid4()) for _ in range(50)]
    codes = [CODES.code_for(i) for i in ids]
    assert {len(c) for c in codes} == {CODE_LENGTH}
    assert len(set(codes)) == 50
    assert [CODES.message_id_of(c) for c in codes] == ids
    assert all(set(c) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for c in codes)


def _flip(code: str, position: int) -> str:
    return code[:position] + ("A" if code[position] != "A" else "B") + code[position + 1 :]


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(lambda c: _flip(c, 30), id="one MAC character changed"),
        pytest.param(lambda c: _flip(c, 3), id="another message id, the same MAC"),
        pytest.param(lambda c: c[:-1], id="too short"),
        pytest.param(lambda c: c + "A", id="too long"),
        pytest.param(lambda c: c[:20] + "!!" + c[22:], id="not base64url"),
        pytest.param(lambda c: "A" * CODE_LENGTH, id="all A"),
        pytest.param(lambda c: OptOutCodes(b"x" * 32).code_for(str(uuid.UUID(int=5))), id="another secret"),
    ],
)
def test_a_code_not_made_with_the_secret_names_no_message(forged) -> None:  # type: ignore[no-untyped-def]
    code = CODES.code_for(str(uuid.UUID(int=5)))
    assert CODES.message_id_of(forged(code)) is None


def test_the_placeholder_stands_in_for_the_code_in_the_text_and_only_at_its_end() -> None:
    message_id = str(uuid.uuid4())
    body = "Tienda Ana: hola" + link_footer(BASE)
    sent = personal_text(body, message_id, CODES)
    assert sent == f"Tienda Ana: hola\nBaja: {BASE}/o/{CODES.code_for(message_id)}"
    assert len(sent) == len(body)
    written = f"Mira {BASE}/o/{PLACEHOLDER} y mas"  # the tenant's own text, not a footer
    assert personal_text(written, message_id, CODES) == written
    assert personal_text(body, message_id, None) == body


@pytest.mark.parametrize(
    ("link_base_url", "api_url", "base"),
    [
        ("https://go.example.co/l", "https://abc.execute-api.us-east-1.amazonaws.com/prod", "https://go.example.co"),
        ("https://sms.example.co/", "", "https://sms.example.co"),  # a LinkBaseUrl without the short links' /l
        (
            "",
            "https://abc.execute-api.us-east-1.amazonaws.com/prod/",
            "https://abc.execute-api.us-east-1.amazonaws.com/prod",
        ),
        ("", "", ""),
    ],
)
def test_the_link_base_is_the_shared_link_base_url_without_its_l_else_the_apis_own_url(
    link_base_url: str, api_url: str, base: str
) -> None:
    assert opt_out_base(link_base_url, api_url) == base


# ---------------------------------------------------------------------------------------------- which footer


@pytest.mark.parametrize(
    ("raw", "provider", "country", "two_way"),
    [
        ({"sandbox": "*"}, "sandbox", "CO", True),
        ({"sandbox": ""}, "sandbox", "CO", False),
        ({"aws_sms": "AU, ca,US"}, "aws_sms", "CA", True),
        ({"aws_sms": "AU,CA,US"}, "aws_sms", "CO", False),
        ({"twilio": "*"}, "aws_sms", "US", False),  # a provider it does not name: no two-way anywhere
    ],
)
def test_two_way_routes_are_data(raw: dict[str, str], provider: str, country: str, two_way: bool) -> None:
    assert TwoWayRoutes.parse(raw).has_two_way(provider, country) is two_way


SETTINGS = ComplianceSettings(sender_name="Tienda Ana")


@pytest.mark.parametrize(
    ("provider", "footer"),
    [
        ("twilio", "\nResponde SALIR para no recibir mas"),
        ("sandbox", "\nResponde SALIR para no recibir mas"),
        ("aws_sms", f"\nBaja: {BASE}/o/{PLACEHOLDER}"),  # no two-way SMS in Colombia
    ],
)
def test_the_footer_is_the_reply_keyword_on_two_way_routes_and_the_link_elsewhere(provider: str, footer: str) -> None:
    assert framing("Hola", SETTINGS, provider, DEFAULT_TWO_WAY, BASE) == ("Tienda Ana: ", footer)
    assert has_two_way("aws_sms", "CO") is False


def test_without_a_link_base_a_route_without_two_way_cannot_carry_marketing_to_co() -> None:
    with pytest.raises(OptOutLinkUnavailable) as refused:
        framing("Hola", SETTINGS, "aws_sms", DEFAULT_TWO_WAY, None)
    assert refused.value.code == "OPT_OUT_LINK_UNAVAILABLE"


def plan(message: str, *numbers: str, provider: str = "aws_sms", link_base: str | None = BASE):  # type: ignore[no-untyped-def]
    exclusions = InMemoryExclusionList()
    load_snapshot([], date(2026, 12, 7), exclusions, now=NOW)
    limits = CampaignLimits(
        max_recipients=10,
        recipients_per_queue_message=10,
        default_provider=provider,
        character_limits={provider: 1600},
        compliance=CompliancePolicy(exclusions, today=lambda: date(2026, 12, 7), link_base=link_base),
    )
    tenant = Tenant("t", "Tienda Ana", 100, "CO", compliance=SETTINGS)
    members = [TagRecipient(f"c{i}", n) for i, n in enumerate(numbers)]
    return plan_campaign(CampaignRequest("t", "m", message, ["tag"]), tenant, lambda: members, limits)


# "Tienda Ana: " (12) + "\nBaja: " (7) + "https://sms.example.co" (22) + "/o/" (3) + the code (38): 82 septets.
@pytest.mark.parametrize(
    ("message", "segments", "encoding"),
    [
        ("x" * 78, 1, Encoding.GSM7),  # 160
        ("x" * 79, 2, Encoding.GSM7),  # 161
        ("x" * 224, 2, Encoding.GSM7),  # 306
        ("x" * 225, 3, Encoding.GSM7),  # 307
        ("Canción", 2, Encoding.UCS2),  # 7 + 82 = 89 UTF-16 units: over 70, two UCS-2 segments
    ],
)
def test_the_link_footer_is_priced_per_recipient_at_its_fixed_length(
    message: str, segments: int, encoding: Encoding
) -> None:
    planned = plan(message, "3001234567", "3007654321")
    assert planned.final_message == f"Tienda Ana: {message}\nBaja: {BASE}/o/{PLACEHOLDER}"
    assert (planned.segments.segments, planned.segments.encoding, planned.cost) == (segments, encoding, 2 * segments)


def test_a_send_through_a_route_without_two_way_and_no_link_base_is_refused_before_pricing() -> None:
    with pytest.raises(OptOutLinkUnavailable):
        plan("Hola", "3001234567", link_base=None)
    assert plan("Hola", "3001234567", provider="twilio", link_base=None).final_message.endswith("no recibir mas")


# ---------------------------------------------------------------------------------------------- at delivery


def stored(message_id: str, body: str, **changes: object) -> StoredMessage:
    base = StoredMessage(message_id, "t-1", "q-1", "+573001234567", body, 1, 1, MessageStatus.QUEUED, "sandbox")
    return StoredMessage(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_delivery_sends_each_message_with_its_own_code_and_the_code_leads_back_to_it() -> None:
    store = InMemoryMessageStore()
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    body = "Tienda Ana: hola" + link_footer(BASE)
    for i, message_id in enumerate(ids):
        store.add(stored(message_id, body, recipient=f"+57300123456{i}"))
    provider = ScriptedProvider("sandbox")
    worker = Deliverer(
        store,
        Providers({"sandbox": provider}),
        ListDeadLetters(),
        RetryPolicy(),
        rng=random.Random(1),
        link_codes=lambda: CODES,
    )
    report = worker.deliver(QueueBatch(tenant_id="t-1", queue_id="q-1", message_ids=ids))
    assert set(report.outcomes.values()) == {Outcome.SENT}
    sent = {call.message_id: call.body for call in provider.calls}
    for message_id in ids:
        code = sent[message_id].rsplit("/o/", 1)[1]
        assert sent[message_id] == f"Tienda Ana: hola\nBaja: {BASE}/o/{code}"
        assert CODES.message_id_of(code) == message_id


# ---------------------------------------------------------------------------------------------- the page


@dataclass
class FakeContacts(LinkContacts):
    numbers: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (tenant, number) -> contact ids
    opted_out: set[tuple[str, str]] = field(default_factory=set)
    history: dict[tuple[str, str], list[MarketingConsent]] = field(default_factory=dict)

    def contacts_of(self, tenant_id: str, e164: str) -> list[str]:
        return list(self.numbers.get((tenant_id, e164), []))

    def opt_out(self, tenant_id: str, contact_id: str, consent: MarketingConsent, at: datetime) -> None:
        self.opted_out.add((tenant_id, contact_id))
        records = self.history.setdefault((tenant_id, contact_id), [])
        if not records or records[-1].source is not ConsentOrigin.LINK:
            records.append(consent)


MESSAGE_ID = str(uuid.UUID(int=42))


def page(messages: dict[str, LinkedMessage]) -> tuple[OptOutByLink, FakeContacts, InMemorySuppressionList]:
    contacts = FakeContacts({("t-1", "+573001234567"): ["c-1"], ("t-2", "+573001234567"): ["c-9"]})
    suppressions = InMemorySuppressionList()
    links = OptOutByLink(CODES, messages.get, lambda provider: f"{provider}:+15550001111", suppressions, contacts)
    return links, contacts, suppressions


def test_posting_the_page_opts_the_number_out_of_the_tenant_and_the_sender_once() -> None:
    # Given a message of tenant t-1 to a number that tenant t-2 also has
    links, contacts, suppressions = page({MESSAGE_ID: LinkedMessage("t-1", "+573001234567", "aws_sms")})
    code = CODES.code_for(MESSAGE_ID)
    # When the page is shown, then posted twice
    target = links.resolve(code)
    first = links.opt_out(code, NOW)
    second = links.opt_out(code, NOW.replace(minute=5))
    # Then the number left t-1's marketing (its contact, with one revoked consent record from the link) and the sender
    assert target is not None
    assert (target.tenant_id, target.number) == ("t-1", "+573001234567")
    assert (first, second) == (LinkOutcome.OPTED_OUT, LinkOutcome.ALREADY)
    assert contacts.opted_out == {("t-1", "c-1")}
    [record] = contacts.history[("t-1", "c-1")]
    assert (record.status, record.source, record.at) == (ConsentStatus.REVOKED, ConsentOrigin.LINK, NOW)
    assert MESSAGE_ID in (record.evidence or "")
    assert suppressions.is_suppressed("+573001234567", "aws_sms:+15550001111")
    assert suppressions.entries[("aws_sms:+15550001111", "+573001234567")].keyword == "LINK"


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        pytest.param({}, CODES.code_for(MESSAGE_ID), id="its message expired"),
        pytest.param(
            {MESSAGE_ID: LinkedMessage("t-1", "+********4567", "aws_sms")}, CODES.code_for(MESSAGE_ID), id="erased"
        ),
        pytest.param(
            {MESSAGE_ID: LinkedMessage("t-1", "+573001234567", "aws_sms")}, "x" * CODE_LENGTH, id="forged code"
        ),
    ],
)
def test_an_unknown_code_changes_nothing(messages: dict[str, LinkedMessage], code: str) -> None:
    links, contacts, suppressions = page(messages)
    assert links.resolve(code) is None
    assert links.opt_out(code, NOW) is LinkOutcome.UNKNOWN
    assert contacts.opted_out == set()
    assert suppressions.entries == {}


# ---------------------------------------------------------------------------------------------- STOP as proof


def test_a_stop_revokes_consent_only_for_the_tenants_of_its_sender_and_a_deleted_contact_is_skipped() -> None:
    from smscore.domain.errors import NotFound
    from smscore.domain.keyword_consent import KeywordConsent

    written: list[tuple[str, str, MarketingConsent]] = []

    def record(tenant_id: str, contact_id: str, consent: MarketingConsent) -> None:
        if contact_id == "gone":
            raise NotFound("No contact with this id")
        written.append((tenant_id, contact_id, consent))

    consent = KeywordConsent(
        contacts_with_number=lambda number: [("t-1", "c-1"), ("t-1", "gone"), ("t-2", "c-2"), ("t-3", "c-3")],
        sender_of_tenant={"t-1": "aws_sms:+15550002222", "t-2": "sandbox", "t-3": "aws_sms:+15550002222"}.__getitem__,
        record=record,
    )
    assert consent.revoke("+573001234567", "aws_sms:+15550002222", "BAJA", NOW) == 2
    assert [(t, c) for t, c, _ in written] == [("t-1", "c-1"), ("t-3", "c-3")]
    assert {(r.status, r.source, r.at, r.evidence) for _, _, r in written} == {
        (ConsentStatus.REVOKED, ConsentOrigin.KEYWORD, NOW, 'Replied "BAJA" to sender aws_sms:+15550002222')
    }
