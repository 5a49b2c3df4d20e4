"""Scheduled: sweeps the delivery dead-letter queue (smscore.domain.sweeper). Each paid message delivery gave up on
is re-enqueued once (fenced) or, past that, FAILED and refunded with a ledger entry.

Thin: one sweep, its counts as metrics (SweeperRefunded feeds SweeperRefundsAlarm). A failure raises, so the run
counts as an error; nothing is lost (the records stay in the dead-letter queue for the next run).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.domain.sweeper import Verdict
from smscore.observability import quiet_empty_metrics, report_unparseable
from smscore.wiring import SweeperDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"smscore"})
quiet_empty_metrics()

VERDICT_METRICS = {
    Verdict.REDRIVEN: "SweeperRedriven",
    Verdict.REFUNDED: "SweeperRefunded",
    Verdict.NOT_ENQUEUED: "SweeperNotEnqueued",
}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: SweeperDeps | None = None) -> dict[str, Any]:
    deps = deps or wiring.sweeper_deps()
    report = deps.sweeper.sweep(deps.max_records)
    for message_id, reason in report.unreadable:
        report_unparseable(logger, metrics, source="delivery-dlq", message_id=message_id, reason=reason)
    for verdict, name in VERDICT_METRICS.items():
        if count := report.count(verdict):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    if report.credits_refunded:
        metrics.add_metric(name="CreditsRefunded", unit=MetricUnit.Count, value=report.credits_refunded)
    return {
        "records": report.records,
        "deleted": report.deleted,
        **{verdict.value.lower(): n for verdict, n in sorted(report.verdicts.items())},
    }
