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
import uuid
from pathlib import Path

import boto3

from bench.harness import FAKE_AWS, Row
from smsdev.emulator import LocalAws
from smsdev.provision import create_queues, create_tables
from smsdev.template import LocalNames

TAGS = ("vip", "buyers", "newsletter")


def _write_csv(path: Path, rows: int) -> int:
    """Rows of phone,name,tags; returns the number of memberships (each row carries one or two tags)."""
    memberships = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "name", "tags"])
        for i in range(rows):
            tags = [TAGS[i % 3]] + ([TAGS[(i + 1) % 3]] if i % 4 == 0 else [])
            memberships += len(tags)
            writer.writerow([f"300{i:07d}", f"Contact {i}", ";".join(tags)])
    return memberships


def _floor_seconds(names: LocalNames, rows: int, memberships: int) -> float:
    """The same BatchWriteItem calls, made directly: what any import must at least do."""
    dynamodb = boto3.client("dynamodb", region_name=names.region)
    contacts, members = names.physical("ContactsTable"), names.physical("TagMembersTable")
    tenant = str(uuid.uuid4())

    def puts(table: str, count: int, key: str) -> None:
        for start in range(0, count, 25):
            items = [
                {
                    "PutRequest": {
                        "Item": {
                            key: {"S": tenant if key == "tenant_id" else f"{tenant}#t"},
                            "contact_id": {"S": str(uuid.uuid4())},
                            "phone": {"S": f"300{i:07d}"},
                            "opted_out": {"BOOL": False},
                        }
                    }
                }
                for i in range(start, min(count, start + 25))
            ]
            dynamodb.batch_write_item(RequestItems={table: items})

    started = time.perf_counter()
    puts(contacts, rows, "tenant_id")
    puts(members, memberships, "tag_key")
    return time.perf_counter() - started


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
        floor = _floor_seconds(names, rows, memberships)
    finally:
        aws.stop()
        os.environ.clear()
        os.environ.update(saved)
    return Row(
        name=f"import: smsctl contacts import, {rows:,} rows (local stack endpoint)",
        value=round(rows / seconds),
        unit="rows/s",
        baseline=round(rows / floor),
        target="every row imported (rate reported)",
        passed=report.get("imported") == rows,
        details={"seconds": round(seconds, 1), "floor_seconds": round(floor, 1), "report": report},
    )
