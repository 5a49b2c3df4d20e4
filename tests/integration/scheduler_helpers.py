"""Running the scheduler as AWS does on moto: the minute's run (the handler's scheduled event), then each release
task it put on the release queue through the same handler's SQS path."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3

from functions.scheduler import app as scheduler_app
from smscore import wiring
from smscore.domain.scheduler import SweepResult
from smscore.wiring import SchedulerDeps
from tests.conftest import LambdaContextStub
from tests.integration.receipts_helpers import receipt_record


def deps_at(now: datetime) -> SchedulerDeps:
    deps = wiring.scheduler_deps()
    deps.scheduler._now = lambda: now  # the run's clock
    return deps


def release_tasks() -> list[dict[str, Any]]:
    """Every task on the release queue, as SQS event records (and removed from the queue)."""
    sqs = boto3.client("sqs", region_name=wiring.bound_settings().aws_region)
    url = wiring.bound_settings().scheduler_release_queue_url
    assert url, "the stack declares the scheduler's release queue"
    records: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages"):
        for message in got:
            records.append(receipt_record(message))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return records


def run_workers(deps: SchedulerDeps, records: list[dict[str, Any]]) -> list[SweepResult]:
    """Each release task through the handler's SQS path; what each worker did."""
    results: list[SweepResult] = []
    release = deps.scheduler.release

    def recorded(key: str, max_messages: int, seconds: float | None = None) -> SweepResult:
        results.append(release(key, max_messages, seconds))
        return results[-1]

    deps.scheduler.release = recorded  # type: ignore[method-assign]
    try:
        for record in records:
            answer = scheduler_app.lambda_handler({"Records": [record]}, LambdaContextStub(), deps=deps)
            assert answer == {"batchItemFailures": []}, answer
    finally:
        del deps.scheduler.release
    return results


def scheduler_run(now: datetime) -> dict[str, Any]:
    """One run at `now` and the release of every key it handed out: the run's keys and the workers' totals."""
    deps = deps_at(now)
    answer: dict[str, Any] = scheduler_app.lambda_handler({}, LambdaContextStub(), deps=deps)
    results = run_workers(deps, release_tasks())
    return {
        "due": sum(r.due for r in results),
        "enqueued": sum(r.enqueued for r in results),
        "released": sum(r.released for r in results),
        "keys": answer.get("dispatched", 0),
    }
