"""The authorizer reads its region and tables without pydantic-settings (smscore.identity_settings), to the same
values Settings reads from the same environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smscore.identity_settings import IdentitySettings, MissingSettings
from smscore.settings import Settings
from smsdev.provision import function_environment
from smsdev.template import LocalNames

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def authorizer_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    environment = function_environment(LocalNames(stack_name="unit"), "AuthorizerFunction")
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    return environment


def as_settings_reads_it() -> IdentitySettings:
    settings = Settings()  # type: ignore[call-arg]
    return IdentitySettings(settings.tokens_table, settings.members_table, settings.settings_table, settings.aws_region)


@pytest.mark.parametrize("region", [None, "eu-west-1"], ids=["default-region", "AWS_REGION"])
def test_the_authorizer_reads_what_settings_reads(
    authorizer_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, region: str | None
) -> None:
    if region is None:
        monkeypatch.delenv("AWS_REGION", raising=False)
    else:
        monkeypatch.setenv("AWS_REGION", region)
    assert IdentitySettings.from_environment() == as_settings_reads_it()


def test_names_are_matched_case_insensitively_like_settings() -> None:
    environ = {"tokens_table": "t", "Members_Table": "m", "SETTINGS_TABLE": "s", "aws_region": "sa-east-1"}
    assert IdentitySettings.from_environment(environ) == IdentitySettings("t", "m", "s", "sa-east-1")


def test_a_missing_table_is_named() -> None:
    with pytest.raises(MissingSettings, match=r"^not set: MEMBERS_TABLE, SETTINGS_TABLE$"):
        IdentitySettings.from_environment({"TOKENS_TABLE": "t"})


def test_the_authorizer_loads_neither_pydantic_settings_nor_the_other_stores(
    authorizer_environment: dict[str, str],
) -> None:
    # Its cold start: the handler imported and its dependencies built (no AWS call is made until a request).
    code = (
        "import sys\n"
        "from functions.authorizer import app\n"
        "from smscore import wiring\n"
        "wiring.authorizer_deps()\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('pydantic', 'smscore.')))))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert [m for m in loaded if m.startswith("pydantic")] == []
    assert sorted(m for m in loaded if m.startswith("smscore.dal.")) == [
        "smscore.dal.identity_store",
        "smscore.dal.tables",
    ]
    assert "smscore.settings" not in loaded
