"""A Lambda's CPU per message with every AWS call answered in-process (issue 20, item 9).

moto costs more CPU than the code it serves, so CPU measured on moto says little about a Lambda's bill. As in
bench.request_cpu, a botocore `before-send` handler registered first on every client answers each call: botocore
still serialises every request and parses every response, nothing reaches moto or the network.

The answers are recorded first: the same handlers run on moto with the recorder on, which keeps each call's raw
response under what the call names (operation, table or queue, key). Replaying the same records then meets the
same calls: reads get the response moto gave for that key (the message as it was, the parked-receipt miss),
writes succeed (`{}`, `UnprocessedItems: {}`, an UpdateItem's recorded or key-only `Attributes`), SQS sends are
acknowledged with their MD5. Calls that reach neither answer are counted and fail the measurement.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from bench.request_cpu import _every_new_client, _moto_off, _response

WRITES = {
    "TransactWriteItems": b"{}",
    "PutItem": b"{}",
    "DeleteItem": b"{}",
    "BatchWriteItem": b'{"UnprocessedItems": {}}',
}
SQS_ACKS = {"DeleteMessage": b"{}", "DeleteMessageBatch": b'{"Successful": [], "Failed": []}'}


def _identity(service: str, operation: str, body: dict[str, Any]) -> str:
    """What a call names, without its volatile parts (tokens, timestamps, condition values)."""
    target = body.get("TableName") or body.get("QueueUrl") or body.get("Name") or ""
    if operation == "BatchGetItem":
        keys = {t: sorted(json.dumps(k, sort_keys=True) for k in r["Keys"]) for t, r in body["RequestItems"].items()}
        return json.dumps([service, operation, keys], sort_keys=True)
    if operation == "Query":
        named = [body.get("IndexName"), body.get("ExpressionAttributeValues"), body.get("ExclusiveStartKey")]
        return json.dumps([service, operation, target, named], sort_keys=True)
    return json.dumps([service, operation, target, body.get("Key")], sort_keys=True)


class LocalAnswers:
    """Records moto's answers (while `recording`), then answers the same calls in-process."""

    def __init__(self) -> None:
        self.recording = True
        self.stage = ""  # answers are kept per stage: each replay meets the state its own stage started from
        self.answers: dict[tuple[str, str], bytes] = {}
        self.fallback: dict[tuple[str, str, str, str], bytes] = {}
        self.calls: Counter[str] = Counter()  # by service:operation, while recording (the stage's AWS requests)
        self.unanswered: Counter[str] = Counter()
        self._lock = threading.Lock()

    @staticmethod
    def _parse(body: Any) -> dict[str, Any]:
        raw = body if isinstance(body, bytes) else str(body or "").encode()
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        body = self._parse(params.get("body"))
        context["local_identity"] = _identity(service, model.name, body)
        context["local_fallback"] = (service, model.name, str(body.get("TableName") or body.get("QueueUrl") or ""))
        if self.recording and self.stage:
            with self._lock:
                self.calls[f"{service}:{model.name}"] += 1

    def _after(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if not self.recording or not self.stage or http_response is None or http_response.status_code != 200:
            return
        with self._lock:  # the first answer wins: the state the stage started from
            self.answers.setdefault((self.stage, context["local_identity"]), http_response.content)
            self.fallback.setdefault((self.stage, *context["local_fallback"]), http_response.content)

    def _answer(self, service: str, operation: str, body: dict[str, Any]) -> bytes | None:
        if operation in WRITES:
            return WRITES[operation]
        if operation in SQS_ACKS:
            return SQS_ACKS[operation]
        if operation == "ChangeMessageVisibility":
            return b"{}"
        if operation == "SendMessage":
            digest = hashlib.md5(body["MessageBody"].encode()).hexdigest()  # noqa: S324 - SQS's checksum
            return json.dumps({"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": digest}).encode()
        if operation == "SendMessageBatch":
            entries = [
                {
                    "Id": e["Id"],
                    "MessageId": str(uuid.uuid4()),
                    "MD5OfMessageBody": hashlib.md5(e["MessageBody"].encode()).hexdigest(),  # noqa: S324
                }
                for e in body["Entries"]
            ]
            return json.dumps({"Successful": entries, "Failed": []}).encode()
        recorded = self.answers.get((self.stage, _identity(service, operation, body)))
        if recorded is not None:
            return recorded
        if operation == "UpdateItem":
            return json.dumps({"Attributes": body.get("Key", {})}).encode()
        target = str(body.get("TableName") or body.get("QueueUrl") or "")
        return self.fallback.get((self.stage, service, operation, target))

    def _before_send(self, request: Any, event_name: str, **_: Any) -> Any:
        if self.recording:
            return None  # moto answers, and the answer is recorded after the call
        _, service, operation = event_name.split(".", 2)
        answer = self._answer(service, operation, self._parse(request.body))
        if answer is None:
            with self._lock:
                self.unanswered[f"{service}:{operation}"] += 1
            raise RuntimeError(f"no local answer for {service}:{operation}")
        return _response(answer)

    def register(self, client: Any) -> None:
        client.meta.events.register_first("before-send.*.*", self._before_send)
        client.meta.events.register("before-call.*.*", self._before)
        client.meta.events.register("after-call.*.*", self._after)

    @contextlib.contextmanager
    def installed(self) -> Iterator[LocalAnswers]:
        """Every client created inside the block records (or, once `replay()` ran, is answered)."""
        with _every_new_client(self.register):
            yield self

    @contextlib.contextmanager
    def recorded_as(self, stage: str) -> Iterator[Counter[str]]:
        """Answers recorded (or, when replaying, given) under `stage`; yields the stage's calls, filled on exit."""
        self.stage = stage
        before = self.calls.copy()
        made: Counter[str] = Counter()
        try:
            yield made
        finally:
            made.update(self.calls - before)
            self.stage = ""


@contextlib.contextmanager
def replaying(answers: LocalAnswers) -> Iterator[None]:
    answers.recording = False
    try:
        with _moto_off():
            yield
    finally:
        answers.recording = True


def cpu_seconds(run: Callable[[], Any], repeat: int = 2) -> float:
    """Process CPU (all threads) of the last of `repeat` runs: the first warms clients and pools up, as a warm
    Lambda has them."""
    spent = 0.0
    for _ in range(repeat):
        start = time.process_time()
        run()
        spent = time.process_time() - start
    return spent
