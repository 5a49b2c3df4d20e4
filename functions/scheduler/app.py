"""The scheduler (smscore.domain.scheduler), one function with two triggers:

- every minute (SchedulerSchedule): a run lists the due keys and hands each to a release worker on the release
  queue (or, without one, releases them itself);
- the release queue: a worker releases one key's due messages (enqueue, then SCHEDULED -> QUEUED).

Thin: the sweep or the key's release, their counts as metrics. A failure raises, so the run (or the task) counts as
an error; nothing is lost: the due messages stay in the index, and the next run hands their key out again.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.dal import dispatch_counts
from smscore.dal.scheduler_store import due_key_of
from smscore.domain.scheduler import SweepResult
from smscore.observability import quiet_empty_metrics, report_unparseable
from smscore.wiring import SchedulerDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"smscore"})


@wiring.memoised
def processor() -> BatchProcessor:
    return BatchProcessor(event_type=EventType.SQS)


def count(result: SweepResult) -> None:
    metrics.add_metric(name="ScheduledMessagesReleased", unit=MetricUnit.Count, value=result.released)
    metrics.add_metric(name="ScheduledMessagesNotEnqueued", unit=MetricUnit.Count, value=result.not_enqueued)


def release_task(record: SQSRecord, deps: SchedulerDeps) -> None:
    try:
        key = due_key_of(record.body)
    except ValueError:
        report_unparseable(logger, metrics, source="scheduler", message_id=record.message_id, reason="not a task")
        return
    with dispatch_counts.batched():  # the released messages' counter moves: one ADD per campaign
        result = deps.scheduler.release(key, deps.max_messages, deps.release_seconds)
    count(result)
    if result.fenced:
        metrics.add_metric(name="SchedulerReleaseFenced", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: SchedulerDeps | None = None) -> dict[str, Any]:
    deps = deps or wiring.scheduler_deps()
    if "Records" in event:  # the release queue: one key per task
        failures = process_partial_response(
            event=event,
            record_handler=lambda record: release_task(record, deps),
            processor=processor(),
            context=context,
        )
        return dict(failures)
    with dispatch_counts.batched():  # without a release queue the run releases: one ADD per campaign
        result = deps.scheduler.sweep(deps.max_messages)
    count(result)
    answer: dict[str, Any] = {"due": result.due, "enqueued": result.enqueued, "released": result.released}
    if result.dispatched:
        metrics.add_metric(name="SchedulerKeysDispatched", unit=MetricUnit.Count, value=result.dispatched)
        answer["dispatched"] = result.dispatched
    if result.fenced:
        metrics.add_metric(name="SchedulerRunFenced", unit=MetricUnit.Count, value=1)
        answer["fenced"] = True
    return answer
