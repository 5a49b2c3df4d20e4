"""Consumes the fan-out queue: each SQS record names one chunk of a large campaign's plan to write and enqueue, or
a campaign above MaxSyncRecipients to plan (page by page, smscore.domain.planning).

Thin: decode the task, hand it to smscore.domain.fanout.FanoutWorker, count what it did, answer with a partial
batch response. A record whose chunk failed is reported failed and comes back after the visibility timeout (longer
than the chunk's lease, so the retry may take the chunk over), or reaches the dead-letter queue; past the campaign's
deadline the reconciler settles whatever is left.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.wiring import FanoutDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
copy_config_to_registered_loggers(source_logger=logger, include={"smscore"})


@tracer.capture_method(capture_response=False)
def fan_out_record(record: SQSRecord, deps: FanoutDeps, context: LambdaContext) -> None:
    from smscore.dal.plan_store import decode_task
    from smscore.domain.fanout import ChunkOutcome
    from smscore.domain.planning import PlanTask

    task = decode_task(record.body)
    if isinstance(task, PlanTask):  # a campaign above MaxSyncRecipients to plan (smscore.domain.planning)
        if deps.planner is None:
            raise RuntimeError("a planning task reached a fan-out worker without a planner")
        planned = deps.planner.run(task, lambda: context.get_remaining_time_in_millis() / 1000)
        metrics.add_metric(name=f"Planning{planned.value.title()}", unit=MetricUnit.Count, value=1)
        logger.info("planning", extra={"queue_id": task.queue_id, "outcome": planned.value})
        return
    outcome = deps.worker.run(task)
    metrics.add_metric(
        name="ChunksFannedOut" if outcome is ChunkOutcome.DONE else "ChunksSkipped", unit=MetricUnit.Count, value=1
    )
    logger.info("chunk", extra={"queue_id": task.queue_id, "chunk": task.chunk, "outcome": outcome.value})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: FanoutDeps | None = None
) -> PartialItemFailureResponse:
    wired = deps or wiring.fanout_deps()

    def record_handler(record: SQSRecord) -> None:
        fan_out_record(record, wired, context)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
