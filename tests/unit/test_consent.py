"""A contact's shown consent (smscore.domain.consent): the tenant's own opt-out and the keyword opt-outs of the
senders the tenant sends through, no others; read once per sender for a whole page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from smscore.domain.campaign import CampaignLimits
from smscore.domain.consent import (
    Consent,
    ConsentReader,
    ConsentState,
    OptOutCause,
    OptOutReason,
    consent_of,
)
from smscore.domain.contacts import Contact
from smscore.domain.ports import ConsentChange
from tests.consent_fakes import InMemorySuppressionList

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ANA, BETO = "+573001234567", "+573001110000"
SANDBOX, TWILIO = "sandbox", "twilio:+15550001111"


def contact(
    contact_id: str, phone: str, opted_out: bool = False, source: str | None = None, at: datetime | None = None
) -> Contact:
    return Contact(
        contact_id=contact_id,
        phone=phone,
        name=None,
        opted_out=opted_out,
        tag_ids=frozenset(),
        created_at=T0 - timedelta(days=30),
        opted_out_at=at if opted_out else None,
        consent_source=source,
    )


class CountingSuppressions(InMemorySuppressionList):
    """Counts the bulk reads the reader makes (one per sender per page is the budget)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[tuple[str, ...], str]] = []

    def opt_outs(self, numbers: Sequence[str], sender: str) -> dict[str, ConsentChange]:
        self.reads.append((tuple(numbers), sender))
        return super().opt_outs(numbers, sender)


@pytest.fixture
def suppressions() -> CountingSuppressions:
    return CountingSuppressions()


def test_a_contact_with_no_flag_and_no_keyword_is_subscribed() -> None:
    shown = consent_of(contact("c1", ANA))
    assert (shown.state, shown.opted_out, shown.opted_out_at, shown.causes) == (
        ConsentState.SUBSCRIBED,
        False,
        None,
        (),
    )


@pytest.mark.parametrize("source", ["api", "import", None])
def test_the_tenants_own_flag_is_a_tenant_opt_out(source: str | None) -> None:
    shown = consent_of(contact("c1", ANA, opted_out=True, source=source, at=T0))
    assert shown.causes == (OptOutCause(OptOutReason.TENANT_OPT_OUT, T0),)
    assert (shown.state, shown.opted_out_at) == (ConsentState.OPTED_OUT, T0)


def test_a_flag_a_keyword_wrote_before_derived_consent_shows_as_a_keyword_of_unknown_sender() -> None:
    # The send path still skips it (its membership copies say so) until smsctl clears it: shown as such
    shown = consent_of(contact("c1", ANA, opted_out=True, source="keyword", at=T0))
    assert shown.causes == (OptOutCause(OptOutReason.KEYWORD, T0),)


def test_the_tenants_opt_out_comes_first_then_each_keyword_with_its_sender(suppressions: CountingSuppressions) -> None:
    # Given the tenant opted Ana out, and she also replied BAJA to the sandbox
    suppressions.opt_out(ANA, SANDBOX, at=T0 + timedelta(minutes=1), keyword="BAJA")
    reader = ConsentReader(suppressions, lambda tenant_id: [SANDBOX])
    shown = reader.consent("t", contact("c1", ANA, opted_out=True, source="api", at=T0))
    assert shown == Consent(
        (
            OptOutCause(OptOutReason.TENANT_OPT_OUT, T0),
            OptOutCause(OptOutReason.KEYWORD, T0 + timedelta(minutes=1), SANDBOX, "BAJA"),
        )
    )
    assert shown.opted_out_at == T0


def test_a_keyword_to_a_sender_the_tenant_does_not_send_through_never_shows(suppressions: CountingSuppressions) -> None:
    # Given Ana replied STOP to the Twilio number, and the tenant sends through the sandbox
    suppressions.opt_out(ANA, TWILIO, at=T0)
    sandbox_tenant = ConsentReader(suppressions, lambda tenant_id: [SANDBOX])
    twilio_tenant = ConsentReader(suppressions, lambda tenant_id: [TWILIO])
    # Then only a tenant sending through Twilio sees it
    assert sandbox_tenant.consent("t", contact("c1", ANA)).state is ConsentState.SUBSCRIBED
    assert twilio_tenant.consent("t", contact("c1", ANA)).causes == (
        OptOutCause(OptOutReason.KEYWORD, T0, TWILIO, "STOP"),
    )


def test_a_page_costs_one_bulk_read_per_sender_whatever_its_size(suppressions: CountingSuppressions) -> None:
    # Given a page of 25 contacts (the admin's page), two of them suppressed, one number listed twice
    page = [contact(f"c{n}", f"+5730000{n:05d}") for n in range(24)] + [contact("dup", "+573000000003")]
    suppressions.opt_out("+573000000003", SANDBOX, at=T0)
    suppressions.opt_out("+573000000007", TWILIO, at=T0)
    reader = ConsentReader(suppressions, lambda tenant_id: [SANDBOX, TWILIO, SANDBOX])
    consents = reader.consents("t", page)
    # Then one read of the page's distinct numbers per distinct sender
    assert [(len(numbers), sender) for numbers, sender in suppressions.reads] == [(24, SANDBOX), (24, TWILIO)]
    assert sorted(cid for cid, c in consents.items() if c.opted_out) == ["c3", "c7", "dup"]
    # And an empty page reads nothing
    suppressions.reads.clear()
    assert reader.consents("t", []) == {}
    assert suppressions.reads == []


@pytest.mark.parametrize(
    ("tenant_provider", "expected"),
    [(None, SANDBOX), ("twilio", TWILIO), ("aws_sms", "aws_sms:+15550002222"), ("unknown", "unknown")],
)
def test_the_tenants_sender_is_the_send_paths(tenant_provider: str | None, expected: str) -> None:
    limits = CampaignLimits(
        max_recipients=10,
        recipients_per_queue_message=10,
        default_provider="sandbox",
        character_limits={},
        sender_keys={"sandbox": SANDBOX, "twilio": TWILIO, "aws_sms": "aws_sms:+15550002222"},
    )
    assert limits.tenant_sender(tenant_provider) == expected
