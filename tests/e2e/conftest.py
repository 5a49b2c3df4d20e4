"""One local stack per test session: `python -m smsdev.dev` in a subprocess, on free ports, with the demo seed.

A subprocess, not a thread: moto keeps its backends in module globals that the in-process `mock_aws`
tests reset, and the stack's Lambda environments must not see this process's monkeypatched env.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smsdev.admin_store import DynamoAdminStore
from smsdev.gateway import ApiConfig, api_config
from smsdev.localstack import FAKE_CREDENTIALS, bind_local_tables
from smsdev.provision import function_environment
from smsdev.template import LocalNames, Resolver, load_template

STARTUP_SECONDS = 180  # spawning the Lambda environments on a busy 2-core CI machine


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class LocalStackProcess:
    api_url: str
    endpoint: str
    seed: dict[str, Any]
    summary: str  # what `make dev` printed on stdout
    names: LocalNames
    api: ApiConfig

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> ApiResponse:
        """One HTTP request to the local API; JSON bodies decoded, error statuses returned, not raised."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.api_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), dict(error.headers)
        return ApiResponse(status, json.loads(raw) if raw else None, got)

    def send(self, token: str | None, payload: Any) -> ApiResponse:
        return self.call("POST", "/api/messages/sms/tags", token=token, body=payload)


def _wait_ready(process: subprocess.Popen[bytes], log: Path) -> str:
    """Stdout until the stack prints its `ready` line (or dies, or takes far longer than it should)."""
    deadline = time.monotonic() + STARTUP_SECONDS
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
    raise RuntimeError(f"the local stack did not start; its log:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStackProcess]:
    workdir = tmp_path_factory.mktemp("localstack")
    info_file, log_file = workdir / "info.json", workdir / "stack.log"
    env = {**os.environ, "PORT": "0", "LOCAL_AWS_PORT": "0", "PYTHONUNBUFFERED": "1"}
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "smsdev.dev", "--json", str(info_file)],
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
        )
        try:
            summary = _wait_ready(process, log_file)
            info = json.loads(info_file.read_text())
            names = LocalNames(endpoint=info["awsEndpoint"])
            yield LocalStackProcess(
                api_url=info["apiUrl"],
                endpoint=info["awsEndpoint"],
                seed=info["seed"],
                summary=summary,
                names=names,
                api=api_config(Resolver(load_template(), names)),
            )
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                code = None
    # Ctrl-C / SIGTERM must stop the stack cleanly.
    assert code == 0, f"the local stack exited with {code}; its log:\n{log_file.read_text()[-4000:]}"


@pytest.fixture
def admin(local_stack: LocalStackProcess, monkeypatch: pytest.MonkeyPatch) -> DynamoAdminStore:
    """Admin writes and reads against the running stack's tables (as smsctl does)."""
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint)
    env = function_environment(local_stack.names)
    bind_local_tables(env, local_stack.names.region, local_stack.endpoint)
    return DynamoAdminStore(region=local_stack.names.region, host=local_stack.endpoint)
