"""PynamoDB implementation of the CampaignStore port."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from smscore.dal.tables import DispatchRecord, LedgerRecord, MessageRecord, StatusChange, TagMemberRecord, TenantRecord
from smscore.domain.errors import InsufficientCredits
from smscore.domain.model import Dispatch, LedgerKind, MessageStatus, OutgoingMessage, TagRecipient, Tenant

BATCH_WRITE_SIZE = 25


class UnprocessedWrites(Exception):
    """DynamoDB kept returning unprocessed items (sustained throttling)."""


def ledger_entry_id(at: datetime) -> str:
    return f"{at.isoformat()}#{uuid.uuid4()}"


def _slices[T](items: Sequence[T], parts: int) -> Iterator[Sequence[T]]:
    """Split into at most `parts` contiguous slices, each a whole number of 25-item batches."""
    batches = -(-len(items) // BATCH_WRITE_SIZE)
    per_slice = -(-batches // parts) * BATCH_WRITE_SIZE
    for start in range(0, len(items), per_slice):
        yield items[start : start + per_slice]


class DynamoCampaignStore:
    def __init__(
        self, region: str, host: str | None = None, write_workers: int = 8, unprocessed_attempts: int = 8
    ) -> None:
        self._connection = Connection(region=region, host=host)
        self._write_workers = write_workers
        self._unprocessed_attempts = unprocessed_attempts

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        try:
            record = TenantRecord.get(tenant_id, consistent_read=True)
        except TenantRecord.DoesNotExist:
            return None
        return Tenant(
            tenant_id=record.tenant_id,
            name=record.name,
            credits=int(record.credits),
            default_country=record.default_country,
            provider=record.provider,
        )

    def tag_recipients(self, tenant_id: str, tag_ids: Sequence[str]) -> list[TagRecipient]:
        def read_tag(tag_id: str) -> list[TagRecipient]:
            return [
                TagRecipient(contact_id=item.contact_id, phone=item.phone, opted_out=bool(item.opted_out))
                for item in TagMemberRecord.query(
                    TagMemberRecord.key_for(tenant_id, tag_id),
                    attributes_to_get=["contact_id", "phone", "opted_out"],
                )
            ]

        if not tag_ids:
            return []
        if len(tag_ids) == 1:
            return read_tag(tag_ids[0])
        with ThreadPoolExecutor(max_workers=min(len(tag_ids), 16)) as pool:
            return list(chain.from_iterable(pool.map(read_tag, tag_ids)))

    def debit(self, dispatch: Dispatch) -> None:
        cost = dispatch.credits_debited
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.update(
                    TenantRecord(dispatch.tenant_id),
                    actions=[TenantRecord.credits.add(-cost)],
                    condition=TenantRecord.credits >= cost,
                )
                tx.save(
                    LedgerRecord(
                        dispatch.tenant_id,
                        ledger_entry_id(dispatch.created_at),
                        kind=LedgerKind.DEBIT.value,
                        amount=-cost,
                        queue_id=dispatch.queue_id,
                        reason=f"{dispatch.total_messages} messages x {dispatch.segments_per_message} segments",
                        created_at=dispatch.created_at,
                    )
                )
                tx.save(
                    DispatchRecord(
                        dispatch.queue_id,
                        tenant_id=dispatch.tenant_id,
                        member_id=dispatch.member_id,
                        body=dispatch.body,
                        tag_ids=list(dispatch.tag_ids),
                        country=dispatch.country,
                        total_messages=dispatch.total_messages,
                        segments_per_message=dispatch.segments_per_message,
                        credits_debited=cost,
                        count_queued=dispatch.total_messages,
                        created_at=dispatch.created_at,
                    ),
                    condition=DispatchRecord.queue_id.does_not_exist(),
                )
        except TransactWriteError as exc:
            # Reasons come in PynamoDB's request order (checks, deletes, puts, updates), not ours: the balance
            # update is last. The dispatch put's condition cannot fail for a fresh UUID, so any failed
            # condition is the balance.
            reasons = exc.cancellation_reasons or []
            if any(reason is not None and reason.code == "ConditionalCheckFailed" for reason in reasons):
                tenant = self.get_tenant(dispatch.tenant_id)
                raise InsufficientCredits(required=cost, available=tenant.credits if tenant else 0) from exc
            raise

    def _write_batches(self, records: Sequence[MessageRecord]) -> None:
        def write(chunk: Sequence[MessageRecord]) -> None:
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
        for attempt in range(self._unprocessed_attempts):
            if attempt:
                time.sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
            response = connection.batch_write_item(put_items=items)
            unprocessed = response.get("UnprocessedItems", {}).get(connection.table_name, [])
            items = [entry["PutRequest"]["Item"] for entry in unprocessed]
            if not items:
                return
        raise UnprocessedWrites(f"{len(items)} messages still unprocessed after {self._unprocessed_attempts} attempts")

    @staticmethod
    def _record(message: OutgoingMessage, status: MessageStatus, reason: str | None = None) -> MessageRecord:
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
            history=[StatusChange(status=status.value, at=datetime.now(UTC), detail=reason)],
        )

    def save_messages(self, messages: Sequence[OutgoingMessage]) -> None:
        self._write_batches([self._record(m, MessageStatus.QUEUED) for m in messages])

    def queue_messages(self, queue_id: str) -> list[tuple[str, str]]:
        found = MessageRecord.by_queue.query(queue_id, attributes_to_get=["message_id", "recipient"])
        return sorted(((m.message_id, m.recipient) for m in found), key=lambda pair: pair[1])

    def mark_failed(self, messages: Sequence[OutgoingMessage], reason: str) -> None:
        if not messages:
            return
        self._write_batches([self._record(m, MessageStatus.FAILED, reason) for m in messages])
        DispatchRecord(messages[0].queue_id).update(
            actions=[
                DispatchRecord.count_queued.add(-len(messages)),
                DispatchRecord.count_failed.add(len(messages)),
            ]
        )

    def refund(self, tenant_id: str, queue_id: str, amount: int, reason: str, message_ids: Sequence[str] = ()) -> None:
        now = datetime.now(UTC)
        with TransactWrite(connection=self._connection) as tx:
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
            tx.update(DispatchRecord(queue_id), actions=[DispatchRecord.credits_refunded.add(amount)])
