"""`make deploy ENV=dev|prod`: what must be true before `sam build` and `sam deploy --config-env ENV` can work, each
missing prerequisite printed with what to do, and the Twilio credentials `smsctl secrets put twilio` stores.

`python -m smsdev.deploy check ENV` exits 0 when everything is there, 1 when something is missing (each line says
what and how to fix it), 2 for an environment samconfig.toml does not have. docs/deploying.md walks through it.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parents[2]
SAMCONFIG = ROOT / "samconfig.toml"
TEMPLATE_DEFAULTS = {"DefaultProvider": "sandbox", "FailoverProvider": ""}


def twilio_parameter_name(stack_name: str) -> str:
    """Where the functions read the Twilio credentials (TWILIO_CREDENTIALS_PARAMETER in template.yaml)."""
    return f"/{stack_name}/providers/twilio"


def twilio_secret(
    account_sid: str, auth_token: str, api_key_sid: str | None = None, api_key_secret: str | None = None
) -> str:
    """The credentials JSON (docs/delivery.md, "Twilio credentials"), refused unless the deliver function can send
    with it and the webhook can verify callbacks with it."""
    from smscore.providers.twilio import TwilioCredentials

    if not re.fullmatch(r"AC[0-9a-fA-F]{32}", account_sid):
        raise ValueError("the account SID is AC followed by 32 hexadecimal characters")
    if bool(api_key_sid) != bool(api_key_secret):
        raise ValueError("an API key needs both its SID (SK...) and its secret")
    if api_key_sid and not re.fullmatch(r"SK[0-9a-fA-F]{32}", api_key_sid):
        raise ValueError("the API key SID is SK followed by 32 hexadecimal characters")
    if not auth_token:
        raise ValueError("the account's Auth Token is required: Twilio signs status callbacks with it")
    data = {"account_sid": account_sid, "auth_token": auth_token}
    if api_key_sid and api_key_secret:
        data |= {"api_key_sid": api_key_sid, "api_key_secret": api_key_secret}
    TwilioCredentials.from_json(data)  # the shape the functions read
    return json.dumps(data)


def put_twilio_secret(ssm: Any, stack_name: str, secret: str) -> dict[str, Any]:
    """Store (or replace) the credentials as a SecureString; returns what was done, never the secret."""
    name = twilio_parameter_name(stack_name)
    answer = ssm.put_parameter(Name=name, Value=secret, Type="SecureString", Overwrite=True)
    return {"parameter": name, "version": answer.get("Version"), "type": "SecureString"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what was found, or what is missing and how to fix it

    def line(self) -> str:
        return f"{'ok     ' if self.ok else 'MISSING'}  {self.name}: {self.detail}"


def deploy_parameters(env: str, samconfig: Path = SAMCONFIG) -> dict[str, Any]:
    """samconfig.toml's [ENV.deploy.parameters]; KeyError for an environment it does not have."""
    config = tomllib.loads(samconfig.read_text())
    parameters: dict[str, Any] = config[env]["deploy"]["parameters"]
    return parameters


def parameter_overrides(parameters: dict[str, Any]) -> dict[str, str]:
    """`Key="value" Key2="value2"` (samconfig's parameter_overrides) as a dict."""
    return dict(re.findall(r'(\w+)="([^"]*)"', str(parameters.get("parameter_overrides", ""))))


def check_prerequisites(
    env: str,
    samconfig: Path = SAMCONFIG,
    session_factory: Callable[[str | None], Any] = lambda region: boto3.session.Session(region_name=region),
    which: Callable[[str], str | None] = shutil.which,
) -> list[Check]:
    """Every prerequisite of deploying ENV, in the order they depend on each other (no AWS call without
    credentials, no Twilio check without a region)."""
    parameters = deploy_parameters(env, samconfig)
    stack = str(parameters.get("stack_name", ""))
    overrides = {**TEMPLATE_DEFAULTS, **parameter_overrides(parameters)}
    checks = [
        Check(
            "SAM CLI",
            which("sam") is not None,
            "found" if which("sam") else "`sam` is not on PATH: run `make setup` (it installs the pinned SAM CLI)",
        )
    ]
    session = session_factory(parameters.get("region"))
    region = session.region_name
    checks.append(
        Check(
            "region",
            bool(region),
            region or f"no region: set `region` under [{env}.deploy.parameters] in samconfig.toml or AWS_REGION",
        )
    )
    credentials = session.get_credentials()
    if credentials is None:
        checks.append(
            Check(
                "AWS credentials",
                False,
                "none found: run `aws configure` (or `aws sso login --profile P` and export AWS_PROFILE=P), "
                "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            )
        )
        return checks
    try:
        identity = session.client("sts").get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        checks.append(Check("AWS credentials", False, f"rejected by AWS ({exc}): refresh them (`aws sso login`)"))
        return checks
    checks.append(Check("AWS credentials", True, f"account {identity['Account']}, {identity['Arn']}"))
    if "twilio" in (overrides["DefaultProvider"], overrides["FailoverProvider"]) and region:
        checks.append(twilio_check(session, stack))
    return checks


def twilio_check(session: Any, stack: str) -> Check:
    name = twilio_parameter_name(stack)
    fix = f"run `smsctl --stack {stack} --region {session.region_name} secrets put twilio` (docs/deploying.md)"
    try:
        session.client("ssm").get_parameter(Name=name, WithDecryption=False)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return Check("Twilio credentials", False, f"{name} does not exist: {fix}")
        return Check("Twilio credentials", False, f"{name} cannot be read ({exc}): {fix}")
    return Check("Twilio credentials", True, f"{name} exists")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "check":
        print("usage: python -m smsdev.deploy check ENV", file=sys.stderr)
        return 2
    env = args[1]
    try:
        checks = check_prerequisites(env)
    except KeyError:
        config = tomllib.loads(SAMCONFIG.read_text())
        environments = sorted(k for k, v in config.items() if isinstance(v, dict) and "deploy" in v)
        print(f"ENV={env!r} is not a deploy environment of samconfig.toml: use one of {environments}", file=sys.stderr)
        return 2
    for check in checks:
        print(check.line(), file=sys.stdout if check.ok else sys.stderr)
    missing = [c for c in checks if not c.ok]
    if missing:
        print(f"make deploy ENV={env}: {len(missing)} prerequisite(s) missing, nothing was deployed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
