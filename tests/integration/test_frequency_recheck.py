"""The frequency cap re-checked when delivery releases a scheduled marketing message (issue 22, item 3), on moto
through the real send path, scheduler and DynamoDB adapters: a recipient who went over the tenant's cap meanwhile is
not sent to, and that message is FAILED FREQUENCY_CAPPED and refunded with a ledger entry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from smscore import wiring
from smscore.dal.delivery_reads import CampaignCountedAt, TenantCaps
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.outbox_store import DynamoOutbox
from smscore.dal.tables import LedgerRecord, MessageRecord
from smscore.dal.tenant_settings import DynamoTenantSettings
from smscore.domain.campaign import CampaignRequest, CampaignResult, FanoutBudget, send_campaign
from smscore.domain.delivery import Deliverer, RetryPolicy
from smscore.domain.frequency_recheck import FrequencyRecheck
from smscore.domain.model import ComplianceSettings, MarketingFrequency, QueueBatch
from smscore.domain.windows import sendat_only
from smscore.providers.registry import ProviderRegistry
from smscore.providers.sandbox import SandboxProvider
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import Stack
from tests.delivery_fakes import ListDeadLetters
from tests.integration.conftest import Campaign
from tests.integration.scheduler_helpers import scheduler_run
from tests.integration.test_deliver import Counting
from tests.integration.test_schedule_and_cancel import tag_numbers

pytestmark = pytest.mark.clock_sensitive  # "today" in Bogota is the frozen instants' too

ANA, LUIS = "+573004560001", "+573004560002"


@pytest.fixture
def functions_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for function in ("DeliverFunction", "SchedulerFunction", "SendByTagsFunction"):
        for key, value in function_environment(stack.names, function).items():
            monkeypatch.setenv(key, value)
    wiring.reset()
    with serialised_moto():
        yield
    wiring.reset()


def cap(campaign: Campaign, per_day: int) -> None:
    settings = ComplianceSettings(sender_name="Acme", frequency=MarketingFrequency(max_per_day=per_day, max_per_week=0))
    assert DynamoTenantSettings().write_settings(campaign.tenant_id, settings, None)


def send(campaign: Campaign, tag_id: str, now: datetime, send_at: datetime | None = None) -> CampaignResult:
    request = CampaignRequest(campaign.tenant_id, campaign.member_id, "Oferta", [tag_id], send_at=send_at)
    return send_campaign(
        request,
        store=wiring.campaign_store(),
        queue=wiring.delivery_queue(),
        limits=wiring.campaign_limits(wiring.bound_settings()),
        now=lambda: now,
        budget=FanoutBudget.from_timeout(29.0),
        opening=sendat_only,
    )


def test_a_scheduled_message_whose_recipient_went_over_the_cap_meanwhile_is_failed_and_refunded(
    stack: Stack, functions_env: None, campaign: Campaign
) -> None:
    # Given a tenant capped at two a day, a campaign scheduled for later today to Ana and Luis (counted today)
    now = datetime.now(UTC)
    cap(campaign, 2)
    scheduled = send(campaign, tag_numbers(campaign, ANA, LUIS), now, send_at=now + timedelta(seconds=1))
    ids = {m.recipient: m.message_id for m in scheduled.messages}
    assert {MessageRecord.get(i).status for i in ids.values()} == {"SCHEDULED"}
    # and, meanwhile, a campaign sent at once to Ana (her second today: under the cap of two)
    assert [m.recipient for m in send(campaign, tag_numbers(campaign, ANA), now).messages] == [ANA]
    # and then the tenant lowers its cap to one a day
    cap(campaign, 1)
    stack.drain_delivery_queue()

    # When the scheduler releases the scheduled campaign and delivery sends it
    assert scheduler_run(now + timedelta(minutes=2))["released"] == 2
    sandbox = Counting(SandboxProvider(DynamoOutbox()))
    deliverer = Deliverer(
        store=DynamoMessageStore(region="us-east-1"),
        providers=ProviderRegistry({"sandbox": lambda: sandbox}),
        dead_letters=ListDeadLetters(),
        policy=RetryPolicy(max_attempts=3, backoff_base_seconds=0),
        now=lambda: now + timedelta(minutes=3),
        frequency=FrequencyRecheck(
            wiring.frequency_counters(), TenantCaps(MarketingFrequency(1, 0)), counted_at_of=CampaignCountedAt()
        ),
    )
    for body in stack.drain_delivery_queue():
        deliverer.deliver(QueueBatch(body["tenantId"], body["queueId"], body["messageIds"]))

    # Then Luis (one today) gets it; Ana (over the cap now) does not: FAILED FREQUENCY_CAPPED, her credit back
    ana, luis = MessageRecord.get(ids[ANA], consistent_read=True), MessageRecord.get(ids[LUIS], consistent_read=True)
    assert (luis.status, ana.status, ana.provider_error_code) == ("SENT", "FAILED", "FREQUENCY_CAPPED")
    assert dict(sandbox.calls) == {ids[LUIS]: 1}
    refunds = [
        (int(e.amount), list(e.message_ids or [])) for e in LedgerRecord.query(campaign.tenant_id) if e.kind == "REFUND"
    ]
    assert refunds == [(ana.credits, [ids[ANA]])]
    assert campaign.balance() == campaign.ledger_sum() == 1000 - 3 + int(ana.credits)
