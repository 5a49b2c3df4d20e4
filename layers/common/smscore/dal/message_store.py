"""PynamoDB implementation of delivery's MessageStore: every status change is one conditional transaction.

`DynamoMessageStore.apply_transition` is THE way a message changes status. In one TransactWriteItems it
1. updates the message, conditional on its current status (and any extra condition such as a lease or the
   fencing token), setting the status with its index key, appending a history entry and setting fields;
2. moves the dispatch counters (`count_<from>` - 1, `count_<to>` + 1, `credits_refunded` + refund);
3. when refunding: adds the credits back to the tenant and writes the REFUND ledger entry.
So counters and balances can never disagree with the messages, whatever crashes or races happen. Delivery
receipts (SENT -> DELIVERED / UNDELIVERED) reuse it with `expected=SENT`.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from smscore.dal.campaign_store import ledger_entry_id
from smscore.dal.tables import DispatchRecord, LedgerRecord, MessageRecord, StatusChange, TenantRecord
from smscore.domain.delivery import StoredMessage
from smscore.domain.model import LedgerKind, MessageStatus
from smscore.providers.base import Accepted, ProviderFailure

CONFLICT_RETRIES = 8
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class Refund:
    """Credits given back to the tenant in the same transaction as the status change."""

    credits: int
    reason: str


@dataclass(frozen=True)
class StatusTransition:
    """One move of one message from `expected` to `to`.

    `set_fields` names MessageRecord attributes (a None value removes the attribute); `add_fields` adds to
    numeric ones; `condition` is ANDed with `status = expected AND tenant_id = tenant_id`.
    """

    message_id: str
    tenant_id: str
    queue_id: str
    expected: MessageStatus
    to: MessageStatus
    at: datetime
    code: str | None = None
    detail: str | None = None
    set_fields: Mapping[str, Any] = field(default_factory=dict)
    add_fields: Mapping[str, int] = field(default_factory=dict)
    condition: Condition | None = None
    refund: Refund | None = None


def _counter(status: MessageStatus) -> Any:
    return getattr(DispatchRecord, f"count_{status.value.lower()}")


def _is_conflict(exc: TransactWriteError) -> bool:
    return any(r is not None and r.code == "TransactionConflict" for r in exc.cancellation_reasons or [])


def _condition_failed_on_message(exc: TransactWriteError) -> bool:
    reasons = exc.cancellation_reasons or []
    return bool(reasons) and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed"


def _to_stored(record: MessageRecord) -> StoredMessage:
    return StoredMessage(
        message_id=record.message_id,
        tenant_id=record.tenant_id,
        queue_id=record.queue_id,
        recipient=record.recipient,
        body=record.body,
        segments=int(record.segments),
        credits=int(record.credits),
        status=MessageStatus(record.status),
        provider=record.provider,
        attempts=int(record.attempts or 0),
        lease_until=record.lease_until,
    )


class DynamoMessageStore:
    def __init__(self, region: str, host: str | None = None) -> None:
        self._connection = Connection(region=region, host=host)

    # -- the one generic status change ---------------------------------------------------------------------

    def apply_transition(self, t: StatusTransition) -> bool:
        """Apply `t` atomically with its counters (and refund). False when the message is not in the expected
        state (already moved by someone else, unknown id, other tenant): nothing was written then.

        TransactionConflict (another transaction on the same dispatch item in flight) is retried with jitter;
        the client request token makes a retried transaction idempotent.
        """
        token = str(uuid.uuid4())
        for attempt in range(CONFLICT_RETRIES):
            try:
                self._write(t, token)
                return True
            except TransactWriteError as exc:
                if _condition_failed_on_message(exc):
                    return False
                if not _is_conflict(exc) or attempt == CONFLICT_RETRIES - 1:
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        return False  # pragma: no cover - the loop either returns or raises

    def _write(self, t: StatusTransition, token: str) -> None:
        actions: list[Any] = [
            *MessageRecord.status_actions(t.tenant_id, t.to.value),
            MessageRecord.updated_at.set(t.at),
            MessageRecord.history.set(
                MessageRecord.history.append([StatusChange(status=t.to.value, at=t.at, code=t.code, detail=t.detail)])
            ),
        ]
        for name, value in t.set_fields.items():
            attribute = getattr(MessageRecord, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        for name, delta in t.add_fields.items():
            actions.append(getattr(MessageRecord, name).add(delta))
        condition = (MessageRecord.status == t.expected.value) & (MessageRecord.tenant_id == t.tenant_id)
        if t.condition is not None:
            condition = condition & t.condition

        dispatch_actions: list[Any] = []
        if t.expected != t.to:
            dispatch_actions += [_counter(t.expected).add(-1), _counter(t.to).add(1)]
        if t.refund is not None:
            dispatch_actions.append(DispatchRecord.credits_refunded.add(t.refund.credits))

        with TransactWrite(connection=self._connection, client_request_token=token) as tx:
            tx.update(MessageRecord(t.message_id), actions=actions, condition=condition)
            if dispatch_actions:
                tx.update(DispatchRecord(t.queue_id), actions=dispatch_actions)
            if t.refund is not None:
                tx.update(TenantRecord(t.tenant_id), actions=[TenantRecord.credits.add(t.refund.credits)])
                entry = LedgerRecord(
                    t.tenant_id,
                    ledger_entry_id(t.at),
                    kind=LedgerKind.REFUND.value,
                    amount=t.refund.credits,
                    queue_id=t.queue_id,
                    message_ids=[t.message_id],
                    reason=t.refund.reason,
                    created_at=t.at,
                )
                tx.save(entry, condition=LedgerRecord.entry_id.does_not_exist())

    # -- reads ---------------------------------------------------------------------------------------------

    def load(self, message_ids: Sequence[str]) -> dict[str, StoredMessage]:
        return {r.message_id: _to_stored(r) for r in MessageRecord.batch_get(list(message_ids), consistent_read=True)}

    # -- delivery's transitions ----------------------------------------------------------------------------

    def claim(self, message: StoredMessage, now: datetime, lease_until: datetime) -> StoredMessage | None:
        condition: Condition = MessageRecord.attempts == message.attempts
        if message.attempts == 0:
            condition = MessageRecord.attempts.does_not_exist() | (MessageRecord.attempts == 0)
        if message.status == MessageStatus.SENDING:
            condition = condition & (MessageRecord.lease_until < now)  # takeover of an expired lease only
        attempt = message.attempts + 1
        applied = self.apply_transition(
            StatusTransition(
                message_id=message.message_id,
                tenant_id=message.tenant_id,
                queue_id=message.queue_id,
                expected=message.status,
                to=MessageStatus.SENDING,
                at=now,
                detail=f"attempt {attempt} via {message.provider}"
                + (" (lease takeover)" if message.status == MessageStatus.SENDING else ""),
                set_fields={"lease_until": lease_until},
                add_fields={"attempts": 1},
                condition=condition,
            )
        )
        if not applied:
            return None
        return replace(message, status=MessageStatus.SENDING, attempts=attempt, lease_until=lease_until)

    @staticmethod
    def _fenced(message: StoredMessage) -> Condition:
        """Only the holder of the latest claim may record its outcome."""
        return MessageRecord.attempts == message.attempts

    def mark_sent(self, message: StoredMessage, provider: str, accepted: Accepted, now: datetime) -> bool:
        return self.apply_transition(
            StatusTransition(
                message_id=message.message_id,
                tenant_id=message.tenant_id,
                queue_id=message.queue_id,
                expected=MessageStatus.SENDING,
                to=MessageStatus.SENT,
                at=now,
                detail=f"{provider} {accepted.provider_message_id}",
                set_fields={
                    "provider": provider,
                    "provider_message_id": accepted.provider_message_id,
                    "provider_price": accepted.price,
                    "sent_at": now,
                    "lease_until": None,
                    "failure_reason": None,
                    "permanent_failure": None,
                },
                condition=self._fenced(message),
            )
        )

    def mark_failed(self, message: StoredMessage, provider: str, failure: ProviderFailure, now: datetime) -> bool:
        why = "permanent failure" if failure.permanent else "retries exhausted"
        return self.apply_transition(
            StatusTransition(
                message_id=message.message_id,
                tenant_id=message.tenant_id,
                queue_id=message.queue_id,
                expected=MessageStatus.SENDING,
                to=MessageStatus.FAILED,
                at=now,
                code=failure.code,
                detail=f"{why} via {provider}",
                set_fields={
                    "provider": provider,
                    "provider_error_code": failure.code,
                    "failure_reason": f"{why}: {failure.reason}"[:MAX_REASON_CHARS],
                    "permanent_failure": failure.permanent,
                    "lease_until": None,
                },
                condition=self._fenced(message),
                refund=Refund(credits=message.credits, reason=f"{why} ({failure.code})"),
            )
        )

    def requeue(
        self, message: StoredMessage, provider: str, next_provider: str, failure: ProviderFailure, now: datetime
    ) -> bool:
        detail = f"transient failure via {provider}, next attempt via {next_provider}"
        return self.apply_transition(
            StatusTransition(
                message_id=message.message_id,
                tenant_id=message.tenant_id,
                queue_id=message.queue_id,
                expected=MessageStatus.SENDING,
                to=MessageStatus.QUEUED,
                at=now,
                code=failure.code,
                detail=detail,
                set_fields={
                    "provider": next_provider,
                    "provider_error_code": failure.code,
                    "failure_reason": failure.reason[:MAX_REASON_CHARS] or None,
                    "lease_until": None,
                },
                condition=self._fenced(message),
            )
        )
