"""A campaign's whole life through the real handlers on moto, every DynamoDB write captured (bench.capacity's rules).

Two paths, each from the POST to a `delivered` receipt per message:

- immediate: POST -> deliver (the delivery queue's records, the template's BatchSize per invocation) -> Twilio's
  signed status callbacks through the status webhook -> the receipts consumer (the receipts queue, batches of 100);
- scheduled: the same POST with a `sendAt` a few seconds ahead (messages SCHEDULED in the due index), then the
  scheduler handler's run once they are due, then as above.

The provider is the fake Twilio in its own process (over HTTP, as a remote provider). The write streams are
returned per stage, so the capacity model can price each and the platform model can place each on partitions.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.capacity import TableSchema, Tally, captured, schemas_from_template
from bench.harness import LambdaContext, drain_sqs_records, moto_stack, serialised_moto
from bench.local_answers import LocalAnswers, cpu_seconds, replaying

SCHEDULE_AHEAD_SECONDS = 120  # the scheduled path's sendAt (the scheduler then runs as at its due minute)
STAGES = ("post", "release", "deliver", "receipts")


@dataclass
class Lifecycle:
    """The write streams of one campaign of `messages`, by stage (release: the scheduled path only)."""

    path: str
    messages: int
    schemas: dict[str, TableSchema]
    stages: dict[str, Tally]
    item_bytes_delivered: list[int]  # each message item's size once DELIVERED (bench.capacity.item_size)
    tenant_id: str = ""
    queue_id: str = ""
    aws_calls: dict[str, Counter[str]] = field(default_factory=dict)  # by stage: service:operation -> calls
    # Measured with every AWS call answered locally (bench.local_answers), per message (deliver), per callback
    # (webhook) and per receipt (consumer): CPU seconds and log bytes written at the template's LogLevel.
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    log_bytes: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(t.total for t in self.stages.values())

    def per_message(self) -> float:
        return self.total / self.messages

    def units_by_target(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for tally in self.stages.values():
            total.update(tally.units)
        return total

    def item_writes(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for tally in self.stages.values():
            total.update(tally.writes)
        return total


def _deliver_all(records: list[dict[str, Any]], batch_size: int) -> None:
    from functions.deliver import app as deliver

    for start in range(0, len(records), batch_size):
        batch = records[start : start + batch_size]
        for _attempt in range(3):  # what SQS redelivers, redelivered (none unless the run was slow)
            result = deliver.lambda_handler({"Records": batch}, LambdaContext("deliver", 1024, 60_000))
            failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
            batch = [record for record in batch if record["messageId"] in failed]
            if not batch:
                break


def _receipt_records() -> list[dict[str, Any]]:
    """Every receipt on the receipts queue, as the event source hands them over."""
    import boto3

    from smscore import wiring
    from tests.integration.receipts_helpers import receipt_record

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = wiring.bound_settings().receipts_queue_url
    records = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"]
    ).get("Messages", []):
        records.extend(receipt_record(m) for m in batch)
    return records


def _receipts_consumer(records: list[dict[str, Any]], batch_size: int) -> int:
    """The receipts through the consumer, `batch_size` records per invocation (the template's BatchSize)."""
    from functions.receipts import app as receipts_app

    for start in range(0, len(records), batch_size):
        result = receipts_app.lambda_handler(
            {"Records": records[start : start + batch_size]}, LambdaContext("receipts", 512, 20_000)
        )
        assert result == {"batchItemFailures": []}, result
    return len(records)


@contextlib.contextmanager
def _stdout_bytes() -> Iterator[list[int]]:
    """What the block writes to file descriptor 1 (the Lambda's log stream), counted and kept out of the console."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        counted = [0]
        try:
            yield counted
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            counted[0] = sink.tell()


def _post(sender: Any, send_at: datetime | None) -> dict[str, Any]:
    from bench.send_path import _event
    from functions.send_by_tags import app as handler

    event = _event(sender, sender.tag_ids)
    if send_at is not None:
        event["body"] = json.dumps({**json.loads(event["body"]), "sendAt": send_at.isoformat()})
    response: dict[str, Any] = handler.lambda_handler(event, LambdaContext("bench", 1769, 29_000))
    assert response["statusCode"] == 201, response["body"][:500]
    return response


def _template_log_level() -> str:
    from smsdev.template import load_template

    return str(load_template()["Parameters"]["LogLevel"]["Default"])


def _batch_size(function_id: str, event: str) -> int:
    from smsdev.template import load_template

    events = load_template()["Resources"][function_id]["Properties"]["Events"]
    return int(events[event]["Properties"]["BatchSize"])


def capture(messages: int = 200, *, scheduled: bool = False) -> Lifecycle:
    """The campaign's life on moto, its writes captured per stage; then deliver, webhook and consumer replayed with
    every AWS call answered locally, for their CPU and log bytes."""
    import boto3

    from bench.delivery import _remote_fake_twilio
    from bench.send_path import _seed
    from smsdev.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID

    env = {
        "DELIVERY_WORKERS": "10",
        # The template's log level, and metrics on: the log bytes are what CloudWatch Logs would ingest.
        "POWERTOOLS_LOG_LEVEL": _template_log_level(),
        "POWERTOOLS_METRICS_DISABLED": "false",
        "SEND_WINDOWS": "off",  # only sendAt delays (the clock must not decide the stream)
        # The sender paced at the platform's rate: its pacing writes (one reservation per invocation) are in the
        # stream as for a sender that fast; twilio's default would make the sender, not DynamoDB, the bound.
        "PROVIDER_RATE_LIMITS": json.dumps({"twilio": 3_000}),
    }
    functions = ("SendByTagsFunction", "SchedulerFunction", "DeliverFunction", "TwilioStatusFunction")
    answers = LocalAnswers()
    deliver_batch = _batch_size("DeliverFunction", "DeliveryQueueEvent")
    receipts_batch = _batch_size("ReceiptsFunction", "ReceiptsQueueEvent")
    with (
        moto_stack(env) as stack,
        serialised_moto(),
        _remote_fake_twilio() as fake_url,
        answers.installed(),
        _stdout_bytes(),
    ):
        for function_id in (*functions, "ReceiptsFunction"):
            os.environ.update(stack.environment(function_id))
        os.environ.update(env, TWILIO_API_BASE_URL=fake_url, TWILIO_MESSAGING_SERVICE_SID=MESSAGING_SERVICE_SID)
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name=os.environ["TWILIO_CREDENTIALS_PARAMETER"],
            Type="SecureString",
            Value=json.dumps({"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}),
        )
        from smscore import wiring
        from smscore.dal.tables import MessageRecord, TenantRecord

        wiring.reset()
        sender = _seed(messages)
        TenantRecord(sender.tenant_id).update(actions=[TenantRecord.provider.set("twilio")])
        schemas = schemas_from_template(stack.names)
        stages: dict[str, Tally] = {}
        calls: dict[str, Counter[str]] = {}
        send_at = datetime.now(UTC) + timedelta(seconds=SCHEDULE_AHEAD_SECONDS) if scheduled else None
        with answers.recorded_as("post") as calls["post"], captured(schemas) as stages["post"]:
            response = _post(sender, send_at)
        body = json.loads(response["body"])
        message_ids = [m["id"] for m in body["messages"]]
        if send_at is not None:
            statuses = Counter(r.status for r in MessageRecord.batch_get(message_ids))
            assert statuses == Counter({"SCHEDULED": messages}), statuses
            # Due at the minute after sendAt: the scheduler runs as at that instant (its clock injected).
            due = max(r.due_at for r in MessageRecord.batch_get(message_ids)) + timedelta(seconds=1)
            from functions.scheduler import app as scheduler

            deps = wiring.scheduler_deps()
            deps.scheduler._now = lambda: due
            with answers.recorded_as("release") as calls["release"], captured(schemas) as stages["release"]:
                run = scheduler.lambda_handler({}, LambdaContext("scheduler", 1024, 60_000), deps=deps)
                released = int(run.get("released", 0))
                # The run hands each due key to a release worker on the release queue: the workers, as SQS hands
                # them their tasks (the same function, its SQS trigger).
                tasks = drain_sqs_records(stack.queue_urls["SchedulerReleaseQueue"])
                for start in range(0, len(tasks), 10):
                    answer = scheduler.lambda_handler(
                        {"Records": tasks[start : start + 10]}, LambdaContext("scheduler", 1024, 60_000), deps=deps
                    )
                    assert not answer.get("batchItemFailures"), answer
            statuses = Counter(r.status for r in MessageRecord.batch_get(message_ids))
            assert statuses == Counter({"QUEUED": messages}), (run, statuses, released)
        records = drain_sqs_records(stack.delivery_queue_url)
        with answers.recorded_as("deliver") as calls["deliver"], captured(schemas) as stages["deliver"]:
            _deliver_all(records, deliver_batch)
        sent = list(MessageRecord.batch_get(message_ids))
        assert {r.status for r in sent} == {"SENT"}, Counter(r.status for r in sent)
        with captured(schemas) as stages["receipts"]:
            with answers.recorded_as("webhook") as calls["webhook"]:
                _callbacks(sent, ACCOUNT_SID, AUTH_TOKEN)
            receipt_records = _receipt_records()
            with answers.recorded_as("consumer") as calls["consumer"]:
                applied = _receipts_consumer(receipt_records, receipts_batch)
        assert applied == messages, applied
        delivered = list(MessageRecord.batch_get(message_ids))
        statuses = Counter(r.status for r in delivered)
        assert statuses == Counter({"DELIVERED": messages}), statuses
        from bench.capacity import _moto_item, item_size

        items = [_moto_item(MessageRecord.Meta.table_name, {"message_id": {"S": r.message_id}}) for r in delivered]
        sizes = [item_size(item) for item in items]

        # The same invocations again, every AWS call answered locally: CPU and log bytes per unit of work.
        callbacks = 2 * messages
        runs: dict[str, tuple[Any, int]] = {
            "deliver": (lambda: _deliver_all(records, deliver_batch), messages),
            "webhook": (lambda: _callbacks(sent, ACCOUNT_SID, AUTH_TOKEN), callbacks),
            "consumer": (lambda: _receipts_consumer(receipt_records, receipts_batch), messages),
        }
        cpu: dict[str, float] = {}
        logs: dict[str, float] = {}
        with replaying(answers):
            for name, (run, units) in runs.items():
                with _stdout_bytes() as written, answers.recorded_as(name):
                    cpu[name] = cpu_seconds(run) / units
                logs[name] = written[0] / 2 / units  # two runs were logged
        assert not answers.unanswered, dict(answers.unanswered)
        wiring.reset()
    return Lifecycle(
        "scheduled" if scheduled else "immediate",
        messages,
        schemas,
        stages,
        sizes,
        tenant_id=sender.tenant_id,
        queue_id=body["queueId"],
        aws_calls=calls,
        cpu_seconds=cpu,
        log_bytes=logs,
    )


def _callbacks(sent: list[Any], account_sid: str, auth_token: str) -> None:
    """Twilio's signed status callbacks of each message (sent, then delivered) through the status webhook."""
    from functions.webhooks import app as webhooks
    from smscore.providers.twilio import request_signature
    from tests.integration.receipts_helpers import twilio_event

    base = os.environ["TWILIO_STATUS_CALLBACK_URL"]
    for record in sent:
        url = f"{base}?messageId={record.message_id}"
        for status in ("sent", "delivered"):
            params = {"MessageSid": record.sent_provider_id(), "MessageStatus": status, "AccountSid": account_sid}
            event = twilio_event(params, request_signature(url, list(params.items()), auth_token))
            event["queryStringParameters"] = {"messageId": record.message_id}
            event["multiValueQueryStringParameters"] = {"messageId": [record.message_id]}
            answer = webhooks.twilio_handler(event, LambdaContext("webhook", 512, 10_000))
            assert answer["statusCode"] == 200, answer
