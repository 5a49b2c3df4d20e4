"""The layer `sam build` bundles is the code the tests ran: every runtime pin agrees with constraints.txt and with
what is installed here (a boto3/botocore pulled in unpinned would ship a version no test has seen)."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)")


def pins(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


LAYER = pins(ROOT / "layers" / "common" / "requirements.txt")
CONSTRAINTS = pins(ROOT / "constraints.txt")


def test_the_layer_pins_the_aws_sdk_and_only_pins() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "layers" / "common" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert len(lines) == len(LAYER), "every layer requirement is an exact pin"
    assert {"boto3", "botocore", "s3transfer", "urllib3"} <= set(LAYER)


@pytest.mark.parametrize("name", sorted(LAYER))
def test_each_layer_pin_is_the_constrained_and_installed_version(name: str) -> None:
    assert CONSTRAINTS.get(name) == LAYER[name], f"constraints.txt disagrees with the layer on {name}"
    assert version(name) == LAYER[name], f"the tests run another {name} than the layer bundles"


def test_dev_requirements_do_not_pin_another_version_of_a_layer_package() -> None:
    dev = pins(ROOT / "requirements-dev.txt")
    assert {name: dev[name] for name in dev if name in LAYER and dev[name] != LAYER[name]} == {}
