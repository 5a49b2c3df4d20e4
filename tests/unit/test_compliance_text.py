"""The sender's name and the opt-out instruction of a marketing SMS to CO: the rules, and the segments of the text
they make (what the preview shows and the send charges)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from smscore.domain.campaign import CampaignLimits, CampaignRequest, plan_campaign
from smscore.domain.compliance import (
    DEFAULT_OPT_OUT_TEXT,
    CompliancePolicy,
    default_sender_name,
    framing,
    has_two_way,
    sender_prefix,
)
from smscore.domain.exclusions import load_snapshot
from smscore.domain.model import ComplianceSettings, Purpose, TagRecipient, Tenant
from smscore.domain.segments import Encoding, count_segments
from tests.fakes import InMemoryExclusionList

SETTINGS = ComplianceSettings(sender_name="Tienda Ana")


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("Oferta 2x1", "Tienda Ana: "),
        ("Tienda Ana: Oferta 2x1", ""),  # already names the sender
        ("  tienda ana: oferta", ""),  # any case, leading spaces
        ("Tienda Ana oferta", "Tienda Ana: "),  # the name without the colon is not the prefix
        ("Tienda Anastasia: hola", "Tienda Ana: "),
    ],
)
def test_the_prefix_is_added_unless_the_text_already_starts_with_it(text: str, prefix: str) -> None:
    assert sender_prefix(text, "Tienda Ana") == prefix


@pytest.mark.parametrize(
    ("settings", "footer"),
    [
        (SETTINGS, "\nResponde SALIR para no recibir mas"),
        (replace(SETTINGS, opt_out_text="Envia SALIR al 899"), "\nEnvia SALIR al 899"),
    ],
)
def test_the_footer_is_the_opt_out_text_or_its_default(settings: ComplianceSettings, footer: str) -> None:
    assert framing("Hola", settings, "sandbox") == ("Tienda Ana: ", footer)


def test_the_default_opt_out_text_names_salir_and_stays_in_gsm7() -> None:
    assert "SALIR" in DEFAULT_OPT_OUT_TEXT
    assert count_segments(DEFAULT_OPT_OUT_TEXT).encoding is Encoding.GSM7


@pytest.mark.parametrize(
    ("provider", "country", "two_way"),
    [("sandbox", "CO", True), ("twilio", "CO", True), ("aws_sms", "CO", False), ("aws_sms", "US", True)],
)
def test_aws_has_no_two_way_sms_in_colombia(provider: str, country: str, two_way: bool) -> None:
    assert has_two_way(provider, country) is two_way


@pytest.mark.parametrize(
    ("name", "default"),
    [("Demo Store", "Demo Store"), ("  Ana   Shop ", "Ana Shop"), ("X", None), ("A" * 30, "A" * 20)],
)
def test_the_default_sender_name_is_the_tenants_name_within_two_to_twenty_characters(
    name: str, default: str | None
) -> None:
    assert default_sender_name(name) == default


# ---------------------------------------------------------------------------------------------- the priced text

NOW = datetime(2026, 12, 6, 15, tzinfo=UTC)


def plan(message: str, *numbers: str, purpose: Purpose = Purpose.MARKETING, settings: ComplianceSettings = SETTINGS):  # type: ignore[no-untyped-def]
    exclusions = InMemoryExclusionList()
    load_snapshot([], date(2026, 12, 6), exclusions, now=NOW)
    limits = CampaignLimits(
        max_recipients=10,
        recipients_per_queue_message=10,
        default_provider="sandbox",
        character_limits={"sandbox": 1600},
        compliance=CompliancePolicy(exclusions, today=lambda: date(2026, 12, 6)),
    )
    tenant = Tenant("t", "Tienda Ana", 100, "CO", compliance=settings)
    members = [TagRecipient(f"c{i}", n) for i, n in enumerate(numbers)]
    request = CampaignRequest("t", "m", message, ["tag"], purpose=purpose)
    return plan_campaign(request, tenant, lambda: members, limits)


# The default frame adds "Tienda Ana: " (12) and "\n" + the default text (1 + 34): 47 GSM-7 septets.
@pytest.mark.parametrize(
    ("message", "segments", "encoding"),
    [
        ("x" * 113, 1, Encoding.GSM7),  # 113 + 47 = 160: one segment
        ("x" * 114, 2, Encoding.GSM7),  # 161: two (153 each)
        ("x" * 259, 2, Encoding.GSM7),  # 306
        ("x" * 260, 3, Encoding.GSM7),  # 307
        ("Canción " + "x" * 15, 1, Encoding.UCS2),  # 23 + 47 = 70 UTF-16 units: one UCS-2 segment
        ("Canción " + "x" * 16, 2, Encoding.UCS2),  # 71
    ],
)
def test_segments_and_credits_count_the_final_text(message: str, segments: int, encoding: Encoding) -> None:
    planned = plan(message, "3001234567", "3007654321")
    assert planned.final_message == f"Tienda Ana: {message}\nResponde SALIR para no recibir mas"
    assert (planned.segments.segments, planned.segments.encoding, planned.cost) == (segments, encoding, 2 * segments)


def test_transactional_and_non_colombian_campaigns_are_sent_as_written() -> None:
    assert plan("Tu codigo es 1234", "3001234567", purpose=Purpose.TRANSACTIONAL).final_message == "Tu codigo es 1234"
    assert plan("Hi", "+14155550123").final_message == "Hi"


def test_a_text_that_already_names_the_sender_gets_only_the_footer() -> None:
    planned = plan("TIENDA ANA: 2x1 hoy", "3001234567")
    assert planned.final_message == "TIENDA ANA: 2x1 hoy\nResponde SALIR para no recibir mas"


def test_a_non_gsm_sender_name_makes_the_message_ucs2_and_the_plan_says_so() -> None:
    planned = plan("Oferta", "3001234567", settings=ComplianceSettings(sender_name="Café Ñoño 😀"))
    assert planned.segments.encoding is Encoding.UCS2
    assert planned.final_message.startswith("Café Ñoño 😀: Oferta")
