"""Marketing consent records (Ley 1581 de 2012, Decreto 1377 de 2013): prior, express, informed, provable later.

Each contact carries its latest record (`granted` or `revoked`, where it came from, when, and free-text evidence);
every change is also appended to the contact's consent history, in the same transaction (smscore.dal.contact_store).
With the tenant's `consentRequired`, a marketing campaign skips every contact without a granted record before
pricing (`skipped_no_consent`, never charged); transactional campaigns are exempt. The send path reads the flag from
the membership copies (`TagRecipient.consent_granted`), so it never reads the contacts table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from smscore.domain.errors import FieldIssue, InvalidRequest

MAX_EVIDENCE = 500


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    REVOKED = "revoked"


class ConsentOrigin(StrEnum):
    """Where a consent record came from."""

    IMPORT = "import"
    API = "api"
    UI = "ui"
    KEYWORD = "keyword"
    LINK = "link"


@dataclass(frozen=True)
class MarketingConsent:
    status: ConsentStatus
    source: ConsentOrigin
    at: datetime
    evidence: str | None = None

    @property
    def granted(self) -> bool:
        return self.status is ConsentStatus.GRANTED


def _issue(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid request: {field}: {message}", details=[FieldIssue(field, message)])


def parse_consent(
    status: str,
    source: str,
    at: datetime | str | None,
    evidence: str | None,
    now: datetime,
    field: str = "marketingConsent",
) -> MarketingConsent:
    """One consent record from what a person gave (API body, import row); InvalidRequest names the bad field.

    `at` defaults to `now` and may not be in the future (consent is recorded after it was given)."""
    try:
        parsed_status = ConsentStatus(status.strip().lower())
    except ValueError:
        raise _issue(f"{field}.status", "granted or revoked") from None
    try:
        parsed_source = ConsentOrigin(source.strip().lower())
    except ValueError:
        raise _issue(f"{field}.source", "one of import, api, ui, keyword, link") from None
    when = now
    if isinstance(at, str) and at.strip():
        try:
            when = datetime.fromisoformat(at.strip())
        except ValueError:
            raise _issue(f"{field}.at", "an ISO 8601 date-time") from None
    elif isinstance(at, datetime):
        when = at
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when > now:
        raise _issue(f"{field}.at", "not in the future")
    text = (evidence or "").strip() or None
    if text is not None and len(text) > MAX_EVIDENCE:
        raise _issue(f"{field}.evidence", f"at most {MAX_EVIDENCE} characters")
    return MarketingConsent(parsed_status, parsed_source, when.astimezone(UTC), text)


def consent_as_map(consent: MarketingConsent) -> dict[str, str]:
    """The stored form (contact item and history items)."""
    stored = {"status": consent.status.value, "source": consent.source.value, "at": consent.at.isoformat()}
    if consent.evidence:
        stored["evidence"] = consent.evidence
    return stored


def consent_from_map(raw: dict[str, str] | None) -> MarketingConsent | None:
    if not raw:
        return None
    return MarketingConsent(
        ConsentStatus(raw["status"]),
        ConsentOrigin(raw["source"]),
        datetime.fromisoformat(raw["at"]),
        raw.get("evidence") or None,
    )


def lacks_consent(consent_required: bool, marketing: bool, consent_granted: bool) -> bool:
    """The rule: skipped when the tenant requires consent, the campaign is marketing, and no granted record."""
    return consent_required and marketing and not consent_granted
