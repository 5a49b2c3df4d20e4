"""AWS End User Messaging two-way SMS: replies to our numbers, published to the InboundSmsTopic SNS topic.

Thin: each SNS record's `Message` is the two-way payload (smscore.providers.aws_sms.two_way_message); a keyword
reply changes the suppression list and the contacts (smscore.domain.inbound), and where AWS does not answer
that keyword itself the confirmation is sent back from the number that received it. A payload that is not a
two-way message is logged and dropped (retrying cannot fix it); a store failure raises, so Lambda retries the
event (a redelivered message is recognised by its inboundMessageId, and an equal or older change is not applied).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SNSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from smscore import wiring
from smscore.domain.inbound import Confirmations, InboundResult, InboundSms, handle_inbound
from smscore.domain.keywords import KeywordAction
from smscore.domain.ports import RecordOutcome
from smscore.observability import quiet_empty_metrics, report_unparseable
from smscore.providers import aws_sms
from smscore.wiring import InboundDeps

logger = Logger()
tracer = Tracer()
metrics = Metrics()
quiet_empty_metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"smscore"})


def published_at(timestamp: str | None, now: datetime) -> datetime:
    """When SNS published the reply: orders a STOP and a START of one number (SNS does not keep their order)."""
    try:
        return datetime.fromisoformat(timestamp or "").astimezone(UTC)
    except ValueError:
        return now


def handle_record(
    message: str, received_at: datetime, deps: InboundDeps, *, now: datetime, sns_message_id: str | None = None
) -> dict[str, object]:
    """One two-way payload -> what was done (as `smsctl inbound` prints it). `received_at` is the SNS Timestamp;
    the message is recognised by its inboundMessageId (the SNS MessageId, the same on every redelivery, if absent)."""
    try:
        reply_to = aws_sms.two_way_message(message)
    except aws_sms.NotTwoWayMessage as exc:
        # AWS's SNS sample event ("example message") lands here: one ERROR line and a metric, never a retry.
        report_unparseable(logger, metrics, source="two-way-sms", message_id=sns_message_id, reason=str(exc))
        return {"action": KeywordAction.NONE.value, "dropped": str(exc)}
    sender = deps.sender_of(aws_sms.PROVIDER_NAME, [reply_to.destination_number])
    result = handle_inbound(
        InboundSms(
            provider=aws_sms.PROVIDER_NAME,
            sender=sender,
            from_number=reply_to.origination_number,
            body=reply_to.body,
            received_at=received_at,
            reference=reply_to.inbound_message_id or sns_message_id,
        ),
        keywords=deps.keywords,
        suppressions=deps.suppressions,
        confirmations=Confirmations(
            deps.opt_out_confirmation, deps.opt_in_confirmation, aws_sms.AWS_CONFIRMED_KEYWORDS
        ),
        now=now,
        consent=deps.consent,
    )
    outcome = {**result.as_json(), "replySent": _confirm(result, reply_to, deps)}
    if result.outcome is RecordOutcome.DUPLICATE:
        metrics.add_metric(name="KeywordDuplicate", unit=MetricUnit.Count, value=1)
    elif result.action is not KeywordAction.NONE:
        metrics.add_metric(
            name=f"Keyword{result.action.value.title().replace('_', '')}", unit=MetricUnit.Count, value=1
        )
    logger.info("Inbound SMS processed", extra={"inbound": outcome})
    return outcome


def _confirm(result: InboundResult, message: aws_sms.TwoWayMessage, deps: InboundDeps) -> bool:
    """Send the confirmation from the number that got the reply; only through AWS (a reply to the sandbox's
    notional number, on the local stack, is answered in the output only)."""
    if not result.reply or deps.aws_replier is None or not result.sender.startswith(f"{aws_sms.PROVIDER_NAME}:"):
        return False
    try:
        deps.aws_replier().reply(message, result.reply)
    except (ClientError, BotoCoreError):
        # The opt-out itself is recorded; a lost confirmation is not worth replaying the event (and the change).
        logger.exception("Keyword confirmation could not be sent")
        return False
    return True


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: InboundDeps | None = None) -> dict[str, Any]:
    deps = deps or wiring.inbound_deps()
    now = datetime.now(UTC)
    results = [
        handle_record(
            r.sns.message,
            published_at(r.sns.get("Timestamp"), now),
            deps,
            now=now,
            sns_message_id=r.sns.get("MessageId"),
        )
        for r in SNSEvent(event).records
    ]
    return {"results": results}
