"""The scheduler's bucket index: which tenants have SCHEDULED messages due in which minute (DueBucketRecord).

Writers put a bucket's item with the messages that go into it (the send path in the same batch write; delivery's
reschedule through `DueBuckets.touch`, at most once a minute per bucket and tenant per process, so 50,000
messages pushed to the same opening make a handful of writes, not 50,000 on one item).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from smscore.dal.tables import DueBucketRecord

TOUCH_EVERY_SECONDS = 60.0  # well inside the scheduler's DUE_BUCKET_GRACE_SECONDS: a cached touch is never stale


class DueBuckets:
    def __init__(self) -> None:
        self._touched: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def touch(self, bucket: str, tenant_id: str, now: datetime) -> None:
        key = (bucket, tenant_id)
        moment = time.monotonic()
        with self._lock:
            last = self._touched.get(key)
            if last is not None and moment - last < TOUCH_EVERY_SECONDS:
                return
            self._touched[key] = moment
        item = DueBucketRecord.touched(bucket, tenant_id, now)
        # UpdateItem (the grant delivery already has on Messages), setting what a put would.
        DueBucketRecord(item.bucket_key).update(
            actions=[
                DueBucketRecord.tenant_id.set(item.tenant_id),
                DueBucketRecord.bucket.set(item.bucket),
                DueBucketRecord.due_shard.set(item.due_shard),
                DueBucketRecord.due_at.set(item.due_at),
                DueBucketRecord.touched_at.set(item.touched_at),
                DueBucketRecord.expires_at.set(item.expires_at),
            ]
        )
