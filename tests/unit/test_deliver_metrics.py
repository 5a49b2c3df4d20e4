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


def test_failed_messages_are_counted_by_their_provider_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from smscore.domain.delivery import Outcome
    from smscore.domain.model import MessageStatus, StoredMessage
    from smscore.domain.ports import FailedSend, PermanentFailure

    # Given a record whose three failures were recorded (two invalid numbers, one opt-out) and one that was not
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setattr(deliver_app.metrics, "namespace", "SmsByTags")

    def failed(message_id: str, code: str) -> FailedSend:
        message = StoredMessage(
            message_id, "t-1", "q-1", "+573001234567", "Hola", 1, 1, MessageStatus.SENDING, "twilio"
        )
        return FailedSend(message, "twilio", PermanentFailure(code, "refused"))

    report = DeliveryReport()
    for message_id, code, outcome in [
        ("m-1", "21211", Outcome.FAILED_PERMANENT),
        ("m-2", "21211", Outcome.FAILED_PERMANENT),
        ("m-3", "OPTED_OUT", Outcome.OPTED_OUT),
        ("m-4", "21614", Outcome.FAILED_PERMANENT),
    ]:
        report.fail(failed(message_id, code), outcome)
        report.outcomes[message_id] = outcome
    report.outcomes["m-4"] = Outcome.LOST_LEASE  # taken over before its failure was written: not ours to count
    # When its report is published
    deliver_app.publish(report)
    # Then MessageFailures is one blob per code, dimensioned by it
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "MessageFailures" in line]
    assert {b["code"]: b["MessageFailures"] for b in blobs} == {"21211": [2.0], "OPTED_OUT": [1.0]}
    assert all(b["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SmsByTags" for b in blobs)
