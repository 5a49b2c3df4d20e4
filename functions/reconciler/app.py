"""Scheduled: finishes the campaigns whose fan-out its sending invocation never closed (see smscore.domain.reconciler).

Thin: run the reconciler over the campaigns past their deadline, publish what it did. A failure raises, so the run
counts as an error (alarmed); the claims it held expire and the next run takes them over.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.observability import quiet_empty_metrics
from smscore.wiring import ReconcilerDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"smscore"})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: ReconcilerDeps | None = None) -> dict[str, Any]:
    deps = deps or wiring.reconciler_deps()
    done = deps.reconciler.run(deps.max_campaigns)
    settled = [r for r in done if r.settled]
    for name, value in (
        ("FanoutsReconciled", len(settled)),
        ("MessagesReenqueued", sum(r.reenqueued for r in settled)),
        ("MessagesRefundedByReconciler", sum(r.refunded_messages for r in settled)),
        ("CreditsRefundedByReconciler", sum(r.refunded_credits for r in settled)),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if done:
        logger.info("Reconciler run", extra={"campaigns": len(done), "settled": len(settled)})
    return {
        "reconciled": [
            {
                "queueId": r.queue_id,
                "enqueued": r.enqueued,
                "reenqueued": r.reenqueued,
                "refundedMessages": r.refunded_messages,
                "refundedCredits": r.refunded_credits,
                "settled": r.settled,
            }
            for r in done
        ]
    }
