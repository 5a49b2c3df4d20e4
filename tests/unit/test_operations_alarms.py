"""The alarms of issue 26 (item 3), read from the SAM-transformed template: DynamoDB and Lambda throttles, the API's
4xx share, 5xx, 429s and authorizer failures, and unparseable inputs each have an alarm that notifies the alarm
topic; the access log they read is JSON that carries no phone number; and the runbook names every alarm."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from smsdev.template import load_template
from tests.unit.test_template import transformed

ROOT = Path(__file__).resolve().parents[2]
TOPIC = {"Ref": "AlarmTopic"}


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in transformed()["Resources"].items() if v["Type"] == resource_type}


def alarms_reading(namespace: str, metric: str) -> list[str]:
    """Alarms on this metric: as a plain metric, in a metric math MetricStat, or in a Metrics Insights query."""
    found = []
    for name, props in of_type("AWS::CloudWatch::Alarm").items():
        if props.get("Namespace") == namespace and props.get("MetricName") == metric:
            found.append(name)
        for query in props.get("Metrics", []):
            stat = query.get("MetricStat", {}).get("Metric", {})
            if stat.get("Namespace") == namespace and stat.get("MetricName") == metric:
                found.append(name)
            expression = str(query.get("Expression", ""))
            if re.search(rf"\({metric}\) FROM (SCHEMA\()?\"{re.escape(namespace)}\"", expression):
                found.append(name)
    return found


@pytest.mark.parametrize(
    ("namespace", "metric", "alarm"),
    [
        ("AWS/DynamoDB", "ThrottledRequests", "DynamoDbThrottlesAlarm"),
        ("AWS/Lambda", "Throttles", "LambdaThrottlesAlarm"),
        ("AWS/ApiGateway", "4XXError", "Api4xxAlarm"),
        ("AWS/ApiGateway", "5XXError", "Api5xxAlarm"),
        ("SmsByTags", "ApiThrottled", "ApiThrottledAlarm"),
        ("SmsByTags", "ApiAuthorizerFailures", "ApiAuthorizerFailuresAlarm"),
        ("AWS/Lambda", "Errors", "AuthorizerErrorsAlarm"),
        ("SmsByTags", "UnparseableEvents", "UnparseableEventsAlarm"),
    ],
)
def test_each_gap_has_an_alarm_that_notifies_the_topic(namespace: str, metric: str, alarm: str) -> None:
    # Given the template's alarms
    props = of_type("AWS::CloudWatch::Alarm")
    # Then this metric is alarmed, and the alarm reaches the topic when it fires and when it clears
    assert alarm in alarms_reading(namespace, metric)
    assert TOPIC in props[alarm]["AlarmActions"]
    assert TOPIC in props[alarm]["OKActions"]


def test_the_api_alarms_watch_this_stacks_api_and_stage() -> None:
    (api,) = of_type("AWS::ApiGateway::RestApi").values()
    dimensions = [
        {"Name": "ApiName", "Value": api["Name"]},
        {"Name": "Stage", "Value": {"Ref": "Stage"}},
    ]
    props = of_type("AWS::CloudWatch::Alarm")
    assert props["Api5xxAlarm"]["Dimensions"] == dimensions
    stats = [q["MetricStat"]["Metric"] for q in props["Api4xxAlarm"]["Metrics"] if "MetricStat" in q]
    assert [s["MetricName"] for s in stats] == ["4XXError", "Count"]
    assert all(s["Dimensions"] == dimensions for s in stats)


def test_429s_and_authorizer_failures_are_counted_from_the_access_log() -> None:
    filters = {f["MetricTransformations"][0]["MetricName"]: f for f in of_type("AWS::Logs::MetricFilter").values()}
    assert filters["ApiThrottled"]["FilterPattern"] == "{ $.status = 429 }"
    assert "AUTHORIZER_FAILURE" in filters["ApiAuthorizerFailures"]["FilterPattern"]
    assert {f["LogGroupName"]["Ref"] for f in filters.values()} >= {"ApiAccessLogGroup"}
    (stage,) = of_type("AWS::ApiGateway::Stage").values()
    assert stage["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}


def test_the_access_log_is_one_json_object_that_never_carries_a_phone_number() -> None:
    (stage,) = of_type("AWS::ApiGateway::Stage").values()
    log_format = stage["AccessLogSetting"]["Format"]
    variables = set(re.findall(r"\$context\.[A-Za-z.]+", log_format))
    # Given every $context variable filled as API Gateway would (numbers unquoted), for a request with a number
    line = log_format
    for variable in sorted(variables, key=len, reverse=True):
        line = line.replace(variable, "429" if variable in {"$context.status", "$context.responseLatency"} else "x")
    # Then the line is one JSON object with the fields the metric filters and the runbook use
    entry = json.loads(line)
    assert {"status", "route", "errorType", "ip", "tenantId", "requestId"} <= set(entry)
    assert entry["status"] == 429
    # And no variable can hold a phone number: no path values, query strings or bodies
    assert variables.isdisjoint(
        {"$context.path", "$context.requestOverride.querystring", "$input.body", "$context.authorizer.claims"}
    )
    assert not any("querystring" in v.lower() or v == "$context.path" for v in variables)
    assert "$context.resourcePath" in variables


def test_the_runbook_names_every_alarm_with_its_meaning_and_first_action() -> None:
    # Given the runbook table of docs/operations.md (alarm | what it means | first action)
    text = (ROOT / "docs" / "operations.md").read_text()
    runbook = text.split("## Runbooks", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in runbook.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| `") else []
        if len(cells) >= 3:
            for name in re.findall(r"`([A-Za-z0-9<>]+Alarm)`", cells[0]):
                rows[name] = cells
    # Then every alarm of the template has a row, directly or as one of the per-function families
    template_alarms = [k for k, v in load_template()["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(template_alarms) >= 30
    missing = []
    for alarm in template_alarms:
        family = re.sub(r"^\w+?(ErrorsAlarm|LatencyAlarm)$", r"<Function>\1", alarm)
        row = rows.get(alarm) or rows.get(family)
        if row is None or not row[1] or not row[2]:
            missing.append(alarm)
    assert missing == [], "add a row (alarm | what it means | first action) to the runbook in docs/operations.md"
