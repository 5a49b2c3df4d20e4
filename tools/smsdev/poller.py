"""The SQS event source mapping of the deliver function, as Lambda runs it, against the local endpoint.

Per batch: receive up to BatchSize messages (waiting at most MaximumBatchingWindowInSeconds to fill it),
invoke the function with real SQS event records, then delete what succeeded. With
ReportBatchItemFailures, `{"batchItemFailures": [{"itemIdentifier": <messageId>}]}` leaves only those
messages on the queue; an empty or missing list means all succeeded; an identifier that is not in the
batch, or an error raised by the function, fails the whole batch. Failed messages become visible again
when the queue's VisibilityTimeout runs out, and SQS itself (moto, on receive) moves a message to the
dead-letter queue once it has been received maxReceiveCount times.

Short polls only: the emulator serialises requests, so a long poll would block every other caller.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from smsdev.lambdas import InvocationError, InvocationTimeout, RuntimeStopped

log = logging.getLogger("smsdev.poller")


@dataclass(frozen=True)
class EventSource:
    """An SQS event of a function in template.yaml, with its queue resolved to the local endpoint."""

    queue_url: str
    queue_arn: str
    region: str
    batch_size: int = 10
    batching_window_seconds: float = 0.0
    report_batch_item_failures: bool = False
    concurrency: int = 2


def event_source_from_template(
    properties: dict[str, Any], queue_url: str, region: str, concurrency: int
) -> EventSource:
    """EventSource from a resolved SQS event's Properties (Queue is the queue's ARN)."""
    return EventSource(
        queue_url=queue_url,
        queue_arn=str(properties["Queue"]),
        region=region,
        batch_size=int(properties.get("BatchSize", 10)),
        batching_window_seconds=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
        concurrency=concurrency,
    )


def sqs_record(message: dict[str, Any], source: EventSource) -> dict[str, Any]:
    """One record of an SQS event, built from a ReceiveMessage result."""
    attributes = {
        key: value
        for key, value in message.get("Attributes", {}).items()
        if key
        in {
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
            "SequenceNumber",
            "MessageGroupId",
            "MessageDeduplicationId",
            "AWSTraceHeader",
            "DeadLetterQueueSourceArn",
        }
    }
    message_attributes = {}
    for name, attribute in message.get("MessageAttributes", {}).items():
        message_attributes[name] = {
            "stringValue": attribute.get("StringValue"),
            "binaryValue": attribute.get("BinaryValue"),
            "stringListValues": attribute.get("StringListValues", []),
            "binaryListValues": attribute.get("BinaryListValues", []),
            "dataType": attribute.get("DataType"),
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": source.queue_arn,
        "awsRegion": source.region,
    }


def succeeded_ids(records: list[dict[str, Any]], outcome: Any, report_batch_item_failures: bool) -> set[str]:
    """Message ids to delete after an invocation returned `outcome` (the function did not raise)."""
    every = {r["messageId"] for r in records}
    if not report_batch_item_failures or not isinstance(outcome, dict):
        return every
    failures = outcome.get("batchItemFailures")
    if not failures:
        return every
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in every:
            return set()  # Lambda treats an unusable identifier as a failure of the whole batch
        failed.add(identifier)
    return every - failed


Invoke = Callable[[dict[str, Any]], Any]


class SqsPoller:
    """`concurrency` threads, each receiving one batch, invoking the function and deleting what succeeded."""

    def __init__(
        self, sqs: Any, source: EventSource, invoke: Invoke, idle_sleep: float = 0.2, max_idle_sleep: float = 1.0
    ) -> None:
        self._sqs = sqs
        self.source = source
        self._invoke = invoke
        self._idle_sleep = idle_sleep
        self._max_idle_sleep = max(idle_sleep, max_idle_sleep)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.batches = 0  # invocations made, for logs and tests

    def start(self) -> None:
        for index in range(self.source.concurrency):
            thread = threading.Thread(target=self._run, name=f"sqs-poller-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _receive(self, count: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=min(10, count),
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _collect(self) -> list[dict[str, Any]]:
        batch = self._receive(self.source.batch_size)
        if not batch:
            return []
        deadline = time.monotonic() + self.source.batching_window_seconds
        while len(batch) < self.source.batch_size and time.monotonic() < deadline and not self._stop.is_set():
            more = self._receive(self.source.batch_size - len(batch))
            if more:
                batch.extend(more)
            else:
                time.sleep(min(self._idle_sleep, max(0.0, deadline - time.monotonic())))
        return batch

    def poll_once(self) -> int:
        """Receive and process one batch; the number of messages it held."""
        messages = self._collect()
        if not messages:
            return 0
        records = [sqs_record(m, self.source) for m in messages]
        self.batches += 1
        try:
            outcome = self._invoke({"Records": records})
        except (InvocationError, InvocationTimeout) as exc:
            log.warning("batch of %d failed, left for redelivery: %s", len(records), exc)
            return len(records)
        except RuntimeStopped:
            log.info("batch of %d left for redelivery: the stack is stopping", len(records))
            return len(records)
        done = succeeded_ids(records, outcome, self.source.report_batch_item_failures)
        entries = [
            {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(records) if r["messageId"] in done
        ]
        for start in range(0, len(entries), 10):
            self._sqs.delete_message_batch(QueueUrl=self.source.queue_url, Entries=entries[start : start + 10])
        if len(done) < len(records):
            log.info("batch of %d: %d left for redelivery", len(records), len(records) - len(done))
        return len(records)

    def _run(self) -> None:
        """Poll at once while there is work; on an empty queue back off, doubling up to `max_idle_sleep`.

        An idle stack (a test suite keeps several alive) then makes about one receive per second per thread
        instead of five, and a message that arrives on an idle queue still starts within that second.
        """
        pause = self._idle_sleep
        while not self._stop.is_set():
            try:
                handled = self.poll_once()
            except (ClientError, BotoCoreError) as exc:  # keep polling through an emulator hiccup, as Lambda does
                log.warning("poller error: %s", exc)
                handled = 0
            if handled:
                pause = self._idle_sleep
            else:
                self._stop.wait(pause)
                pause = min(pause * 2, self._max_idle_sleep)
