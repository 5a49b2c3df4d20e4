"""Powertools warns "No application metrics to publish" after every invocation that added no metric (issue 26,
item 3). The handlers silence exactly that warning, as Powertools' documentation shows (smscore.observability).

Checked in a fresh interpreter, as Lambda runs a handler: pytest resets warning filters around each test and
around collection, which would hide a filter installed at import (or undo it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# An EventBridge event that is not a delivery receipt, on the receipts queue: the receipts consumer applies nothing
# and adds no metric.
SCRIPT = """
import json
from functions.receipts import app
from smscore.wiring import ReceiptsDeps
from smsdev.testing import LambdaContextStub
from tests.conftest import load_event
from tests.delivery_fakes import InMemoryParkedReceipts, InMemoryReceiptStore

deps = ReceiptsDeps(InMemoryReceiptStore(), InMemoryParkedReceipts(), retry_receives=5)
event = load_event("sqs_receipts_batch.json")
event["Records"][0]["body"] = json.dumps({"id": "e-1", "detail-type": "Scheduled Event", "source": "aws.events",
                                          "detail": {}})
print(app.lambda_handler(event, LambdaContextStub(), deps=deps))
"""


@pytest.mark.parametrize("quiet", [True, False], ids=["handler as shipped", "filter removed"])
def test_an_invocation_without_metrics_prints_no_empty_metrics_warning(quiet: bool) -> None:
    # Given metrics enabled in the template's namespace, and (second case) the filter taken away again
    env = {
        **os.environ,
        "POWERTOOLS_METRICS_NAMESPACE": "SmsByTags",
        "POWERTOOLS_SERVICE_NAME": "sms-by-tags",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("POWERTOOLS_METRICS_DISABLED", None)
    script = SCRIPT if quiet else SCRIPT.replace("print(app.", "import warnings; warnings.resetwarnings(); print(app.")
    # When one invocation publishes no metric
    run = subprocess.run(
        [sys.executable, "-W", "default", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    # Then it answered, and only without the filter does Powertools print its warning
    assert run.returncode == 0, run.stderr
    assert "'batchItemFailures': []" in run.stdout
    assert ("No application metrics to publish" in run.stderr) is not quiet
