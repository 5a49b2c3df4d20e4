"""Safe deploys (issue 26, item 1), read from the SAM-transformed template: every function publishes a version
behind the alias `live`, CodeDeploy shifts traffic to it (API functions as a canary, the others linearly, all at
once when DeploymentStrategy=AllAtOnce) and rolls back on the function's own error and latency alarms, and every
event source invokes the alias, never the unqualified function."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from smsdev.template import load_template, resources_of_type
from tests.unit.test_template import transformed

ROOT = Path(__file__).resolve().parents[2]
# The functions that deploy without traffic shifting, each with the reason docs/operations.md#safe-deploys gives.
NO_TRAFFIC_SHIFTING = {
    "AdminSitePublisherFunction": "invoked by CloudFormation during the deploy, through the function, not the alias",
}


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in transformed()["Resources"].items() if v["Type"] == resource_type}


def alias_of(function: str) -> dict[str, str]:
    return {"Ref": f"{function}Aliaslive"}


def is_api_function(logical_id: str) -> bool:
    """Behind API Gateway: it has Api events, or it is the API's authorizer."""
    props = resources_of_type("AWS::Serverless::Function")[logical_id]["Properties"]
    (api,) = resources_of_type("AWS::Serverless::Api").values()
    authorizers = api["Properties"].get("Auth", {}).get("Authorizers", {}).values()
    behind_authorizer = any(a["FunctionArn"] == {"Ref": f"{logical_id}.Alias"} for a in authorizers)
    return behind_authorizer or any(e["Type"] == "Api" for e in props.get("Events", {}).values())


def deployment_config(group: dict[str, Any]) -> tuple[str, str]:
    """(gradual, all-at-once) CodeDeploy configs of a deployment group: its DeploymentStrategy choice."""
    condition, gradual, at_once = group["DeploymentConfigName"]["Fn::If"]
    assert condition == "GradualDeploys"
    return gradual["Fn::Sub"][1]["ConfigName"], at_once["Fn::Sub"][1]["ConfigName"]


def test_every_function_has_the_live_alias_and_a_deployment_group_unless_documented() -> None:
    # Given every function of the template (including ones added later: the Globals give them both)
    functions = of_type("AWS::Lambda::Function")
    aliases = {a["FunctionName"]["Ref"]: a for a in of_type("AWS::Lambda::Alias").values()}
    groups = {k.removesuffix("DeploymentGroup"): g for k, g in of_type("AWS::CodeDeploy::DeploymentGroup").items()}
    # Then each has the alias `live` on a published version
    assert sorted(aliases) == sorted(functions)
    assert {a["Name"] for a in aliases.values()} == {"live"}
    # And each has a deployment group, except the ones whose reason is written down (here and in the docs)
    assert sorted(set(functions) - set(groups)) == sorted(NO_TRAFFIC_SHIFTING)
    operations = (ROOT / "docs" / "operations.md").read_text()
    for logical_id in NO_TRAFFIC_SHIFTING:
        assert logical_id in operations


def test_api_functions_deploy_as_a_canary_and_the_others_linearly_or_all_at_once_by_parameter() -> None:
    groups = {k.removesuffix("DeploymentGroup"): g for k, g in of_type("AWS::CodeDeploy::DeploymentGroup").items()}
    assert len(groups) >= 10
    for function, group in groups.items():
        expected = "Canary10Percent5Minutes" if is_api_function(function) else "Linear10PercentEvery1Minute"
        assert deployment_config(group) == (expected, "AllAtOnce"), function
        assert group["AutoRollbackConfiguration"]["Enabled"] is True
        assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    assert is_api_function("AuthorizerFunction")
    assert not is_api_function("DeliverFunction")
    # And the parameter chooses: Gradual by default, AllAtOnce for the dev config env
    template = load_template()
    assert template["Parameters"]["DeploymentStrategy"]["Default"] == "Gradual"
    assert template["Conditions"]["GradualDeploys"] == {"Fn::Equals": [{"Ref": "DeploymentStrategy"}, "Gradual"]}
    samconfig = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert 'DeploymentStrategy="AllAtOnce"' in samconfig["dev"]["deploy"]["parameters"]["parameter_overrides"]
    assert "DeploymentStrategy" not in samconfig["prod"]["deploy"]["parameters"]["parameter_overrides"]


def test_each_deployment_rolls_back_on_the_functions_own_error_and_latency_alarms() -> None:
    alarms = of_type("AWS::CloudWatch::Alarm")
    for function, group in of_type("AWS::CodeDeploy::DeploymentGroup").items():
        function = function.removesuffix("DeploymentGroup")
        watched = [alarms[a["Name"]["Ref"]] for a in group["AlarmConfiguration"]["Alarms"]]
        own = [a for a in watched if {"Name": "FunctionName", "Value": {"Ref": function}} in a.get("Dimensions", [])]
        assert sorted(a["MetricName"] for a in own) == ["Duration", "Errors"], function
        assert group["AlarmConfiguration"]["Enabled"] is True


def test_every_event_source_invokes_the_alias() -> None:
    functions = set(of_type("AWS::Lambda::Function"))

    def target(value: Any) -> str:
        # An unqualified function would be {"Ref": F} or {"Fn::GetAtt": [F, "Arn"]}: never allowed here.
        text = json.dumps(value)
        assert not any(json.dumps({"Ref": f}) in text or f'["{f}", "Arn"]' in text for f in functions), text
        return text

    sources = [
        *(p["FunctionName"] for p in of_type("AWS::Lambda::EventSourceMapping").values()),
        # (a rule may target a queue instead: AWS SMS delivery events go to the receipts queue)
        *(
            t["Arn"]
            for r in of_type("AWS::Events::Rule").values()
            for t in r["Targets"]
            if not any(t["Arn"] == {"Fn::GetAtt": [q, "Arn"]} for q in of_type("AWS::SQS::Queue"))
        ),
        *(s["Target"]["Arn"] for s in of_type("AWS::Scheduler::Schedule").values()),
        *(s["Endpoint"] for s in of_type("AWS::SNS::Subscription").values() if s["Protocol"] == "lambda"),
        *(p["FunctionName"] for p in of_type("AWS::Lambda::Permission").values()),
    ]
    assert len(sources) >= 10
    assert all("Aliaslive" in target(source) for source in sources)
    # And the API's token authorizer is the authorizer's alias too
    (api,) = of_type("AWS::ApiGateway::RestApi").values()
    (authorizer,) = api["Body"]["securityDefinitions"].values()
    assert json.dumps(alias_of("AuthorizerFunction")) in json.dumps(authorizer["x-amazon-apigateway-authorizer"])
