"""How the local stack reads template.yaml and `--param`: per-function environments, local settings, schedules."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from smsdev.devstack import INTEGRATION_TIMEOUT_SECONDS, function_env, split_parameters
from smsdev.scheduler import scheduled_event
from smsdev.template import LocalNames, Resolver, ScheduleSpec, functions, load_template
from tests.e2e.conftest import DeployedNames

ENDPOINT = "http://127.0.0.1:4566"


def test_each_function_gets_only_its_own_template_variables() -> None:
    # Given the real template, where only the deliver function sets the Twilio callback URL, and the local stack
    # serving the status webhook's function URL on a port of its own
    names = LocalNames(endpoint=ENDPOINT, function_urls={"TwilioStatusFunction": "http://127.0.0.1:41234/"})
    specs = functions(Resolver(load_template(), names))
    deliver = function_env(specs["DeliverFunction"], ENDPOINT, "us-east-1")
    webhook = function_env(specs["TwilioStatusFunction"], ENDPOINT, "us-east-1")
    # Then the deliver function gives Twilio that function URL (`!GetAtt TwilioStatusFunctionUrl.FunctionUrl`)
    assert deliver["TWILIO_STATUS_CALLBACK_URL"] == "http://127.0.0.1:41234/"
    # And the webhook does not inherit it (it rebuilds the URL from the request, as on AWS)
    assert "TWILIO_STATUS_CALLBACK_URL" not in webhook
    # And both have the Globals and the local endpoint
    assert deliver["TENANTS_TABLE"] == webhook["TENANTS_TABLE"] == "sms-local-TenantsTable"
    assert deliver["AWS_ENDPOINT_URL"] == webhook["AWS_ENDPOINT_URL"] == ENDPOINT
    # And nothing beyond the template's variables and the local plumbing
    template_keys = set(specs["TwilioStatusFunction"].environment)
    local_keys = {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "POWERTOOLS_TRACE_DISABLED",
        "POWERTOOLS_METRICS_DISABLED",
    }
    assert set(webhook) == template_keys | local_keys


def test_a_function_url_not_served_locally_resolves_to_the_shape_aws_gives_one() -> None:
    # Given names without a running stack (smsctl env-vars, tests computing environments)
    specs = functions(Resolver(load_template(), LocalNames(endpoint=ENDPOINT)))
    # Then the callback URL is a function URL of the stack's webhook, never the REST API's route
    url = specs["DeliverFunction"].environment["TWILIO_STATUS_CALLBACK_URL"]
    assert url == "https://sms-local-twiliostatusfunction.lambda-url.us-east-1.on.aws/"


def test_memory_size_comes_from_the_function_or_the_globals() -> None:
    specs = functions(Resolver(load_template(), LocalNames()))
    template = load_template()
    for logical_id, spec in specs.items():
        declared = template["Resources"][logical_id]["Properties"].get("MemorySize")
        assert spec.memory_mb == int(declared or template["Globals"]["Function"]["MemorySize"]), logical_id


def test_param_splits_template_parameters_from_local_settings() -> None:
    settings = split_parameters(
        {
            "AuthorizerCacheTtl": "0",
            "LocalGatewayTimeoutSeconds": "2.5",
            "LocalScheduleRateSeconds": "1",
            "SendByTagsFunction.Timeout": "3",
        },
        load_template(),
    )
    assert settings.template_parameters == {"AuthorizerCacheTtl": "0"}
    assert settings.gateway_timeout_seconds == 2.5
    assert settings.schedule_rate_seconds == 1
    assert settings.function_timeouts == {"SendByTagsFunction": 3}


def test_without_local_settings_the_gateway_waits_29_s_and_schedules_keep_their_rate() -> None:
    settings = split_parameters({}, load_template())
    assert settings.gateway_timeout_seconds == INTEGRATION_TIMEOUT_SECONDS == 29
    assert settings.schedule_rate_seconds is None
    assert settings.function_timeouts == {}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AuthorizerCacheTTL", "0", "unknown parameter 'AuthorizerCacheTTL'"),
        ("NoSuchFunction.Timeout", "3", "unknown parameter 'NoSuchFunction.Timeout'"),
        ("LocalGatewayTimeoutSeconds", "soon", "LocalGatewayTimeoutSeconds takes seconds"),
        ("SendByTagsFunction.Timeout", "0", "must be positive"),
    ],
)
def test_a_wrong_param_is_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_parameters({name: value}, load_template())


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("cron(0 12 * * ? *)", None),
    ],
)
def test_rate_expressions(expression: str, seconds: int | None) -> None:
    schedule = ScheduleSpec("F", "E", "Schedule", expression, None, True)
    assert schedule.rate_seconds == seconds


def test_a_schedule_sends_eventbridges_scheduled_event_or_its_input() -> None:
    names = LocalNames()
    rule = ScheduleSpec("ReconcilerFunction", "Every5Minutes", "Schedule", "rate(5 minutes)", None, True)
    event = scheduled_event(rule, names, datetime(2026, 11, 27, 10, 0, tzinfo=UTC))
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-11-27T10:00:00Z"
    rule_arn = "arn:aws:events:us-east-1:123456789012:rule/sms-local-ReconcilerFunctionEvery5Minutes"
    assert event["resources"] == [rule_arn]
    with_input = ScheduleSpec("F", "E", "Schedule", "rate(1 minute)", json.dumps({"dryRun": True}), True)
    assert scheduled_event(with_input, names) == {"dryRun": True}
    scheduler_v2 = ScheduleSpec("F", "E", "ScheduleV2", "rate(1 minute)", None, True)
    assert scheduled_event(scheduler_v2, names) == {}


def test_a_deployed_stack_resolves_the_template_to_its_physical_names() -> None:
    # Given CloudFormation's physical ids (what `--stack NAME` reads)
    physical = {
        "TenantsTable": "prod-TenantsTable-1ABC",
        "DeliveryQueue": "https://sqs.eu-west-1.amazonaws.com/210987654321/prod-DeliveryQueue-XYZ",
    }
    names = DeployedNames("prod", "eu-west-1", physical, {"Stage": "prod"})
    resolver = Resolver(load_template(), names)
    # Then the functions' environment names the deployed table and queue
    assert resolver.resolve({"Ref": "TenantsTable"}) == "prod-TenantsTable-1ABC"
    assert resolver.resolve({"Ref": "DeliveryQueue"}) == physical["DeliveryQueue"]
    assert resolver.resolve({"Ref": "Stage"}) == "prod"
