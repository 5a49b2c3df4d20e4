"""Message lists name the contact a number belongs to (one batched read a page) and a provider's price carries its
currency (issue 23, item 6 and item 5's last bullet), through the real handlers on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.tables import ContactRecord
from smscore.domain.ports import Accepted
from smsdev.admin_store import DynamoAdminStore
from tests.conftest import Stack
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.test_messages_api import get, listed, send


def test_each_listed_message_names_its_contact_with_one_batched_read(
    stack: Stack, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three contacts, two with a name, in one tag, and a campaign to them
    campaign.add("3001112233", "vip", name="Andrés Muñoz")
    campaign.add("3004445566", "vip", name="Lucía Ramos")
    campaign.add("3007778899", "vip")
    sent = send(campaign, "vip")
    batch_reads: list[int] = []
    real_batch_get = ContactRecord.batch_get

    def counted(items, *args, **kwargs):  # type: ignore[no-untyped-def]
        keys = list(items)
        batch_reads.append(len(keys))
        return real_batch_get(keys, *args, **kwargs)

    monkeypatch.setattr(ContactRecord, "batch_get", counted)

    # When its messages are listed
    items = listed(campaign, queueId=sent["queueId"])

    # Then each named contact's message carries its name, the unnamed one none, from one read of three keys
    names = {item["recipient"]: item.get("contactName") for item in items}
    assert names == {"+573001112233": "Andrés Muñoz", "+573004445566": "Lucía Ramos", "+573007778899": None}
    assert batch_reads == [3]
    # And the one message's view names it too
    andres = next(item for item in items if item["recipient"] == "+573001112233")
    status, message = get(campaign, f"/api/messages/{andres['id']}")
    assert (status, message["contactName"]) == (200, "Andrés Muñoz")


def test_another_tenants_contact_with_the_same_number_is_not_named(
    stack: Stack, campaign: Campaign, admin: DynamoAdminStore
) -> None:
    # Given another tenant's contact named at the number this tenant texts, unnamed here
    other = make_campaign(admin, country="CO")
    other.add("3001112233", "vip", name="Otra Persona")
    campaign.add("3001112233", "vip")
    sent = send(campaign, "vip")
    # Then this tenant's list names nobody
    assert [item.get("contactName") for item in listed(campaign, queueId=sent["queueId"])] == [None]


def test_a_provider_price_carries_the_currency_the_provider_reported(stack: Stack, campaign: Campaign) -> None:
    # Given a message the provider accepted at 0.0075 in "usd" (Twilio's price_unit)
    campaign.add("3001112233", "vip")
    message_id = send(campaign, "vip")["messages"][0]["id"]
    store = DynamoMessageStore(region="us-east-1")
    now = datetime.now(UTC)
    claimed = store.claim(store.load([message_id])[message_id], now, now + timedelta(minutes=1))
    assert claimed is not None
    assert store.mark_sent(claimed, "twilio", Accepted("SM123", price="0.0075", price_unit="usd"), now)

    # When the message is read
    status, message = get(campaign, f"/api/messages/{message_id}")

    # Then the price comes with its ISO currency
    assert status == 200
    assert (message["providerPrice"], message["providerPriceCurrency"]) == ("0.0075", "USD")


def test_a_message_without_a_price_has_no_currency(stack: Stack, campaign: Campaign) -> None:
    campaign.add("3001112233", "vip")
    message_id = send(campaign, "vip")["messages"][0]["id"]
    status, message = get(campaign, f"/api/messages/{message_id}")
    assert (status, message["providerPrice"], message["providerPriceCurrency"]) == (200, None, None)
