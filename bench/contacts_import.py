"""`smsctl contacts import` of a large CSV against the local stack's AWS endpoint, in rows per second.

The baseline is the bare floor of the same import: the same number of BatchWriteItem calls (contacts and
tag memberships, 25 items each) made directly with boto3 on the same serialised endpoint.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from bench.contacts_data import CSV_HEADER, bare_batch_writes, contact_rows, import_rate_row
from bench.harness import FAKE_AWS, Row
from smsdev.emulator import LocalAws
from smsdev.provision import create_queues, create_tables
from smsdev.template import LocalNames


def _write_csv(path: Path, rows: int) -> int:
    """Rows of phone,name,tags; returns the number of memberships (each row carries one or two tags)."""
    lines, memberships = contact_rows(rows)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        writer.writerows(lines)
    return memberships


def measure(rows: int = 100_000) -> Row:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
    saved = dict(os.environ)
    aws = LocalAws(port=0)
    aws.start()
    try:
        os.environ.update(FAKE_AWS)
        os.environ["AWS_ENDPOINT_URL"] = aws.endpoint
        names = LocalNames(stack_name="sms-local", endpoint=aws.endpoint)
        create_tables(boto3.client("dynamodb", region_name=names.region), names)
        create_queues(boto3.client("sqs", region_name=names.region), names)
        env = {**os.environ, "LOCAL_AWS_PORT": str(aws.port)}
        smsctl = [sys.executable, "-m", "smsdev.cli"]
        tenant = json.loads(
            subprocess.run(
                [*smsctl, "tenant", "create", "--name", "Bench", "--credits", "0", "--country", "CO"],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            ).stdout
        )["tenantId"]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "contacts.csv"
            memberships = _write_csv(path, rows)
            started = time.perf_counter()
            result = subprocess.run(
                [*smsctl, "contacts", "import", "--tenant", tenant, str(path)],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            seconds = time.perf_counter() - started
        report = json.loads(result.stdout)
        floor = bare_batch_writes(names, rows, memberships)
    finally:
        aws.stop()
        os.environ.clear()
        os.environ.update(saved)
    return import_rate_row(
        f"import: smsctl contacts import, {rows:,} rows (local stack endpoint)",
        rows,
        seconds,
        floor,
        passed=report.get("imported") == rows,
        report=report,
    )
