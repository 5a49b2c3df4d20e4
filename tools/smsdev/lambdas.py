"""Lambda execution environments for the local stack: worker processes that each run one invocation at a time.

Lambda never runs two invocations in one environment at once, and the handlers rely on it: Powertools'
resolver keeps the current event on a module-level object, and the caches in the handler modules are
per environment. Each environment is therefore a separate process (`python -m smsdev.lambdas`: a fresh
interpreter, so no boto3/PynamoDB state is shared, and nothing of the dev process is imported) that belongs
to one function: it starts with exactly that function's environment from template.yaml and imports that
function's handler once (a warm start). Events and results cross the process boundary as JSON over a
socket pair, exactly what a real invocation allows.

As on Lambda, an invocation that runs past the function's Timeout has its environment killed, and the
next invocation of that function starts a fresh one. An environment that dies while it waits for work (killed from
outside, as by the out-of-memory killer) is replaced for the invocation that finds it dead: an environment
acknowledges each invocation before its handler runs (`STARTED`), so one that never acknowledged never ran it, and
the invocation goes to a fresh environment instead of failing. One that dies after acknowledging fails its
invocation (Runtime.ExitError), which is never run twice.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

log = logging.getLogger("smsdev.lambdas")

ROOT = Path(__file__).resolve().parents[2]  # handler modules are importable from the project root
INIT_TIMEOUT_SECONDS = 120  # spawning and importing on a busy 2-core machine; Lambda's own init limit is 10 s
STARTED = b"started"  # an environment's acknowledgement of an invocation, sent before its handler runs
# What a process needs to run at all; everything else in the dev shell stays out of a Lambda environment.
# SMSDEV_CLOCK_OFFSET_SECONDS: a stack started with --clock (tests) shifts every environment's clock alike.
PROCESS_BASICS = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "SYSTEMROOT",
    "SMSDEV_CLOCK_OFFSET_SECONDS",
)


@dataclass(frozen=True)
class LocalFunction:
    """One function as its execution environments run it: `module.attribute` with its own environment."""

    function_id: str  # logical id in template.yaml
    function_name: str  # physical name, as a Lambda context reports it
    module: str
    attribute: str
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str]


@dataclass(frozen=True)
class InvocationError(Exception):
    """The handler raised (or could not be loaded): Lambda's errorType / errorMessage / stackTrace."""

    error_type: str
    error_message: str
    stack_trace: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.error_type}: {self.error_message}"


class InvocationTimeout(Exception):
    """The handler ran past the function's timeout; its environment was killed, as Lambda does."""


class RuntimeStopped(RuntimeError):
    """The local stack is shutting down: the invocation did not run, or its environment was stopped under it."""


def lambda_environment(function: LocalFunction, region: str) -> dict[str, str]:
    """The whole os.environ of an execution environment: the function's own variables plus Lambda's reserved ones."""
    reserved = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "TZ": ":UTC",
    }
    return {**reserved, **function.environment}


# ---------------------------------------------------------------------------------------------- worker side
def _load(module: str, attribute: str) -> Any:
    return getattr(importlib.import_module(module), attribute)


def _worker_main(conn: Connection, function: dict[str, Any], account_id: str) -> None:
    """One execution environment: import the handler, then serve invocations until the socket closes.

    os.environ is already exactly the function's (the dev side started this process with it).
    """
    from smsdev.testing import LambdaContextStub

    # The dev process owns Ctrl-C; stdout stays the human-readable channel, so logs and EMF metrics go to stderr.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout = sys.stderr
    spec = LocalFunction(**function)
    try:
        _load(spec.module, spec.attribute)
    except (ImportError, AttributeError) as exc:
        print(f"[lambda] {spec.function_id}: cannot load {spec.module}.{spec.attribute}: {exc}", file=sys.stderr)
    conn.send_bytes(b"ready")
    region = os.environ["AWS_REGION"]
    while True:
        try:
            raw = conn.recv_bytes()
        except EOFError:
            return
        conn.send_bytes(STARTED)
        request = json.loads(raw)
        context = LambdaContextStub.for_invocation(
            spec.function_name, spec.memory_mb, spec.timeout_seconds, request["request_id"], region, account_id
        )
        try:
            handler = _load(spec.module, spec.attribute)
        except (ImportError, AttributeError) as exc:
            reply = {"error": {"errorType": "Runtime.ImportModuleError", "errorMessage": str(exc), "stackTrace": []}}
        else:
            try:
                result = handler(request["event"], context)
                reply = {"result": json.loads(json.dumps(result))}
            except (TypeError, ValueError) as exc:
                reply = {"error": {"errorType": "Runtime.MarshalError", "errorMessage": str(exc), "stackTrace": []}}
            except Exception as exc:  # noqa: BLE001 - a handler's error is its invocation's result, as in Lambda
                # Like Lambda's error response; the caller decides what to log (an expected 401 is one line).
                stack = traceback.format_exception(exc)
                reply = {"error": {"errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": stack}}
        conn.send_bytes(json.dumps(reply).encode())


# ---------------------------------------------------------------------------------------------- dev side
class _Environment:
    """One execution environment process of `function`, started with exactly `env` as its os.environ."""

    def __init__(self, function: LocalFunction, env: dict[str, str], account_id: str) -> None:
        self.function = function
        ours, theirs = socket.socketpair()
        basics = {key: os.environ[key] for key in PROCESS_BASICS if key in os.environ}
        self.process = subprocess.Popen(
            # The function id is there for people and tests that look for one environment (ps, pgrep -f).
            [sys.executable, "-m", "smsdev.lambdas", str(theirs.fileno()), function.function_id],
            pass_fds=[theirs.fileno()],
            env={**basics, **env},
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.conn.send_bytes(json.dumps({"function": asdict(function), "account_id": account_id}).encode())

    @property
    def exited(self) -> bool:
        return self.process.poll() is not None

    def wait_ready(self, timeout: float) -> None:
        if not self.conn.poll(timeout) or self.conn.recv_bytes() != b"ready":
            raise RuntimeError(f"an execution environment of {self.function.function_id} did not start")

    def discard(self) -> None:
        self.conn.close()
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("execution environment %d of %s did not exit", self.process.pid, self.function.function_id)


class LambdaRuntime:
    """Execution environments per function, created on demand up to `max_environments` per function.

    `invoke` waits when a function has that many busy environments, like a function at its concurrency
    limit would queue (Lambda would throttle instead; locally, waiting is kinder).
    """

    def __init__(
        self,
        functions: Iterable[LocalFunction],
        max_environments: int = 4,
        region: str = "us-east-1",
        account_id: str = "123456789012",
    ) -> None:
        self.functions = {f.function_id: f for f in functions}
        self._max = max(1, max_environments)
        self._region = region
        self._account_id = account_id
        self._idle: dict[str, list[_Environment]] = {f: [] for f in self.functions}
        self._count: dict[str, int] = dict.fromkeys(self.functions, 0)
        self._all: list[_Environment] = []
        self._changed = threading.Condition()
        self._closed = False

    def start(self, warm: Iterable[str] = ()) -> None:
        """Start one environment for each function in `warm` (in parallel), so their first call is warm."""
        started = []
        for function_id in warm:
            with self._changed:
                self._count[function_id] += 1
            started.append(self._spawn(function_id))
        for environment in started:
            environment.wait_ready(INIT_TIMEOUT_SECONDS)
            self._release(environment)

    def _spawn(self, function_id: str) -> _Environment:
        function = self.functions[function_id]
        environment = _Environment(function, lambda_environment(function, self._region), self._account_id)
        with self._changed:
            self._all.append(environment)
        return environment

    def _acquire(self, function_id: str) -> _Environment:
        dead: list[_Environment] = []
        try:
            idle = self._take_idle(function_id, dead)
        finally:
            for environment in dead:  # reaped outside the lock
                environment.discard()
        if idle is not None:
            return idle
        environment = self._spawn(function_id)  # a cold start
        try:
            environment.wait_ready(INIT_TIMEOUT_SECONDS)
        except (RuntimeError, EOFError, OSError) as exc:
            self._discard(environment)
            raise InvocationError("Runtime.InitError", str(exc)) from exc
        return environment

    def _take_idle(self, function_id: str, dead: list[_Environment]) -> _Environment | None:
        """An idle live environment of the function, or None once one more may be started (counted already).
        Environments found dead while idle (killed from outside) go to `dead`: they will not take this invocation."""
        with self._changed:
            while True:
                if self._closed:
                    raise RuntimeStopped("the local Lambda runtime is stopped")
                idle = self._idle[function_id]
                while idle and idle[-1].exited:
                    dead.append(idle.pop())
                    self._uncount(dead[-1])
                if idle:
                    return idle.pop()
                if self._count[function_id] < self._max:
                    self._count[function_id] += 1
                    return None
                self._changed.wait(0.5)

    def _release(self, environment: _Environment) -> None:
        with self._changed:
            self._idle[environment.function.function_id].append(environment)
            self._changed.notify_all()

    def _uncount(self, environment: _Environment) -> None:
        """Under the lock: the environment no longer counts towards its function's."""
        if environment in self._all:
            self._all.remove(environment)
            self._count[environment.function.function_id] -= 1
        self._changed.notify_all()

    def _discard(self, environment: _Environment) -> None:
        environment.discard()
        with self._changed:
            self._uncount(environment)

    def _started(self, environment: _Environment, payload: bytes, timeout: float) -> bool:
        """Hand the invocation over; False when the environment turned out dead before acknowledging it (so its
        handler never saw it). An environment that takes `timeout` to acknowledge is dead to us too."""
        try:
            environment.conn.send_bytes(payload)
            if environment.conn.poll(timeout) and environment.conn.recv_bytes() == STARTED:
                return True
        except (EOFError, OSError):
            pass
        self._discard(environment)
        return False

    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        """The handler's JSON result; raises InvocationError when it raised, InvocationTimeout past its timeout."""
        function = self.functions[function_id]
        payload = json.dumps({"event": event, "request_id": str(uuid.uuid4())}).encode()
        for _attempt in range(self._max + 1):  # every idle environment may have died, then a fresh one
            environment = self._acquire(function_id)
            if self._started(environment, payload, function.timeout_seconds):
                break
            if self._closed:
                raise RuntimeStopped(f"{function_id}: stopped with the local stack")
            log.warning("%s: an execution environment had exited; this invocation starts a fresh one", function_id)
        else:
            raise InvocationError("Runtime.ExitError", f"{function_id}: execution environments keep exiting at start")
        try:
            if not environment.conn.poll(function.timeout_seconds):
                self._discard(environment)
                log.warning("%s: task timed out after %.2f seconds", function_id, function.timeout_seconds)
                raise InvocationTimeout(f"Task timed out after {function.timeout_seconds:.2f} seconds")
            reply = json.loads(environment.conn.recv_bytes())
        except (EOFError, OSError) as exc:
            self._discard(environment)
            if self._closed:
                raise RuntimeStopped(f"{function_id}: stopped with the local stack") from exc
            raise InvocationError("Runtime.ExitError", f"{function_id} environment exited: {exc}") from exc
        self._release(environment)
        if "error" in reply:
            error = reply["error"]
            raise InvocationError(error["errorType"], error["errorMessage"], tuple(error.get("stackTrace") or ()))
        return reply["result"]

    def stop(self) -> None:
        with self._changed:
            self._closed = True
            environments = list(self._all)
            self._all.clear()
            self._changed.notify_all()
        for environment in environments:
            environment.discard()


def _serve(argv: list[str]) -> None:
    """`python -m smsdev.lambdas FD FUNCTION_ID`: an execution environment (FD: its end of the socket pair)."""
    from smsdev.clock import shift_clock_from_env

    shift_clock_from_env()
    conn = Connection(int(argv[1]))
    setup = json.loads(conn.recv_bytes())
    _worker_main(conn, setup["function"], setup["account_id"])


if __name__ == "__main__":
    _serve(sys.argv)
