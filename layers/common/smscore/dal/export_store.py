"""CSV exports: a campaign's messages read a batch at a time, the jobs of large exports, their files on S3."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

from smscore.dal.message_queries import DynamoMessageQueries, message_view, queue_messages
from smscore.dal.tables import ExportJobRecord, MessageRecord
from smscore.domain.exports import JOB_RETENTION, ExportJob, ExportStatus
from smscore.domain.views import DispatchView, MessageView

BATCH = 100  # BatchGetItem's limit


class DynamoCampaignMessages:
    def dispatch(self, tenant_id: str, queue_id: str) -> DispatchView | None:
        return DynamoMessageQueries().dispatch(tenant_id, queue_id)

    def messages(self, queue_id: str) -> Iterator[MessageView]:
        """By message id (a stable order), 100 items per BatchGetItem: never the whole campaign in memory."""
        ids = sorted(message_id for message_id, _ in queue_messages(queue_id))
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            found = {r.message_id: r for r in MessageRecord.batch_get(chunk)}
            for message_id in chunk:
                if message_id in found:
                    yield message_view(found[message_id])


def _job(record: ExportJobRecord) -> ExportJob:
    return ExportJob(
        job_id=record.job_id,
        tenant_id=record.tenant_id,
        queue_id=record.queue_id,
        delimiter=record.delimiter,
        status=ExportStatus(record.status),
        created_at=record.created_at,
        rows=None if record.rows is None else int(record.rows),
        error=record.error,
    )


def _record(job: ExportJob) -> ExportJobRecord:
    return ExportJobRecord(
        job.tenant_id,
        f"export#{job.job_id}",
        job_id=job.job_id,
        queue_id=job.queue_id,
        delimiter=job.delimiter,
        status=job.status.value,
        rows=job.rows,
        error=job.error,
        created_at=job.created_at,
        expires_at=job.created_at + JOB_RETENTION,
    )


class DynamoExportJobs:
    def add(self, job: ExportJob) -> None:
        _record(job).save(condition=ExportJobRecord.item_key.does_not_exist())

    def get(self, tenant_id: str, job_id: str) -> ExportJob | None:
        try:
            return _job(ExportJobRecord.get(tenant_id, f"export#{job_id}", consistent_read=True))
        except ExportJobRecord.DoesNotExist:
            return None

    def save(self, job: ExportJob) -> None:
        _record(job).save()


class S3ExportFiles:
    """`client` is a boto3 S3 client (SigV4, the bucket's region: built by smscore.wiring)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, key: str, chunks: Iterable[str]) -> None:
        data = io.BytesIO()
        for chunk in chunks:
            data.write(chunk.encode("utf-8"))
        data.seek(0)
        self._client.upload_fileobj(
            data,
            self._bucket,
            key,
            ExtraArgs={
                "ContentType": "text/csv; charset=utf-8",
                "ContentDisposition": f'attachment; filename="{key.rsplit("/", 1)[-1]}"',
            },
        )

    def download_url(self, key: str, expires_in: int) -> str:
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in
        )
        return url
