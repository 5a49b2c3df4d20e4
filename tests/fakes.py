"""In-memory implementations of the domain's ports, for unit tests of the domain without any AWS emulator."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from smscore.domain.auth import TokenOwner
from smscore.domain.errors import InsufficientCredits
from smscore.domain.model import Dispatch, MessageStatus, OutgoingMessage, QueueBatch, TagRecipient, Tenant


@dataclass
class InMemoryCampaignStore:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    memberships: dict[tuple[str, str], list[TagRecipient]] = field(default_factory=lambda: defaultdict(list))
    messages: dict[str, OutgoingMessage] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    dispatches: dict[str, Dispatch] = field(default_factory=dict)
    ledger: list[tuple[str, int, str]] = field(default_factory=list)  # (tenant, amount, kind)
    fail_saving: bool = False
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

    def _move(self, tenant_id: str, amount: int, kind: str) -> None:
        tenant = self.tenants[tenant_id]
        self.tenants[tenant_id] = Tenant(
            tenant.tenant_id, tenant.name, tenant.credits + amount, tenant.default_country, tenant.provider
        )
        self.ledger.append((tenant_id, amount, kind))

    def debit(self, dispatch: Dispatch) -> None:
        """As DynamoCampaignStore: conditional on the balance (an unknown tenant has none), and on the campaign not
        being recorded yet (DynamoDB refuses the second dispatch put; the store reports any failed condition as
        InsufficientCredits)."""
        with self._lock:
            tenant = self.tenants.get(dispatch.tenant_id)
            available = tenant.credits if tenant else 0
            if tenant is None or available < dispatch.credits_debited or dispatch.queue_id in self.dispatches:
                raise InsufficientCredits(required=dispatch.credits_debited, available=available)
            self._move(dispatch.tenant_id, -dispatch.credits_debited, "DEBIT")
            self.dispatches[dispatch.queue_id] = dispatch

    def save_messages(self, messages: Sequence[OutgoingMessage]) -> None:
        if self.fail_saving:
            raise ConnectionError("DynamoDB is unreachable")
        self.messages.update({m.message_id: replace(m, status=MessageStatus.QUEUED) for m in messages})

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
