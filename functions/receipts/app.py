"""Consumes the receipts queue: Twilio status callbacks (queued by the webhook) and AWS End User Messaging SMS
delivery events (sent there by EventBridge), applied to their messages (smscore.domain.receipts).

Thin: read the body (smscore.dal.receipt_queue; an AWS event through smscore.providers.aws_sms), settle it, count
the outcome. A receipt that overtook our SENT write is parked and its record failed on purpose, so SQS hands it back
after the visibility timeout and it is applied once the message is SENT (smscore.domain.receipts.settle_buffered);
partial batch responses keep the rest of the batch done.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smscore import wiring
from smscore.dal import dispatch_counts
from smscore.dal.receipt_queue import DeliveryEvent, UnreadableReceipt, read_body
from smscore.domain.receipts import ReceiptNotReady, ReceiptOutcome, settle_buffered
from smscore.observability import publish_receipt, quiet_empty_metrics, report_unparseable
from smscore.providers import aws_sms
from smscore.wiring import ReceiptsDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"smscore"})
quiet_empty_metrics()


@wiring.memoised
def processor() -> BatchProcessor:
    """A batch whose every record waits for its message's SENT write is not an error: answer the item failures."""
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_outcome(outcome: ReceiptOutcome, provider: str, message_ref: str | None) -> None:
    metrics.add_metric(name=f"Receipt{outcome.value.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    # DEBUG: one line per receipt would be most of the receipts path's log bill (~450 bytes each, README "Capacity");
    # the outcome metrics count them, and an unusual outcome is logged where it is decided.
    logger.debug(
        "Receipt processed", extra={"outcome": outcome.value, "provider": provider, "message_ref": message_ref}
    )


def apply_record(record: SQSRecord, deps: ReceiptsDeps) -> ReceiptOutcome | None:
    """Settle one queued receipt; None when the body is not a final receipt (an intermediate AWS event).
    Raises ReceiptNotReady to leave the record on the queue for a later receive."""
    now = datetime.now(UTC)
    try:
        body = read_body(record.body)
    except UnreadableReceipt as exc:
        # Retrying cannot fix it: one ERROR line and a metric, and the record is done (not dead-lettered blind).
        report_unparseable(logger, metrics, source="receipts", message_id=record.message_id, reason=exc.reason)
        return None
    receipt = (
        aws_sms.receipt_from_event(body.detail_type, body.detail, now) if isinstance(body, DeliveryEvent) else body
    )
    if receipt is None:
        return None
    receives = int(record.attributes.approximate_receive_count or 1)
    reference = receipt.message_id or receipt.provider_message_id
    try:
        outcome = settle_buffered(receipt, deps.receipts, deps.parked_receipts, now, receives, deps.retry_receives)
    except ReceiptNotReady:
        metrics.add_metric(name="ReceiptRetried", unit=MetricUnit.Count, value=1)
        logger.info("Receipt ahead of SENT, retried", extra={"provider": receipt.provider, "message_ref": reference})
        raise
    record_outcome(outcome, receipt.provider, reference)
    publish_receipt(metrics, receipt, outcome, now)  # an applied one: SmsDelivered/SmsUndelivered and its lag
    return outcome


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, deps: ReceiptsDeps | None = None
) -> PartialItemFailureResponse:
    wired = deps or wiring.receipts_deps()

    def record_handler(record: SQSRecord) -> None:
        apply_record(record, wired)

    with dispatch_counts.batched():  # the batch's counter moves: one ADD per campaign (smscore.dal.dispatch_counts)
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor(), context=context
        )
