"""PynamoDB implementation of the reconciler's store (see smscore.domain.reconciler)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from smscore.dal.campaign_store import (
    FANOUT_OPEN,
    DynamoCampaignStore,
    closing_actions,
    condition_failed,
    dispatch_state,
    fail_if_queued,
    refund_in,
    write_transaction,
)
from smscore.dal.tables import DispatchRecord, MessageRecord
from smscore.domain.campaign import DispatchState, FanoutState
from smscore.domain.model import MessageStatus, OutgoingMessage
from smscore.domain.plan import PlanChunk
from smscore.domain.reconciler import PaidMessage

BATCH_GET_SIZE = 100
OPEN_STATES = (FanoutState.PENDING.value, FanoutState.RECONCILING.value)


class DynamoReconcilerStore:
    def __init__(self, region: str, host: str | None = None, workers: int = 8) -> None:
        self._connection = Connection(region=region, host=host)
        self._region, self._host = region, host
        self._workers = workers

    def due(self, now: datetime, limit: int) -> list[str]:
        """One Query on the sparse index: only open fan-outs are in it, oldest deadline first."""
        found = DispatchRecord.by_fanout_due.query(
            FANOUT_OPEN, DispatchRecord.fanout_deadline <= now, limit=limit, page_size=limit
        )
        return [record.queue_id for record in found]

    def claim(self, queue_id: str, owner: str, now: datetime, lease_until: datetime) -> DispatchState | None:
        record = DispatchRecord(queue_id)
        try:
            record.update(
                actions=[
                    DispatchRecord.fanout.set(FanoutState.RECONCILING.value),
                    DispatchRecord.fanout_owner.set(owner),
                    DispatchRecord.fanout_deadline.set(lease_until),
                ],
                condition=DispatchRecord.fanout.is_in(*OPEN_STATES)
                & (DispatchRecord.fanout_deadline <= now)
                & DispatchRecord.fanout_due.exists(),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        return dispatch_state(record)

    def paid_messages(self, message_ids: Sequence[str]) -> dict[str, PaidMessage]:
        found: dict[str, PaidMessage] = {}
        for start in range(0, len(message_ids), BATCH_GET_SIZE):
            for record in MessageRecord.batch_get(
                message_ids[start : start + BATCH_GET_SIZE],
                consistent_read=True,
                attributes_to_get=["message_id", "status", "attempts", "credits"],
            ):
                found[record.message_id] = PaidMessage(
                    record.message_id,
                    MessageStatus(record.status),
                    int(record.attempts or 0),
                    None if record.credits is None else int(record.credits),
                )
        return found

    def plan_chunks(self, prefix: str, count: int) -> list[PlanChunk]:
        from smscore.dal.plan_store import read_chunks

        return read_chunks(prefix, count)

    def record_failed(self, messages: Sequence[OutgoingMessage], reason: str) -> None:
        DynamoCampaignStore(self._region, self._host, self._workers).mark_failed(messages, reason)

    def fail_if_queued(self, tenant_id: str, message_ids: Sequence[str], reason: str) -> set[str]:
        return fail_if_queued([(mid, tenant_id) for mid in message_ids], reason, self._workers)

    def settle(
        self, dispatch: DispatchState, owner: str, *, enqueued: int, refunded_messages: int, refund_credits: int
    ) -> bool:
        def build(tx: TransactWrite) -> None:
            refund_in(
                tx,
                dispatch.tenant_id,
                dispatch.queue_id,
                refund_credits,
                f"{refunded_messages} messages not enqueued (reconciled)",
            )
            tx.update(
                DispatchRecord(dispatch.queue_id),
                actions=closing_actions(FanoutState.RECONCILED, enqueued, refunded_messages, refund_credits),
                condition=(DispatchRecord.fanout == FanoutState.RECONCILING.value)
                & (DispatchRecord.fanout_owner == owner),
            )

        try:
            write_transaction(self._connection, build)
        except TransactWriteError as exc:
            if condition_failed(exc):
                return False
            raise
        return True
