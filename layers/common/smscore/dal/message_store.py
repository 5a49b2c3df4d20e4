"""PynamoDB implementation of delivery's MessageStore.

`DynamoMessageStore.apply_transition` is THE way a message changes status:
1. the message is updated conditionally on its current status (and any extra condition such as a lease or the
   fencing token), setting the status, appending a history entry and setting fields. Without
   a refund this is one conditional UpdateItem; with a refund it is one transaction that also adds the credits
   back to the tenant and writes the REFUND ledger entry, so money never disagrees with the message;
2. then the dispatch counters move (`count_<from>` - 1, `count_<to>` + 1, `credits_refunded` + refund) with one
   atomic ADD on the message's counter shard of the campaign (smscore.dal.dispatch_counts).
The counters are deliberately outside the message write: the messages of a campaign share its counter items,
and transactions that share an item conflict (TransactionConflict) under concurrent delivery, which would
fail the SENT write right after the provider accepted -- the one window where a failure means a second SMS.
Plain ADDs on one item never conflict. The price is that a crash between the two writes leaves a counter one
off (logged as an error); statuses, balances and the ledger are exact regardless.
Delivery receipts (SENT -> DELIVERED / UNDELIVERED) reuse it with `expected=SENT`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from smscore.dal.dispatch_counts import add_to_shard
from smscore.dal.due_buckets import DueBuckets
from smscore.dal.tables import (
    WAITING_UNTIL,
    LedgerRecord,
    MessageRecord,
    StatusChange,
    TenantRecord,
    due_bucket,
    due_shard_key,
    ledger_entry_id,
)
from smscore.domain.backoff import Backoff
from smscore.domain.model import LedgerKind, MessageStatus, Purpose, StoredMessage
from smscore.domain.ports import Accepted, FailedSend, ProviderFailure

CONFLICT_RETRIES = 8
MAX_MESSAGES_PER_REFUND = 98  # + the ledger entry and the tenant: DynamoDB's 100 items per transaction
CONFLICT_BACKOFF = Backoff(base_seconds=0.01, cap_seconds=1.0)
CLAIMABLE = frozenset({MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SCHEDULED})
# Leaving SCHEDULED takes a message out of the sparse due index (smscore.dal.tables.MessageByDue).
OUT_OF_DUE_INDEX: dict[str, Any] = {"due_shard": None, "due_at": None}

log = logging.getLogger(__name__)
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


def write_token() -> str:
    """A status write's token (`last_write`, and the transaction's ClientRequestToken): 64 random bits, short because
    every message item carries it (README, "Capacity": items under 1 KB)."""
    return uuid.uuid4().hex[:16]


def _counter(status: MessageStatus) -> str:
    return f"count_{status.value.lower()}"


def _is_conflict(exc: TransactWriteError) -> bool:
    return any(r is not None and r.code == "TransactionConflict" for r in exc.cancellation_reasons or [])


def _condition_failed(exc: TransactWriteError) -> bool:
    """The message's condition failed. Reasons come in PynamoDB's request order (puts before updates), and the
    ledger put's own condition cannot fail for a fresh id, so any ConditionalCheckFailed is the message's."""
    return any(r is not None and r.code == "ConditionalCheckFailed" for r in exc.cancellation_reasons or [])


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
        # The validity period starts when the message may go: released from SCHEDULED, or due, or created.
        created_at=record.valid_from or record.due_at or record.created_at,
        deferrals=int(record.deferrals or 0),
        purpose=Purpose(record.purpose) if record.purpose else Purpose.MARKETING,
        due_at=record.due_at,
        released=record.valid_from is not None or record.due_at is not None,
    )


class DynamoMessageStore:
    def __init__(self, region: str, host: str | None = None) -> None:
        # The pool size bind_tables gave the models (DELIVERY_WORKERS threads share this connection too).
        pool = getattr(MessageRecord.Meta, "max_pool_connections", None)
        self._connection = Connection(region=region, host=host, max_pool_connections=pool)
        self._due_buckets = DueBuckets()

    # -- the one generic status change ---------------------------------------------------------------------

    def apply_transition(self, t: StatusTransition) -> bool:
        """Apply `t`. False when the message is not in the expected state (already moved by someone else,
        unknown id, other tenant): nothing was written then."""
        applied = self._write_message(t) if t.refund is None else self._write_refunding(t)
        if applied:
            self._move_counters(t)
        return applied

    def _message_actions(self, t: StatusTransition, token: str) -> tuple[list[Any], Condition]:
        actions: list[Any] = [
            *MessageRecord.status_actions(t.tenant_id, t.to.value),
            MessageRecord.last_write.set(token),
            # The change's time is in its history entry: updated_at is not kept (README, "Capacity": 1 KB items).
            MessageRecord.updated_at.remove(),
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
        return actions, condition

    @staticmethod
    def _written_by(message_id: str, token: str) -> bool:
        """After a failed condition: did an earlier attempt of this very write succeed? botocore retries a throttled
        or timed-out UpdateItem that DynamoDB may already have applied; the token says whose write it was."""
        try:
            return MessageRecord.get(message_id, consistent_read=True).last_write == token
        except MessageRecord.DoesNotExist:
            return False

    def _write_message(self, t: StatusTransition) -> bool:
        token = write_token()
        actions, condition = self._message_actions(t, token)
        try:
            MessageRecord(t.message_id).update(actions=actions, condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return self._written_by(t.message_id, token)
            raise
        return True

    def _write_refunding(self, t: StatusTransition) -> bool:
        """Message, tenant balance and ledger entry in one transaction (idempotent under retries by its token).

        TransactionConflict (another refund of the same tenant in flight) is retried with jitter.
        """
        assert t.refund is not None
        token = write_token()
        actions, condition = self._message_actions(t, token)
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
        for attempt in CONFLICT_BACKOFF.attempts(CONFLICT_RETRIES):
            try:
                with TransactWrite(connection=self._connection, client_request_token=token) as tx:
                    tx.update(MessageRecord(t.message_id), actions=actions, condition=condition)
                    tx.update(TenantRecord(t.tenant_id), actions=[TenantRecord.credits.add(t.refund.credits)])
                    tx.save(entry, condition=LedgerRecord.entry_id.does_not_exist())
                return True
            except TransactWriteError as exc:
                if _condition_failed(exc):
                    return False
                if not _is_conflict(exc) or attempt == CONFLICT_RETRIES:
                    raise
        return False  # pragma: no cover - the loop either returns or raises

    def _move_counters(self, t: StatusTransition) -> None:
        """One ADD on the message's counter shard (smscore.dal.dispatch_counts), never on the Dispatch item."""
        deltas: dict[str, int] = {}
        if t.expected != t.to:
            deltas = {_counter(t.expected): -1, _counter(t.to): 1}
        if t.refund is not None:
            deltas["credits_refunded"] = t.refund.credits
        try:
            add_to_shard(t.queue_id, t.message_id, deltas)
        except UpdateError:
            # The message write stands; only the campaign's counters are now one off. Never worth a resend.
            log.exception("dispatch counters not updated", extra={"queue_id": t.queue_id, "to": t.to.value})

    # -- reads ---------------------------------------------------------------------------------------------

    def load(self, message_ids: Sequence[str]) -> dict[str, StoredMessage]:
        return {r.message_id: _to_stored(r) for r in MessageRecord.batch_get(list(message_ids), consistent_read=True)}

    # -- delivery's transitions ----------------------------------------------------------------------------

    def claim(self, message: StoredMessage, now: datetime, lease_until: datetime) -> StoredMessage | None:
        if message.status not in CLAIMABLE:
            return None  # a finished message is never claimed (so never sent) again, whatever the caller passes
        condition: Condition = MessageRecord.attempts == message.attempts
        if message.attempts == 0:
            condition = MessageRecord.attempts.does_not_exist() | (MessageRecord.attempts == 0)
        set_fields: dict[str, Any] = {"lease_until": lease_until}
        if message.status == MessageStatus.SENDING:
            condition = condition & (MessageRecord.lease_until < now)  # takeover of an expired lease only
        if message.status == MessageStatus.SCHEDULED:
            # Due, enqueued by the scheduler before its release write landed: claimed straight from SCHEDULED.
            condition = condition & (MessageRecord.due_at <= now)
            set_fields.update(OUT_OF_DUE_INDEX, valid_from=now)
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
                set_fields=set_fields,
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

    def _settle_claim(self, message: StoredMessage, to: MessageStatus, now: datetime, **fields: Any) -> bool:
        """The outcome of our claim: from SENDING, and only while we still hold the latest claim."""
        return self.apply_transition(
            StatusTransition(
                message_id=message.message_id,
                tenant_id=message.tenant_id,
                queue_id=message.queue_id,
                expected=MessageStatus.SENDING,
                to=to,
                at=now,
                condition=self._fenced(message),
                **fields,
            )
        )

    def mark_sent(self, message: StoredMessage, provider: str, accepted: Accepted, now: datetime) -> bool:
        # Indexed (by_provider_message_id) only when the provider's receipts cannot name our message id.
        provider_id_field = "provider_ref" if accepted.receipts_name_message else "provider_message_id"
        return self._settle_claim(
            message,
            MessageStatus.SENT,
            now,
            detail=provider,  # the provider's id is the item's provider_message_id (or provider_ref)
            set_fields={
                "provider": provider,
                provider_id_field: accepted.provider_message_id,
                "provider_price": accepted.price,
                "provider_price_unit": accepted.price_unit.upper() if accepted.price and accepted.price_unit else None,
                "sent_at": now,
                "lease_until": None,
                "valid_from": None,  # the validity period is over once sent
                "failure_reason": None,
                "permanent_failure": None,
            },
        )

    def mark_failed(self, message: StoredMessage, provider: str, failure: ProviderFailure, now: datetime) -> bool:
        why = "permanent failure" if failure.permanent else "retries exhausted"
        return self._settle_claim(
            message,
            MessageStatus.FAILED,
            now,
            code=failure.code,
            detail=f"{why} via {provider}",
            set_fields={
                "provider": provider,
                "provider_error_code": failure.code,
                "failure_reason": f"{why}: {failure.reason}"[:MAX_REASON_CHARS],
                "permanent_failure": failure.permanent,
                "lease_until": None,
            },
            refund=Refund(credits=message.credits, reason=f"{why} ({failure.code})"),
        )

    def requeue(
        self, message: StoredMessage, provider: str, next_provider: str, failure: ProviderFailure, now: datetime
    ) -> bool:
        detail = f"transient failure via {provider}, next attempt via {next_provider}"
        return self._settle_claim(
            message,
            MessageStatus.QUEUED,
            now,
            code=failure.code,
            detail=detail,
            set_fields={
                "provider": next_provider,
                "provider_error_code": failure.code,
                "failure_reason": failure.reason[:MAX_REASON_CHARS] or None,
                "lease_until": None,
            },
        )

    def defer(self, message: StoredMessage, provider: str, failure: ProviderFailure, now: datetime) -> bool:
        return self._settle_claim(
            message,
            MessageStatus.QUEUED,
            now,
            code=failure.code,
            detail=f"waiting for the sender ({provider})",
            set_fields={
                "provider_error_code": failure.code,
                "failure_reason": failure.reason[:MAX_REASON_CHARS] or None,
                "lease_until": None,
            },
            add_fields={"deferrals": 1},
        )

    # -- send windows and scheduling ----------------------------------------------------------------------

    def reschedule(self, message: StoredMessage, due_at: datetime, now: datetime) -> bool:
        """QUEUED (or SCHEDULED and due) -> SCHEDULED until `due_at`, back in the due index; conditional on the
        status and attempts as read, so a claim in between wins. No attempt is used."""
        condition: Condition = MessageRecord.attempts == message.attempts
        if message.attempts == 0:
            condition = MessageRecord.attempts.does_not_exist() | (MessageRecord.attempts == 0)
        self._due_buckets.touch(due_bucket(due_at), message.tenant_id, now)
        return self.apply_transition(
            StatusTransition(
                message_id=message.message_id,
                tenant_id=message.tenant_id,
                queue_id=message.queue_id,
                expected=message.status,
                to=MessageStatus.SCHEDULED,
                at=now,
                detail=f"outside the send window, {WAITING_UNTIL}{due_at.isoformat()}",
                set_fields={
                    "due_shard": due_shard_key(message.message_id, message.tenant_id, due_at),
                    "due_at": due_at,
                    "valid_from": None,
                },
                condition=condition,
            )
        )

    def release(self, message_id: str, tenant_id: str, queue_id: str, now: datetime, count: bool = True) -> bool:
        """SCHEDULED and due -> QUEUED, out of the due index, its validity period starting now. False when it is no
        longer SCHEDULED (claimed, cancelled) or no longer due (rescheduled later). `count=False`: the campaign's
        counters are left to the caller, which moves a page's releases in one ADD per counter shard."""
        transition = StatusTransition(
            message_id=message_id,
            tenant_id=tenant_id,
            queue_id=queue_id,
            expected=MessageStatus.SCHEDULED,
            to=MessageStatus.QUEUED,
            at=now,
            detail="due",
            set_fields={**OUT_OF_DUE_INDEX, "valid_from": now},
            condition=MessageRecord.due_at <= now,
        )
        return self.apply_transition(transition) if count else self._write_message(transition)

    # -- batched refunds -----------------------------------------------------------------------------------

    def fail_all(self, failures: Sequence[FailedSend], now: datetime) -> list[str]:
        """One transaction per tenant, campaign and up to MAX_MESSAGES_PER_REFUND messages: every message's fenced
        FAILED write, one ADD on the balance and one REFUND entry naming them. A mass failure thus costs the tenant
        item one update per record instead of one per message (no TransactionConflict storm), and a crash leaves
        either all of them failed and refunded or none (they are then still SENDING, and taken over after their
        lease). A message whose condition fails is dropped from the group and the rest retried."""
        groups: dict[tuple[str, str], list[FailedSend]] = {}
        for failed in failures:
            groups.setdefault((failed.message.tenant_id, failed.message.queue_id), []).append(failed)
        done: list[str] = []
        for group in groups.values():
            for start in range(0, len(group), MAX_MESSAGES_PER_REFUND):
                done += self._fail_group(group[start : start + MAX_MESSAGES_PER_REFUND], now)
        return done

    def _fail_group(self, group: list[FailedSend], now: datetime) -> list[str]:
        pending = list(group)
        conflicts = 0
        while pending:
            token = write_token()
            transitions = [self._failed_transition(f, now) for f in pending]
            credits = sum(f.message.credits for f in pending)
            first = pending[0].message
            codes = sorted({f.failure.code for f in pending})
            entry = LedgerRecord(
                first.tenant_id,
                ledger_entry_id(now),
                kind=LedgerKind.REFUND.value,
                amount=credits,
                queue_id=first.queue_id,
                message_ids=[f.message.message_id for f in pending],
                reason=f"{len(pending)} message(s) failed ({', '.join(codes)})"[:MAX_REASON_CHARS],
                created_at=now,
            )
            try:
                with TransactWrite(connection=self._connection, client_request_token=token) as tx:
                    tx.save(entry, condition=LedgerRecord.entry_id.does_not_exist())  # first in the request
                    for t in transitions:
                        actions, condition = self._message_actions(t, token)
                        tx.update(MessageRecord(t.message_id), actions=actions, condition=condition)
                    tx.update(TenantRecord(first.tenant_id), actions=[TenantRecord.credits.add(credits)])
            except TransactWriteError as exc:
                reasons = list(exc.cancellation_reasons or [])
                # Request order: the ledger put, then the messages in order, then the tenant.
                stale = {
                    i
                    for i, reason in enumerate(reasons[1 : 1 + len(pending)])
                    if reason is not None and reason.code == "ConditionalCheckFailed"
                }
                if stale:
                    pending = [f for i, f in enumerate(pending) if i not in stale]
                    continue
                if _is_conflict(exc) and conflicts < CONFLICT_RETRIES - 1:
                    conflicts += 1
                    time.sleep(CONFLICT_BACKOFF.delay(conflicts))
                    continue
                raise
            for t in transitions:
                self._move_counters(t)
            return [f.message.message_id for f in pending]
        return []

    def _failed_transition(self, failed: FailedSend, now: datetime) -> StatusTransition:
        message, failure, provider = failed.message, failed.failure, failed.provider
        why = "permanent failure" if failure.permanent else "retries exhausted"
        return StatusTransition(
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
