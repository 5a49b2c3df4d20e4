"""The deliver handler's metrics for waiting senders: SenderPaused is what SenderPausedAlarm reads."""

from __future__ import annotations

import json

import pytest

from functions.deliver import app as deliver_app
from smscore.domain.delivery import DeliveryReport


def test_a_paused_sender_is_one_sender_paused_metric_with_its_sender_dimension(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given metrics enabled in the template's namespace, and an invocation that found two senders paused
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SmsByTags")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "sms-by-tags")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    report = DeliveryReport()
    report.paused_senders.update({"twilio:MG123", "aws_sms:+15550100000"})
    # When its report is published
    deliver_app.publish(report)
    # Then each sender is one EMF blob: SenderPaused = 1 in SmsByTags, dimensioned by sender (and service)
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "SenderPaused" in line]
    assert sorted(b["sender"] for b in blobs) == ["aws_sms:+15550100000", "twilio:MG123"]
    for blob in blobs:
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "SmsByTags"
        assert directive["Dimensions"] == [["sender", "service"]]
        assert directive["Metrics"] == [{"Name": "SenderPaused", "Unit": "Count"}]
        assert blob["SenderPaused"] == [1.0]
