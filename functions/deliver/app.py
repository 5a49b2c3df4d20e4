"""Consumes the delivery queue: each SQS record names up to RECIPIENTS_PER_QUEUE_MESSAGE messages to send.

Thin: decode, hand to smscore.domain.delivery.Deliverer, turn its report into metrics and a partial batch
response. A record is reported failed (and comes back after the visibility timeout, or reaches the DLQ after
maxReceiveCount) only while some of its messages still need another attempt or are leased elsewhere.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore.dal.dead_letters import SqsDeadLetters
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.sqs_queue import decode_batch
from smscore.domain.delivery import Deliverer, DeliveryReport, Outcome, RedeliveryNeeded, RetryPolicy
from smscore.providers.registry import ProviderRegistry, default_registry
from smscore.wiring import bound_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# A batch whose every record waits for a redelivery is not an error: answer with the item failures, not a raise.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
copy_config_to_registered_loggers(source_logger=logger, include={"smscore"})

OUTCOME_METRICS = {
    Outcome.SENT: "SmsSent",
    Outcome.FAILED_PERMANENT: "SmsFailedPermanent",
    Outcome.EXHAUSTED: "SmsFailedExhausted",
    Outcome.ALREADY_DONE: "SmsDuplicateSkipped",
    Outcome.LEASED_ELSEWHERE: "SmsLeasedElsewhere",
}


@cache
def provider_registry() -> ProviderRegistry:
    return default_registry(bound_settings())


@cache
def deliverer() -> Deliverer:
    settings = bound_settings()
    if not settings.delivery_dead_letter_queue_url:
        raise RuntimeError("DELIVERY_DEAD_LETTER_QUEUE_URL is not set")
    return Deliverer(
        store=DynamoMessageStore(region=settings.aws_region),
        providers=provider_registry(),
        dead_letters=SqsDeadLetters(settings.aws_region, settings.delivery_dead_letter_queue_url),
        policy=RetryPolicy(
            max_attempts=settings.delivery_max_attempts,
            backoff_base_seconds=settings.delivery_backoff_base_ms / 1000,
            backoff_cap_seconds=settings.delivery_backoff_cap_ms / 1000,
            lease_seconds=settings.delivery_lease_seconds,
            provider_timeout_seconds=settings.provider_timeout_seconds,
        ),
        workers=settings.delivery_workers,
        failover_provider=settings.failover_provider,
        rate_limits=settings.provider_rate_limits,
    )


def publish(report: DeliveryReport) -> None:
    for outcome, name in OUTCOME_METRICS.items():
        if count := report.count(outcome):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    for name, value in (
        ("SmsFailedTransient", report.transient_failures),
        ("SmsRetried", report.retried),
        ("SmsRefunded", report.refunded_messages),
        ("CreditsRefunded", report.refunded_credits),
    ):
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for _provider, latency_ms in report.provider_latencies_ms:
        metrics.add_metric(name="ProviderLatency", unit=MetricUnit.Milliseconds, value=latency_ms)


@tracer.capture_method(capture_response=False)
def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    batch = decode_batch(record.body)
    receive_count = int(record.attributes.approximate_receive_count or 1)
    report = deliverer().deliver(
        batch,
        remaining_seconds=lambda: lambda_context.get_remaining_time_in_millis() / 1000,
        final_receive=receive_count >= bound_settings().delivery_max_receive_count,
    )
    publish(report)
    logger.info(
        "record delivered",
        extra={"queue_id": batch.queue_id, "receive_count": receive_count, "outcomes": dict(report.counts())},
    )
    if report.needs_redelivery:
        raise RedeliveryNeeded(report.needs_redelivery)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
