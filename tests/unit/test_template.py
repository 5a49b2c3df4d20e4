"""Properties of template.yaml that no validator checks and that otherwise fail only once deployed."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from smscore.domain.auth import issue_token
from smsdev.template import load_template, resources_of_type


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


@cache
def transformed() -> dict[str, Any]:
    """The CloudFormation that the SAM transform produces, as deployed (code locations replaced)."""
    template = copy.deepcopy(load_template())
    for resource in template["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key"
    result: dict[str, Any] = transform(template, {}, _NoManagedPolicies())
    return result


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in transformed()["Resources"].items() if v["Type"] == resource_type}


def test_every_sqs_event_source_reports_partial_batch_failures_with_bounded_concurrency() -> None:
    mappings = of_type("AWS::Lambda::EventSourceMapping")
    assert mappings, "the deliver function must consume the delivery queue"
    for props in mappings.values():
        # A misspelt value is accepted by every linter and silently disables partial batch responses.
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert "MaximumConcurrency" in props["ScalingConfig"]


def api_authorizers() -> dict[str, Any]:
    (api,) = of_type("AWS::ApiGateway::RestApi").values()
    return {name: d["x-amazon-apigateway-authorizer"] for name, d in api["Body"]["securityDefinitions"].items()}


def test_api_gateway_may_invoke_the_token_authorizer() -> None:
    assert [a["type"] for a in api_authorizers().values()] == ["token"]
    permissions = [
        p
        for p in of_type("AWS::Lambda::Permission").values()
        if p["FunctionName"] == {"Ref": "AuthorizerFunctionAliaslive"}  # invoked through its alias (safe deploys)
    ]
    assert len(permissions) == 1
    assert permissions[0]["Principal"] == "apigateway.amazonaws.com"
    assert permissions[0]["Action"] == "lambda:InvokeFunction"
    assert "/authorizers/*" in json.dumps(permissions[0]["SourceArn"])


def test_authorizer_cache_ttl_is_the_template_parameter() -> None:
    (authorizer,) = api_authorizers().values()
    # The transform resolves the parameter to its default when no override is given.
    assert authorizer["authorizerResultTtlInSeconds"] == load_template()["Parameters"]["AuthorizerCacheTtl"]["Default"]


def test_every_api_route_function_may_be_invoked_by_api_gateway() -> None:
    invocable = {json.dumps(p["FunctionName"]) for p in of_type("AWS::Lambda::Permission").values()}
    for logical_id, resource in resources_of_type("AWS::Serverless::Function").items():
        if any(e["Type"] == "Api" for e in resource["Properties"].get("Events", {}).values()):
            # Through its alias `live` (safe deploys: tests/unit/test_safe_deploys.py)
            assert json.dumps({"Ref": f"{logical_id}Aliaslive"}) in invocable, logical_id


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("UNAUTHORIZED", "401", "UNAUTHORIZED"),
        ("ACCESS_DENIED", "403", "TERMS_NOT_ACCEPTED"),
        ("AUTHORIZER_FAILURE", "500", "AUTHORIZER_FAILURE"),
        # What API Gateway answers when the authorizer function crashes: the documented body, not INTERNAL_ERROR
        ("AUTHORIZER_CONFIGURATION_ERROR", "500", "AUTHORIZER_FAILURE"),
        ("INTEGRATION_TIMEOUT", "504", "GATEWAY_TIMEOUT"),
    ],
)
def test_gateway_errors_are_json_with_a_stable_code(kind: str, status: str, code: str) -> None:
    (api,) = resources_of_type("AWS::Serverless::Api").values()
    response = api["Properties"]["GatewayResponses"][kind]
    assert response["StatusCode"] == status
    assert json.loads(response["ResponseTemplates"]["application/json"])["code"] == code


def test_the_token_authorizer_validates_the_issued_token_format_before_invoking_the_function() -> None:
    # Given the deployed authorizer's identity validation expression
    (api,) = of_type("AWS::ApiGateway::RestApi").values()
    scheme = api["Body"]["securityDefinitions"]["TokenAuthorizer"]["x-amazon-apigateway-authorizer"]
    expression = re.compile(scheme["identityValidationExpression"])
    # Then every token smscore issues passes it, and what cannot be a token does not reach the function
    assert all(expression.fullmatch(f"Bearer {issue_token().token}") for _ in range(500))
    for malformed in ("Bearer", "Bearer sms_short", "Token " + issue_token().token, issue_token().token):
        assert expression.fullmatch(malformed) is None


def test_tables_are_on_demand_encrypted_and_recoverable() -> None:
    for logical_id, props in of_type("AWS::DynamoDB::Table").items():
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id
        # Encrypted at rest: DynamoDB's own key, or the stack's key for personal data (tests/unit/test_checkov.py)
        assert props["SSESpecification"] in (
            {"SSEEnabled": True},
            {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "PersonalDataKey"}},
        ), logical_id
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, logical_id


def test_delivery_queue_dead_letters_after_the_configured_receives() -> None:
    queues = of_type("AWS::SQS::Queue")
    redrive = queues["DeliveryQueue"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeliveryDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] == {"Ref": "DeliveryMaxReceiveCount"}
    # AWS recommends a visibility timeout of at least six times the consumer's timeout.
    deliver_timeout = of_type("AWS::Lambda::Function")["DeliverFunction"]["Timeout"]
    assert queues["DeliveryQueue"]["VisibilityTimeout"] >= 6 * deliver_timeout


def test_every_function_logs_to_a_retained_group_and_has_an_error_alarm() -> None:
    functions = of_type("AWS::Lambda::Function")
    groups = of_type("AWS::Logs::LogGroup")
    alarms = of_type("AWS::CloudWatch::Alarm")
    alarmed = {json.dumps(d["Value"]) for a in alarms.values() for d in a.get("Dimensions", [])}
    for logical_id, props in functions.items():
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id
        assert json.dumps({"Ref": logical_id}) in alarmed, f"{logical_id} has no error alarm"
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]


def test_every_models_keys_and_time_to_live_are_its_tables_in_the_template() -> None:
    from pynamodb.attributes import TTLAttribute

    from smscore.dal.tables import all_models

    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    tables = of_type("AWS::DynamoDB::Table")
    ttl_by_table: dict[str, set[str]] = {}
    for setting, model in all_models():
        table = variables[setting.upper()]["Ref"]
        declared = {k["KeyType"]: k["AttributeName"] for k in tables[table]["KeySchema"]}
        attributes = model.get_attributes().values()
        keys = {"HASH": model._hash_key_attribute().attr_name}
        if model._range_key_attribute() is not None:
            keys["RANGE"] = model._range_key_attribute().attr_name
        assert keys == declared, f"{model.__name__} keys {keys}, {table} declares {declared}"
        ttl_by_table.setdefault(table, set()).update(a.attr_name for a in attributes if isinstance(a, TTLAttribute))
    for table, ttl in ttl_by_table.items():
        spec = tables[table].get("TimeToLiveSpecification")
        assert ttl == ({spec["AttributeName"]} if spec and spec.get("Enabled") else set()), table
