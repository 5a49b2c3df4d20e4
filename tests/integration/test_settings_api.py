"""GET/PUT /api/settings through the real contacts handler on moto: defaults, changes, refusals (issue 22, item 1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from smscore.dal.tables import TenantRecord
from smsdev.admin_store import DynamoAdminStore
from tests.conftest import Stack
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.test_contacts_api import Client

DEFAULTS = {
    "senderName": "Acme",
    "defaultSenderName": "Acme",
    "optOutText": "Responde SALIR para no recibir mas",
    "defaultOptOutText": "Responde SALIR para no recibir mas",
    "marketingFrequency": {"maxPerDay": 1, "maxPerWeek": 0},
    "consentRequired": False,
    "quietHours": None,
    "creditsLowThreshold": None,
}


@pytest.fixture
def client(contacts_stack: Stack, campaign: Campaign, monkeypatch: pytest.MonkeyPatch) -> Client:
    # The production default of MarketingMaxPerDayDefault (test stacks run with 0)
    monkeypatch.setenv("MARKETING_MAX_PER_DAY_DEFAULT", "1")
    from smscore import wiring

    wiring.reset()
    return Client(campaign)


def stored(campaign: Campaign) -> dict[str, Any]:
    record = TenantRecord.get(campaign.tenant_id)
    return {
        "compliance": record.compliance.as_dict() if record.compliance else None,
        "quiet": record.quiet_hours.as_dict() if record.quiet_hours else None,
        "creditsLowThreshold": record.credits_low_threshold,
    }


def test_a_tenant_that_never_set_anything_gets_the_defaults_with_its_name_as_sender(client: Client) -> None:
    # Given a tenant created before the settings existed (nothing stored)
    assert stored(client.campaign)["compliance"] is None
    # When it reads its settings
    reply = client.call("GET", "/api/settings")
    # Then its name is the sender name and every default shows
    assert (reply.status, reply.body) == (200, DEFAULTS)


def test_a_long_tenant_name_is_cut_to_twenty_characters_for_the_default(contacts_stack: Stack, admin: Any) -> None:
    tenant_id = admin.create_tenant("Distribuidora   Nacional de Café S.A.S.", credits=0, default_country="CO")
    member = admin.create_member(tenant_id, "o@d.test", accept_terms=True)
    reply = Client(Campaign(admin, tenant_id, member.member_id, member.token.token)).call("GET", "/api/settings")
    assert reply.body["senderName"] == "Distribuidora Nacion"


def test_put_changes_only_the_named_fields_and_persists_them(client: Client) -> None:
    # When the tenant sets a sender name, a weekly cap and its quiet hours
    reply = client.call(
        "PUT",
        "/api/settings",
        {
            "senderName": "  Tienda   Ana ",
            "marketingFrequency": {"maxPerDay": 2, "maxPerWeek": 5},
            "quietHours": {"start": "21:00", "end": "08:00"},
        },
    )
    # Then the answer and a later read show them, the other fields keep their defaults
    expected = {
        **DEFAULTS,
        "senderName": "Tienda Ana",
        "marketingFrequency": {"maxPerDay": 2, "maxPerWeek": 5},
        "quietHours": {"start": "21:00", "end": "08:00", "timeZone": "America/Bogota"},
    }
    assert (reply.status, reply.body) == (200, expected)
    assert client.call("GET", "/api/settings").body == expected
    # And a second PUT naming one field leaves the rest as they were
    reply = client.call("PUT", "/api/settings", {"consentRequired": True, "optOutText": "Envia SALIR y listo"})
    assert reply.body == {**expected, "consentRequired": True, "optOutText": "Envia SALIR y listo"}
    assert stored(client.campaign) == {
        "compliance": {
            "senderName": "Tienda Ana",
            "optOutText": "Envia SALIR y listo",
            "maxPerDay": 2,
            "maxPerWeek": 5,
            "consentRequired": True,
        },
        "quiet": {"start": "21:00", "end": "08:00", "timeZone": "America/Bogota"},
        "creditsLowThreshold": None,
    }


def test_the_credits_low_threshold_is_set_kept_by_other_puts_and_cleared_by_null(client: Client) -> None:
    # When the tenant sets a threshold of 500 credits
    reply = client.call("PUT", "/api/settings", {"creditsLowThreshold": 500})
    # Then the answer, a later read and the tenant item show it
    assert (reply.status, reply.body) == (200, {**DEFAULTS, "creditsLowThreshold": 500})
    assert client.call("GET", "/api/settings").body["creditsLowThreshold"] == 500
    assert stored(client.campaign)["creditsLowThreshold"] == 500
    # And a PUT of another field keeps it
    assert client.call("PUT", "/api/settings", {"consentRequired": True}).body["creditsLowThreshold"] == 500
    # And a threshold set anew forgets that credits.low was emitted, so the next crossing is told again
    TenantRecord(client.campaign.tenant_id).update(actions=[TenantRecord.credits_low_at.set(datetime.now(UTC))])
    client.call("PUT", "/api/settings", {"creditsLowThreshold": 800})
    assert TenantRecord.get(client.campaign.tenant_id).credits_low_at is None
    # When it sends null
    reply = client.call("PUT", "/api/settings", {"creditsLowThreshold": None})
    # Then there is no threshold any more
    assert reply.body["creditsLowThreshold"] is None
    assert stored(client.campaign)["creditsLowThreshold"] is None


def test_null_clears_the_sender_name_restores_the_opt_out_text_and_removes_quiet_hours(client: Client) -> None:
    client.call(
        "PUT",
        "/api/settings",
        {"optOutText": "Envia SALIR", "quietHours": {"start": "21:00", "end": "08:00", "timeZone": "America/Bogota"}},
    )
    reply = client.call("PUT", "/api/settings", {"senderName": None, "optOutText": None, "quietHours": None})
    assert reply.status == 200
    assert reply.body == {**DEFAULTS, "senderName": None}
    assert stored(client.campaign)["quiet"] is None
    # The cleared name stays cleared: it does not fall back to the tenant's name
    assert client.call("GET", "/api/settings").body["senderName"] is None


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"senderName": "A"}, 400, "VALIDATION_ERROR", "senderName"),
        ({"senderName": "x" * 21}, 400, "VALIDATION_ERROR", "senderName"),
        ({"senderName": "Ana\u200bShop"}, 400, "INVALID_CHARACTER", "senderName"),
        ({"optOutText": ""}, 400, "VALIDATION_ERROR", "optOutText"),
        ({"optOutText": "x" * 81}, 400, "VALIDATION_ERROR", "optOutText"),
        (
            {"marketingFrequency": {"maxPerDay": -1, "maxPerWeek": 0}},
            400,
            "VALIDATION_ERROR",
            "marketingFrequency.maxPerDay",
        ),
        ({"marketingFrequency": {"maxPerDay": 1}}, 400, "VALIDATION_ERROR", "marketingFrequency.maxPerWeek"),
        ({"marketingFrequency": None}, 400, "VALIDATION_ERROR", "marketingFrequency"),
        ({"consentRequired": None}, 400, "VALIDATION_ERROR", "consentRequired"),
        ({"quietHours": {"start": "21:00", "end": "21:00"}}, 400, "VALIDATION_ERROR", "quietHours"),
        (
            {"quietHours": {"start": "21:00", "end": "08:00", "timeZone": "Mars/Olympus"}},
            400,
            "VALIDATION_ERROR",
            "quietHours",
        ),
        ({"sendrName": "Typo"}, 400, "VALIDATION_ERROR", "sendrName"),
        ({"creditsLowThreshold": 0}, 400, "VALIDATION_ERROR", "creditsLowThreshold"),
        ({"creditsLowThreshold": "cien"}, 400, "VALIDATION_ERROR", "creditsLowThreshold"),
        ({"creditsLowThreshold": 1_000_000_001}, 400, "VALIDATION_ERROR", "creditsLowThreshold"),
    ],
)
def test_bad_settings_are_refused_with_the_field_and_change_nothing(
    client: Client, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    before = stored(client.campaign)
    reply = client.call("PUT", "/api/settings", {"consentRequired": True, **body})
    assert (reply.status, reply.body["code"]) == (status, code)
    assert field in [d["field"] for d in reply.body["details"]]
    assert stored(client.campaign) == before


def test_a_member_without_the_current_terms_may_read_but_not_write(
    contacts_stack: Stack, admin: DynamoAdminStore
) -> None:
    campaign = make_campaign(admin)
    admin.publish_terms("2099-01")
    client = Client(campaign)
    assert client.call("GET", "/api/settings").status == 200
    reply = client.call("PUT", "/api/settings", {"senderName": "Otra"})
    assert (reply.status, reply.body["code"]) == (403, "TERMS_NOT_ACCEPTED")
    assert stored(campaign)["compliance"] is None


def test_settings_are_the_callers_tenant_only(contacts_stack: Stack, admin: DynamoAdminStore) -> None:
    first, second = make_campaign(admin), make_campaign(admin)
    Client(first).call("PUT", "/api/settings", {"senderName": "Primera"})
    assert Client(second).call("GET", "/api/settings").body["senderName"] == "Acme"
