"""CSV exports at the HTTP edge: the file itself (small campaigns) or the job of a large one."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from smscore.domain.exports import ExportJob, ExportStatus


class ExportJobDto(BaseModel):
    model_config = ConfigDict(
        defer_build=True, alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )

    id: str
    queue_id: str
    status: ExportStatus = Field(description="PENDING until the file is written, then READY")
    created_at: datetime
    rows: int | None = None
    download_url: str | None = Field(
        default=None, description="READY: a presigned URL of the CSV file, valid for an hour (ask again for a new one)"
    )


def job_dto(job: ExportJob, url: str | None = None) -> ExportJobDto:
    return ExportJobDto(
        id=job.job_id,
        queue_id=job.queue_id,
        status=job.status,
        created_at=job.created_at,
        rows=job.rows,
        download_url=url,
    )
