"""Consumes the delivery queue: each SQS record names up to RECIPIENTS_PER_QUEUE_MESSAGE messages to send.

Thin: parse (Powertools' parser, smscore.dal.delivery_records), hand to smscore.domain.delivery.Deliverer,
turn its report into metrics and a partial batch response. A record is reported failed (and comes back after
the visibility timeout, or reaches the DLQ after maxReceiveCount) only while some of its messages still need
another attempt or are leased elsewhere.

Refunds are settled once per invocation, after every record was tried (Deliverer.settle): one transaction per
tenant and campaign on the balance item instead of one per record. If settling fails the invocation fails, so
none of its records is deleted; their failed messages are still SENDING under a lease and are decided again.
The campaign counters of all its status changes are written together too, one ADD per campaign at the end.
The records also share one plan (Deliverer.plan): their messages read once, and one slot reservation per sender
for all of them (smscore.domain.pacing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.dal import dispatch_counts
from smscore.domain.delivery import DeliveryReport, InvocationPlan, Outcome, RedeliveryNeeded
from smscore.observability import count_failure_codes, quiet_empty_metrics, report_unparseable, validation_reason
from smscore.wiring import DeliverDeps

if TYPE_CHECKING:
    from smscore.dal.delivery_records import DeliveryRecord

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()


@wiring.memoised
def processor() -> BatchProcessor:
    """Records arrive as SQSRecord and are parsed by parse_record (Powertools' parser models load with the first
    batch, not at init), so that a body that is not a delivery batch is reported once instead of retried.

    A batch whose every record waits for a redelivery is not an error: answer with the item failures, not a raise.
    """
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def parse_record(record: SQSRecord) -> DeliveryRecord | None:
    """The record as a DeliveryRecord, or None (logged at ERROR once, counted) when its body is not a delivery
    batch: AWS's sample event ("Hello from SQS!") or anything else no retry can fix. It is dropped, not failed."""
    from pydantic import ValidationError

    from smscore.dal.delivery_records import DeliveryRecord

    try:
        return DeliveryRecord.model_validate(record.raw_event)
    except ValidationError as exc:
        report_unparseable(
            logger, metrics, source="delivery-queue", message_id=record.message_id, reason=validation_reason(exc)
        )
        return None


copy_config_to_registered_loggers(source_logger=logger, include={"smscore"})

OUTCOME_METRICS = {
    Outcome.SENT: "SmsSent",
    Outcome.FAILED_PERMANENT: "SmsFailedPermanent",
    Outcome.EXHAUSTED: "SmsFailedExhausted",
    Outcome.ALREADY_DONE: "SmsDuplicateSkipped",
    Outcome.LEASED_ELSEWHERE: "SmsLeasedElsewhere",
    Outcome.DEFERRED: "SmsDeferred",
    Outcome.EXPIRED: "SmsExpired",
    Outcome.OPTED_OUT: "SmsOptedOut",
    Outcome.FREQUENCY_CAPPED: "SmsFrequencyCapped",
}


def publish(report: DeliveryReport) -> None:
    for outcome, name in OUTCOME_METRICS.items():
        if count := report.count(outcome):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    for name, value in (
        ("SmsFailedTransient", report.transient_failures),
        ("SmsRetried", report.retried),
        ("SmsRefunded", report.refunded_messages),
        ("CreditsRefunded", report.refunded_credits),
        ("SmsThrottled", report.throttled),
    ):
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    # The failures recorded (FAILED and refunded), by provider code: a claim lost meanwhile is not this one's.
    count_failure_codes(
        (f.failure.code for f, outcome in report.to_fail if report.outcomes.get(f.message.message_id) == outcome),
        metrics.namespace,
    )
    for _provider, latency_ms in report.provider_latencies_ms:
        metrics.add_metric(name="ProviderLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
    for sender in sorted(report.paused_senders):
        # Its own metric blob: the sender is a dimension of this metric only (SenderPausedAlarm reads it).
        with single_metric(name="SenderPaused", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
            metric.add_dimension(name="sender", value=sender)


@tracer.capture_method(capture_response=False)
def deliver_record(
    record: DeliveryRecord,
    lambda_context: LambdaContext,
    deps: DeliverDeps,
    reports: list[DeliveryReport],
    plan: InvocationPlan | None = None,
) -> None:
    batch = record.body.to_batch()
    receive_count = int(record.attributes.ApproximateReceiveCount or 1)
    report = deps.deliverer.deliver(
        batch,
        remaining_seconds=lambda: lambda_context.get_remaining_time_in_millis() / 1000,
        final_receive=receive_count >= deps.max_receive_count,
        settle=False,
        plan=plan,
    )
    reports.append(report)
    logger.info(
        "record delivered",
        extra={"queue_id": batch.queue_id, "receive_count": receive_count, "outcomes": dict(report.counts())},
    )
    if report.needs_redelivery:
        raise RedeliveryNeeded(report.needs_redelivery)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: DeliverDeps | None = None
) -> PartialItemFailureResponse:
    wired = deps or wiring.deliver_deps()
    reports: list[DeliveryReport] = []
    parsed = {raw["messageId"]: parse_record(SQSRecord(raw)) for raw in event.get("Records", [])}
    plans: list[InvocationPlan] = []

    def record_handler(record: SQSRecord) -> None:
        if (delivery := parsed.get(record.message_id)) is not None:
            if not plans:  # made by the first record, so that failing to read (throttled) fails that record only
                plans.append(wired.deliverer.plan([r.body.to_batch() for r in parsed.values() if r is not None]))
            deliver_record(delivery, context, wired, reports, plans[0])

    # The campaign counters move once per campaign for the whole invocation (smscore.dal.dispatch_counts).
    with dispatch_counts.batched():
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor(), context=context
        )
        wired.deliverer.settle(reports)  # the invocation's refunds, together (see the module docstring)
    for report in reports:
        publish(report)
    return response
