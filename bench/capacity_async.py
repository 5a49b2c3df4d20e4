"""Capacity of the asynchronous paths of issue 20: the receipts path (item 4).

`capacity: receipts/s the webhook path sustains, modelled`: Twilio status callbacks through the status webhook
(signature, parse, one SendMessage for a final status; intermediate ones are answered without one), posted to the
front the template gives Twilio (the webhook's function URL, or the legacy REST route), and the receipts
consumer (GetItem + the message's conditional UpdateItem + one counter ADD per final receipt). The CPU of each side
is measured in-process on moto (process time: moto's own work included, so an upper bound of the function's CPU),
AWS latencies are added from the figures below, and the sustained rate is the smallest of: the front's own limit
(a function URL: Lambda's 10 requests/s per unit of the account's concurrency; the REST route: its API Gateway
throttle in template.yaml), the webhook's Lambda concurrency, the consumer's (MaximumConcurrency x batch
throughput) and the tables' warm write throughput. 3 callbacks per message, 1 of them final (Twilio: queued, sent,
delivered); SQS standard queues have no practical throughput limit (AWS SQS quotas).

The scheduled release's row moved to bench/scheduler_fairness.py (suite `scheduler`) with the per-tenant due keys.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from bench.harness import LambdaContext, Row, moto_stack, serialised_moto

TARGET_RECEIPTS_PER_SECOND = 9_000
TARGET_RELEASE_PER_SECOND = 20_000
DUE_AT_ONE_OPENING = 5_000_000
CALLBACKS_PER_MESSAGE = 3  # Twilio: queued, sent, then delivered/undelivered (the figure)
ACCOUNT_CONCURRENCY = 1_000  # the default Lambda concurrency quota of a region (raise it for more)
# Latencies added to the measured CPU (same region, warm connections; DynamoDB and SQS single-item calls).
SQS_SEND_MS = 8.0
DYNAMODB_GET_MS = 5.0
DYNAMODB_UPDATE_MS = 8.0
# The message item (under 1 KB with its compact history: bench.lifecycle measures it) and the consumer's one counter
# ADD per campaign and batch of up to 100 receipts (smscore.dal.dispatch_counts.batched).
WRITE_UNITS_PER_RECEIPT = {"Messages": 1, "Dispatches": 0.01}


def _template() -> dict[str, Any]:
    from smsdev.template import load_template

    return load_template()


def _parameter(name: str) -> int:
    return int(_template()["Parameters"][name]["Default"])


def _receipts_mapping() -> dict[str, Any]:
    events = _template()["Resources"]["ReceiptsFunction"]["Properties"]["Events"]
    props: dict[str, Any] = events["ReceiptsQueueEvent"]["Properties"]
    return props


def _front_limit() -> tuple[str, int]:
    """Callbacks/s the front Twilio is given admits, as bench.capacity_model reads it from the template."""
    from bench.capacity_model import REQUESTS_PER_CONCURRENCY, status_callback_front

    if status_callback_front() == "function-url":
        return "function_url_lambda_requests", REQUESTS_PER_CONCURRENCY * ACCOUNT_CONCURRENCY
    return "api_route_throttle", _route_throttle()


def _route_throttle() -> int:
    settings = _template()["Resources"]["SmsApi"]["Properties"]["MethodSettings"]
    (status,) = [s for s in settings if s["ResourcePath"] == "/~1api~1webhooks~1twilio~1status"]
    return _parameter(status["ThrottlingRateLimit"]["Ref"])


def _measure_cpu(messages: int) -> dict[str, float]:
    """Per-callback CPU of the webhook and per-final-receipt CPU of the consumer, on moto."""
    env = {"PROVIDER_RATE_LIMITS": json.dumps({"twilio": 0}), "POWERTOOLS_METRICS_DISABLED": "true"}
    with moto_stack(env) as stack, serialised_moto():
        for function_id in ("TwilioStatusFunction", "ReceiptsFunction"):
            os.environ.update(stack.environment(function_id))
        from bench.capacity_model import status_callback_front
        from tests.integration.receipts_helpers import FUNCTION_URL, function_url_event

        by_url = status_callback_front() == "function-url"
        callback_url = (
            FUNCTION_URL
            if by_url
            else "https://bench.execute-api.us-east-1.amazonaws.com/dev/api/webhooks/twilio/status"
        )
        os.environ.update(env, TWILIO_STATUS_CALLBACK_URL=callback_url)
        from bench.send_path import _invoke, _seed
        from functions.receipts import app as receipts_app
        from functions.webhooks import app as webhooks
        from smscore import wiring
        from smscore.dal.tables import MessageRecord
        from smscore.providers.twilio import request_signature
        from tests.integration.receipts_helpers import (
            TWILIO_AUTH_TOKEN,
            deliver_as_sent,
            install_twilio_credentials,
            provider_id,
            receipt_record,
            twilio_event,
        )

        wiring.reset()
        install_twilio_credentials()
        response = _invoke(_seed(messages))
        message_ids = [m["id"] for m in json.loads(response["body"])["messages"]]
        deliver_as_sent(*message_ids, provider="twilio")
        events = []
        for message_id in message_ids:
            url = f"{callback_url}?messageId={message_id}"
            for status in ("queued", "sent", "delivered"):
                params = {"MessageSid": provider_id(message_id), "MessageStatus": status, "AccountSid": "AC01"}
                signature = request_signature(url, list(params.items()), TWILIO_AUTH_TOKEN)
                if by_url:
                    events.append(function_url_event(url, params, signature))
                    continue
                event = twilio_event(params, signature)
                event["queryStringParameters"] = {"messageId": message_id}
                event["multiValueQueryStringParameters"] = {"messageId": [message_id]}
                events.append(event)
        webhooks.twilio_handler(events[0], LambdaContext("warm", 512, 10_000))  # cold start out of the figure
        started = time.process_time()
        for event in events[1:]:
            answer = webhooks.twilio_handler(event, LambdaContext("bench", 512, 10_000))
            assert answer["statusCode"] == 200, answer
        webhook_ms = (time.process_time() - started) * 1000 / (len(events) - 1)

        import boto3

        sqs = boto3.client("sqs", region_name="us-east-1")
        url = wiring.bound_settings().receipts_queue_url
        records = []
        while batch := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"]
        ).get("Messages", []):
            records.extend(receipt_record(m) for m in batch)
        assert len(records) == messages, len(records)  # one final status each: the others were not queued
        started = time.process_time()
        for start in range(0, len(records), 100):
            result = receipts_app.lambda_handler(
                {"Records": records[start : start + 100]}, LambdaContext("bench", 512, 20_000)
            )
            assert result == {"batchItemFailures": []}, result
        consumer_ms = (time.process_time() - started) * 1000 / len(records)
        delivered = {r.status for r in MessageRecord.batch_get(message_ids)}
        assert delivered == {"DELIVERED"}, delivered
        wiring.reset()
    return {"webhook_cpu_ms_per_callback": round(webhook_ms, 2), "consumer_cpu_ms_per_receipt": round(consumer_ms, 2)}


def receipts_row(messages: int = 200) -> Row:
    cpu = _measure_cpu(messages)
    front, front_rate = _front_limit()
    # The webhook: CPU, plus one SendMessage for the final callback of each message.
    webhook_ms = cpu["webhook_cpu_ms_per_callback"] + SQS_SEND_MS / CALLBACKS_PER_MESSAGE
    webhook_rate = ACCOUNT_CONCURRENCY * 1000 / webhook_ms
    # The consumer: one final receipt per message, applied one after another within a batch.
    consumer_ms = cpu["consumer_cpu_ms_per_receipt"] + DYNAMODB_GET_MS + 2 * DYNAMODB_UPDATE_MS
    concurrency = _parameter(_receipts_mapping()["ScalingConfig"]["MaximumConcurrency"]["Ref"])
    consumer_rate = concurrency * 1000 / consumer_ms * CALLBACKS_PER_MESSAGE
    warm = {
        "Messages": _parameter("MessagesWarmWriteUnitsPerSecond"),
        "Dispatches": _parameter("DispatchesWarmWriteUnitsPerSecond"),
    }
    table_rate = min(warm[t] / units for t, units in WRITE_UNITS_PER_RECEIPT.items()) * CALLBACKS_PER_MESSAGE
    limits = {
        front: front_rate,
        "webhook_lambda_concurrency": round(webhook_rate),
        "receipts_consumer": round(consumer_rate),
        "tables_warm_throughput": round(table_rate),
    }
    value = min(limits.values())
    return Row(
        name="capacity: receipts/s the webhook path sustains, modelled",
        value=value,
        unit="receipts/s",
        baseline=TARGET_RECEIPTS_PER_SECOND,
        target=f">= {TARGET_RECEIPTS_PER_SECOND:,} (3 x a 3,000 msg/s delivery ceiling)",
        passed=value >= TARGET_RECEIPTS_PER_SECOND,
        details={
            **cpu,
            "limits_receipts_per_second": limits,
            "bottleneck": min(limits, key=lambda k: limits[k]),
            "callbacks_per_message": CALLBACKS_PER_MESSAGE,
            "consumer_max_concurrency": concurrency,
            "webhook_concurrency_at_front_limit": round(front_rate * webhook_ms / 1000),
            "before": "every route shared the stage's 100 req/s: about 33 messages/s of Twilio receipts",
            "assumptions": {
                "sqs_send_ms": SQS_SEND_MS,
                "dynamodb_get_ms": DYNAMODB_GET_MS,
                "dynamodb_update_ms": DYNAMODB_UPDATE_MS,
                "account_concurrency": ACCOUNT_CONCURRENCY,
            },
        },
    )


def measure() -> list[Row]:
    return [receipts_row()]
