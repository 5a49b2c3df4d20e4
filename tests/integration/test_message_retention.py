"""MessageRetentionDays on moto: every message item carries its DynamoDB TTL, the ledger none (issue 22, item 7)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smscore import wiring
from smscore.dal.tables import LedgerRecord, MessageRecord
from tests.conftest import Stack
from tests.integration.conftest import Campaign
from tests.integration.test_preview_and_resend import SEND, call


@pytest.mark.parametrize(("env", "days"), [(None, 400), ("30", 30)])
def test_every_message_expires_retention_days_after_it_was_created(
    stack: Stack, audience: Campaign, monkeypatch: pytest.MonkeyPatch, env: str | None, days: int
) -> None:
    # Given the default retention (400 days) or MessageRetentionDays=30
    if env is not None:
        monkeypatch.setenv("MESSAGE_RETENTION_DAYS", env)
        wiring.reset()
    # When a campaign is sent
    status, sent = call(audience, SEND, {"message": "Hola", "tagIds": [audience.tags["vip"]]})
    assert status == 201
    # Then each message item expires that long after its creation, and the ledger entry does not expire
    for message in sent["messages"]:
        record = MessageRecord.get(message["id"])
        assert record.expires_at - record.created_at.replace(microsecond=0) == timedelta(days=days)  # TTL: seconds
    assert all("expires_at" not in e.attribute_values for e in LedgerRecord.scan())
