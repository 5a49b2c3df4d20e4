"""In-memory implementations of delivery's ports (MessageStore, ReceiptStore, DeadLetters, providers) for unit tests.

The stores keep the same conditional semantics as their DynamoDB adapters: a change applies only from the status
as read, for the message's own tenant (and, for outcomes, only for the latest claim), and moves counters, balance
and ledger with it. tests/contract runs the same cases against both to keep it so.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from smscore.domain.model import MessageState, MessageStatus, QueueBatch, Receipt, StoredMessage
from smscore.domain.ports import Accepted, FailedSend, ProviderFailure, SmsProvider, SmsRequest
from smscore.providers.sandbox import OutboxEntry


@dataclass
class InMemoryMessageStore:
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)  # status -> count, all campaigns together
    # queue id -> status -> count: the dispatch item's counters in DynamoDB
    campaign_counters: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    balance: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ledger: list[tuple[str, int, str, list[str]]] = field(default_factory=list)  # tenant, amount, kind, ids
    details: dict[str, dict[str, object]] = field(default_factory=lambda: defaultdict(dict))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, message: StoredMessage, paid: bool = True) -> None:
        self.messages[message.message_id] = message
        self.counters[message.status.value] += 1
        self.campaign_counters[message.queue_id][message.status.value] += 1
        if paid:
            self.balance[message.tenant_id] -= message.credits
            self.ledger.append((message.tenant_id, -message.credits, "DEBIT", [message.message_id]))

    def ledger_sum(self, tenant_id: str) -> int:
        return sum(amount for tenant, amount, _, _ in self.ledger if tenant == tenant_id)

    def _move(self, current: StoredMessage, new: StoredMessage) -> None:
        for counters in (self.counters, self.campaign_counters[current.queue_id]):
            counters[current.status.value] -= 1
            counters[new.status.value] += 1
        self.messages[new.message_id] = new

    def load(self, message_ids: Sequence[str]) -> dict[str, StoredMessage]:
        with self._lock:
            return {mid: self.messages[mid] for mid in message_ids if mid in self.messages}

    def claim(self, message: StoredMessage, now: datetime, lease_until: datetime) -> StoredMessage | None:
        with self._lock:
            current = self.messages.get(message.message_id)
            if current is None or not self._same_claim(current, message) or current.status != message.status:
                return None
            if current.status == MessageStatus.SENDING and (current.lease_until is None or current.lease_until >= now):
                return None
            if current.status not in (MessageStatus.QUEUED, MessageStatus.SENDING):
                return None
            claimed = replace(
                current, status=MessageStatus.SENDING, attempts=current.attempts + 1, lease_until=lease_until
            )
            self._move(current, claimed)
            return claimed

    @staticmethod
    def _same_claim(current: StoredMessage, read: StoredMessage) -> bool:
        """The caller's read is still the latest claim of the message, and names its tenant (a record of another
        tenant moves nothing, like DynamoDB's `tenant_id` condition)."""
        return current.attempts == read.attempts and current.tenant_id == read.tenant_id

    def _fenced(self, message: StoredMessage) -> StoredMessage | None:
        current = self.messages.get(message.message_id)
        if current is None or current.status != MessageStatus.SENDING or not self._same_claim(current, message):
            return None
        return current

    def mark_sent(self, message: StoredMessage, provider: str, accepted: Accepted, now: datetime) -> bool:
        with self._lock:
            current = self._fenced(message)
            if current is None:
                return False
            self._move(current, replace(current, status=MessageStatus.SENT, provider=provider, lease_until=None))
            self.details[message.message_id].update(provider_message_id=accepted.provider_message_id)
            return True

    def mark_failed(self, message: StoredMessage, provider: str, failure: ProviderFailure, now: datetime) -> bool:
        with self._lock:
            current = self._fenced(message)
            if current is None:
                return False
            self._move(current, replace(current, status=MessageStatus.FAILED, provider=provider, lease_until=None))
            self.details[message.message_id].update(code=failure.code, permanent=failure.permanent)
            self.balance[current.tenant_id] += current.credits
            self.ledger.append((current.tenant_id, current.credits, "REFUND", [current.message_id]))
            return True

    def requeue(
        self, message: StoredMessage, provider: str, next_provider: str, failure: ProviderFailure, now: datetime
    ) -> bool:
        with self._lock:
            current = self._fenced(message)
            if current is None:
                return False
            self._move(current, replace(current, status=MessageStatus.QUEUED, provider=next_provider, lease_until=None))
            return True

    def fail_all(self, failures: Sequence[FailedSend], now: datetime) -> list[str]:
        """Like DynamoDB: per tenant and campaign, the messages still under their claim fail together with one
        refund naming them; a message whose claim was taken over is left out."""
        with self._lock:
            groups: dict[tuple[str, str], list[StoredMessage]] = {}
            for failed in failures:
                current = self._fenced(failed.message)
                if current is None:
                    continue
                self._move(
                    current, replace(current, status=MessageStatus.FAILED, provider=failed.provider, lease_until=None)
                )
                self.details[current.message_id].update(code=failed.failure.code, permanent=failed.failure.permanent)
                groups.setdefault((current.tenant_id, current.queue_id), []).append(current)
            for (tenant_id, _), messages in groups.items():
                credits = sum(m.credits for m in messages)
                self.balance[tenant_id] += credits
                self.ledger.append((tenant_id, credits, "REFUND", [m.message_id for m in messages]))
            return [m.message_id for messages in groups.values() for m in messages]

    def defer(self, message: StoredMessage, provider: str, failure: ProviderFailure, now: datetime) -> bool:
        with self._lock:
            current = self._fenced(message)
            if current is None:
                return False
            waiting = replace(current, status=MessageStatus.QUEUED, lease_until=None, deferrals=current.deferrals + 1)
            self._move(current, waiting)
            self.details[message.message_id].update(code=failure.code)
            return True


class InMemoryReceiptStore:
    """The ReceiptStore port over a dict; `interfere` moves a message between find and transition once.

    Like DynamoReceiptStore, a receipt finds and moves only a message of the provider that reports it, a
    transition applies only from the status as read and for the message's own tenant, and moves the (here:
    single set of) campaign counters with it.
    """

    def __init__(self, *states: MessageState, by_provider_id: dict[str, str] | None = None) -> None:
        self.states = {s.message_id: s for s in states}
        self.by_provider_id = by_provider_id or {}
        self.counters: Counter[str] = Counter(s.status.value for s in states)  # status -> count
        self.history: list[tuple[str, MessageStatus, str | None]] = []
        self.interfere: MessageStatus | None = None

    def add(self, state: MessageState, provider_message_id: str | None = None) -> None:
        self.states[state.message_id] = state
        self.counters[state.status.value] += 1
        if provider_message_id:
            self.by_provider_id[provider_message_id] = state.message_id

    def _move(self, current: MessageState, to: MessageStatus) -> None:
        self.states[current.message_id] = replace(current, status=to)
        self.counters[current.status.value] -= 1
        self.counters[to.value] += 1

    def find(self, receipt: Receipt) -> MessageState | None:
        message_id = receipt.message_id or self.by_provider_id.get(receipt.provider_message_id or "")
        state = self.states.get(message_id or "")
        return state if state is not None and state.provider == receipt.provider else None

    def transition(self, state: MessageState, receipt: Receipt) -> bool:
        current = self.states.get(state.message_id)
        if current is not None and self.interfere is not None:
            self._move(current, self.interfere)
            self.interfere = None
            current = self.states[state.message_id]
        if (
            current is None
            or current.status is not state.status
            or current.tenant_id != state.tenant_id
            or current.provider != receipt.provider
        ):
            return False
        self._move(current, receipt.status)
        self.history.append((state.message_id, receipt.status, receipt.error_code))
        return True


class InMemoryParkedReceipts:
    """The ParkedReceipts port over a dict: the first receipt parked under a (provider, provider id) key stays."""

    def __init__(self) -> None:
        self.receipts: dict[tuple[str, str], tuple[Receipt, datetime]] = {}

    def park(self, receipt: Receipt, expires_at: datetime) -> bool:
        if not receipt.provider_message_id:
            raise ValueError("a receipt is parked under its provider message id")
        key = (receipt.provider, receipt.provider_message_id)
        if key in self.receipts:
            return False
        self.receipts[key] = (receipt, expires_at)
        return True

    def parked(self, provider: str, provider_message_id: str) -> Receipt | None:
        kept = self.receipts.get((provider, provider_message_id))
        return kept[0] if kept is not None else None


@dataclass
class ListDeadLetters:
    batches: list[QueueBatch] = field(default_factory=list)

    def send(self, batch: QueueBatch, reason: str) -> None:
        self.batches.append(batch)


class ScriptedProvider(SmsProvider):
    """Accepts everything unless a number has scripted failures, consumed one per call; records every call."""

    character_limit = 1600

    def __init__(self, name: str = "sandbox") -> None:
        self.name = name  # type: ignore[misc]
        self.calls: list[SmsRequest] = []
        self._scripts: dict[str, deque[ProviderFailure]] = defaultdict(deque)
        self._always: dict[str, ProviderFailure] = {}
        self._lock = threading.Lock()

    def fail(self, recipient: str, *failures: ProviderFailure) -> None:
        self._scripts[recipient].extend(failures)

    def always_fail(self, recipient: str, failure: ProviderFailure) -> None:
        self._always[recipient] = failure

    def calls_for(self, message_id: str) -> int:
        return sum(1 for c in self.calls if c.message_id == message_id)

    def send(self, request: SmsRequest) -> Accepted:
        with self._lock:
            self.calls.append(request)
            script = self._scripts.get(request.recipient)
            failure = script.popleft() if script else self._always.get(request.recipient)
        if failure is not None:
            raise failure
        return Accepted(provider_message_id=f"{self.name}-{request.message_id}")


@dataclass
class Providers:
    by_name: dict[str, SmsProvider]

    def get(self, name: str) -> SmsProvider:
        return self.by_name[name]


@dataclass
class InMemoryOutbox:
    entries: dict[str, OutboxEntry] = field(default_factory=dict)

    def record(self, request: SmsRequest, provider_message_id: str, accepted_at: datetime | None = None) -> OutboxEntry:
        previous = self.entries.get(request.message_id)
        entry = OutboxEntry(
            provider_message_id=previous.provider_message_id if previous else provider_message_id,
            send_count=(previous.send_count if previous else 0) + 1,
        )
        self.entries[request.message_id] = entry
        return entry
