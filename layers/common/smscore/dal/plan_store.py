"""PynamoDB implementation of the plan chunks (smscore.domain.plan) and the fan-out workers' store
(smscore.domain.fanout), plus the SQS fan-out queue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from smscore.dal.campaign_store import DynamoCampaignStore, condition_failed, write_transaction
from smscore.dal.tables import DispatchRecord, PlanChunkRecord
from smscore.domain.backoff import Backoff
from smscore.domain.campaign import FanoutState
from smscore.domain.fanout import ChunkTask, FanoutProgress
from smscore.domain.plan import ChunkState, PlanChunk, chunk_key, chunk_recipients
from smscore.domain.planning import PlanTask

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH_GET_SIZE = 100
SQS_BATCH_LIMIT = 10
SUBMIT_BACKOFF = Backoff(base_seconds=0.1, cap_seconds=2.0)


def chunk_record(chunk: PlanChunk) -> PlanChunkRecord:
    return PlanChunkRecord(
        chunk.key,
        plan_queue=chunk.queue_id,
        plan_tenant=chunk.tenant_id,
        plan=chunk.encode(),
        messages=len(chunk.messages),
        state=ChunkState.PLANNED.value,
    )


def chunk_of(record: PlanChunkRecord, prefix: str, number: int, only: int | None = None) -> PlanChunk:
    return PlanChunk.decode(prefix, number, record.plan, ChunkState(record.state), only)


def read_chunk(prefix: str, number: int, consistent: bool = True, only: int | None = None) -> PlanChunk | None:
    """One chunk of a plan (with `only`, just that offset's message), or None."""
    try:
        record = PlanChunkRecord.get(chunk_key(prefix, number), consistent_read=consistent)
    except PlanChunkRecord.DoesNotExist:
        return None
    return chunk_of(record, prefix, number, only)


def read_chunks(prefix: str, count: int, consistent: bool = True) -> list[PlanChunk]:
    """Every chunk of a plan that exists, in order (BatchGetItem, parallel)."""
    numbers = list(range(count))
    groups = [numbers[i : i + BATCH_GET_SIZE] for i in range(0, len(numbers), BATCH_GET_SIZE)]

    def read(group: list[int]) -> list[PlanChunk]:
        by_key = {
            record.key: record
            for record in PlanChunkRecord.batch_get([chunk_key(prefix, n) for n in group], consistent_read=consistent)
        }
        return [chunk_of(by_key[chunk_key(prefix, n)], prefix, n) for n in group if chunk_key(prefix, n) in by_key]

    if not groups:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(groups))) as pool:
        return [chunk for found in pool.map(read, groups) for chunk in found]


def read_chunk_recipients(prefix: str, count: int) -> list[tuple[str, str]]:
    """(number, contact id) of every message of a plan's first `count` chunks (BatchGetItem, parallel; only the
    plan attribute read, only those two fields decoded)."""
    numbers = list(range(count))
    groups = [numbers[i : i + BATCH_GET_SIZE] for i in range(0, len(numbers), BATCH_GET_SIZE)]

    def read(group: list[int]) -> list[tuple[str, str]]:
        keys = [chunk_key(prefix, n) for n in group]
        found: list[tuple[str, str]] = []
        for record in PlanChunkRecord.batch_get(keys, consistent_read=True, attributes_to_get=["queue_id", "plan"]):
            found += chunk_recipients(record.plan)
        return found

    if not groups:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(groups))) as pool:
        return [pair for found in pool.map(read, groups) for pair in found]


def write_plan(chunks: Sequence[PlanChunk]) -> None:
    """The chunk items (BatchWriteItem; PynamoDB retries what DynamoDB leaves unprocessed)."""
    with PlanChunkRecord.batch_write() as batch:
        for chunk in chunks:
            batch.save(chunk_record(chunk))


class DynamoPlanStore:
    """The fan-out workers' store: chunk leases and states, the message writes (the campaign store's) and the
    campaign's close."""

    def __init__(self, campaigns: DynamoCampaignStore, region: str, host: str | None = None) -> None:
        self._campaigns = campaigns
        self._connection = Connection(region=region, host=host)

    def claim_chunk(self, task: ChunkTask, owner: str, now: datetime, lease_until: datetime) -> PlanChunk | None:
        key = chunk_key(task.prefix, task.chunk)

        def build(tx: TransactWrite) -> None:
            tx.condition_check(
                DispatchRecord,
                task.queue_id,
                condition=(DispatchRecord.fanout == FanoutState.PENDING.value)
                & (DispatchRecord.fanout_deadline > lease_until)
                & (DispatchRecord.plan_prefix == task.prefix),
            )
            tx.update(
                PlanChunkRecord(key),
                actions=[PlanChunkRecord.lease_owner.set(owner), PlanChunkRecord.lease_until.set(lease_until)],
                condition=PlanChunkRecord.key.exists()
                & (PlanChunkRecord.state != ChunkState.ENQUEUED.value)
                & (PlanChunkRecord.lease_until.does_not_exist() | (PlanChunkRecord.lease_until < now)),
            )

        try:
            write_transaction(self._connection, build)
        except TransactWriteError as exc:
            if condition_failed(exc):
                return None
            raise
        return read_chunk(task.prefix, task.chunk)

    def save_messages(self, messages: Sequence[Any]) -> None:
        self._campaigns.save_messages(messages)

    def mark_written(self, task: ChunkTask, owner: str) -> None:
        PlanChunkRecord(chunk_key(task.prefix, task.chunk)).update(
            actions=[PlanChunkRecord.state.set(ChunkState.WRITTEN.value)],
            condition=PlanChunkRecord.lease_owner == owner,
        )

    def mark_enqueued(self, task: ChunkTask, owner: str) -> FanoutProgress | None:
        def build(tx: TransactWrite) -> None:
            tx.update(
                PlanChunkRecord(chunk_key(task.prefix, task.chunk)),
                actions=[PlanChunkRecord.state.set(ChunkState.ENQUEUED.value)],
                condition=(PlanChunkRecord.lease_owner == owner) & (PlanChunkRecord.state != ChunkState.ENQUEUED.value),
            )
            tx.update(DispatchRecord(task.queue_id), actions=[DispatchRecord.fanout_chunks_done.add(1)])

        try:
            write_transaction(self._connection, build)
        except TransactWriteError as exc:
            if condition_failed(exc):
                return None
            raise
        record = DispatchRecord.get(
            task.queue_id,
            consistent_read=True,
            attributes_to_get=["queue_id", "fanout_chunks_done", "plan_chunks", "total_messages"],
        )
        return FanoutProgress(
            int(record.fanout_chunks_done or 0), int(record.plan_chunks or 0), int(record.total_messages)
        )

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
        return self._campaigns.close_fanout(
            queue_id,
            tenant_id,
            enqueued=enqueued,
            refunded_messages=refunded_messages,
            refund_credits=refund_credits,
            refunded_scheduled=refunded_scheduled,
        )


def encode_task(task: ChunkTask) -> str:
    return json.dumps(
        {"tenantId": task.tenant_id, "queueId": task.queue_id, "prefix": task.prefix, "chunk": task.chunk}
    )


def decode_task(body: str) -> ChunkTask | PlanTask:
    """A chunk to fan out, or (`"plan": true`) a campaign to plan (smscore.dal.planning_store.encode_plan_task)."""
    data = json.loads(body)
    if data.get("plan"):
        return PlanTask(str(data["tenantId"]), str(data["queueId"]))
    return ChunkTask(str(data["tenantId"]), str(data["queueId"]), str(data["prefix"]), int(data["chunk"]))


class SqsChunkTasks:
    """The fan-out queue: SendMessageBatch, ten tasks a call, failed entries retried with backoff."""

    def __init__(self, client: SQSClient, queue_url: str, attempts: int = 4) -> None:
        self._client = client
        self._queue_url = queue_url
        self._attempts = attempts

    def submit(self, tasks: Sequence[ChunkTask]) -> list[ChunkTask]:
        failed: list[ChunkTask] = []
        for start in range(0, len(tasks), SQS_BATCH_LIMIT):
            pending = {str(i): task for i, task in enumerate(tasks[start : start + SQS_BATCH_LIMIT])}
            for _attempt in SUBMIT_BACKOFF.attempts(self._attempts):
                try:
                    response = self._client.send_message_batch(
                        QueueUrl=self._queue_url,
                        Entries=[{"Id": key, "MessageBody": encode_task(task)} for key, task in pending.items()],
                    )
                except (ClientError, BotoCoreError):
                    continue
                failed_ids = {entry["Id"] for entry in response.get("Failed", [])}
                pending = {key: task for key, task in pending.items() if key in failed_ids}
                if not pending:
                    break
            failed += pending.values()
        return failed
