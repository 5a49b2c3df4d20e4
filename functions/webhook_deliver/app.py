"""Consumes the webhook queue: fans events out to the tenant's endpoints and makes their signed attempts.

Thin: parse each record's JSON body, hand the batch to smscore.domain.webhook_delivery.WebhookDeliverer, which
attempts its events concurrently (`handle_all`); the Powertools batch processor then reports each record's own
outcome. A failed attempt is not a failed record (its retry is a new, delayed queue message); a record fails, and
comes back, only when the store or the queue could not be reached. A body that is not JSON is reported once and
dropped.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.observability import quiet_empty_metrics, report_unparseable
from smscore.wiring import WebhookDeliverDeps

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"smscore"})


@wiring.memoised
def processor() -> BatchProcessor:
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def parse(record: dict[str, Any]) -> dict[str, Any] | None:
    """The queue message of a record, or None (reported once) when it is not one."""
    try:
        message = json.loads(record["body"])
        if not isinstance(message, dict) or message.get("kind") not in ("event", "attempt", "completion"):
            raise ValueError("not a webhook queue message")
    except ValueError as exc:  # JSONDecodeError is a ValueError
        report_unparseable(
            logger, metrics, source="webhook-queue", message_id=record.get("messageId"), reason=type(exc).__name__
        )
        return None
    return message


def outcomes(event: dict[str, Any], deps: WebhookDeliverDeps) -> dict[str, Exception | None]:
    """Every parseable record handled (concurrently), by SQS message id: None, or the exception it failed with."""
    parsed = [(record["messageId"], parse(record)) for record in event.get("Records") or []]
    valid = [(message_id, message) for message_id, message in parsed if message is not None]
    results = deps.deliverer.handle_all([message for _, message in valid])
    return {message_id: result for (message_id, _), result in zip(valid, results, strict=True)}


def handle_record(record: SQSRecord, done: dict[str, Exception | None]) -> None:
    failure = done.get(record.message_id)
    if failure is not None:
        raise failure  # this record alone is reported failed and comes back from the queue


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: WebhookDeliverDeps | None = None
) -> PartialItemFailureResponse:
    deps = deps or wiring.webhook_deliver_deps()
    done = outcomes(event, deps)
    return process_partial_response(
        event=event,
        record_handler=lambda record: handle_record(record, done),
        processor=processor(),
        context=context,
    )
