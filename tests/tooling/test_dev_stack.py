"""The local stack enforces what Lambda and API Gateway enforce, on a small template of test-only functions.

`python -m smsdev.dev --template <small template>` runs the probe handlers of tests/tooling/functions with
short overrides (`--param`), so that timeouts and schedules show within seconds:
- a function past the gateway's integration timeout is a 504 with the template's body, and Lambda still kills
  its environment at the function's own Timeout; the next invocation gets a fresh one;
- a function past its own Timeout (shorter than the gateway's) is a 502, as Lambda's "Task timed out" is;
- each function sees exactly its own template environment;
- `Schedule` events run at their (overridden) rate with EventBridge's scheduled event;
- the TOKEN authorizer: a token that fails its ValidationExpression never reaches it, its `Unauthorized` is a
  401 and one log line, its crash is the template's AUTHORIZER_CONFIGURATION_ERROR with the trace in the log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from smsdev.template import ROOT, load_template
from smsdev.testing import HttpAnswer, RunningDevStack, dev_stack_process, http_call

GATEWAY_TIMEOUT = 3  # seconds, instead of API Gateway's 29
SLEEPY_TIMEOUT = 6  # seconds, instead of the template's 30: past the gateway's
SHORT_TIMEOUT = 1  # the template's own Timeout: before the gateway's
TIMEOUT_BODY = {"code": "GATEWAY_TIMEOUT", "message": "took too long", "details": []}
UNAUTHORIZED_BODY = {"code": "UNAUTHORIZED", "message": "no", "details": []}
AUTHORIZER_BODY = {"code": "AUTHORIZER_FAILURE", "message": "authorizer down", "details": []}


def probe_template(probe_dir: Path) -> dict[str, Any]:
    def function(handler: str, timeout: int, own_env: dict[str, str], events: dict[str, Any]) -> dict[str, Any]:
        properties = {
            "CodeUri": "tests/tooling/functions",
            "Handler": f"probe.{handler}",
            "Timeout": timeout,
            "Environment": {"Variables": own_env},
            "Events": events,
        }
        return {"Type": "AWS::Serverless::Function", "Properties": properties}

    def api_event(path: str, authorized: bool = False) -> dict[str, Any]:
        properties: dict[str, Any] = {"RestApiId": {"Ref": "ProbeApi"}, "Path": path, "Method": "GET"}
        if not authorized:
            properties["Auth"] = {"Authorizer": "NONE"}
        return {"Type": "Api", "Properties": properties}

    def response(status: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"StatusCode": status, "ResponseTemplates": {"application/json": json.dumps(body)}}

    return {
        "Transform": "AWS::Serverless-2016-10-31",
        "Parameters": {"Stage": {"Type": "String", "Default": "dev"}},
        "Globals": {
            "Function": {
                "MemorySize": 256,
                "Environment": {"Variables": {"PROBE_DIR": str(probe_dir), "SHARED_SETTING": "shared"}},
            }
        },
        "Resources": {
            "ProbeApi": {
                "Type": "AWS::Serverless::Api",
                "Properties": {
                    "StageName": {"Ref": "Stage"},
                    "Auth": {
                        "DefaultAuthorizer": "ProbeAuthorizer",
                        "Authorizers": {
                            "ProbeAuthorizer": {
                                "FunctionArn": {"Fn::GetAtt": ["AuthorizerProbeFunction", "Arn"]},
                                "Identity": {
                                    "Header": "Authorization",
                                    "ValidationExpression": "^Bearer probe-[a-z]+$",
                                    "ReauthorizeEvery": 0,
                                },
                            }
                        },
                    },
                    "GatewayResponses": {
                        "INTEGRATION_TIMEOUT": response("504", TIMEOUT_BODY),
                        "UNAUTHORIZED": response("401", UNAUTHORIZED_BODY),
                        "AUTHORIZER_CONFIGURATION_ERROR": response("500", AUTHORIZER_BODY),
                    },
                },
            },
            "SleepyFunction": function("sleep_handler", 30, {"SLEEPY_ONLY": "1"}, {"Sleep": api_event("/test/sleep")}),
            "ShortFunction": function("sleep_handler", SHORT_TIMEOUT, {}, {"Short": api_event("/test/short")}),
            "GuardedFunction": function("sleep_handler", 10, {}, {"Guarded": api_event("/test/guarded", True)}),
            "AuthorizerProbeFunction": function("authorize", 10, {}, {}),
            "TickFunction": function(
                "tick_handler",
                10,
                {"TICK_ONLY": "1"},
                {
                    "Tick": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}},
                    "Off": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)", "Enabled": False}},
                },
            ),
        },
    }


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("probe")


@pytest.fixture(scope="module")
def probe_stack(probe_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevStack]:
    workdir = tmp_path_factory.mktemp("probe-stack")
    template = workdir / "template.yaml"
    template.write_text(yaml.safe_dump(probe_template(probe_dir)))
    args = [
        "--no-seed",
        "--template",
        str(template),
        "--param",
        f"SleepyFunction.Timeout={SLEEPY_TIMEOUT}",
        "--param",
        f"LocalGatewayTimeoutSeconds={GATEWAY_TIMEOUT}",
        "--param",
        "LocalScheduleRateSeconds=1",
    ]
    # One environment per function, so "the next invocation" can only run in a fresh one; and a variable of
    # this process that must not reach any function.
    env = {"LOCAL_LAMBDA_WORKERS": "1", "SMSDEV_PROBE_LEAK": "leaked"}
    with dev_stack_process(workdir, args, env) as running:
        yield running


def get(stack: RunningDevStack, path: str) -> HttpAnswer:
    return http_call(stack.api_url, "GET", path)


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition: Any, seconds: float = 60) -> bool:
    """Poll until `condition()` holds (waiting, not timing: the deadline only bounds a broken run)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


def test_past_the_gateway_timeout_the_answer_is_504_and_lambda_kills_the_environment_at_its_timeout(
    probe_stack: RunningDevStack, probe_dir: Path
) -> None:
    # Given a warm environment of the sleepy function
    first = get(probe_stack, "/test/sleep?seconds=0")
    assert first.status == 200
    warm_pid = first.body["pid"]
    # When a request makes it sleep far past both the gateway's and its own timeout
    response = get(probe_stack, "/test/sleep?seconds=60")
    # Then the gateway answers 504 with the template's INTEGRATION_TIMEOUT body
    assert response.status == 504
    assert response.body == TIMEOUT_BODY
    # And the environment that was sleeping is killed at the function's Timeout
    assert int((probe_dir / "sleeping.pid").read_text()) == warm_pid
    assert wait_for(lambda: not is_running(warm_pid)), "the timed-out environment is still running"
    # And the next invocation runs in a fresh environment, with the overridden timeout in its context
    after = get(probe_stack, "/test/sleep?seconds=0")
    assert after.status == 200
    assert after.body["pid"] != warm_pid
    assert 0 < after.body["remainingMs"] <= SLEEPY_TIMEOUT * 1000


def test_past_its_own_timeout_before_the_gateways_the_answer_is_502(probe_stack: RunningDevStack) -> None:
    # Given a function whose Timeout (1 s) is shorter than the gateway's
    # When it runs past it
    response = get(probe_stack, f"/test/short?seconds={GATEWAY_TIMEOUT * 10}")
    # Then Lambda ends it ("Task timed out") and API Gateway reports a failed integration
    assert response.status == 502
    assert response.body == {"message": "Internal server error"}  # the probe template has no DEFAULT_5XX


def test_an_environment_killed_between_invocations_is_replaced_for_the_next_one(probe_stack: RunningDevStack) -> None:
    # Given the one warm environment the short function may have (LOCAL_LAMBDA_WORKERS=1)
    warm = get(probe_stack, "/test/short?seconds=0")
    assert warm.status == 200
    # When something outside kills it while it waits for work, as the out-of-memory killer would
    os.kill(warm.body["pid"], signal.SIGKILL)
    # Then the next invocation is answered, from a fresh environment, as Lambda starts one (no 502 first)
    after = get(probe_stack, "/test/short?seconds=0")
    assert (after.status, after.body.get("message")) == (200, None), after.body
    assert after.body["pid"] != warm.body["pid"]


def test_the_admin_page_carries_the_templates_csp_with_the_emulator_for_uploads(probe_stack: RunningDevStack) -> None:
    policy = load_template()["Resources"]["AdminSiteHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    template_csp = policy["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    with urllib.request.urlopen(f"{probe_stack.api_url}/admin/") as response:
        csp = response.headers["Content-Security-Policy"]
    assert csp == template_csp.replace("https://*.amazonaws.com", probe_stack.endpoint)


def test_each_function_runs_with_exactly_its_own_environment(probe_stack: RunningDevStack, probe_dir: Path) -> None:
    # When the sleepy function reports its environment
    env = get(probe_stack, "/test/sleep?seconds=0").body["env"]
    # Then it holds the Globals and its own variables, not another function's, nor the dev shell's
    assert env["SHARED_SETTING"] == "shared"
    assert env["SLEEPY_ONLY"] == "1"
    assert "TICK_ONLY" not in env
    assert "SMSDEV_PROBE_LEAK" not in env
    # And Lambda's own variables name this function, with the local endpoint in place of AWS
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "sms-local-SleepyFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_ENDPOINT_URL"] == probe_stack.endpoint
    # And the scheduled function sees its own, not the sleepy one's
    assert wait_for(lambda: (probe_dir / "ticks.jsonl").exists())
    tick_env = json.loads((probe_dir / "ticks.jsonl").read_text().splitlines()[0])["env"]
    assert tick_env["TICK_ONLY"] == "1"
    assert "SLEEPY_ONLY" not in tick_env
    assert tick_env["AWS_LAMBDA_FUNCTION_NAME"] == "sms-local-TickFunction"


def test_schedules_run_at_their_rate_with_a_scheduled_event(probe_stack: RunningDevStack, probe_dir: Path) -> None:
    # Given rate(5 minutes) shortened to 1 s by LocalScheduleRateSeconds, and a disabled rate(1 minute)
    ticks = probe_dir / "ticks.jsonl"

    def runs() -> list[dict[str, Any]]:
        return [json.loads(line)["event"] for line in ticks.read_text().splitlines()] if ticks.exists() else []

    # When the stack has been up for a few periods
    assert wait_for(lambda: len(runs()) >= 3)
    # Then every run was EventBridge's scheduled event for the enabled rule only
    for event in runs():
        assert event["detail-type"] == "Scheduled Event"
        assert event["source"] == "aws.events"
        assert event["detail"] == {}
        assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/sms-local-TickFunctionTick"]


def dev(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smsdev.dev", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_a_parameter_that_is_neither_the_templates_nor_the_local_stacks_is_refused_before_starting() -> None:
    result = dev("--no-seed", "--param", "AuthorizerCacheTTL=0")  # a typo of AuthorizerCacheTtl
    assert result.returncode == 2
    assert "unknown parameter 'AuthorizerCacheTTL'" in result.stderr
    assert "AuthorizerCacheTtl" in result.stderr


def test_make_dev_passes_args_and_keeps_port() -> None:
    # `-o .venv/.installed`: use the installed venv as it is (no reinstall inside a test)
    make = ["make", "--no-print-directory", "-o", ".venv/.installed", "dev"]
    args = subprocess.run(
        [*make, "ARGS=--no-seed --param NotAParameter=1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert "unknown parameter 'NotAParameter'" in args.stderr
    port = subprocess.run(
        [*make, "PORT=not-a-port"], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )
    assert "PORT must be a whole number, got 'not-a-port'" in port.stderr


def test_the_authorizer_is_skipped_for_malformed_tokens_and_its_crash_is_the_templates_500(
    probe_stack: RunningDevStack, probe_dir: Path
) -> None:
    calls = probe_dir / "authorizer.calls"

    def authorizer_calls() -> list[str]:
        return calls.read_text().splitlines() if calls.exists() else []

    def call(authorization: str) -> tuple[HttpAnswer, str]:
        before = probe_stack.log_path.stat().st_size
        answer = http_call(probe_stack.api_url, "GET", "/test/guarded", headers={"Authorization": authorization})
        with probe_stack.log_path.open() as log:
            log.seek(before)
            return answer, log.read()

    # Given a token the authorizer allows
    allowed, _ = call("Bearer probe-ok")
    assert allowed.status == 200
    assert authorizer_calls() == ["Bearer probe-ok"]
    # When a token fails the ValidationExpression: 401 from the gateway, the authorizer is not invoked
    malformed, _ = call("Bearer not a probe token")
    assert (malformed.status, malformed.body) == (401, UNAUTHORIZED_BODY)
    assert authorizer_calls() == ["Bearer probe-ok"]
    # When the authorizer refuses: 401, and the log has the request line, no traceback
    refused, log = call("Bearer probe-deny")
    assert (refused.status, refused.body) == (401, UNAUTHORIZED_BODY)
    assert "Traceback" not in log
    (gateway_line,) = [line for line in log.splitlines() if "smsdev.gateway" in line]
    assert "GET /test/guarded -> 401" in gateway_line
    # When it crashes: the template's AUTHORIZER_CONFIGURATION_ERROR body, and its stack trace in the log
    crashed, log = call("Bearer probe-crash")
    assert (crashed.status, crashed.body) == (500, AUTHORIZER_BODY)
    assert "RuntimeError: probe authorizer crashed" in log
    assert "Traceback" in log
    assert authorizer_calls() == ["Bearer probe-ok", "Bearer probe-deny", "Bearer probe-crash"]
