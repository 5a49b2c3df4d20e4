"""The marketing frequency cap on moto: two campaigns on one day, and one for the next day (issue 22, item 3)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from smscore.dal.tables import FrequencyRecord, MessageRecord
from smscore.dal.tenant_settings import DynamoTenantSettings
from smscore.domain.frequency import BOGOTA, week_of
from smscore.domain.model import ComplianceSettings, MarketingFrequency
from smscore.wiring import bound_settings
from tests.conftest import Stack
from tests.integration.conftest import Campaign
from tests.integration.test_preview_and_resend import PREVIEW, SEND, call


def capped_at_one_a_day(audience: Campaign) -> None:
    bound_settings()
    settings = ComplianceSettings(sender_name="Acme", frequency=MarketingFrequency(max_per_day=1, max_per_week=0))
    assert DynamoTenantSettings().write_settings(audience.tenant_id, settings, None)


def vip(audience: Campaign, **extra: Any) -> dict[str, Any]:
    return {"message": "Oferta", "tagIds": [audience.tags["vip"]], **extra}


def test_a_second_campaign_the_same_day_skips_the_numbers_already_reached_and_the_next_day_reaches_them(
    stack: Stack, audience: Campaign
) -> None:
    # Given a tenant capped at one marketing message per number per day, and a first campaign to its 3 vip numbers
    capped_at_one_a_day(audience)
    status, first = call(audience, SEND, vip(audience))
    assert (status, len(first["messages"])) == (201, 3)
    # Then each number's counter for today holds one message (one small item a number)
    today = datetime.now(BOGOTA).date()
    items = [i for i in FrequencyRecord.scan() if i.key.startswith(audience.tenant_id)]
    assert len(items) == 3
    assert {(i.week, int(i.total), int(i.days.as_dict()[today.isoformat()])) for i in items} == {(week_of(today), 1, 1)}

    # When a second campaign to the same tag is previewed and sent the same day
    status, preview = call(audience, PREVIEW, vip(audience))
    assert (status, preview["recipients"], preview["skippedFrequency"], preview["creditsRequired"]) == (200, 0, 3, 0)
    status, second = call(audience, SEND, vip(audience))
    # Then nobody is reached and nothing is charged
    assert (status, second["messages"]) == (200, [])
    assert audience.balance() == 1000 - 3
    assert audience.ledger_sum() == audience.balance()

    # When a campaign is scheduled for tomorrow, Then it counts on tomorrow and reaches them again
    tomorrow = (datetime.now(BOGOTA) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    status, third = call(audience, SEND, vip(audience, sendAt=tomorrow.isoformat()))
    assert (status, len(third["messages"])) == (201, 3)
    assert audience.balance() == 1000 - 6


def test_transactional_messages_are_not_counted_nor_capped(stack: Stack, audience: Campaign) -> None:
    capped_at_one_a_day(audience)
    for _ in range(2):
        status, sent = call(audience, SEND, vip(audience, purpose="transactional"))
        assert (status, len(sent["messages"])) == (201, 3)
    assert [i for i in FrequencyRecord.scan() if i.key.startswith(audience.tenant_id)] == []
    assert len(list(MessageRecord.scan())) == 6


def test_without_a_cap_every_campaign_goes(stack: Stack, audience: Campaign) -> None:
    # The test stacks' MarketingMaxPerDayDefault is 0 (no cap) for tenants that set none
    for _ in range(2):
        status, sent = call(audience, SEND, vip(audience))
        assert (status, len(sent["messages"])) == (201, 3)
    assert [i for i in FrequencyRecord.scan() if i.key.startswith(audience.tenant_id)] == []
