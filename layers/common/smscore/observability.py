"""What every handler reports the same way: an event or record it cannot parse, and no empty-metrics noise.

An unparseable input is logged once, at ERROR, with its message id and a reason that never quotes the input (it
may hold phone numbers or message text), and counted in the `UnparseableEvents` metric (UnparseableEventsAlarm).
Retrying cannot fix it, so the caller drops it instead of failing the record: it would otherwise come back
`maxReceiveCount` times and reach a dead-letter queue with nothing saying why.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric

if TYPE_CHECKING:
    from pydantic import ValidationError

    from smscore.domain.model import Receipt
    from smscore.domain.receipts import ReceiptOutcome

UNPARSEABLE_METRIC = "UnparseableEvents"
# A message that ended FAILED (deliver) or UNDELIVERED (a receipt), with the provider's code as dimension `code`.
FAILURES_BY_CODE_METRIC = "MessageFailures"
# Milliseconds from the provider's receipt time to our applying it (the dashboard's "Receipts lag").
RECEIPT_LAG_METRIC = "ReceiptLag"
# The message Powertools warns with when an invocation added no application metric (most GETs, an ignored event).
EMPTY_METRICS_WARNING = "No application metrics to publish"


class ErrorLogger(Protocol):
    def error(self, msg: object, *args: object, extra: dict[str, object] | None = None) -> None: ...


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: str, value: float) -> None: ...


def quiet_empty_metrics() -> None:
    """Silence Powertools' per-invocation "No application metrics to publish" warning, as its documentation does
    (a warnings filter on that message): an invocation without a metric to publish is normal here, not a bug."""
    warnings.filterwarnings("ignore", message=EMPTY_METRICS_WARNING, category=UserWarning)


def validation_reason(exc: ValidationError) -> str:
    """Where and why pydantic refused the input, without the input itself (include_input=False)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        location = ".".join(str(part) for part in error["loc"]) or "event"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)[:500]


def report_unparseable(
    logger: ErrorLogger, metrics: MetricsSink, *, source: str, message_id: str | None, reason: str
) -> None:
    """Log the input once at ERROR (message id, source, reason: nothing personal) and count it."""
    logger.error(
        "Unparseable input dropped", extra={"source": source, "message_id": message_id or "-", "reason": reason}
    )
    metrics.add_metric(name=UNPARSEABLE_METRIC, unit="Count", value=1)


def count_failure_codes(codes: Iterable[str], namespace: str | None) -> None:
    """One `MessageFailures` blob per code (its own dimension `code`, like SenderPaused's `sender`): the
    dashboard's "Failures by error code"."""
    for code, count in sorted(Counter(codes).items()):
        with single_metric(name=FAILURES_BY_CODE_METRIC, unit=MetricUnit.Count, value=count, namespace=namespace) as m:
            m.add_dimension(name="code", value=code or "unknown")


def publish_receipt(metrics: MetricsSink, receipt: Receipt, outcome: ReceiptOutcome, now: datetime) -> None:
    """An applied receipt: the message's new status (SmsDelivered / SmsUndelivered), how late it came in, and an
    undelivered one's code among the failures by code."""
    from smscore.domain.receipts import ReceiptOutcome

    if outcome is not ReceiptOutcome.APPLIED:
        return
    metrics.add_metric(name=f"Sms{receipt.status.value.title()}", unit="Count", value=1)
    lag_ms = max(0.0, (now - receipt.reported_at).total_seconds() * 1000)
    metrics.add_metric(name=RECEIPT_LAG_METRIC, unit="Milliseconds", value=lag_ms)
    if receipt.error_code is not None:
        count_failure_codes([receipt.error_code], getattr(metrics, "namespace", None))


def s3_object_key(event: dict[str, Any]) -> str | None:
    """detail.object.key of an S3 `Object Created` EventBridge event, or None when the event has none."""
    detail = event.get("detail")
    uploaded = detail.get("object") if isinstance(detail, dict) else None
    key = uploaded.get("key") if isinstance(uploaded, dict) else None
    return key if isinstance(key, str) and key else None
