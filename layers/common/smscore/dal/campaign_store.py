"""PynamoDB implementation of the CampaignStore port, with the send path's fan-out bookkeeping.

The debit, the refunds and the closing of a fan-out are transactions; a TransactionConflict (another transaction
on the tenant or the dispatch in flight) or throttling cancels one as a whole, so it is retried with backoff
(`write_transaction`). A failed condition is never retried: it is the answer.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import And, Condition, size
from pynamodb.transactions import TransactWrite

from smscore.dal.raw_reads import batch_get_items, query_items
from smscore.dal.tables import (
    WAITING_UNTIL,
    ContactRecord,
    DispatchRecord,
    DueBucketRecord,
    LedgerRecord,
    MessageRecord,
    StatusChange,
    TagMemberRecord,
    TenantRecord,
    due_bucket,
    due_shard_key,
    ledger_entry_id,
)
from smscore.dal.tenant_settings import tenant_of
from smscore.domain.backoff import Backoff
from smscore.domain.campaign import DispatchState, FanoutState, ResendRaced
from smscore.domain.cancel import CANCEL_REASON, CANCELLABLE, PendingMessage
from smscore.domain.errors import InsufficientCredits
from smscore.domain.gsm import EncodingOption
from smscore.domain.model import (
    Dispatch,
    LedgerKind,
    MessageStatus,
    OutgoingMessage,
    Purpose,
    TagRecipient,
    Tenant,
)
from smscore.domain.personalize import recipient_values
from smscore.domain.plan import PlanChunk

log = logging.getLogger(__name__)

BATCH_WRITE_SIZE = 25
MERGE_READ_STEP = 1_000  # contact keys a worker reads for merge fields (ten BatchGetItem calls)
_FALSE: dict[str, Any] = {"BOOL": False}
FANOUT_OPEN = "OPEN"  # the by_fanout_due partition: every campaign whose fan-out is not closed
# Cancellation reasons and error codes that mean "try the same transaction again".
RETRYABLE_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
RETRYABLE_ERRORS = frozenset(
    {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded", "InternalServerError"}
)
# A transaction's pace with the layer's jittered backoff: 50 ms doubling up to 1 s, 6 attempts in all.
TRANSACTION_BACKOFF = Backoff(base_seconds=0.05, cap_seconds=1.0)
TRANSACTION_ATTEMPTS = 6


def condition_failed(exc: TransactWriteError, item: int | None = None) -> bool:
    """A condition of the transaction failed (of its `item`-th action, counted from 0, when given)."""
    reasons = list(exc.cancellation_reasons or [])
    if item is not None:
        reasons = reasons[item : item + 1]
    return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)


# A resend's debit: balance, ledger entry, dispatch, then the original's list of resends (_debit).
RESEND_ITEM = 3


def resends_still(seen: int | None) -> Condition:
    """The original campaign exists and, when `seen` is given, still has exactly that many resends."""
    exists: Condition = DispatchRecord.queue_id.exists()
    if seen is None:
        return exists
    unchanged: Condition = (
        DispatchRecord.resends.does_not_exist() if seen == 0 else size(DispatchRecord.resends) == seen
    )
    return And(exists, unchanged)


def retryable(exc: TransactWriteError) -> bool:
    if condition_failed(exc):
        return False
    reasons = {r.code for r in exc.cancellation_reasons or [] if r is not None}
    return bool(reasons & RETRYABLE_REASONS) or exc.cause_response_code in RETRYABLE_ERRORS


def write_transaction(
    connection: Connection,
    build: Callable[[TransactWrite], None],
    attempts: int = TRANSACTION_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run the transaction `build` describes, retrying conflicts and throttling with jittered backoff.

    Every attempt is the same request with the same client token, so an attempt DynamoDB applied but whose answer
    was lost is not applied twice. Raises TransactWriteError when a condition fails or the retries run out.
    """
    token = str(uuid.uuid4())
    for attempt in TRANSACTION_BACKOFF.attempts(attempts, sleep=sleep):
        try:
            with TransactWrite(connection=connection, client_request_token=token) as tx:
                build(tx)
            return
        except TransactWriteError as exc:
            if not retryable(exc) or attempt == attempts:
                raise
            log.warning("Transaction retried", extra={"attempt": attempt, "code": exc.cause_response_code})


# PynamoDB's batch_write_item returns unprocessed items (throttling) without retrying them: we do, with backoff.
UNPROCESSED_BACKOFF = Backoff(base_seconds=0.1, cap_seconds=1.0)


class UnprocessedWrites(Exception):
    """DynamoDB kept returning unprocessed items (sustained throttling)."""


def _slices[T](items: Sequence[T], parts: int) -> Iterator[Sequence[T]]:
    """Split into at most `parts` contiguous slices, each a whole number of 25-item batches."""
    batches = -(-len(items) // BATCH_WRITE_SIZE)
    per_slice = -(-batches // parts) * BATCH_WRITE_SIZE
    for start in range(0, len(items), per_slice):
        yield items[start : start + per_slice]


class DynamoCampaignStore:
    def __init__(
        self,
        region: str,
        host: str | None = None,
        write_workers: int = 8,
        unprocessed_attempts: int = 8,
        retention_days: int = 400,
    ) -> None:
        """`retention_days` (MessageRetentionDays): a message item expires (DynamoDB TTL) this long after it was
        created; the ledger keeps every credit movement."""
        self._retention = timedelta(days=retention_days)
        self._connection = Connection(region=region, host=host)
        self._write_workers = write_workers
        self._unprocessed_attempts = unprocessed_attempts

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        try:
            record = TenantRecord.get(tenant_id, consistent_read=True)
        except TenantRecord.DoesNotExist:
            return None
        return tenant_of(record)

    def tag_recipients(self, tenant_id: str, tag_ids: Sequence[str]) -> list[TagRecipient]:
        def read_tag(tag_id: str) -> list[TagRecipient]:
            # Raw items (smscore.dal.raw_reads): a model per member cost as much CPU as botocore's parsing.
            return [
                TagRecipient(
                    contact_id=item["contact_id"]["S"],
                    phone=item["phone"]["S"],
                    opted_out=bool(item.get("opted_out", _FALSE).get("BOOL")),
                    consent_granted=bool(item.get("consent_granted", _FALSE).get("BOOL")),
                    name=item["contact_name"]["S"] if "contact_name" in item else None,
                )
                for item in query_items(
                    TagMemberRecord,
                    TagMemberRecord.key_for(tenant_id, tag_id),
                    ["contact_id", "phone", "opted_out", "consent_granted", "contact_name"],
                )
            ]

        if not tag_ids:
            return []
        if len(tag_ids) == 1:
            return read_tag(tag_ids[0])
        with ThreadPoolExecutor(max_workers=min(len(tag_ids), 16)) as pool:
            return list(chain.from_iterable(pool.map(read_tag, tag_ids)))

    def merge_values(self, tenant_id: str, contact_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """BatchGetItem of the contacts' name and custom fields, MERGE_READ_STEP keys a worker (only a message with
        merge fields reads them: the memberships carry neither)."""

        def read(step: Sequence[str]) -> dict[str, dict[str, str]]:
            found: dict[str, dict[str, str]] = {}
            for start in range(0, len(step), BATCH_GET_SIZE):
                keys = [
                    {"tenant_id": {"S": tenant_id}, "contact_id": {"S": contact_id}}
                    for contact_id in step[start : start + BATCH_GET_SIZE]
                ]
                # Raw items (smscore.dal.raw_reads): the name and string fields, without a model per contact.
                for item in batch_get_items(ContactRecord, keys, ["contact_id", "name", "fields"]):
                    fields = {k: v["S"] for k, v in item.get("fields", {}).get("M", {}).items() if "S" in v}
                    found[item["contact_id"]["S"]] = recipient_values(item.get("name", {}).get("S"), fields)
            return found

        steps = [contact_ids[i : i + MERGE_READ_STEP] for i in range(0, len(contact_ids), MERGE_READ_STEP)]
        if len(steps) <= 1:
            return read(steps[0]) if steps else {}
        with ThreadPoolExecutor(max_workers=min(len(steps), 16)) as pool:
            values: dict[str, dict[str, str]] = {}
            for part in pool.map(read, steps):
                values.update(part)
            return values

    def debit(self, dispatch: Dispatch) -> None:
        self._debit(dispatch, deadline=None, request_hash=None)

    def open_fanout(self, dispatch: Dispatch, deadline: datetime, request_hash: str | None) -> None:
        self._debit(dispatch, deadline=deadline, request_hash=request_hash)

    def _debit(self, dispatch: Dispatch, deadline: datetime | None, request_hash: str | None) -> None:
        """Balance condition, ledger entry and dispatch in one transaction; with a deadline the dispatch's fan-out
        is PENDING and listed in the sparse by_fanout_due index until it is closed. A resend is added to its
        original's `resends` in the same transaction, on the condition that the original still has the number of
        resends the resend was planned with (`resends_seen`; None: unconditionally), else ResendRaced."""
        cost = dispatch.credits_debited
        fanout: dict[str, Any] = {}
        if deadline is not None:
            fanout = {
                "fanout": FanoutState.PENDING.value,
                "fanout_due": FANOUT_OPEN,
                "fanout_deadline": deadline,
                "request_hash": request_hash,
            }
        entry = LedgerRecord(
            dispatch.tenant_id,
            ledger_entry_id(dispatch.created_at),
            kind=LedgerKind.DEBIT.value,
            amount=-cost,
            queue_id=dispatch.queue_id,
            reason=(
                f"{dispatch.total_messages} messages x {dispatch.segments_per_message} segments"
                if cost == dispatch.total_messages * dispatch.segments_per_message
                else f"{dispatch.total_messages} messages, {cost} segments in all (merge fields)"
            ),
            created_at=dispatch.created_at,
        )
        record = DispatchRecord(
            dispatch.queue_id,
            tenant_id=dispatch.tenant_id,
            member_id=dispatch.member_id,
            body=dispatch.body,
            tag_ids=list(dispatch.tag_ids),
            country=dispatch.country,
            total_messages=dispatch.total_messages,
            segments_per_message=dispatch.segments_per_message,
            credits_debited=cost,
            count_queued=dispatch.total_messages - dispatch.scheduled_messages,
            count_scheduled=dispatch.scheduled_messages,
            created_at=dispatch.created_at,
            purpose=dispatch.purpose.value,
            send_at=dispatch.send_at,
            scheduled_for=dispatch.scheduled_for,
            scheduled_reason=dispatch.scheduled_reason,
            resend_of=dispatch.resend_of,
            encoding=None if dispatch.encoding is EncodingOption.AUTO else dispatch.encoding.value,
            template_id=dispatch.template_id,
            test=True if dispatch.test else None,
            track_links=True if dispatch.track_links else None,
            plan_prefix=dispatch.plan_prefix,
            plan_chunks=dispatch.plan_chunks or None,
            fanout_chunks_done=0 if dispatch.plan_prefix else None,
            **fanout,
        )

        def build(tx: TransactWrite) -> None:
            tx.update(
                TenantRecord(dispatch.tenant_id),
                actions=[TenantRecord.credits.add(-cost)],
                condition=TenantRecord.credits >= cost,
            )
            tx.save(entry)
            tx.save(record, condition=DispatchRecord.queue_id.does_not_exist())
            if dispatch.resend_of is not None:  # the fourth item: RESEND_ITEM
                tx.update(
                    DispatchRecord(dispatch.resend_of),
                    actions=[DispatchRecord.resends.add({dispatch.queue_id})],
                    condition=resends_still(dispatch.resends_seen),
                )

        try:
            write_transaction(self._connection, build)
        except TransactWriteError as exc:
            if dispatch.resend_of is not None and condition_failed(exc, RESEND_ITEM):
                raise ResendRaced(dispatch.resend_of) from exc
            # Either condition may have failed: the balance, or the dispatch already exists (the same campaign
            # debited by a retry that won). Both are refusals of this debit; the caller tells them apart by
            # reading the dispatch (find_dispatch).
            if condition_failed(exc):
                tenant = self.get_tenant(dispatch.tenant_id)
                raise InsufficientCredits(required=cost, available=tenant.credits if tenant else 0) from exc
            raise

    def find_dispatch(self, queue_id: str) -> DispatchState | None:
        try:
            record = DispatchRecord.get(queue_id, consistent_read=True)
        except DispatchRecord.DoesNotExist:
            return None
        return dispatch_state(record)

    def _write_batches(self, records: Sequence[MessageRecord | DueBucketRecord]) -> None:
        def write(chunk: Sequence[MessageRecord | DueBucketRecord]) -> None:
            for start in range(0, len(chunk), BATCH_WRITE_SIZE):
                self._write_batch([record.serialize() for record in chunk[start : start + BATCH_WRITE_SIZE]])

        workers = max(1, min(self._write_workers, -(-len(records) // BATCH_WRITE_SIZE)))
        if workers == 1:
            write(records)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # list() re-raises the first failure of any worker
            list(pool.map(write, _slices(records, workers)))

    def _write_batch(self, items: list[dict[str, Any]]) -> None:
        """One BatchWriteItem; unprocessed items (throttling) are retried with exponential backoff and full jitter."""
        connection = MessageRecord._get_connection()
        for _attempt in UNPROCESSED_BACKOFF.attempts(self._unprocessed_attempts):
            response = connection.batch_write_item(put_items=items)
            unprocessed = response.get("UnprocessedItems", {}).get(connection.table_name, [])
            items = [entry["PutRequest"]["Item"] for entry in unprocessed]
            if not items:
                return
        raise UnprocessedWrites(f"{len(items)} messages still unprocessed after {self._unprocessed_attempts} attempts")

    def _record(self, message: OutgoingMessage, status: MessageStatus, reason: str | None = None) -> MessageRecord:
        due: dict[str, Any] = {}
        if status is MessageStatus.SCHEDULED and message.scheduled_for is not None:
            due = {
                "due_shard": due_shard_key(message.message_id, message.tenant_id, message.scheduled_for),
                "due_at": message.scheduled_for,
            }
        return MessageRecord(
            message.message_id,
            tenant_id=message.tenant_id,
            queue_id=message.queue_id,
            recipient=message.recipient,
            contact_id=message.contact_id,
            body=message.body,
            segments=message.segments,
            encoding=message.encoding,
            credits=message.credits,
            status=status.value,
            provider=message.provider,
            created_at=message.created_at,
            updated_at=message.created_at if reason is None else datetime.now(UTC),
            failure_reason=reason,
            history=[StatusChange(status=status.value, at=datetime.now(UTC), detail=reason or _waiting(message))],
            # Absent means marketing (every reader says so): 16 bytes less on every message item (README, "Capacity").
            purpose=None if message.purpose is Purpose.MARKETING else message.purpose.value,
            expires_at=message.created_at + self._retention,
            **due,
        )

    def save_messages(self, messages: Sequence[OutgoingMessage]) -> None:
        # The scheduler's bucket index: one item per bucket and tenant the SCHEDULED ones go into, in the same
        # batch write (smscore.dal.tables.DueBucketRecord).
        now = datetime.now(UTC)
        buckets = sorted(
            {
                (due_bucket(m.scheduled_for), m.tenant_id)
                for m in messages
                if m.status is MessageStatus.SCHEDULED and m.scheduled_for
            }
        )
        markers = [DueBucketRecord.touched(bucket, tenant_id, now) for bucket, tenant_id in buckets]
        self._write_batches([*markers, *(self._record(m, m.status) for m in messages)])

    def write_plan(self, chunks: Sequence[PlanChunk]) -> None:
        from smscore.dal.plan_store import write_plan

        write_plan(chunks)

    def queue_messages(self, queue_id: str) -> list[tuple[str, str]]:
        """(id, recipient) of every message of a campaign, by recipient: from its plan when it has one (complete
        at once), else from the queue index (sharded: every shard is read)."""
        from smscore.dal.message_queries import queue_messages
        from smscore.dal.plan_store import read_chunks

        dispatch = self.find_dispatch(queue_id)
        if dispatch is not None and dispatch.plan_prefix:
            chunks = read_chunks(dispatch.plan_prefix, dispatch.plan_chunks)
            return [(m.message_id, m.recipient) for chunk in chunks for m in chunk.messages]
        return sorted(queue_messages(queue_id), key=lambda pair: pair[1])

    def mark_failed(self, messages: Sequence[OutgoingMessage], reason: str) -> None:
        """FAILED records, whether or not the messages were persisted; the counters move when the fan-out closes."""
        if messages:
            self._write_batches([self._record(m, MessageStatus.FAILED, reason) for m in messages])

    def fail_if_queued(self, messages: Sequence[OutgoingMessage], reason: str) -> list[OutgoingMessage]:
        moved = fail_if_queued([(m.message_id, m.tenant_id) for m in messages], reason, self._write_workers)
        return [m for m in messages if m.message_id in moved]

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
        def build(tx: TransactWrite) -> None:
            refund_in(tx, tenant_id, queue_id, refund_credits, f"{refunded_messages} messages {NOT_ENQUEUED_REASON}")
            tx.update(
                DispatchRecord(queue_id),
                actions=closing_actions(
                    FanoutState.COMPLETE, enqueued, refunded_messages, refund_credits, refunded_scheduled
                ),
                condition=DispatchRecord.fanout == FanoutState.PENDING.value,
            )

        try:
            write_transaction(self._connection, build)
        except TransactWriteError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def refund(self, tenant_id: str, queue_id: str, amount: int, reason: str, message_ids: Sequence[str] = ()) -> None:
        def build(tx: TransactWrite) -> None:
            refund_in(tx, tenant_id, queue_id, amount, reason, message_ids)
            tx.update(DispatchRecord(queue_id), actions=[DispatchRecord.credits_refunded.add(amount)])

        write_transaction(self._connection, build)

    # -- cancel (smscore.domain.cancel) -------------------------------------------------------------------------

    def pending_messages(self, message_ids: Sequence[str]) -> list[PendingMessage]:
        """Strongly consistent BatchGets, in parallel; only SCHEDULED and QUEUED messages are returned."""
        chunks = [message_ids[i : i + BATCH_GET_SIZE] for i in range(0, len(message_ids), BATCH_GET_SIZE)]

        def read(chunk: Sequence[str]) -> list[PendingMessage]:
            return [
                PendingMessage(record.message_id, MessageStatus(record.status), int(record.credits))
                for record in MessageRecord.batch_get(
                    list(chunk), consistent_read=True, attributes_to_get=["message_id", "status", "credits"]
                )
                if MessageStatus(record.status) in CANCELLABLE
            ]

        if not chunks:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(self._write_workers, len(chunks)))) as pool:
            return list(chain.from_iterable(pool.map(read, chunks)))

    def cancel_messages(
        self, tenant_id: str, queue_id: str, messages: Sequence[PendingMessage], now: datetime
    ) -> list[str]:
        """Transactions of up to MESSAGES_PER_CANCEL messages, each with one balance ADD, one REFUND entry naming
        them and one ADD of the campaign's counters; a message whose condition fails is dropped and the rest
        retried (so one claimed message never blocks its group)."""
        done: list[str] = []
        for start in range(0, len(messages), MESSAGES_PER_CANCEL):
            done += self._cancel_group(tenant_id, queue_id, list(messages[start : start + MESSAGES_PER_CANCEL]), now)
        return done

    def record_cancel(self, queue_id: str, member_id: str, at: datetime) -> None:
        """One conditional UpdateItem: the first cancel's time and member stay."""
        try:
            DispatchRecord(queue_id).update(
                actions=[DispatchRecord.cancelled_at.set(at), DispatchRecord.cancelled_by.set(member_id)],
                condition=DispatchRecord.queue_id.exists() & DispatchRecord.cancelled_at.does_not_exist(),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise

    def _cancel_group(self, tenant_id: str, queue_id: str, group: list[PendingMessage], now: datetime) -> list[str]:
        pending = group
        while pending:
            members = list(pending)
            try:
                write_transaction(self._connection, _cancel_transaction(tenant_id, queue_id, members, now))
            except TransactWriteError as exc:
                reasons = list(exc.cancellation_reasons or [])
                stale = {
                    i
                    for i, reason in enumerate(reasons[1 : 1 + len(members)])
                    if reason is not None and reason.code == "ConditionalCheckFailed"
                }
                if not stale:
                    raise
                pending = [m for i, m in enumerate(members) if i not in stale]
                continue
            return [m.message_id for m in members]
        return []


def _cancel_transaction(
    tenant_id: str, queue_id: str, members: Sequence[PendingMessage], now: datetime
) -> Callable[[TransactWrite], None]:
    """One cancel group: the REFUND entry (first, so the messages' cancellation reasons follow it), each message's
    conditional CANCELLED write (out of the due index), the balance and the campaign's counters."""
    credits = sum(m.credits for m in members)
    scheduled = sum(1 for m in members if m.status is MessageStatus.SCHEDULED)
    entry = LedgerRecord(
        tenant_id,
        ledger_entry_id(now),
        kind=LedgerKind.REFUND.value,
        amount=credits,
        queue_id=queue_id,
        message_ids=[m.message_id for m in members],
        reason=CANCEL_REASON,
        created_at=now,
    )

    def build(tx: TransactWrite) -> None:
        tx.save(entry)
        for message in members:
            tx.update(
                MessageRecord(message.message_id),
                actions=[
                    *MessageRecord.status_actions(tenant_id, MessageStatus.CANCELLED.value),
                    MessageRecord.updated_at.set(now),
                    MessageRecord.failure_reason.set(CANCEL_REASON),
                    MessageRecord.due_shard.remove(),
                    MessageRecord.due_at.remove(),
                    MessageRecord.history.set(
                        MessageRecord.history.append(
                            [StatusChange(status=MessageStatus.CANCELLED.value, at=now, detail="cancelled")]
                        )
                    ),
                ],
                condition=(MessageRecord.status == message.status.value) & (MessageRecord.tenant_id == tenant_id),
            )
        tx.update(TenantRecord(tenant_id), actions=[TenantRecord.credits.add(credits)])
        tx.update(
            DispatchRecord(queue_id),
            actions=[
                DispatchRecord.count_scheduled.add(-scheduled),
                DispatchRecord.count_queued.add(-(len(members) - scheduled)),
                DispatchRecord.count_cancelled.add(len(members)),
                DispatchRecord.credits_refunded.add(credits),
            ],
        )

    return build


NOT_ENQUEUED_REASON = "not enqueued"
BATCH_GET_SIZE = 100
# + the ledger entry, the tenant and the dispatch: DynamoDB's 100 items per transaction.
MESSAGES_PER_CANCEL = 97


def _waiting(message: OutgoingMessage) -> str | None:
    """Why a message waits; when until is the item's due_at (and the campaign's scheduledFor)."""
    if message.status is MessageStatus.SCHEDULED and message.scheduled_for is not None:
        return f"{WAITING_UNTIL}{message.scheduled_for.isoformat(timespec='seconds')}"
    return None


def dispatch_state(record: DispatchRecord) -> DispatchState:
    return DispatchState(
        queue_id=record.queue_id,
        tenant_id=record.tenant_id,
        total_messages=int(record.total_messages),
        segments_per_message=int(record.segments_per_message),
        credits_debited=int(record.credits_debited),
        fanout=FanoutState(record.fanout) if record.fanout else None,
        fanout_deadline=record.fanout_deadline,
        fanout_enqueued=None if record.fanout_enqueued is None else int(record.fanout_enqueued),
        fanout_refunded=None if record.fanout_refunded is None else int(record.fanout_refunded),
        fanout_refunded_credits=(
            None if record.fanout_refunded_credits is None else int(record.fanout_refunded_credits)
        ),
        request_hash=record.request_hash,
        scheduled_for=record.scheduled_for,
        scheduled_reason=record.scheduled_reason,
        plan_prefix=record.plan_prefix,
        plan_chunks=int(record.plan_chunks or 0),
        planning=record.planning_status,
        planning_estimate=int(record.planning_estimate or 0),
    )


def refund_in(
    tx: TransactWrite, tenant_id: str, queue_id: str, amount: int, reason: str, message_ids: Sequence[str] = ()
) -> None:
    """The balance and its REFUND ledger entry, inside a transaction (nothing for a zero amount)."""
    if amount <= 0:
        return
    now = datetime.now(UTC)
    tx.update(TenantRecord(tenant_id), actions=[TenantRecord.credits.add(amount)])
    tx.save(
        LedgerRecord(
            tenant_id,
            ledger_entry_id(now),
            kind=LedgerKind.REFUND.value,
            amount=amount,
            queue_id=queue_id,
            message_ids=list(message_ids) or None,
            reason=reason,
            created_at=now,
        )
    )


def closing_actions(
    state: FanoutState, enqueued: int, refunded_messages: int, refund_credits: int, refunded_scheduled: int = 0
) -> list[Any]:
    """Close a fan-out: final state, counts, refunded credits, and out of the by_fanout_due index.

    The messages refunded here were counted QUEUED (`refunded_scheduled` of them SCHEDULED) since the debit and
    never reached delivery or the scheduler (which move the counters of the others), so they move to FAILED here,
    once, with the money.
    """
    actions: list[Any] = [
        DispatchRecord.fanout.set(state.value),
        DispatchRecord.fanout_due.remove(),
        DispatchRecord.fanout_owner.remove(),
        DispatchRecord.fanout_enqueued.set(enqueued),
        DispatchRecord.fanout_refunded.set(refunded_messages),
        DispatchRecord.fanout_refunded_credits.set(refund_credits),
    ]
    if refunded_messages:
        actions += [
            DispatchRecord.count_queued.add(-(refunded_messages - refunded_scheduled)),
            DispatchRecord.count_failed.add(refunded_messages),
        ]
    if refunded_scheduled:
        actions.append(DispatchRecord.count_scheduled.add(-refunded_scheduled))
    if refund_credits:
        actions.append(DispatchRecord.credits_refunded.add(refund_credits))
    return actions


def fail_if_queued(messages: Sequence[tuple[str, str]], reason: str, workers: int = 8) -> set[str]:
    """(message id, tenant id) pairs moved QUEUED or SCHEDULED -> FAILED by a conditional update each (out of the
    due index); the ids that moved.

    A message delivery already claimed (or that does not exist) is left alone: it is not the fan-out's to refund.
    """
    now = datetime.now(UTC)

    def move(pair: tuple[str, str]) -> str | None:
        message_id, tenant_id = pair
        try:
            MessageRecord(message_id).update(
                actions=[
                    *MessageRecord.status_actions(tenant_id, MessageStatus.FAILED.value),
                    MessageRecord.failure_reason.set(reason),
                    MessageRecord.updated_at.set(now),
                    MessageRecord.due_shard.remove(),
                    MessageRecord.due_at.remove(),
                    MessageRecord.history.set(
                        MessageRecord.history.append(
                            [StatusChange(status=MessageStatus.FAILED.value, at=now, detail=reason)]
                        )
                    ),
                ],
                condition=MessageRecord.status.is_in(MessageStatus.QUEUED.value, MessageStatus.SCHEDULED.value)
                & (MessageRecord.attempts == 0),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        return message_id

    if not messages:
        return set()
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(messages)))) as pool:
        return {mid for mid in pool.map(move, messages) if mid is not None}
