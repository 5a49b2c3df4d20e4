"""One deploy command (issue 26, item 6): `make deploy ENV=...` checks its prerequisites first and says what is
missing, and `smsctl secrets put twilio` stores the credentials the functions and the Twilio check read."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from smscore.providers.registry import twilio_credentials_from
from smsdev.deploy import Check, check_prerequisites, twilio_parameter_name
from tests.integration.conftest import LocalEndpointStack, smsctl

ROOT = Path(__file__).resolve().parents[2]
SID = "AC" + "0123456789abcdef" * 2
KEY = "SK" + "fedcba9876543210" * 2


def samconfig(tmp_path: Path, provider: str) -> Path:
    path = tmp_path / "samconfig.toml"
    path.write_text(
        'version = 0.1\n[dev.deploy.parameters]\nstack_name = "sms-test-dev"\nregion = "us-east-1"\n'
        f'parameter_overrides = "Stage=\\"dev\\" DefaultProvider=\\"{provider}\\""\n'
    )
    return path


def without_aws_credentials(tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh machine: no AWS variables, no ~/.aws, no instance metadata to fall back on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return env | {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_make_deploy_without_credentials_names_what_is_missing_and_deploys_nothing(tmp_path: Path) -> None:
    # Given a machine without any AWS credentials
    env = without_aws_credentials(tmp_path)
    # When `make deploy ENV=dev` runs
    run = subprocess.run(
        ["make", "--no-print-directory", "deploy", "ENV=dev"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    # Then it stops before building, non-zero, with the missing prerequisite and how to provide it
    assert run.returncode != 0
    assert "MISSING  AWS credentials: none found: run `aws configure`" in run.stderr
    assert "nothing was deployed" in run.stderr
    assert "ok       region: us-east-1" in run.stdout
    assert "sam build" not in run.stdout  # make echoes each recipe line it reaches: it never got to the build


def test_make_deploy_needs_an_environment_of_samconfig(tmp_path: Path) -> None:
    env = without_aws_credentials(tmp_path)
    for args, message in (([], "usage: make deploy ENV=dev|prod"), (["ENV=staging"], "use one of ['dev', 'prod']")):
        run = subprocess.run(
            ["make", "--no-print-directory", "deploy", *args], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert run.returncode != 0
        assert message in run.stderr


class Session:
    """A boto3 session on moto, with or without credentials (what check_prerequisites is given)."""

    def __init__(self, region: str | None, credentials: bool = True) -> None:
        self.region_name = region
        self._session = boto3.session.Session(region_name=region)
        self._credentials = credentials

    def get_credentials(self) -> Any:
        return self._session.get_credentials() if self._credentials else None

    def client(self, service: str) -> Any:
        return self._session.client(service)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def checks(path: Path, credentials: bool = True) -> dict[str, Check]:
    found = check_prerequisites(
        "dev", path, session_factory=lambda region: Session(region, credentials), which=lambda _: "/usr/bin/sam"
    )
    return {check.name: check for check in found}


def test_a_twilio_stack_needs_its_secret_before_deploying(tmp_path: Path, aws: None) -> None:
    # Given a dev environment whose provider is Twilio, and no credentials stored for its stack
    path = samconfig(tmp_path, "twilio")
    # When the prerequisites are checked
    found = checks(path)
    # Then the credentials pass, and the Twilio secret is missing with the command that stores it
    assert found["AWS credentials"].ok
    assert not found["Twilio credentials"].ok
    assert "/sms-test-dev/providers/twilio does not exist" in found["Twilio credentials"].detail
    assert "smsctl --stack sms-test-dev --region us-east-1 secrets put twilio" in found["Twilio credentials"].detail
    # And once stored, everything is there
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/sms-test-dev/providers/twilio", Value="{}", Type="SecureString"
    )
    assert all(check.ok for check in checks(path).values())


def test_a_sandbox_stack_needs_no_twilio_secret_and_no_credentials_stops_the_checks(tmp_path: Path, aws: None) -> None:
    path = samconfig(tmp_path, "sandbox")
    assert "Twilio credentials" not in checks(path)
    assert all(check.ok for check in checks(path).values())
    without = checks(path, credentials=False)
    assert not without["AWS credentials"].ok
    assert "Twilio credentials" not in without


def test_secrets_put_twilio_stores_what_the_functions_read(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the local stack
    # When an operator stores API-key credentials
    result = smsctl(
        capsys, "secrets", "put", "twilio", "--account-sid", SID, "--auth-token", "token-1",
        "--api-key-sid", KEY, "--api-key-secret", "secret-1",
    )  # fmt: skip
    # Then the answer names the SecureString and never the secret
    assert result.code == 0, result.err
    assert json.loads(result.out)["parameter"] == twilio_parameter_name("sms-local")
    assert "secret-1" not in result.out
    assert "token-1" not in result.out
    ssm = local.client("ssm")
    stored = ssm.get_parameter(Name="/sms-local/providers/twilio", WithDecryption=True)["Parameter"]
    assert stored["Type"] == "SecureString"
    # And the functions' own reader gets the credentials they send and verify with
    os.environ["AWS_ENDPOINT_URL"] = local.endpoint
    try:
        credentials = twilio_credentials_from("/sms-local/providers/twilio")()
    finally:
        del os.environ["AWS_ENDPOINT_URL"]
    assert (credentials.account_sid, credentials.auth_token) == (SID, "token-1")
    assert (credentials.api_key_sid, credentials.api_key_secret) == (KEY, "secret-1")


def test_secrets_put_twilio_refuses_unusable_credentials_and_stores_nothing(
    local: LocalEndpointStack, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["--account-sid", "not-a-sid", "--auth-token", "t"],
        ["--account-sid", SID, "--auth-token", "t", "--api-key-sid", "SKshort", "--api-key-secret", "s"],
    ):
        result = smsctl(capsys, "secrets", "put", "twilio", *argv)
        assert result.code == 2
        assert "Invalid value" in result.err
    with pytest.raises(ClientError):
        local.client("ssm").get_parameter(Name="/sms-local/providers/twilio")
