"""The platform model's reading of the template (bench/capacity_model.py, issue 20 item 9): which front Twilio's
callbacks reach, what Lambda's limits allow, what the logs cost. Synthetic per-message figures; no moto."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import capacity_model
from bench.capacity import Tally
from bench.lifecycle import Lifecycle


def lifecycle(write_units: int = 7) -> Lifecycle:
    """One delivered message's figures, as bench.lifecycle would measure them (CPU per message, per callback)."""
    tally = Tally()
    tally.units["MessagesTable"] = write_units
    return Lifecycle(
        "immediate",
        1,
        {},
        {"deliver": tally},
        [900],
        aws_calls={"webhook": Counter({"sqs:SendMessage": 1})},
        cpu_seconds={"deliver": 0.003, "consumer": 0.0015, "webhook": 0.0006},
        log_bytes={"deliver": 30.0, "consumer": 30.0, "webhook": 100.0},
    )


def test_the_deliver_function_gives_twilio_the_status_webhooks_function_url() -> None:
    assert capacity_model.status_callback_front() == "function-url"


def test_twilio_route_has_no_api_gateway_charge_and_no_platform_log_lines_for_the_webhook() -> None:
    # Given one message's measured figures
    row = capacity_model.cost_row(lifecycle(), "twilio")
    lines = row.details["dollars_by_line"]
    # Then no API Gateway request is priced (the callbacks reach the function URL)
    assert not [name for name in lines if "API Gateway" in name]
    assert row.details["status_callbacks_front"] == "function-url"
    # And the webhook's three invocations add only their own log lines (no START/END/REPORT at SystemLogLevel WARN)
    assert capacity_model.platform_log_bytes("TwilioStatusFunction") == 0
    assert capacity_model.platform_log_bytes("DeliverFunction") == capacity_model.PLATFORM_LOG_BYTES_PER_INVOCATION
    expected_logs = 3 * 100 + 30 + 420 / 500 + 30 + 420 / 100
    assert row.details["log_bytes_per_message"] == round(expected_logs)
    # And the three callbacks are still three Lambda requests ($0.20 per million each)
    assert lines["Lambda TwilioStatusFunction"] >= 3 * 0.20


def test_the_lambda_request_rate_bounds_short_callbacks_at_ten_per_unit_of_the_account_quota() -> None:
    # Given the account's default quota (1,000 concurrent executions, so 10,000 requests/s)
    bounds = capacity_model.lambda_bounds(lifecycle(), 1_000)
    # Then 3 callbacks per message, plus a deliver invocation per 500 messages and a consumer one per 100, hold
    # about 3,320 messages/s, far below what the concurrency itself would hold
    (rate,) = [value for name, value in bounds.items() if name.startswith("Lambda requests/s")]
    assert rate == pytest.approx(10_000 / (3 + 1 / 500 + 1 / 100))
    assert bounds["account concurrency quota 1,000 (shared)"] > rate
    # And the quota the model assumes (10,000) allows ten times that
    raised = capacity_model.lambda_bounds(lifecycle(), capacity_model.ACCOUNT_CONCURRENCY_QUOTA)
    assert max(v for n, v in raised.items() if n.startswith("Lambda requests/s")) == pytest.approx(10 * rate)
