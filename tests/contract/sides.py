"""One face per implementation of a port: the store under test, a way to put the world in a given state, and
the observable state (balance, ledger, counters, statuses) read the same way for the fake and for DynamoDB.

The contract tests only talk to these sides, so every assertion runs unchanged against both.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

import boto3

from smscore.dal.campaign_store import DynamoCampaignStore
from smscore.dal.dispatch_counts import add_to_shard, load_dispatch
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.receipt_store import DynamoReceiptStore
from smscore.dal.sqs_queue import SqsDeliveryQueue
from smscore.dal.tables import DispatchRecord, LedgerRecord, MessageRecord, StatusChange, TagMemberRecord, TenantRecord
from smscore.domain.model import LedgerKind, MessageState, MessageStatus, QueueBatch, StoredMessage, TagRecipient
from smscore.domain.ports import CampaignStore, DeliveryQueue, MessageStore, ReceiptStore
from tests.conftest import Stack
from tests.delivery_fakes import InMemoryMessageStore, InMemoryReceiptStore
from tests.fakes import InMemoryCampaignStore, InMemoryQueue

SEEDED_AT = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class LedgerLine:
    """A ledger entry as the contract sees it: what kind, how much, for which messages (if it names any)."""

    kind: str
    amount: int
    message_ids: tuple[str, ...] = ()


def _entry_id() -> str:
    return f"{SEEDED_AT.isoformat()}#{uuid.uuid4()}"


def _seed_tenant(tenant_id: str, credits: int, country: str | None = None) -> None:
    TenantRecord(tenant_id, name="Acme", credits=credits, default_country=country, created_at=SEEDED_AT).save()
    LedgerRecord(tenant_id, _entry_id(), kind=LedgerKind.TOPUP.value, amount=credits, created_at=SEEDED_AT).save()


def _seed_dispatch(queue_id: str, tenant_id: str) -> None:
    """An existing campaign with every counter at zero (the seeded messages then add to them)."""
    DispatchRecord(
        queue_id,
        tenant_id=tenant_id,
        member_id="member-1",
        body="hola",
        tag_ids=["tag-1"],
        total_messages=0,
        segments_per_message=1,
        credits_debited=0,
        created_at=SEEDED_AT,
    ).save(condition=DispatchRecord.queue_id.does_not_exist())


def _seed_message(message: StoredMessage, provider_message_id: str | None = None) -> None:
    MessageRecord(
        message.message_id,
        tenant_id=message.tenant_id,
        queue_id=message.queue_id,
        recipient=message.recipient,
        contact_id=f"c-{message.message_id}",
        body=message.body,
        segments=message.segments,
        encoding="GSM-7",
        credits=message.credits,
        status=message.status.value,
        provider=message.provider,
        created_at=message.created_at or SEEDED_AT,
        updated_at=SEEDED_AT,
        attempts=message.attempts,
        deferrals=message.deferrals or None,
        lease_until=message.lease_until,
        provider_message_id=provider_message_id,
        history=[StatusChange(status=message.status.value, at=SEEDED_AT)],
    ).save()
    add_to_shard(message.queue_id, message.message_id, {f"count_{message.status.value.lower()}": 1})


def _dispatch_counts(queue_id: str) -> dict[str, int]:
    dispatch = load_dispatch(queue_id)
    assert dispatch is not None
    counts = {status.value: int(getattr(dispatch, f"count_{status.value.lower()}") or 0) for status in MessageStatus}
    return {status: n for status, n in counts.items() if n}


# -- delivery's MessageStore ---------------------------------------------------------------------------------


class MessageStoreSide(Protocol):
    store: MessageStore

    def fund(self, tenant_id: str, credits: int) -> None:
        """The tenant exists with this balance and one TOPUP entry."""

    def given(self, message: StoredMessage) -> None:
        """The message is stored as is (status, attempts, lease) and paid: a DEBIT of its credits naming it."""

    def balance(self, tenant_id: str) -> int: ...

    def ledger(self, tenant_id: str) -> list[LedgerLine]:
        """Every entry of the tenant, sorted (the contract compares them as a multiset)."""

    def counts(self, queue_id: str) -> dict[str, int]:
        """The campaign's non-zero counters by status."""


class InMemoryMessages:
    def __init__(self) -> None:
        self.fake = InMemoryMessageStore()
        self.store: MessageStore = self.fake

    def fund(self, tenant_id: str, credits: int) -> None:
        self.fake.balance[tenant_id] += credits
        self.fake.ledger.append((tenant_id, credits, LedgerKind.TOPUP.value, []))

    def given(self, message: StoredMessage) -> None:
        self.fake.add(message)

    def balance(self, tenant_id: str) -> int:
        return self.fake.balance[tenant_id]

    def ledger(self, tenant_id: str) -> list[LedgerLine]:
        return sorted(
            LedgerLine(kind, amount, tuple(ids)) for t, amount, kind, ids in self.fake.ledger if t == tenant_id
        )

    def counts(self, queue_id: str) -> dict[str, int]:
        return {status: n for status, n in self.fake.campaign_counters[queue_id].items() if n}


class DynamoMessages:
    def __init__(self, region: str) -> None:
        self.store: MessageStore = DynamoMessageStore(region=region)
        self._dispatches: set[str] = set()

    def fund(self, tenant_id: str, credits: int) -> None:
        _seed_tenant(tenant_id, credits)

    def given(self, message: StoredMessage) -> None:
        if message.queue_id not in self._dispatches:
            _seed_dispatch(message.queue_id, message.tenant_id)
            self._dispatches.add(message.queue_id)
        _seed_message(message)
        TenantRecord(message.tenant_id).update(actions=[TenantRecord.credits.add(-message.credits)])
        LedgerRecord(
            message.tenant_id,
            _entry_id(),
            kind=LedgerKind.DEBIT.value,
            amount=-message.credits,
            queue_id=message.queue_id,
            message_ids=[message.message_id],
            created_at=SEEDED_AT,
        ).save()

    def balance(self, tenant_id: str) -> int:
        return int(TenantRecord.get(tenant_id, consistent_read=True).credits)

    def ledger(self, tenant_id: str) -> list[LedgerLine]:
        return sorted(
            LedgerLine(entry.kind, int(entry.amount), tuple(entry.message_ids or ()))
            for entry in LedgerRecord.query(tenant_id, consistent_read=True)
        )

    def counts(self, queue_id: str) -> dict[str, int]:
        return _dispatch_counts(queue_id)


# -- the send path's CampaignStore ---------------------------------------------------------------------------


class CampaignStoreSide(Protocol):
    store: CampaignStore

    def fund(self, tenant_id: str, credits: int, country: str | None = "CO") -> None:
        """The tenant exists with this balance and one TOPUP entry."""

    def tag(self, tenant_id: str, tag_id: str, *members: TagRecipient) -> None: ...

    def ledger(self, tenant_id: str) -> list[LedgerLine]:
        """Every entry of the tenant, sorted (the contract compares them as a multiset)."""

    def dispatch(self, queue_id: str) -> tuple[int, int] | None:
        """(credits debited, total messages) of a recorded campaign, or None."""

    def resends(self, queue_id: str) -> set[str]:
        """The queue ids of the resends recorded on a campaign."""

    def status(self, message_id: str) -> str | None:
        """The stored status of a message, or None if it was never written."""


class InMemoryCampaigns:
    def __init__(self) -> None:
        self.fake = InMemoryCampaignStore()
        self.store: CampaignStore = self.fake

    def fund(self, tenant_id: str, credits: int, country: str | None = "CO") -> None:
        self.fake.add_tenant(tenant_id, credits, country)

    def tag(self, tenant_id: str, tag_id: str, *members: TagRecipient) -> None:
        self.fake.tag(tenant_id, tag_id, *members)

    def ledger(self, tenant_id: str) -> list[LedgerLine]:
        return sorted(LedgerLine(kind, amount) for t, amount, kind in self.fake.ledger if t == tenant_id)

    def dispatch(self, queue_id: str) -> tuple[int, int] | None:
        found = self.fake.dispatches.get(queue_id)
        return None if found is None else (found.credits_debited, found.total_messages)

    def resends(self, queue_id: str) -> set[str]:
        return set(self.fake.resends.get(queue_id, ()))

    def status(self, message_id: str) -> str | None:
        found = self.fake.messages.get(message_id)
        return None if found is None else found.status.value


class DynamoCampaigns:
    def __init__(self, region: str) -> None:
        self.store: CampaignStore = DynamoCampaignStore(region=region)

    def fund(self, tenant_id: str, credits: int, country: str | None = "CO") -> None:
        _seed_tenant(tenant_id, credits, country)

    def tag(self, tenant_id: str, tag_id: str, *members: TagRecipient) -> None:
        for member in members:
            TagMemberRecord(
                TagMemberRecord.key_for(tenant_id, tag_id),
                member.contact_id,
                phone=member.phone,
                opted_out=member.opted_out,
            ).save()

    def ledger(self, tenant_id: str) -> list[LedgerLine]:
        # Message ids are left out: the fake's campaign ledger does not keep them (the domain passes none).
        return sorted(
            LedgerLine(entry.kind, int(entry.amount)) for entry in LedgerRecord.query(tenant_id, consistent_read=True)
        )

    def dispatch(self, queue_id: str) -> tuple[int, int] | None:
        try:
            found = DispatchRecord.get(queue_id, consistent_read=True)
        except DispatchRecord.DoesNotExist:
            return None
        return int(found.credits_debited), int(found.total_messages)

    def resends(self, queue_id: str) -> set[str]:
        return set(DispatchRecord.get(queue_id, consistent_read=True).resends or ())

    def status(self, message_id: str) -> str | None:
        try:
            return str(MessageRecord.get(message_id, consistent_read=True).status)
        except MessageRecord.DoesNotExist:
            return None


# -- receipts' ReceiptStore -----------------------------------------------------------------------------------


class ReceiptStoreSide(Protocol):
    store: ReceiptStore

    def given(self, state: MessageState, provider_message_id: str) -> None:
        """A message in `state.status` that its provider knows as `provider_message_id`."""

    def status(self, message_id: str) -> MessageStatus: ...

    def counts(self, queue_id: str) -> dict[str, int]:
        """The campaign's non-zero counters by status."""


class InMemoryReceipts:
    def __init__(self) -> None:
        self.fake = InMemoryReceiptStore()
        self.store: ReceiptStore = self.fake

    def given(self, state: MessageState, provider_message_id: str) -> None:
        self.fake.add(state, provider_message_id)

    def status(self, message_id: str) -> MessageStatus:
        return self.fake.states[message_id].status

    def counts(self, queue_id: str) -> dict[str, int]:
        return {status: n for status, n in self.fake.counters.items() if n}


class DynamoReceipts:
    def __init__(self, region: str) -> None:
        self.store: ReceiptStore = DynamoReceiptStore(region=region)
        self._dispatches: set[str] = set()

    def given(self, state: MessageState, provider_message_id: str) -> None:
        if state.queue_id not in self._dispatches:
            _seed_dispatch(state.queue_id, state.tenant_id)
            self._dispatches.add(state.queue_id)
        message = StoredMessage(
            message_id=state.message_id,
            tenant_id=state.tenant_id,
            queue_id=state.queue_id,
            recipient="+573001234567",
            body="hola",
            segments=1,
            credits=1,
            status=state.status,
            provider=state.provider,
            attempts=1,
        )
        _seed_message(message, provider_message_id=provider_message_id)

    def status(self, message_id: str) -> MessageStatus:
        return MessageStatus(MessageRecord.get(message_id, consistent_read=True).status)

    def counts(self, queue_id: str) -> dict[str, int]:
        return _dispatch_counts(queue_id)


# -- the send path's DeliveryQueue ---------------------------------------------------------------------------

Enqueued = tuple[str, str, tuple[str, ...]]  # tenant id, queue id, message ids: one record as the consumer reads it


class DeliveryQueueSide(Protocol):
    queue: DeliveryQueue

    def drain(self) -> list[Enqueued]:
        """Every record now on the queue (and take them off), sorted."""


class InMemoryQueueSide:
    def __init__(self) -> None:
        self.fake = InMemoryQueue()
        self.queue: DeliveryQueue = self.fake

    def drain(self) -> list[Enqueued]:
        found = sorted((b.tenant_id, b.queue_id, tuple(b.message_ids)) for b in self.fake.batches)
        self.fake.batches.clear()
        return found


class SqsQueueSide:
    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self.queue: DeliveryQueue = SqsDeliveryQueue(
            boto3.client("sqs", region_name=stack.names.region), stack.delivery_queue_url
        )

    def drain(self) -> list[Enqueued]:
        """The bodies as the deliver function receives them: {"tenantId", "queueId", "messageIds"}."""
        bodies = self._stack.drain_delivery_queue()
        return sorted((b["tenantId"], b["queueId"], tuple(b["messageIds"])) for b in bodies)


def as_enqueued(batch: QueueBatch) -> Enqueued:
    return batch.tenant_id, batch.queue_id, tuple(batch.message_ids)


def stored(message_id: str, tenant_id: str, **changes: object) -> StoredMessage:
    """A 2-credit message, QUEUED and never attempted unless `changes` say otherwise."""
    base = StoredMessage(
        message_id=message_id,
        tenant_id=tenant_id,
        queue_id="q-1",
        recipient="+573001234567",
        body="hola",
        segments=2,
        credits=2,
        status=MessageStatus.QUEUED,
        provider="sandbox",
        created_at=SEEDED_AT,
    )
    return replace(base, **changes)  # type: ignore[arg-type]
