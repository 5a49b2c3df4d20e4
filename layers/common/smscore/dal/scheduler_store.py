"""The scheduler's reads and writes: the sparse due index of SCHEDULED messages (keyed per bucket, tenant and
shard), its bucket index, the release of a page, the run and key leases, and the release queue's tasks."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pynamodb.exceptions import UpdateError

from smscore.dal.dispatch_counts import add_to_shard
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.tables import (
    DUE_BUCKET_SECONDS,
    DUE_BUCKETS_KEY,
    DispatchCounterRecord,
    DueBucketRecord,
    MessageRecord,
    due_bucket_start,
    due_keys,
    legacy_due_shard_keys,
)
from smscore.domain.scheduler import DueMessage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

# A bucket leaves the bucket index once it is past, every key of it is empty and nobody wrote into it for this
# long: far beyond the index's propagation (a message written with its bucket's item is visible by then).
DUE_BUCKET_GRACE_SECONDS = 300


class DynamoSchedulerStore:
    def __init__(self, messages: DynamoMessageStore, workers: int = 16) -> None:
        self._messages = messages
        self._workers = workers

    # -- the coordinator ---------------------------------------------------------------------------------------

    def due_keys(self, now: datetime) -> list[str]:
        """The bucket index up to now (one Query), then one single-item Query per key of each bucket and tenant,
        and per legacy key ("due#<0..15>", written before the per-tenant keys), in parallel."""
        buckets = [
            (item.bucket_key.split("#")[1], item.tenant_id)
            for item in DueBucketRecord.by_due.query(DUE_BUCKETS_KEY, DueBucketRecord.due_at <= now)
        ]
        candidates = [key for bucket, tenant in buckets for key in due_keys(bucket, tenant)]
        candidates += legacy_due_shard_keys()

        def holds_due(key: str) -> bool:
            query = MessageRecord.by_due.query(key, MessageRecord.due_at <= now, limit=1, page_size=1)
            return next(iter(query), None) is not None

        with ThreadPoolExecutor(max_workers=max(1, min(self._workers, len(candidates)))) as pool:
            found = dict(zip(candidates, pool.map(holds_due, candidates), strict=True))
        for bucket, tenant in buckets:
            if not any(found[key] for key in due_keys(bucket, tenant)):
                self._drop_bucket(bucket, tenant, now)
        return [key for key, holds in found.items() if holds]

    @staticmethod
    def _drop_bucket(bucket: str, tenant_id: str, now: datetime) -> None:
        """Out of the bucket index (its TTL deletes it later) once past and untouched for the grace period."""
        grace = timedelta(seconds=DUE_BUCKET_GRACE_SECONDS)
        if due_bucket_start(bucket) + timedelta(seconds=DUE_BUCKET_SECONDS) + grace > now:
            return
        try:
            DueBucketRecord(DueBucketRecord.key_for(bucket, tenant_id)).update(
                actions=[DueBucketRecord.due_shard.remove(), DueBucketRecord.due_at.remove()],
                condition=DueBucketRecord.touched_at <= now - grace,
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            # Written into meanwhile: it stays, and the next run reads it again.

    # -- a release worker ------------------------------------------------------------------------------------------

    def due_pages(self, key: str, now: datetime, page_size: int) -> Iterator[list[DueMessage]]:
        """One Query of the key (due_at <= now), followed page by page: what this read released is never read
        again by it, however long the index takes to drop it."""
        page: list[DueMessage] = []
        query = MessageRecord.by_due.query(key, MessageRecord.due_at <= now, page_size=page_size)
        for record in query:
            page.append(DueMessage(record.message_id, record.tenant_id, record.queue_id))
            if len(page) >= page_size:
                yield page
                page = []
        if page:
            yield page

    def release_all(self, messages: Sequence[DueMessage], now: datetime) -> list[str]:
        """Each message's conditional release in parallel, then the campaigns' counters in one ADD per counter shard
        (not one per message: a 5M campaign released at 20,000/s would otherwise take 625 ADDs/s on each shard)."""

        def release(message: DueMessage) -> str | None:
            applied = self._messages.release(message.message_id, message.tenant_id, message.queue_id, now, count=False)
            return message.message_id if applied else None

        if not messages:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(self._workers, len(messages)))) as pool:
            released = [mid for mid in pool.map(release, messages) if mid is not None]
        queues = {m.message_id: m.queue_id for m in messages}
        moved: dict[tuple[str, int], list[str]] = defaultdict(list)
        for mid in released:
            moved[(queues[mid], DispatchCounterRecord.shard_of(mid))].append(mid)
        for (queue_id, _shard), ids in moved.items():
            try:
                add_to_shard(queue_id, ids[0], {"count_scheduled": -len(ids), "count_queued": len(ids)})
            except UpdateError:
                # The releases stand; only the campaign's counters are now off. Never worth a second release.
                log.exception("dispatch counters not updated", extra={"queue_id": queue_id})
        return released


class DynamoRunLease:
    """A lease item of the Senders table (the table of fleet-wide coordination items): `lease#scheduler` for the
    scheduler's run, `lease#<due key>` for a release worker's key; it holds its owner and `lease_until` (epoch s)."""

    KEY = "lease#scheduler"

    def __init__(self, client: DynamoDBClient, table: str, key: str = KEY) -> None:
        self._client = client
        self._table = table
        self._key = key

    @classmethod
    def for_due_key(cls, client: DynamoDBClient, table: str, due_key: str) -> DynamoRunLease:
        return cls(client, table, key=f"lease#{due_key}")

    def acquire(self, owner: str, now: datetime, until: datetime) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"sender": {"S": self._key}},
                UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":until": {"N": f"{until.timestamp():.3f}"},
                    ":now": {"N": f"{now.timestamp():.3f}"},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, owner: str, keep_until: datetime | None = None) -> None:
        if keep_until is None:
            update, values = "REMOVE lease_owner, lease_until", {":owner": {"S": owner}}
        else:
            update = "SET lease_until = :until"
            values = {":owner": {"S": owner}, ":until": {"N": f"{keep_until.timestamp():.3f}"}}
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"sender": {"S": self._key}},
                UpdateExpression=update,
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # Someone took it over after our lease ran out: theirs now.


class SqsReleaseTasks:
    """The release queue: one task {"dueKey": key} per key, ten per SendMessageBatch."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def dispatch(self, keys: Sequence[str]) -> list[str]:
        failed: list[str] = []
        for start in range(0, len(keys), 10):
            chunk = list(keys[start : start + 10])
            answer = self._client.send_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(n), "MessageBody": json.dumps({"dueKey": key})} for n, key in enumerate(chunk)],
            )
            failed += [chunk[int(entry["Id"])] for entry in answer.get("Failed", [])]
        return failed


def due_key_of(body: str) -> str:
    """The key of a release task's body (ValueError when it is not one)."""
    key = json.loads(body).get("dueKey")
    if not isinstance(key, str) or not key.startswith("due#"):
        raise ValueError("not a release task")
    return key
