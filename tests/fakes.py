"""In-memory implementations of the domain's ports, for unit tests of the domain without any AWS emulator."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from smscore.domain.auth import TokenOwner
from smscore.domain.campaign import DispatchState, FanoutState, ResendRaced
from smscore.domain.errors import InsufficientCredits
from smscore.domain.exclusions import ExclusionSnapshot
from smscore.domain.model import Dispatch, MessageStatus, OutgoingMessage, QueueBatch, TagRecipient, Tenant


@dataclass
class InMemoryCampaignStore:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    memberships: dict[tuple[str, str], list[TagRecipient]] = field(default_factory=lambda: defaultdict(list))
    messages: dict[str, OutgoingMessage] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    dispatches: dict[str, Dispatch] = field(default_factory=dict)
    fanouts: dict[str, DispatchState] = field(default_factory=dict)  # queue id -> fan-out state (open_fanout)
    resends: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # queue id -> its resends
    ledger: list[tuple[str, int, str]] = field(default_factory=list)  # (tenant, amount, kind)
    fail_saving: bool = False
    contact_values: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (tenant, contact) -> merge
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # check-and-debit is one step

    def add_tenant(self, tenant_id: str, credits: int, country: str | None = "CO") -> None:
        self.tenants[tenant_id] = Tenant(tenant_id, "Acme", credits, country)
        self.ledger.append((tenant_id, credits, "TOPUP"))

    def tag(self, tenant_id: str, tag_id: str, *members: TagRecipient) -> None:
        self.memberships[(tenant_id, tag_id)].extend(members)

    def balance(self, tenant_id: str) -> int:
        return self.tenants[tenant_id].credits

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def tag_recipients(self, tenant_id: str, tag_ids: Sequence[str]) -> list[TagRecipient]:
        return [m for tag_id in tag_ids for m in self.memberships.get((tenant_id, tag_id), [])]

    def merge_values(self, tenant_id: str, contact_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        return {
            cid: self.contact_values[(tenant_id, cid)] for cid in contact_ids if (tenant_id, cid) in self.contact_values
        }

    def _move(self, tenant_id: str, amount: int, kind: str) -> None:
        tenant = self.tenants[tenant_id]
        self.tenants[tenant_id] = replace(tenant, credits=tenant.credits + amount)
        self.ledger.append((tenant_id, amount, kind))

    def debit(self, dispatch: Dispatch) -> None:
        """As DynamoCampaignStore: conditional on the balance (an unknown tenant has none), and on the campaign not
        being recorded yet (DynamoDB refuses the second dispatch put; the store reports any failed condition as
        InsufficientCredits). A resend is recorded on its original, conditionally on the resends it was planned
        with (ResendRaced otherwise)."""
        with self._lock:
            original = dispatch.resend_of
            if original is not None and (
                original not in self.dispatches
                or dispatch.resends_seen not in (None, len(self.resends.get(original, ())))
            ):
                raise ResendRaced(original)
            tenant = self.tenants.get(dispatch.tenant_id)
            available = tenant.credits if tenant else 0
            if tenant is None or available < dispatch.credits_debited or dispatch.queue_id in self.dispatches:
                raise InsufficientCredits(required=dispatch.credits_debited, available=available)
            self._move(dispatch.tenant_id, -dispatch.credits_debited, "DEBIT")
            self.dispatches[dispatch.queue_id] = dispatch
            if original is not None:
                self.resends[original].add(dispatch.queue_id)

    def open_fanout(self, dispatch: Dispatch, deadline: datetime, request_hash: str | None) -> None:
        self.debit(dispatch)
        self.fanouts[dispatch.queue_id] = DispatchState(
            queue_id=dispatch.queue_id,
            tenant_id=dispatch.tenant_id,
            total_messages=dispatch.total_messages,
            segments_per_message=dispatch.segments_per_message,
            credits_debited=dispatch.credits_debited,
            fanout=FanoutState.PENDING,
            fanout_deadline=deadline,
            request_hash=request_hash,
        )

    def find_dispatch(self, queue_id: str) -> DispatchState | None:
        return self.fanouts.get(queue_id)

    def fail_if_queued(self, messages: Sequence[OutgoingMessage], reason: str) -> list[OutgoingMessage]:
        moved = [
            m
            for m in messages
            if m.message_id in self.messages and self.messages[m.message_id].status in ("QUEUED", "SCHEDULED")
        ]
        self.mark_failed(moved, reason)
        return moved

    def close_fanout(
        self,
        queue_id: str,
        tenant_id: str,
        *,
        enqueued: int,
        refunded_messages: int,
        refund_credits: int,
        refunded_scheduled: int = 0,
    ) -> bool:
        with self._lock:
            state = self.fanouts[queue_id]
            if state.fanout is not FanoutState.PENDING:
                return False
            if refund_credits:
                self._move(tenant_id, refund_credits, "REFUND")
            self.fanouts[queue_id] = replace(
                state,
                fanout=FanoutState.COMPLETE,
                fanout_enqueued=enqueued,
                fanout_refunded=refunded_messages,
                fanout_refunded_credits=refund_credits,
            )
            return True

    def save_messages(self, messages: Sequence[OutgoingMessage]) -> None:
        if self.fail_saving:
            raise ConnectionError("DynamoDB is unreachable")
        self.messages.update({m.message_id: m for m in messages})  # QUEUED, or SCHEDULED with its due time

    def queue_messages(self, queue_id: str) -> list[tuple[str, str]]:
        found = [(m.message_id, m.recipient) for m in self.messages.values() if m.queue_id == queue_id]
        return sorted(found, key=lambda pair: pair[1])

    def mark_failed(self, messages: Sequence[OutgoingMessage], reason: str) -> None:
        """Written FAILED whether or not they were saved before, as DynamoDB's batch put does."""
        self.failed.update({m.message_id: reason for m in messages})
        self.messages.update({m.message_id: replace(m, status=MessageStatus.FAILED) for m in messages})

    def refund(self, tenant_id: str, queue_id: str, amount: int, reason: str, message_ids: Sequence[str] = ()) -> None:
        with self._lock:
            self._move(tenant_id, amount, "REFUND")


@dataclass
class InMemoryQueue:
    """Accepts batches; `reject_after` makes every batch after the first N fail, like an SQS outage mid-request."""

    batches: list[QueueBatch] = field(default_factory=list)
    reject_after: int | None = None

    def enqueue(self, batches: Sequence[QueueBatch]) -> list[QueueBatch]:
        accepted = list(batches) if self.reject_after is None else list(batches[: self.reject_after])
        self.batches.extend(accepted)
        return list(batches[len(accepted) :])

    @property
    def message_ids(self) -> list[str]:
        return [mid for batch in self.batches for mid in batch.message_ids]


@dataclass
class InMemoryIdentityStore:
    owners: dict[str, TokenOwner] = field(default_factory=dict)  # token hash -> owner
    terms_version: str | None = "2026-11"

    def token_owner(self, token_hash: str) -> TokenOwner | None:
        return self.owners.get(token_hash)

    def current_terms_version(self) -> str | None:
        return self.terms_version

    def mark_used(self, token_hash: str, hour: datetime) -> None:
        owner = self.owners.get(token_hash)
        if owner is not None and (owner.last_used_at is None or owner.last_used_at < hour):
            self.owners[token_hash] = replace(owner, last_used_at=hour)


@dataclass
class InMemoryExclusionList:
    """smscore.domain.exclusions' ExclusionList and ExclusionWriter: numbers per snapshot, one current pointer."""

    snapshots: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    pointer: ExclusionSnapshot | None = None
    reads: int = 0  # listed() calls

    def current(self) -> ExclusionSnapshot | None:
        return self.pointer

    def listed(self, snapshot: ExclusionSnapshot, numbers: Sequence[str]) -> set[str]:
        self.reads += 1
        return set(numbers) & self.snapshots.get(snapshot.snapshot_id, set())

    def write_numbers(self, snapshot_id: str, numbers: Sequence[str], expires_at: datetime) -> None:
        self.snapshots[snapshot_id] |= set(numbers)

    def publish(self, snapshot: ExclusionSnapshot) -> None:
        self.pointer = snapshot
