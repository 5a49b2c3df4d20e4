"""The operations dashboard (issue 26, item 2): it shows what an operator needs, and every metric of our own that it
names is really emitted, by a function through Powertools Metrics (EMF; names parsed from the code) or by a metric
filter of the template. A renamed or misspelt metric would otherwise leave a panel empty without anyone noticing."""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.receipts import ReceiptOutcome
from smscore.observability import publish_receipt
from smsdev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*(ROOT / "layers" / "common" / "smscore").rglob("*.py"), *(ROOT / "functions").rglob("*.py")])
AWS_NAMESPACES = {"AWS/SQS", "AWS/Lambda", "AWS/DynamoDB", "AWS/ApiGateway"}
INSIGHTS = re.compile(r"SELECT (?:SUM|AVG|MAX|MIN|COUNT)\((\w+)\) FROM (?:SCHEMA\()?\"?([\w/]+)\"?")


def template_namespace() -> str:
    """POWERTOOLS_METRICS_NAMESPACE of the Globals, which no function overrides: the namespace of every EMF blob."""
    template = load_template()
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            variables = resource["Properties"].get("Environment", {}).get("Variables", {})
            assert "POWERTOOLS_METRICS_NAMESPACE" not in variables, logical_id
    return str(namespace)


def dashboard() -> dict[str, Any]:
    """The DashboardBody as CloudWatch receives it, each ${...} substitution filled with a placeholder."""
    (resource,) = [r for r in load_template()["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    text = resource["Properties"]["DashboardBody"]["Fn::Sub"]
    text = re.sub(r"(?<=: )\$\{[^}]+\}(?=[\s,}\]])", "0", text)  # a number (an annotation's threshold)
    body: dict[str, Any] = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))
    return body


def dashboard_metrics() -> set[tuple[str, str]]:
    """(namespace, metric) of every metric and Metrics Insights query of every widget."""
    found = set()
    for widget in dashboard()["widgets"]:
        for entry in widget["properties"]["metrics"]:
            if isinstance(entry[0], dict):
                match = INSIGHTS.search(entry[0]["expression"])
                assert match, entry
                found.add((match.group(2), match.group(1)))
            else:
                found.add((entry[0], entry[1]))
    return found


def emitted_by_code() -> tuple[set[str], list[str]]:
    """Metric names the shipped code passes to add_metric / single_metric, and the prefixes of f-string names.

    A name is a literal, a module constant, or the loop variable of a `for name, value in (("X", ...), ...)` or
    `for key, name in MAPPING.items()` over a module-level dict (the forms the handlers use)."""
    names: set[str] = set()
    prefixes: list[str] = []
    for path in SHIPPED:
        tree = ast.parse(path.read_text())
        constants = {
            t.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        loops = [node for node in ast.walk(tree) if isinstance(node, ast.For)]
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            func = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            if func not in {"add_metric", "single_metric"}:
                continue
            arg = next((k.value for k in call.keywords if k.arg == "name"), call.args[0] if call.args else None)
            if isinstance(arg, ast.Constant):
                names.add(str(arg.value))
            elif isinstance(arg, ast.JoinedStr):
                prefixes.append("".join(str(v.value) for v in arg.values[:1] if isinstance(v, ast.Constant)))
            elif isinstance(arg, ast.Name) and isinstance(constants.get(arg.id), ast.Constant):
                names.add(str(constants[arg.id].value))  # type: ignore[union-attr]
            elif isinstance(arg, ast.Name):
                names |= _loop_names(arg.id, loops, constants)
    return names, prefixes


def _loop_names(variable: str, loops: list[ast.For], constants: dict[str, ast.expr]) -> set[str]:
    names = set()
    for loop in loops:
        targets = loop.target.elts if isinstance(loop.target, ast.Tuple) else [loop.target]
        position = next((i for i, t in enumerate(targets) if isinstance(t, ast.Name) and t.id == variable), None)
        if position is None:
            continue
        iterable = loop.iter
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute):  # MAPPING.items()
            mapping = constants.get(getattr(iterable.func.value, "id", ""))
            if isinstance(mapping, ast.Dict):
                names |= {str(v.value) for v in mapping.values if isinstance(v, ast.Constant)}
        elif isinstance(iterable, ast.Tuple | ast.List):
            for item in iterable.elts:
                if isinstance(item, ast.Tuple) and isinstance(item.elts[position], ast.Constant):
                    names.add(str(item.elts[position].value))  # type: ignore[attr-defined]
    return names


def emitted_by_metric_filters() -> set[tuple[str, str]]:
    return {
        (t["MetricNamespace"], t["MetricName"])
        for r in load_template()["Resources"].values()
        if r["Type"] == "AWS::Logs::MetricFilter"
        for t in r["Properties"]["MetricTransformations"]
    }


def test_the_code_parser_finds_the_metrics_the_handlers_emit() -> None:
    # The parser itself: literals, module constants, loop tuples, mappings and f-string prefixes
    names, prefixes = emitted_by_code()
    assert {"SmsSent", "CreditsDebited", "FanoutsReconciled", "SenderPaused", "UnparseableEvents"} <= names
    assert {"MessageFailures", "ReceiptLag", "CampaignsCreated", "ScheduledMessagesReleased"} <= names
    assert {"Receipt", "Sms", "Keyword"} <= set(prefixes)


def test_every_metric_of_ours_on_the_dashboard_is_emitted() -> None:
    # Given the EMF namespace of every function and what the code and the metric filters emit
    namespace = template_namespace()
    names, prefixes = emitted_by_code()
    filtered = emitted_by_metric_filters()
    # Then every dashboard metric is AWS's own, or ours and emitted (f-string names must be exact elsewhere)
    unknown = []
    for metric_namespace, metric in sorted(dashboard_metrics()):
        if metric_namespace in AWS_NAMESPACES:
            continue
        emitted = metric in names or (metric_namespace, metric) in filtered
        emitted = emitted or any(metric.startswith(p) and metric[len(p) :] in SUFFIXES.get(p, ()) for p in prefixes)
        if metric_namespace != namespace or not emitted:
            unknown.append((metric_namespace, metric))
    assert unknown == []


# The names an f-string in the code can produce, per prefix (each checked by a behaviour test of its own).
SUFFIXES = {"Sms": {s.value.title() for s in (MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)}}


def test_the_dashboard_shows_what_an_operator_needs() -> None:
    shown = {metric for _, metric in dashboard_metrics()}
    # sends and messages by status, failures by code, queue age and depth, Lambda errors, throttles, duration,
    # DynamoDB throttles, API 4xx/5xx/latency (and 429s), refunds and credits debited, receipts lag, paused senders
    required = {
        "CampaignsCreated", "MessagesEnqueued", "SmsSent", "SmsDelivered", "SmsUndelivered", "SmsFailedPermanent",
        "MessageFailures", "ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible", "Errors",
        "Throttles", "Duration", "ThrottledRequests", "4XXError", "5XXError", "Latency", "ApiThrottled",
        "CreditsDebited", "CreditsRefunded", "ReceiptLag", "SenderPaused",
    }  # fmt: skip
    assert required - shown == set()
    titles = [w["properties"]["title"] for w in dashboard()["widgets"]]
    assert len(titles) == len(set(titles)) >= 12


class RecordingMetrics:
    namespace = "SmsByTags"

    def __init__(self) -> None:
        self.added: list[tuple[str, str, float]] = []

    def add_metric(self, name: str, unit: str, value: float) -> None:
        self.added.append((name, unit, value))


@pytest.mark.parametrize(("status", "metric"), [("DELIVERED", "SmsDelivered"), ("UNDELIVERED", "SmsUndelivered")])
def test_an_applied_receipt_counts_its_status_and_its_lag(
    status: str, metric: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a receipt reported 2.5 s before we applied it (UNDELIVERED with the carrier's code 30003)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    receipt = Receipt(
        provider="twilio",
        status=MessageStatus(status),
        reported_at=now - timedelta(milliseconds=2500),
        provider_status=status.lower(),
        error_code="30003" if status == "UNDELIVERED" else None,
        message_id="m-1",
    )
    metrics = RecordingMetrics()
    # When it is applied, and when another one is stale
    publish_receipt(metrics, receipt, ReceiptOutcome.APPLIED, now)
    publish_receipt(metrics, receipt, ReceiptOutcome.STALE, now)
    # Then only the applied one counts: its status, and its lag in milliseconds
    assert metrics.added == [(metric, "Count", 1), ("ReceiptLag", "Milliseconds", 2500.0)]
    # And an undelivered one is a failure by its code, in its own EMF blob
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "MessageFailures" in line]
    assert [(b["code"], b["MessageFailures"]) for b in blobs] == ([("30003", [1.0])] if status == "UNDELIVERED" else [])
