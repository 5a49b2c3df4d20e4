"""Test-only Lambda handlers that the tooling tests declare in a small template, to watch the local stack work.

`sleep_handler` (behind GET /test/sleep?seconds=N) writes its process id (and appends it to a log of its runs),
sleeps, then answers with its process id and environment; `tick_handler` (a schedule) appends each event and its
environment to a file; `authorize` is a TOKEN authorizer that records each call. All write under PROBE_DIR, which
their template environment sets.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def sleep_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seconds = float((event.get("queryStringParameters") or {}).get("seconds", "0"))
    Path(os.environ["PROBE_DIR"], "sleeping.pid").write_text(str(os.getpid()))
    with Path(os.environ["PROBE_DIR"], "sleeps.log").open("a") as runs:
        runs.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    body = {"pid": os.getpid(), "env": dict(os.environ), "remainingMs": context.get_remaining_time_in_millis()}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def tick_handler(event: dict[str, Any], context: Any) -> None:
    with Path(os.environ["PROBE_DIR"], "ticks.jsonl").open("a") as ticks:
        ticks.write(json.dumps({"event": event, "env": dict(os.environ)}) + "\n")


def authorize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A TOKEN authorizer that counts its calls: `...-deny` is refused, `...-crash` crashes, anything else allowed."""
    token = event["authorizationToken"]
    with Path(os.environ["PROBE_DIR"], "authorizer.calls").open("a") as calls:
        calls.write(token + "\n")
    if token.endswith("-crash"):
        raise RuntimeError("probe authorizer crashed")
    if token.endswith("-deny"):
        raise Exception("Unauthorized")  # API Gateway's contract for a 401 is this exact message
    statement = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": event["methodArn"]}
    return {"principalId": "probe", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}
