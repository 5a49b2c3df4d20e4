"""`smsctl invoke` runs each function of template.yaml, in a fresh process, against a local AWS endpoint
(moto's HTTP server provisioned as `make dev` provisions it); `smsctl env-vars` feeds `sam local invoke`."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smsdev.invoke import function_specs, local_function
from smsdev.template import load_template
from tests.conftest import EVENTS, load_event
from tests.integration.conftest import LocalEndpointStack, free_port, ok, smsctl


def event_file(tmp_path: Path, event: dict[str, Any]) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return str(path)


def response_body(result: dict[str, Any]) -> Any:
    return json.loads(result["body"])


# ---------------------------------------------------------------------------------------------- the sample events
@pytest.mark.parametrize(
    ("function_id", "event_name", "expected"),
    [
        # Nobody holds the sample's token: the authorizer raises Unauthorized (API Gateway's 401).
        ("AuthorizerFunction", "apigw_token_authorizer.json", "Unauthorized"),
        # A write: nobody holds the sample's token, so the fresh access check refuses it before its body is read.
        ("SendByTagsFunction", "apigw_send_by_tags.json", (401, "UNAUTHORIZED")),
        # Nothing sent yet: an empty page.
        ("MessagesFunction", "apigw_list_messages.json", (200, {"items": [], "nextCursor": None})),
        # The local stack has no Twilio auth token parameter, so no signature can be checked: refused.
        ("TwilioStatusFunction", "apigw_twilio_status.json", (403, "INVALID_SIGNATURE")),
        # An AWS SMS delivery event (as the rule puts it on the receipts queue) for a message this stack never sent
        # is recorded as such, not retried.
        ("ReceiptsFunction", "sqs_receipts_batch.json", {"batchItemFailures": []}),
        # A batch naming an unknown message is dropped (nothing to deliver), not retried.
        ("DeliverFunction", "sqs_delivery_batch.json", {"batchItemFailures": []}),
    ],
)
def test_each_function_runs_its_sample_event(
    local: LocalEndpointStack, capfd: pytest.CaptureFixture[str], function_id: str, event_name: str, expected: Any
) -> None:
    # When the function is invoked with its sample event from tests/events
    result = smsctl(capfd, "invoke", function_id, "--event", str(EVENTS / event_name))

    # Then its result is what that function answers on an empty stack
    if expected == "Unauthorized":
        assert (result.code, result.out) == (1, "")
        assert "AuthorizerFunction failed: Unauthorized" in result.err
        return
    assert result.code == 0, result.err
    if isinstance(expected, tuple):
        status, body = expected
        assert result.json["statusCode"] == status
        answer = response_body(result.json)
        assert (answer["code"] == body) if isinstance(body, str) else (answer == body)
    else:
        assert result.json == expected


@pytest.mark.clock_sensitive
def test_a_campaign_runs_through_invoked_functions(
    local: LocalEndpointStack, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a tenant with 10 credits, a member who accepted the terms and two VIP contacts
    ok(capfd, "terms", "publish", "--version", "v1")
    tenant_id = ok(capfd, "tenant", "create", "--name", "Acme", "--credits", "10", "--country", "CO")["tenantId"]
    member = ok(capfd, "member", "create", "--tenant", tenant_id, "--email", "o@acme.test", "--accept-terms")
    csv_path = tmp_path / "contacts.csv"
    csv_path.write_text("phone,name,tags\n3001234567,Ana,vip\n3001234568,Luis,vip\n")
    vip = ok(capfd, "contacts", "import", "--tenant", tenant_id, str(csv_path))["tags"][0]["tagId"]

    # When the authorizer is invoked with the member's token
    authorizer_event = {**load_event("apigw_token_authorizer.json"), "authorizationToken": f"Bearer {member['token']}"}
    policy = ok(capfd, "invoke", "AuthorizerFunction", "--event", event_file(tmp_path, authorizer_event))

    # Then it allows the call and names the tenant and member
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert policy["context"]["tenantId"] == tenant_id
    assert policy["context"]["memberId"] == member["memberId"]

    # When the send function is invoked with that caller and the VIP tag
    send_event = copy.deepcopy(load_event("apigw_send_by_tags.json"))
    send_event["requestContext"]["authorizer"].update(policy["context"], principalId=member["memberId"])
    send_event["headers"]["Authorization"] = f"Bearer {member['token']}"
    send_event["multiValueHeaders"]["Authorization"] = [f"Bearer {member['token']}"]
    # (transactional: the invoked function runs with the template's SendWindows=enforced, and a marketing send to
    # CO waits for the legal window, so a marketing body would pass or not depending on the hour the test runs)
    body = {"message": "Hello VIP", "tagIds": [vip], "type": "SMS", "country": "CO", "purpose": "transactional"}
    send_event["body"] = json.dumps(body)
    sent = ok(capfd, "invoke", "SendByTagsFunction", "--event", event_file(tmp_path, send_event))

    # Then the campaign is accepted, two credits are debited and the batch waits on the delivery queue
    assert sent["statusCode"] == 201, sent["body"]
    assert ok(capfd, "credits", "show", "--tenant", tenant_id)["balance"] == 8
    sqs = local.client("sqs")
    queued = sqs.receive_message(QueueUrl=local.queue_urls["DeliveryQueue"], MaxNumberOfMessages=10)["Messages"]
    assert len(queued) == 1

    # When the deliver function is invoked with that queue message, as the SQS event source would
    record = load_event("sqs_delivery_batch.json")["Records"][0]
    deliver_event = {"Records": [{**record, "messageId": queued[0]["MessageId"], "body": queued[0]["Body"]}]}
    delivered = ok(capfd, "invoke", "DeliverFunction", "--event", event_file(tmp_path, deliver_event))

    # Then nothing failed and the sandbox provider sent one SMS to each number
    assert delivered == {"batchItemFailures": []}
    outbox = ok(capfd, "outbox")["items"]
    assert sorted(item["recipient"] for item in outbox) == ["+573001234567", "+573001234568"]
    assert {item["body"] for item in outbox} == {"Hello VIP"}


def test_the_console_script_reads_the_event_from_stdin(local: LocalEndpointStack) -> None:
    # When the installed smsctl gets the event on stdin, its stdout being a pipe
    finished = subprocess.run(
        [str(Path(sys.executable).with_name("smsctl")), "invoke", "MessagesFunction", "--event", "-"],
        input=(EVENTS / "apigw_list_messages.json").read_text(),
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=120,
        check=False,
    )

    # Then stdout holds only the handler's result as JSON (the function's logs went to stderr)
    assert finished.returncode == 0, finished.stderr
    result = json.loads(finished.stdout)
    assert result["statusCode"] == 200
    assert response_body(result) == {"items": [], "nextCursor": None}


# ---------------------------------------------------------------------------------------------- the environment
def test_a_function_gets_exactly_its_own_template_environment_pointed_at_the_endpoint() -> None:
    endpoint = "http://127.0.0.1:4999"
    specs = function_specs(endpoint)

    deliver = local_function("DeliverFunction", endpoint)
    authorizer = local_function("AuthorizerFunction", endpoint)

    # Every variable of the template, resolved to the local stack's names, plus the endpoint
    assert specs["DeliverFunction"].environment.items() <= deliver.environment.items()
    assert deliver.environment["TENANTS_TABLE"] == "sms-local-TenantsTable"
    assert deliver.environment["AWS_ENDPOINT_URL"] == endpoint
    assert deliver.function_name == "sms-local-DeliverFunction"
    assert deliver.timeout_seconds == load_template()["Resources"]["DeliverFunction"]["Properties"]["Timeout"]
    # and nothing of another function's
    assert "DELIVERY_DEAD_LETTER_QUEUE_URL" in deliver.environment
    assert "DELIVERY_DEAD_LETTER_QUEUE_URL" not in authorizer.environment


# ---------------------------------------------------------------------------------------------- usage and failures
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["invoke", "NoSuchFunction"], "'NoSuchFunction' is not a function of template.yaml"),
        (["invoke", "AuthorizerFunction", "--event", "/nonexistent/event.json"], "No such file"),
        (["--stack", "prod", "invoke", "AuthorizerFunction"], "works with the local stack only"),
    ],
)
def test_invoke_usage_errors_exit_2(capfd: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    result = smsctl(capfd, *argv)
    assert (result.code, result.out) == (2, "")
    assert message in result.err


def test_an_event_that_is_not_json_is_a_usage_error(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text("{not json")
    result = smsctl(capfd, "invoke", "AuthorizerFunction", "--event", str(path))
    assert (result.code, result.out) == (2, "")
    assert "is not JSON" in result.err


def test_invoke_without_a_local_stack_says_how_to_start_it(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_AWS_PORT", str(free_port()))
    result = smsctl(capfd, "invoke", "MessagesFunction", "--event", str(EVENTS / "apigw_list_messages.json"))
    assert (result.code, result.out) == (1, "")
    assert "make dev" in result.err


# ---------------------------------------------------------------------------------------------- sam local invoke
def test_env_vars_file_is_applied_by_sam_local_to_every_function(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SAM only overrides variables the template declares: check the file with SAM's own resolution."""
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
    from samcli.local.lambdafn.env_vars import EnvironmentVariables

    # Given the file for a Docker container reaching the host's local stack
    monkeypatch.setenv("LOCAL_AWS_PORT", "4570")
    endpoint = "http://host.docker.internal:4570"
    env_vars = ok(capfd, "env-vars", "--endpoint", endpoint)
    assert ok(capfd, "env-vars")["SendByTagsFunction"]["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4570"

    # When SAM resolves each function's environment with it
    stacks, _ = SamLocalStackProvider.get_stacks(str(Path(__file__).parents[2] / "template.yaml"))
    provider = SamFunctionProvider(stacks)
    assert set(env_vars) == {function.name for function in provider.get_all()}
    for function_id, overrides in env_vars.items():
        function = provider.get(function_id)
        assert function is not None
        resolved = EnvironmentVariables(
            function.name,
            function.memory,
            function.timeout,
            function.handler,
            variables=function.environment["Variables"],
            override_values=overrides,
        ).resolve()

        # Then every variable of the file reaches the container: the endpoint and the local names
        assert {key: resolved.get(key) for key in overrides} == overrides
        assert resolved["AWS_ENDPOINT_URL"] == endpoint
        assert resolved["TENANTS_TABLE"] == "sms-local-TenantsTable"
