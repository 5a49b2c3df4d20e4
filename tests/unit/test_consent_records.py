"""The consent record rules (issue 22, item 6): what a valid record is, and who consentRequired skips."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smscore.domain.campaign import build_audience, skip_without_consent
from smscore.domain.consent_records import (
    ConsentOrigin,
    ConsentStatus,
    consent_as_map,
    consent_from_map,
    lacks_consent,
    parse_consent,
)
from smscore.domain.errors import InvalidRequest
from smscore.domain.model import ComplianceSettings, Purpose, TagRecipient, Tenant

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def test_a_record_defaults_its_time_to_now_and_keeps_its_evidence_trimmed() -> None:
    consent = parse_consent(" Granted ", "IMPORT", None, "  Formulario firmado  ", NOW)
    assert (consent.status, consent.source, consent.at, consent.evidence) == (
        ConsentStatus.GRANTED,
        ConsentOrigin.IMPORT,
        NOW,
        "Formulario firmado",
    )
    assert consent_from_map(consent_as_map(consent)) == consent


def test_a_naive_time_is_utc_and_an_iso_text_is_read() -> None:
    assert parse_consent("revoked", "ui", "2026-11-02T10:00:00", None, NOW).at == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert parse_consent("revoked", "ui", "2026-11-02T10:00:00-05:00", "", NOW).at == datetime(
        2026, 11, 2, 15, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("status", "source", "at", "evidence", "field"),
    [
        ("yes", "api", None, None, "marketingConsent.status"),
        ("granted", "email", None, None, "marketingConsent.source"),
        ("granted", "api", "yesterday", None, "marketingConsent.at"),
        ("granted", "api", "2026-12-05T00:00:00+00:00", None, "marketingConsent.at"),
        ("granted", "api", None, "x" * 501, "marketingConsent.evidence"),
    ],
)
def test_a_bad_record_names_its_field(
    status: str, source: str, at: str | None, evidence: str | None, field: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_consent(status, source, at, evidence, NOW)
    assert [d.field for d in refused.value.details] == [field]


def test_evidence_of_exactly_500_characters_is_kept() -> None:
    assert parse_consent("granted", "api", None, "x" * 500, NOW).evidence == "x" * 500


def test_only_required_marketing_without_granted_consent_is_skipped() -> None:
    assert lacks_consent(True, True, False)
    assert not lacks_consent(True, True, True)
    assert not lacks_consent(True, False, False)  # transactional
    assert not lacks_consent(False, True, False)  # not required


def tenant(required: bool) -> Tenant:
    return Tenant(
        tenant_id="t1",
        name="Acme",
        credits=100,
        compliance=ComplianceSettings(sender_name="Acme", consent_required=required),
    )


MEMBERS = [
    TagRecipient("c1", "+573001234567", consent_granted=True),
    TagRecipient("c2", "+573009876543"),
    TagRecipient("c3", "+573115550101", consent_granted=False),
]


def test_consent_required_leaves_out_the_members_without_granted_consent() -> None:
    audience = build_audience(MEMBERS, "CO")
    skip_without_consent(audience, Purpose.MARKETING, tenant(True))
    assert (audience.recipients, audience.skipped_no_consent) == ([("+573001234567", "c1")], 2)


@pytest.mark.parametrize(("purpose", "required"), [(Purpose.TRANSACTIONAL, True), (Purpose.MARKETING, False)])
def test_transactional_or_not_required_reaches_everyone(purpose: Purpose, required: bool) -> None:
    audience = build_audience(MEMBERS, "CO")
    skip_without_consent(audience, purpose, tenant(required))
    assert (len(audience.recipients), audience.skipped_no_consent) == (3, 0)
