"""A campaign's messages as a CSV file a Colombian marketer opens in Excel: UTF-8 with a BOM, formula-safe.

Columns: message id, recipient, status, error code, segments, credits, sent at, delivered at, clicks (empty until
link tracking exists). A cell that begins with `=`, `+`, `-`, `@` (or a tab or carriage return) is prefixed with
`'`, so that a spreadsheet shows it as text instead of running it as a formula (OWASP "CSV injection"); numbers
are written as numbers. The default delimiter is `;`, the list separator of Excel in Spanish (comma-decimal
locales), `delimiter=comma` gives `,`. Up to STREAM_LIMIT rows the file is the answer itself; above, a job writes
it to S3 and its presigned URL is given when ready.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from smscore.domain.errors import NotFound
from smscore.domain.model import MessageStatus
from smscore.domain.views import DispatchView, MessageView

BOM = "\ufeff"
STREAM_LIMIT = 10_000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
HEADER = ["messageId", "recipient", "status", "errorCode", "segments", "credits", "sentAt", "deliveredAt", "clicks"]
DOWNLOAD_URL_TTL = timedelta(hours=1)
JOB_RETENTION = timedelta(days=7)
DELIMITERS = {"semicolon": ";", "comma": ","}


class ExportStatus(StrEnum):
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


def safe_cell(value: object) -> str:
    """The text of a cell, neutralised when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # a number is written as a number, even a negative one
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _delivered_at(message: MessageView) -> datetime | None:
    return next((h.at for h in message.history if h.status == MessageStatus.DELIVERED.value), None)


def row(message: MessageView) -> list[str]:
    code = message.provider_error_code or message.failure_reason
    return [
        safe_cell(message.message_id),
        safe_cell(message.recipient),
        safe_cell(message.status.value),
        safe_cell(code),
        safe_cell(message.segments),
        safe_cell(message.credits),
        safe_cell(message.sent_at),
        safe_cell(_delivered_at(message)),
        "",
    ]


def csv_text(messages: Iterable[MessageView], delimiter: str = ";") -> Iterator[str]:
    """The file, in pieces: the BOM and header first, then one line per message (CRLF, as RFC 4180 says)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(HEADER)
    yield BOM + buffer.getvalue()
    for message in messages:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row(message))
        yield buffer.getvalue()


@dataclass(frozen=True)
class ExportJob:
    job_id: str
    tenant_id: str
    queue_id: str
    delimiter: str
    status: ExportStatus
    created_at: datetime
    rows: int | None = None
    error: str | None = None

    @property
    def object_key(self) -> str:
        return f"exports/{self.tenant_id}/{self.job_id}.csv"


class CampaignMessages(Protocol):
    def dispatch(self, tenant_id: str, queue_id: str) -> DispatchView | None: ...

    def messages(self, queue_id: str) -> Iterator[MessageView]:
        """Every message of the campaign, loaded a batch at a time."""
        ...


class ExportFiles(Protocol):
    def put(self, key: str, chunks: Iterable[str]) -> None: ...

    def download_url(self, key: str, expires_in: int) -> str: ...


class ExportJobs(Protocol):
    def add(self, job: ExportJob) -> None: ...

    def get(self, tenant_id: str, job_id: str) -> ExportJob | None: ...

    def save(self, job: ExportJob) -> None: ...


class JobQueue(Protocol):
    def send(self, message: dict[str, object], delay_seconds: int = 0) -> None: ...


@dataclass(frozen=True)
class Streamed:
    filename: str
    text: str


class Exports:
    def __init__(
        self,
        messages: CampaignMessages,
        jobs: ExportJobs,
        files: ExportFiles,
        queue: JobQueue,
        stream_limit: int = STREAM_LIMIT,
    ) -> None:
        self._messages = messages
        self._jobs = jobs
        self._files = files
        self._queue = queue
        self._limit = stream_limit

    def export(self, tenant_id: str, queue_id: str, delimiter: str, now: datetime) -> Streamed | ExportJob:
        dispatch = self._messages.dispatch(tenant_id, queue_id)
        if dispatch is None:
            raise NotFound("No such campaign")
        if dispatch.total_messages <= self._limit:
            text = "".join(csv_text(self._messages.messages(queue_id), DELIMITERS[delimiter]))
            return Streamed(filename=f"campaign-{queue_id}.csv", text=text)
        job = ExportJob(str(uuid.uuid4()), tenant_id, queue_id, delimiter, ExportStatus.PENDING, now)
        self._jobs.add(job)
        self._queue.send({"kind": "export", "tenantId": tenant_id, "jobId": job.job_id})
        return job

    def run(self, tenant_id: str, job_id: str) -> ExportJob | None:
        """Write the file of a PENDING job to S3 (a redelivered job message writes the same file again)."""
        job = self._jobs.get(tenant_id, job_id)
        if job is None or job.status is not ExportStatus.PENDING:
            return job
        counted = 0

        def counting() -> Iterator[MessageView]:
            nonlocal counted
            for message in self._messages.messages(job.queue_id):
                counted += 1
                yield message

        self._files.put(job.object_key, csv_text(counting(), DELIMITERS[job.delimiter]))
        done = replace(job, status=ExportStatus.READY, rows=counted)
        self._jobs.save(done)
        return done

    def job(self, tenant_id: str, job_id: str) -> tuple[ExportJob, str | None]:
        job = self._jobs.get(tenant_id, job_id)
        if job is None:
            raise NotFound("No such export")
        url = None
        if job.status is ExportStatus.READY:
            url = self._files.download_url(job.object_key, int(DOWNLOAD_URL_TTL.total_seconds()))
        return job, url
