"""Webhooks out: events/s one webhook deliver invocation gets to a local receiver, against a bare HTTP POST loop's
floor, and the DynamoDB write units each event costs (the delivery's put and its attempt's write).

The receiver is a ThreadingHTTPServer on 127.0.0.1 answering 200 at once; the invocation is the real handler with
its real dependencies (the Webhooks table on in-process moto, SafePoster with WebhooksAllowLoopback), handed one
SQS batch of `events` records. The floor is the same POSTs (same body, same headers, a new connection each as the
poster opens one per attempt) in a plain http.client loop: what no deliverer can beat on this machine.
"""

from __future__ import annotations

import copy
import http.client
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.harness import LambdaContext, Row, moto_stack

ROW_RATE = "webhooks: events/s delivered to a local receiver, one deliver invocation"
ROW_UNITS = "capacity: write units per webhook event"
TARGET_RATIO = 0.2  # of the bare loop: each event also reads the endpoints and writes its delivery twice (moto)
TARGET_UNITS = 3


class _Receiver(BaseHTTPRequestHandler):
    count = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).count += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _floor(port: int, body: bytes, events: int) -> float:
    headers = {"Content-Type": "application/json", "Sms-Signature": "t=0,v1=" + "0" * 64}
    started = time.perf_counter()
    for _ in range(events):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("POST", "/hook", body=body, headers=headers)
        connection.getresponse().read(1024)
        connection.close()
    return events / (time.perf_counter() - started)


def measure(events: int = 200) -> list[Row]:
    from bench.capacity import captured, schemas_from_template
    from functions.webhook_deliver import app as webhook_deliver
    from smscore.dal.webhook_store import DynamoWebhookStore
    from smscore.domain.events import Event
    from smscore.domain.webhooks import Endpoint, EventType, new_secret

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        sample = Event(str(uuid.uuid4()), "message.sent", datetime.now(UTC), "t", {"messageId": str(uuid.uuid4())})
        floor = _floor(port, sample.body().encode(), events)
        with moto_stack({"WEBHOOKS_ALLOW_LOOPBACK": "true"}) as stack:
            from smscore import wiring

            wiring.bound_settings()  # the models pointed at the stack's tables
            tenant = str(uuid.uuid4())
            DynamoWebhookStore().add_endpoint(
                Endpoint(
                    endpoint_id=str(uuid.uuid4()),
                    tenant_id=tenant,
                    url=f"http://127.0.0.1:{port}/hook",
                    events=frozenset({EventType.MESSAGE_SENT}),
                    description="bench",
                    enabled=True,
                    secret=new_secret(),
                    created_at=datetime.now(UTC),
                )
            )
            records = []
            for n in range(events):
                event = Event(
                    str(uuid.uuid4()),
                    "message.sent",
                    datetime.now(UTC),
                    tenant,
                    {"messageId": str(uuid.uuid4()), "n": n},
                )
                records.append(
                    {
                        "messageId": str(uuid.uuid4()),
                        "body": json.dumps({"kind": "event", "event": event.body()}),
                        "attributes": {"ApproximateReceiveCount": "1"},
                        "eventSource": "aws:sqs",
                        "receiptHandle": "x",
                    }
                )
            schemas = schemas_from_template(stack.names)
            before = _Receiver.count
            with captured(schemas) as tally:
                started = time.perf_counter()
                result = webhook_deliver.lambda_handler(
                    {"Records": copy.deepcopy(records)}, LambdaContext("bench", 512, 300_000)
                )
                elapsed = time.perf_counter() - started
            delivered = _Receiver.count - before
    finally:
        server.shutdown()
    assert result == {"batchItemFailures": []}, result
    assert delivered == events, f"{delivered} of {events} delivered"
    rate = events / elapsed
    webhook_units = {t: u for t, u in tally.units.items() if t.startswith("WebhooksTable")}
    units = sum(webhook_units.values()) / events
    return [
        Row(
            ROW_RATE,
            round(rate, 1),
            "events/s",
            round(floor, 1),
            f">= {TARGET_RATIO:g}x the bare POST loop",
            rate >= TARGET_RATIO * floor,
            {"events": events, "seconds": round(elapsed, 3), "note": "moto in-process: each write costs ~ms here"},
        ),
        Row(
            ROW_UNITS,
            round(units, 2),
            "WU/event",
            None,
            f"<= {TARGET_UNITS} (the delivery's put, its attempt's write)",
            units <= TARGET_UNITS,
            {"by_table": dict(webhook_units), "all_tables": dict(tally.units)},
        ),
    ]
