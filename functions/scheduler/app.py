"""Scheduled every minute: enqueues the SCHEDULED messages that are due (see smscore.domain.scheduler).

Thin: one sweep, its counts as metrics. A failure raises, so the run counts as an error; nothing is lost (the
due messages stay in the index for the next run).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.dal import dispatch_counts
from smscore.observability import quiet_empty_metrics
from smscore.wiring import SchedulerDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"smscore"})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: SchedulerDeps | None = None) -> dict[str, Any]:
    deps = deps or wiring.scheduler_deps()
    with dispatch_counts.batched():  # the released messages' counter moves: one ADD per campaign
        result = deps.scheduler.sweep(deps.max_messages)
    metrics.add_metric(name="ScheduledMessagesReleased", unit=MetricUnit.Count, value=result.released)
    metrics.add_metric(name="ScheduledMessagesNotEnqueued", unit=MetricUnit.Count, value=result.not_enqueued)
    answer: dict[str, Any] = {"due": result.due, "enqueued": result.enqueued, "released": result.released}
    if result.fenced:
        metrics.add_metric(name="SchedulerRunFenced", unit=MetricUnit.Count, value=1)
        answer["fenced"] = True
    return answer
