"""The one harness the tests, the benchmarks and the local stack share: a moto account, the template's
resources on it, moto serialised as DynamoDB is atomic, and a Lambda context.

Nothing here runs at import time, and boto3 and moto are imported only when a helper needs them, so a Lambda
environment of the local stack can use `LambdaContextStub` without loading either.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smsdev.template import ROOT, LocalNames

# What a moto account needs in os.environ: fake credentials, one region, no X-Ray daemon, no EMF blobs.
MOTO_ACCOUNT_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
# Never reach a real account or another endpoint from a moto account.
MOTO_ACCOUNT_UNSET = ("AWS_ENDPOINT_URL", "AWS_PROFILE")


# ---------------------------------------------------------------------------------------------- Lambda context
@dataclass
class LambdaContextStub:
    """The attributes of a Lambda context that handlers and Powertools read.

    The remaining time is `remaining_ms` as given, or counts down to `deadline` (time.monotonic()) when one
    is set, as in a real invocation.
    """

    function_name: str = "test-function"
    memory_limit_in_mb: int = 1024
    remaining_ms: int = 29_000
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    deadline: float | None = None
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None

    @classmethod
    def for_invocation(
        cls, function_name: str, memory_mb: int, timeout_seconds: float, request_id: str, region: str, account_id: str
    ) -> LambdaContextStub:
        """The context of one invocation that started now and may run `timeout_seconds`."""
        return cls(
            function_name=function_name,
            memory_limit_in_mb=memory_mb,
            remaining_ms=int(timeout_seconds * 1000),
            aws_request_id=request_id,
            region=region,
            account_id=account_id,
            deadline=time.monotonic() + timeout_seconds,
        )

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return time.strftime("%Y/%m/%d/[$LATEST]") + self.aws_request_id.replace("-", "")

    def get_remaining_time_in_millis(self) -> int:
        if self.deadline is None:
            return self.remaining_ms
        return max(0, int((self.deadline - time.monotonic()) * 1000))


# ---------------------------------------------------------------------------------------------- moto
def share_botocore_models() -> None:
    """One botocore data loader per process, so service models are parsed once, not once per test.

    moto's `mock_aws` patches boto3's default session away for each account, so every test's first client built a
    new botocore session, whose new loader parsed the JSON models (DynamoDB, SQS, S3, endpoints) again: about a
    third of an in-process test's CPU. The loader is stateless but for that cache. Test processes only.
    """
    import botocore.loaders
    import botocore.session

    if getattr(botocore.session.create_loader, "shared", False):
        return
    loaders: dict[Any, Any] = {}
    create = botocore.loaders.create_loader

    def shared_loader(search_path_string: Any = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    shared_loader.shared = True  # type: ignore[attr-defined]
    botocore.session.create_loader = shared_loader
    _copy_builtin_handlers()


def _copy_builtin_handlers() -> None:
    """New botocore sessions get a copy of the first one's built-in event handlers instead of registering them.

    PynamoDB builds a botocore session per model connection and thread, so each in-process test built about ten,
    each registering botocore's ~130 built-in handlers (an `inspect` signature check and an alias lookup apiece).
    The copy is botocore's own (`HierarchicalEmitter.__copy__`, what each client does with its session's handlers);
    the handlers are module-level objects every session shares anyway. A session given its own `event_hooks`, or
    a changed handler list (moto appends its stubber when imported), registers the long way. Test processes only.
    """
    import copy

    from botocore import handlers
    from botocore.hooks import EventAliaser, HierarchicalEmitter
    from botocore.session import Session

    register = Session._register_builtin_handlers  # type: ignore[attr-defined]
    registered: dict[tuple[int, ...], HierarchicalEmitter] = {}

    def copy_of_registered(self: Session, events: Any) -> None:
        emitter = self._original_handler  # type: ignore[attr-defined]
        if type(emitter) is not HierarchicalEmitter or events is not self._events or emitter._unique_id_handlers:  # type: ignore[attr-defined]
            register(self, events)
            return
        key = tuple(id(spec[1]) for spec in handlers.BUILTIN_HANDLERS)
        if key not in registered:
            register(self, events)
            registered[key] = copy.copy(emitter)
            return
        emitter = copy.copy(registered[key])
        emitter._lookup_cache = {}  # type: ignore[attr-defined]
        self._original_handler = emitter  # type: ignore[attr-defined]
        self._events = EventAliaser(emitter)  # type: ignore[attr-defined]

    copy_of_registered.register = register  # type: ignore[attr-defined]  # the long way, for the tooling test
    Session._register_builtin_handlers = copy_of_registered  # type: ignore[attr-defined]


@contextlib.contextmanager
def moto_account(extra_env: dict[str, str] | None = None) -> Iterator[None]:
    """An empty in-process moto account, with fake credentials in os.environ (restored afterwards)."""
    from moto import mock_aws

    saved = dict(os.environ)
    os.environ.update(MOTO_ACCOUNT_ENV)
    for key in MOTO_ACCOUNT_UNSET:
        os.environ.pop(key, None)
    os.environ.update(extra_env or {})
    try:
        with mock_aws():
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class MotoStack:
    """template.yaml's tables and queues in the current moto account, and the functions' environment for them."""

    names: LocalNames
    queue_urls: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def delivery_queue_url(self) -> str:
        return self.queue_urls["DeliveryQueue"]

    def environment(self, function_id: str) -> dict[str, str]:
        """Exactly the environment template.yaml gives this function, resolved to this stack."""
        from smsdev.provision import function_environment

        return function_environment(self.names, function_id)

    def drain_delivery_queue(self) -> list[dict[str, Any]]:
        """Every SQS message currently on the delivery queue (visible and not delayed, as ReceiveMessage would
        hand them out), decoded, and removed.

        Read from in-process moto's queue in one pass: moto rescans the whole queue for each ReceiveMessage of at
        most 10 and each DeleteMessage, so draining 750 records through the API took 6 s of CPU.
        """
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[self.names.account_id][self.names.region].get_queue(self.names.physical("DeliveryQueue"))
        with queue._messages_lock:
            ready = queue.messages
            taken = {id(message) for message in ready}
            queue._messages = [message for message in queue._messages if id(message) not in taken]
        return [json.loads(message.body) for message in ready]


@dataclass
class _TemplateResources:
    """The template's tables and queues as `create_resources` left them in an empty moto account (deep copies)."""

    tables: dict[str, Any]
    queues: dict[str, Any]
    buckets: tuple[str, ...]
    urls: dict[str, str]


# One per stack name and process: the template does not change while the tests run.
_TEMPLATE_RESOURCES: dict[str, _TemplateResources] = {}


def _copy_unlocked(value: Any) -> Any:
    """A deep copy of moto model objects, each lock or condition replaced by a fresh one (they cannot be copied)."""
    import copy

    lock_types = (type(threading.Lock()), type(threading.RLock()), threading.Condition)
    memo: dict[int, Any] = {}
    for model in value.values():
        for attribute in vars(model).values():
            if isinstance(attribute, lock_types):
                memo[id(attribute)] = (
                    threading.Condition()
                    if isinstance(attribute, threading.Condition)
                    else (threading.RLock() if "RLock" in type(attribute).__name__ else threading.Lock())
                )
    return copy.deepcopy(value, memo)


def _moto_backends(names: LocalNames) -> tuple[Any, Any, Any]:
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends
    from moto.sqs.models import sqs_backends

    return (
        dynamodb_backends[names.account_id][names.region],
        sqs_backends[names.account_id][names.region],
        s3_backends[names.account_id]["aws"],
    )


def _capture_template_resources(names: LocalNames, urls: dict[str, str]) -> _TemplateResources | None:
    """What `create_resources` just made, copied to be put back into later accounts; None when not all is found."""
    from smsdev.template import resources_of_type

    dynamodb, sqs, s3 = _moto_backends(names)
    tables = {names.physical(logical_id) for logical_id in resources_of_type("AWS::DynamoDB::Table")}
    queues = {names.physical(logical_id) for logical_id in urls}
    buckets = tuple(names.bucket(logical_id) for logical_id in resources_of_type("AWS::S3::Bucket"))
    if set(dynamodb.tables) != tables or set(sqs.queues) != queues or set(s3.buckets) != set(buckets):
        return None  # the account held something else too: copy nothing, build each account the long way
    return _TemplateResources(_copy_unlocked(dynamodb.tables), _copy_unlocked(sqs.queues), buckets, dict(urls))


def _restore_template_resources(names: LocalNames, resources: _TemplateResources) -> bool:
    """Put copies of the template's empty tables and queues into the active account, if it has none of them yet."""
    dynamodb, sqs, s3 = _moto_backends(names)
    if dynamodb.tables or sqs.queues or s3.buckets:
        return False
    dynamodb.tables.update(_copy_unlocked(resources.tables))
    sqs.queues.update(_copy_unlocked(resources.queues))
    for bucket in resources.buckets:
        s3.create_bucket(bucket, names.region)
    return True


def build_moto_stack(stack_name: str, function_id: str = "SendByTagsFunction") -> MotoStack:
    """Create the template's tables, queues and buckets in the moto account that is active now (`moto_account`).

    The first account of a process is built through the API (`create_resources`); later ones get deep copies of
    those empty tables and queues put straight into moto's fresh backends, which is what the same calls would
    build (tests/tooling/test_moto_stack_copies.py compares the two), at a hundredth of the CPU: about 0.1 s of
    each in-process test's setup went to the 40 create calls.
    """
    import boto3

    from smsdev.provision import create_resources, function_environment, seed_exclusion_snapshot

    # SendWindows=off: a test that does not assert send windows must not depend on the hour it runs at (the ones
    # that do set SEND_WINDOWS=enforced and inject their clock).
    names = LocalNames(
        stack_name=stack_name,
        endpoint="https://sqs.us-east-1.amazonaws.com",
        # MarketingMaxPerDayDefault=0: a test that does not assert the frequency cap must not depend on what another
        # test sent the same day (the cap's tests set the tenant's marketingFrequency).
        parameters={"SendWindows": "off", "MarketingMaxPerDayDefault": "0"},
    )
    resources = _TEMPLATE_RESOURCES.get(stack_name)
    if resources is not None and _restore_template_resources(names, resources):
        urls = dict(resources.urls)
    else:
        urls = create_resources(
            lambda service: boto3.client(service, region_name=names.region),  # type: ignore[call-overload]
            names,
        )
        if resources is None and (captured := _capture_template_resources(names, urls)) is not None:
            _TEMPLATE_RESOURCES[stack_name] = captured
    # A current, empty RNE snapshot: marketing to CO is refused without one (the tests of that rule remove it).
    seed_exclusion_snapshot(boto3.client("dynamodb", region_name=names.region), names)
    return MotoStack(names=names, queue_urls=urls, env=function_environment(names, function_id))


@contextlib.contextmanager
def moto_stack(stack_name: str = "test", extra_env: dict[str, str] | None = None) -> Iterator[MotoStack]:
    """A fresh moto account holding the template's resources, with the send function's environment set."""
    with moto_account():
        stack = build_moto_stack(stack_name)
        os.environ.update(stack.env)
        os.environ.update(extra_env or {})
        yield stack


def one_at_a_time[T](call: Callable[..., T]) -> Callable[..., T]:
    """`call` behind one lock: what keeps moto's conditional writes, ADDs and transactions atomic.

    moto applies a ConditionExpression, an ADD or a transaction as an unlocked read-modify-write, so
    concurrent callers would see two debits pass or lose counter updates that real DynamoDB never loses.
    """
    lock = threading.RLock()

    @functools.wraps(call)
    def serialised(*args: Any, **kwargs: Any) -> T:
        with lock:
            return call(*args, **kwargs)

    return serialised


@contextlib.contextmanager
def serialised_moto() -> Iterator[None]:
    """In-process moto (mock_aws) answers one request at a time while the block runs."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__call__
    BotocoreStubber.__call__ = one_at_a_time(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialised_wsgi(app: WsgiApp) -> WsgiApp:
    """moto's server app answering one request at a time, response body included."""

    def whole_response(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        result = app(environ, start_response)
        try:
            return list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    return one_at_a_time(whole_response)


# ---------------------------------------------------------------------------------------------- the dev stack
STARTUP_SECONDS = 180  # spawning the Lambda environments on a busy 2-core CI machine
STOP_SECONDS = 60  # pollers and schedules finish the invocation they are in (a delivery may take a while)


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: Any  # decoded JSON, or None for an empty body
    headers: dict[str, str]


def http_call(
    base_url: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> HttpAnswer:
    """One HTTP request; JSON bodies encoded and decoded, error statuses returned, not raised."""
    import urllib.error
    import urllib.request

    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {base_url!r}")
    request = urllib.request.Request(base_url + path, data=data, method=method)  # noqa: S310 - checked above
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - a URL the caller chose
            status, raw, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), dict(error.headers)
    return HttpAnswer(status, json.loads(raw) if raw else None, got)


@dataclass(frozen=True)
class RunningDevStack:
    """A `python -m smsdev.dev` subprocess that printed its `ready` line."""

    api_url: str
    endpoint: str
    seed: dict[str, Any] | None
    summary: str  # what it printed on stdout
    log_path: Path  # its stderr: the functions' logs and the gateway's request lines
    pid: int
    function_urls: dict[str, str] = field(default_factory=dict)  # FunctionUrlConfig, by function logical id


def _wait_ready(process: subprocess.Popen[bytes], log_path: Path, startup_seconds: float) -> str:
    """Stdout until the stack prints its `ready` line (or dies, or takes far longer than it should)."""
    deadline = time.monotonic() + startup_seconds
    assert process.stdout is not None
    fd, seen = process.stdout.fileno(), b""
    while time.monotonic() < deadline:
        readable, _, _ = select.select([fd], [], [], 1.0)
        if not readable:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break  # exited
        seen += chunk
        if any(line.startswith(b"ready") for line in seen.split(b"\n")[:-1]):
            return seen.decode()
    process.kill()
    raise RuntimeError(f"the local stack did not start; its log:\n{log_path.read_text()[-4000:]}")


@contextlib.contextmanager
def dev_stack_process(
    workdir: Path, args: Iterable[str] = (), env: dict[str, str] | None = None, startup_seconds: float = STARTUP_SECONDS
) -> Iterator[RunningDevStack]:
    """`python -m smsdev.dev ARGS` on free ports, from the repository root; stopped with SIGTERM afterwards.

    A subprocess, not a thread: moto keeps its backends in module globals that in-process `mock_aws` tests
    reset, and the stack's Lambda environments must not see the test process's environment. Raises
    RuntimeError when it does not start, or does not exit cleanly (0) on SIGTERM.
    """
    info_path, log_path = workdir / "info.json", workdir / "stack.log"
    args = list(args)
    if "--template" not in args and not any("MarketingMaxPerDayDefault=" in arg for arg in args):
        # Tests on a shared stack send to the demo numbers many times a day: the frequency cap's default is off
        # there (its tests set their tenant's marketingFrequency); `make dev` keeps the production default.
        args = [*list(args), "--param", "MarketingMaxPerDayDefault=0"]
    if "--template" not in args and not any("SendWindows=" in arg for arg in args):
        # Tests that do not assert send windows must not depend on the hour they run at (README, "Send windows").
        # A test's own small template (--template) declares no such parameter.
        args = [*args, "--param", "SendWindows=off"]
    environment = {**os.environ, "PORT": "0", "LOCAL_AWS_PORT": "0", "PYTHONUNBUFFERED": "1", **(env or {})}
    command = [sys.executable, "-m", "smsdev.dev", "--json", str(info_path), *args]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=environment, cwd=ROOT)
        code: int | None = None
        try:
            summary = _wait_ready(process, log_path, startup_seconds)
            info = json.loads(info_path.read_text())
            yield RunningDevStack(
                info["apiUrl"],
                info["awsEndpoint"],
                info["seed"],
                summary,
                log_path,
                process.pid,
                info.get("functionUrls") or {},
            )
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                code = None
    if code != 0:
        raise RuntimeError(f"the local stack exited with {code}; its log:\n{log_path.read_text()[-4000:]}")
