"""The security scan of template.yaml at zero (issue 26, item 4): checkov (pinned in requirements-checkov.txt,
installed by `make test` into .venv/checkov) finds nothing, except checks the template skips with a reason.

A resource added later passes or carries `Metadata: checkov: skip:` with an id and a comment saying why the check
does not fit (docs/operations.md, "Security scan"); the failure message names the resource and the check."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from smsdev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"
PINNED_VERSION = next(
    line.split("==", 1)[1].strip()
    for line in (ROOT / "requirements-checkov.txt").read_text().splitlines()
    if line.startswith("checkov==")
)


def skips_in_template() -> list[tuple[str, dict[str, Any]]]:
    """(resource, skip entry) of every `Metadata: checkov: skip:` in the template."""
    return [
        (name, skip)
        for name, resource in load_template()["Resources"].items()
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", [])
    ]


def test_every_skip_in_the_template_names_a_check_and_gives_a_reason() -> None:
    # Given the checks the template skips (without running checkov: this holds wherever the tests run)
    skips = skips_in_template()
    assert len(skips) >= 40
    # Then each names one check and says, in a sentence, why it does not fit this resource
    unexplained = [
        (name, skip.get("id"))
        for name, skip in skips
        if not str(skip.get("id", "")).startswith("CKV") or len(str(skip.get("comment", "")).split()) < 6
    ]
    assert unexplained == []


@pytest.fixture(scope="module")
def scan() -> dict[str, Any]:
    """checkov's JSON report on template.yaml (about 20 s)."""
    if not CHECKOV.exists():
        if os.environ.get("CI"):
            pytest.fail("checkov is not installed: `make test` installs it (.venv/checkov)")
        pytest.skip("checkov is not installed here: `make checkov` installs and runs it")
    run = subprocess.run(
        [
            str(CHECKOV),
            "-f",
            "template.yaml",
            "--framework",
            "cloudformation",
            "-o",
            "json",
            "--compact",
            "--skip-download",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LOG_LEVEL": "ERROR"},
    )
    report = json.loads(run.stdout)
    result: dict[str, Any] = report[0] if isinstance(report, list) else report
    return result


def test_checkov_is_the_pinned_version(scan: dict[str, Any]) -> None:
    assert scan["summary"]["checkov_version"] == PINNED_VERSION


def test_checkov_finds_nothing_in_the_template(scan: dict[str, Any]) -> None:
    # Given checkov's report on template.yaml: it parsed the template and ran its checks
    assert scan["summary"]["parsing_errors"] == 0
    assert scan["summary"]["passed"] >= 100
    # Then nothing failed: fix the resource, or skip the check in its Metadata with the reason (docs/operations.md)
    failed = [(f["resource"], f["check_id"], f["check_name"]) for f in scan["results"].get("failed_checks", [])]
    assert failed == []


def test_every_check_checkov_skipped_has_a_reason(scan: dict[str, Any]) -> None:
    skipped = scan["results"].get("skipped_checks", [])
    assert len(skipped) >= 40
    unexplained = [
        (s["resource"], s["check_id"])
        for s in skipped
        if len(str(s.get("check_result", {}).get("suppress_comment", "")).split()) < 6
    ]
    assert unexplained == []


PERSONAL_TABLES = {
    "MembersTable": "e-mail addresses",
    "ContactsTable": "phone numbers and names",
    "SuppressionsTable": "the numbers that opted out",
    "TagMembersTable": "copies of the contacts' numbers",
    "MessagesTable": "recipients and message texts",
    "IdempotencyTable": "the stored 201 answers list every recipient",
    "OutboxTable": "what the sandbox sent: recipients and texts",
    "ExclusionsTable": "the numbers of the national exclusion list (RNE)",
    "WebhooksTable": "the tenants' webhook signing secrets",
}


def test_the_tables_and_queues_that_hold_personal_data_use_the_stacks_key() -> None:
    # Given the template's tables, the two-way SMS topic and the dead-letter queues of raw events
    resources = load_template()["Resources"]
    key = {"Ref": "PersonalDataKey"}
    # Then each of them is encrypted with the customer managed key, which is rotated and outlives the stack
    for table in PERSONAL_TABLES:
        assert resources[table]["Properties"]["SSESpecification"]["KMSMasterKeyId"] == key, table
    raw = ("ReceiptsQueue", "ReceiptsDeadLetterQueue", "InboundSmsDeadLetterQueue", "AsyncInvocationDeadLetterQueue")
    for queue in (*raw, "WebhookQueue", "WebhookDeadLetterQueue"):
        assert resources[queue]["Properties"]["KmsMasterKeyId"] == key, queue
    assert resources["InboundSmsTopic"]["Properties"]["KmsMasterKeyId"] == key
    assert resources["PersonalDataKey"]["Properties"]["EnableKeyRotation"] is True
    assert resources["PersonalDataKey"]["DeletionPolicy"] == "Retain"
