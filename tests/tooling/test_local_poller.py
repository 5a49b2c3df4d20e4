"""The local SQS event source of the deliver function, on moto, with a fake handler in place of the function."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from smsdev.lambdas import InvocationError
from smsdev.poller import EventSource, SqsPoller, event_source_from_template, sqs_record, succeeded_ids
from smsdev.template import LocalNames, Resolver, functions, load_template
from tests.conftest import Stack, load_event


class RecordingHandler:
    """Stands in for the deliver function: records every event, answers what `decide` says."""

    def __init__(self, decide: Callable[[dict[str, Any]], Any] = lambda event: {"batchItemFailures": []}) -> None:
        self.decide = decide
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return self.decide(event)

    def bodies(self) -> list[str]:
        return [r["body"] for event in self.events for r in event["Records"]]


def queue_with_dlq(max_receive_count: int = 3) -> tuple[Any, str, str, str]:
    """A queue whose failed messages come straight back (VisibilityTimeout 0) and a DLQ behind it."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq_url = sqs.create_queue(QueueName="test-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    url = sqs.create_queue(QueueName="test-q", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn, dlq_url


def source(url: str, arn: str, batch_size: int = 10) -> EventSource:
    return EventSource(url, arn, "us-east-1", batch_size=batch_size, report_batch_item_failures=True)


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def send(sqs: Any, url: str, *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)


def test_the_template_event_source_is_what_the_poller_uses(stack: Stack) -> None:
    # Given the deliver function's SQS event in template.yaml
    names = LocalNames(stack_name="test")
    (event,) = functions(Resolver(load_template(), names))["DeliverFunction"].sqs_events
    # Then the poller reads its batch size, batching window and partial batch responses from it
    got = event_source_from_template(event, stack.delivery_queue_url, "us-east-1", concurrency=2)
    assert got.queue_arn == names.queue_arn("DeliveryQueue")
    assert got.batch_size == event["BatchSize"]
    assert got.batching_window_seconds == event["MaximumBatchingWindowInSeconds"]
    assert got.report_batch_item_failures is True


def test_records_have_the_shape_of_a_real_sqs_event(stack: Stack) -> None:
    # Given a message on the delivery queue
    sqs = boto3.client("sqs", region_name="us-east-1")
    send(sqs, stack.delivery_queue_url, '{"messageIds": ["m1"]}')
    arn = stack.names.queue_arn("DeliveryQueue")
    handler = RecordingHandler()
    # When the poller hands it over
    SqsPoller(sqs, source(stack.delivery_queue_url, arn), handler).poll_once()
    # Then the record carries the same fields as a recorded SQS event, and the message is gone
    (record,) = handler.events[0]["Records"]
    recorded = load_event("sqs_delivery_batch.json")["Records"][0]
    assert set(record) == set(recorded)
    assert set(recorded["attributes"]) <= set(record["attributes"])
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["eventSourceARN"] == arn
    assert record["body"] == '{"messageIds": ["m1"]}'
    assert depth(sqs, stack.delivery_queue_url) == 0


def test_a_batch_holds_at_most_batch_size_records(aws_env: None) -> None:
    from moto import mock_aws

    with mock_aws():
        sqs, url, arn, _ = queue_with_dlq()
        send(sqs, url, *[f"m{i}" for i in range(7)])
        handler = RecordingHandler()
        poller = SqsPoller(sqs, source(url, arn, batch_size=3), handler)
        while poller.poll_once():
            pass
        assert [len(e["Records"]) for e in handler.events] == [3, 3, 1]
        assert sorted(handler.bodies()) == [f"m{i}" for i in range(7)]


@pytest.fixture
def moto_queue(aws_env: None) -> Any:
    from moto import mock_aws

    with mock_aws():
        yield queue_with_dlq(max_receive_count=3)


def test_only_reported_failures_are_redelivered(moto_queue: Any) -> None:
    # Given three messages, and a handler that fails the one whose body is "bad"
    sqs, url, arn, _ = moto_queue
    send(sqs, url, "ok-1", "bad", "ok-2")

    def fail_bad(event: dict[str, Any]) -> Any:
        bad = [r["messageId"] for r in event["Records"] if r["body"] == "bad"]
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in bad]}

    handler = RecordingHandler(fail_bad)
    poller = SqsPoller(sqs, source(url, arn), handler)
    # When two batches are processed
    poller.poll_once()
    poller.poll_once()
    # Then the second batch held only the failed message, received for the second time
    (again,) = handler.events[1]["Records"]
    assert again["body"] == "bad"
    assert again["attributes"]["ApproximateReceiveCount"] == "2"


def test_a_raised_error_leaves_the_whole_batch(moto_queue: Any) -> None:
    sqs, url, arn, _ = moto_queue
    send(sqs, url, "a", "b")

    def crash(event: dict[str, Any]) -> Any:
        raise InvocationError("RuntimeError", "provider down")

    SqsPoller(sqs, source(url, arn), RecordingHandler(crash)).poll_once()
    handler = RecordingHandler()
    SqsPoller(sqs, source(url, arn), handler).poll_once()
    assert sorted(handler.bodies()) == ["a", "b"]
    assert depth(sqs, url) == 0


def test_a_message_failing_max_receive_count_times_goes_to_the_dead_letter_queue(moto_queue: Any) -> None:
    # Given a message the handler always fails, on a queue with maxReceiveCount 3
    sqs, url, arn, dlq_url = moto_queue
    send(sqs, url, "poison")
    handler = RecordingHandler(lambda e: {"batchItemFailures": [{"itemIdentifier": e["Records"][0]["messageId"]}]})
    poller = SqsPoller(sqs, source(url, arn), handler)
    # When the poller keeps going until the queue is empty
    while poller.poll_once():
        pass
    # Then it was attempted exactly 3 times and now waits in the DLQ
    assert len(handler.events) == 3
    assert depth(sqs, url) == 0
    (dead,) = sqs.receive_message(QueueUrl=dlq_url)["Messages"]
    assert dead["Body"] == "poison"


def test_partial_batch_rules() -> None:
    records = [{"messageId": "a"}, {"messageId": "b"}, {"messageId": "c"}]
    assert succeeded_ids(records, {"batchItemFailures": []}, True) == {"a", "b", "c"}
    assert succeeded_ids(records, None, True) == {"a", "b", "c"}
    assert succeeded_ids(records, {"batchItemFailures": [{"itemIdentifier": "b"}]}, True) == {"a", "c"}
    # An identifier that is not in the batch (or empty) fails the whole batch, as Lambda does
    assert succeeded_ids(records, {"batchItemFailures": [{"itemIdentifier": "zzz"}]}, True) == set()
    assert succeeded_ids(records, {"batchItemFailures": [{"itemIdentifier": ""}]}, True) == set()
    # Without ReportBatchItemFailures, the response is ignored: returning means success
    assert succeeded_ids(records, {"batchItemFailures": [{"itemIdentifier": "b"}]}, False) == {"a", "b", "c"}


def test_sqs_record_converts_message_attributes() -> None:
    message = {
        "MessageId": "id-1",
        "ReceiptHandle": "rh",
        "Body": "x",
        "MD5OfBody": "9dd4e461268c8034f5c8564e155c67a6",
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1"},
        "MessageAttributes": {"trace": {"DataType": "String", "StringValue": "t-1"}},
    }
    record = sqs_record(message, EventSource("url", "arn:aws:sqs:us-east-1:1:q", "us-east-1"))
    assert record["messageAttributes"]["trace"]["stringValue"] == "t-1"
    assert record["messageAttributes"]["trace"]["dataType"] == "String"
    assert record["eventSource"] == "aws:sqs"
