"""Lambda execution environments for the local stack: worker processes that each run one invocation at a time.

Lambda never runs two invocations in one environment at once, and the handlers rely on it: Powertools'
resolver keeps the current event on a module-level object, and the caches in the handler modules are
per environment. Running concurrent requests as threads of one process would mix callers up, so each
environment is a separate process (spawned, so no boto3/PynamoDB state is shared through fork), started
with the function environment from template.yaml and the handler modules imported once (a warm start).
Events and results cross the process boundary as JSON, exactly what a real invocation allows.
"""

from __future__ import annotations

import importlib
import json
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger("smsdev.lambdas")


@dataclass(frozen=True)
class HandlerRef:
    """What an invocation runs: `module.attribute`, as the function's Handler names it."""

    function_name: str  # physical name, as a Lambda context reports it
    module: str
    attribute: str
    timeout_seconds: int
    memory_mb: int = 1024


@dataclass(frozen=True)
class InvocationError(Exception):
    """The handler raised (or could not be loaded): Lambda's errorType / errorMessage pair."""

    error_type: str
    error_message: str

    def __str__(self) -> str:
        return f"{self.error_type}: {self.error_message}"


class InvocationTimeout(Exception):
    """The handler ran past the function's timeout; the environment was discarded, as Lambda does."""


# ---------------------------------------------------------------------------------------------- worker side
class _Context:
    """The attributes of a Lambda context that handlers and Powertools read."""

    def __init__(self, ref: HandlerRef, request_id: str, region: str, account_id: str) -> None:
        self.function_name = ref.function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = ref.memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{ref.function_name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{ref.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + request_id.replace("-", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + ref.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _load(module: str, attribute: str) -> Any:
    return getattr(importlib.import_module(module), attribute)


def _worker_main(conn: Connection, env: dict[str, str], warm: list[tuple[str, str]], account_id: str) -> None:
    """One execution environment: set the environment, import the handlers, then serve invocations forever."""
    # The dev process owns Ctrl-C; stdout stays the human-readable channel, so logs and EMF metrics go to stderr.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]  # a Lambda environment knows only its own configuration
    os.environ.update(env)
    for module, attribute in warm:
        try:
            _load(module, attribute)
        except (ImportError, AttributeError) as exc:
            print(f"[lambda] cannot load {module}.{attribute} yet: {exc}", file=sys.stderr)
    conn.send_bytes(b"ready")
    while True:
        try:
            raw = conn.recv_bytes()
        except EOFError:
            return
        request = json.loads(raw)
        ref = HandlerRef(**request["ref"])
        context = _Context(ref, request["request_id"], env.get("AWS_REGION", "us-east-1"), account_id)
        try:
            handler = _load(ref.module, ref.attribute)
        except (ImportError, AttributeError) as exc:
            reply = {"error": {"errorType": "Runtime.ImportModuleError", "errorMessage": str(exc)}}
        else:
            try:
                result = handler(request["event"], context)
                reply = {"result": json.loads(json.dumps(result))}
            except (TypeError, ValueError) as exc:
                reply = {"error": {"errorType": "Runtime.MarshalError", "errorMessage": str(exc)}}
            except Exception as exc:  # noqa: BLE001 - a handler's error is its invocation's result, as in Lambda
                # Lambda logs the uncaught error with its stack trace to the function's log (stderr here).
                traceback.print_exc(file=sys.stderr)
                reply = {"error": {"errorType": type(exc).__name__, "errorMessage": str(exc)}}
        conn.send_bytes(json.dumps(reply).encode())


# ---------------------------------------------------------------------------------------------- dev side
class _Environment:
    def __init__(self, ctx: Any, env: dict[str, str], warm: list[tuple[str, str]], account_id: str) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, env, warm, account_id), name="lambda-env", daemon=True
        )
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float) -> None:
        if not self.conn.poll(timeout) or self.conn.recv_bytes() != b"ready":
            raise RuntimeError("a Lambda environment did not start")

    def discard(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


class LambdaRuntime:
    """A fixed pool of execution environments shared by the local stack's functions.

    `invoke` blocks until an environment is free, like a function at its concurrency limit would queue
    (Lambda would throttle instead; locally, waiting is kinder).
    """

    def __init__(
        self, env: dict[str, str], size: int, warm: Iterable[tuple[str, str]] = (), account_id: str = "123456789012"
    ) -> None:
        self._env = dict(env)
        self._warm = list(warm)
        self._account_id = account_id
        self._size = size
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Environment] = queue.Queue()
        self._all: list[_Environment] = []
        self._lock = threading.Lock()
        self._closed = False

    def start(self, timeout: float = 120) -> None:
        started = [self._spawn() for _ in range(self._size)]
        for environment in started:
            environment.wait_ready(timeout)
            self._idle.put(environment)

    def _spawn(self) -> _Environment:
        environment = _Environment(self._ctx, self._env, self._warm, self._account_id)
        with self._lock:
            self._all.append(environment)
        return environment

    def _replace(self, broken: _Environment) -> None:
        broken.discard()
        with self._lock:
            self._all.remove(broken)
        if not self._closed:
            fresh = self._spawn()
            fresh.wait_ready(120)
            self._idle.put(fresh)

    def _acquire(self) -> _Environment:
        while True:
            if self._closed:
                raise RuntimeError("the local Lambda runtime is stopped")
            try:
                return self._idle.get(timeout=0.5)
            except queue.Empty:
                continue

    def invoke(self, ref: HandlerRef, event: dict[str, Any]) -> Any:
        """The handler's JSON result; raises InvocationError when it raised, InvocationTimeout past its timeout."""
        environment = self._acquire()
        request = {"ref": ref.__dict__, "event": event, "request_id": str(uuid.uuid4())}
        try:
            environment.conn.send_bytes(json.dumps(request).encode())
            if not environment.conn.poll(ref.timeout_seconds):
                self._replace(environment)
                raise InvocationTimeout(f"{ref.function_name} timed out after {ref.timeout_seconds} s")
            reply = json.loads(environment.conn.recv_bytes())
        except (EOFError, OSError) as exc:
            self._replace(environment)
            raise InvocationError("Runtime.ExitError", f"{ref.function_name} environment exited: {exc}") from exc
        self._idle.put(environment)
        if "error" in reply:
            raise InvocationError(reply["error"]["errorType"], reply["error"]["errorMessage"])
        return reply["result"]

    def stop(self) -> None:
        self._closed = True
        with self._lock:
            environments = list(self._all)
            self._all.clear()
        for environment in environments:
            environment.discard()
