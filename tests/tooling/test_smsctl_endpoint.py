"""Where smsctl finds the local stack: --endpoint, LOCAL_AWS_PORT, or the .smsdev/stack.json that `make dev`
writes with its ports; and, when nothing answers there, an error that says where it looked and how to point it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from smsdev import dev, targets
from smsdev.template import ROOT
from tests.integration.conftest import LocalEndpointStack, free_port, smsctl

NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where smsctl looks for make dev's file (a temporary one here), with LOCAL_AWS_PORT unset."""
    path = tmp_path / ".smsdev" / "stack.json"
    monkeypatch.setattr(targets, "STACK_FILE", path)
    monkeypatch.delenv("LOCAL_AWS_PORT", raising=False)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    return path


def test_make_dev_writes_its_endpoints_to_a_git_ignored_file_by_default() -> None:
    assert targets.STACK_FILE == ROOT / ".smsdev" / "stack.json"
    assert dev.parser().parse_args([]).json == targets.STACK_FILE
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(targets.STACK_FILE)], cwd=ROOT, check=False, capture_output=True
    )
    assert ignored.returncode == 0, ".smsdev/ is not git-ignored"


def test_smsctl_finds_make_devs_stack_on_another_port_through_the_file(
    local: LocalEndpointStack, stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given make dev on a port that is not 4566, and no LOCAL_AWS_PORT in this shell
    assert not local.endpoint.endswith(":4566")
    dev.write_stack_file(stack_file, api_url="http://127.0.0.1:3999", aws_endpoint=local.endpoint, seed=None)
    # When smsctl runs with no option, Then it reaches that stack
    created = smsctl(capsys, "tenant", "create", "--name", "Elsewhere", "--credits", "5")
    assert created.code == 0, created.err
    shown = smsctl(capsys, "credits", "show", "--tenant", created.json["tenantId"])
    assert (shown.code, shown.json["balance"]) == (0, 5)


def test_the_endpoint_option_wins(
    local: LocalEndpointStack, stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev.write_stack_file(stack_file, api_url="", aws_endpoint=f"http://127.0.0.1:{free_port()}", seed=None)
    created = smsctl(capsys, "--endpoint", local.endpoint, "tenant", "create", "--name", "Pointed", "--credits", "1")
    assert created.code == 0, created.err


def test_unreachable_says_where_it_looked_and_how_to_point_smsctl_there(
    stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An endpoint given where nothing listens: it says so, and how the stack is pointed at otherwise
    result = smsctl(capsys, "--endpoint", f"http://127.0.0.1:{free_port()}", "credits", "show", "--tenant", NO_SUCH_ID)
    assert (result.code, result.out) == (1, "")
    assert "--endpoint" in result.err
    # From the file: it names the file, and how else to point smsctl
    port = free_port()
    dev.write_stack_file(stack_file, api_url="", aws_endpoint=f"http://127.0.0.1:{port}", seed=None)
    result = smsctl(capsys, "credits", "show", "--tenant", NO_SUCH_ID)
    assert (result.code, result.out) == (1, "")
    for hint in (f"127.0.0.1:{port}", str(stack_file), "make dev", "--endpoint", "LOCAL_AWS_PORT"):
        assert hint in result.err, hint


def test_the_written_file_holds_the_ports_and_the_process(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    dev.write_stack_file(path, api_url="http://127.0.0.1:3001", aws_endpoint="http://127.0.0.1:4571", seed=None)
    written = json.loads(path.read_text())
    assert written["apiUrl"] == "http://127.0.0.1:3001"
    assert written["awsEndpoint"] == "http://127.0.0.1:4571"
    assert (written["apiPort"], written["awsPort"]) == (3001, 4571)
    assert isinstance(written["pid"], int)
