"""The campaign store under DynamoDB throttling: unprocessed batch items are retried, not dropped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber

from smscore.dal.campaign_store import DynamoCampaignStore, UnprocessedWrites
from smscore.dal.tables import MessageRecord
from smscore.domain.model import OutgoingMessage
from tests.conftest import Stack


def message(i: int) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=f"m{i}",
        tenant_id="t",
        queue_id="q",
        recipient=f"+57300000{i:04d}",
        contact_id=f"c{i}",
        body="Hi",
        segments=1,
        encoding="GSM-7",
        credits=1,
        provider="sandbox",
        created_at=datetime.now(UTC),
    )


def test_unprocessed_items_are_written_on_a_later_attempt(stack: Stack) -> None:
    # Given DynamoDB answers the first BatchWriteItem with two items unprocessed
    store = DynamoCampaignStore(region=stack.names.region, write_workers=1)
    messages = [message(i) for i in range(3)]
    connection = MessageRecord._get_connection()
    table = connection.table_name
    throttled = [{"PutRequest": {"Item": store._record(m, m.status).serialize()}} for m in messages[1:]]
    with Stubber(connection.connection.client) as stub:
        stub.add_response("batch_write_item", {"UnprocessedItems": {table: throttled}})
        stub.add_response("batch_write_item", {"UnprocessedItems": {}})
        sent: list[list[str]] = []
        connection.connection.client.meta.events.register_first(
            "before-parameter-build.dynamodb.BatchWriteItem",
            lambda params, **_: sent.append(
                [r["PutRequest"]["Item"]["message_id"]["S"] for r in params["RequestItems"][table]]
            ),
        )
        # When the messages are saved
        store.save_messages(messages)
        # Then the second call carried exactly the unprocessed items, and nothing is left
        stub.assert_no_pending_responses()
        assert sent == [["m0", "m1", "m2"], ["m1", "m2"]]


def test_sustained_throttling_raises_instead_of_losing_messages(stack: Stack) -> None:
    store = DynamoCampaignStore(region=stack.names.region, write_workers=1, unprocessed_attempts=2)
    messages = [message(0)]
    connection = MessageRecord._get_connection()
    pending = [{"PutRequest": {"Item": store._record(messages[0], messages[0].status).serialize()}}]
    with Stubber(connection.connection.client) as stub:
        for _ in range(2):
            stub.add_response("batch_write_item", {"UnprocessedItems": {connection.table_name: pending}})
        with pytest.raises(UnprocessedWrites):
            store.save_messages(messages)


def test_a_debit_that_loses_the_race_is_insufficient_credits_not_an_error(stack: Stack) -> None:
    # Given a tenant whose balance was spent after the campaign was priced (the early check saw enough)
    from smscore.domain.errors import InsufficientCredits
    from smscore.domain.model import Dispatch
    from smsdev.admin_store import DynamoAdminStore

    admin = DynamoAdminStore(region=stack.names.region)
    tenant_id = admin.create_tenant("Acme", credits=5)
    store = DynamoCampaignStore(region=stack.names.region)
    dispatch = Dispatch("q1", tenant_id, "m1", "Hi", ["t"], "CO", 6, 1, 6, datetime.now(UTC))
    # When the conditional debit runs
    with pytest.raises(InsufficientCredits) as refused:
        store.debit(dispatch)
    # Then it is refused with the real balance, and nothing moved
    assert (refused.value.required, refused.value.available) == (6, 5)
    assert int(admin.tenant(tenant_id).credits) == 5
    assert [int(e.amount) for e in admin.ledger(tenant_id)] == [5]
