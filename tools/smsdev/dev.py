"""`make dev`: the local stack with demo data. Human-readable summary on stdout, logs on stderr.

    python -m smsdev.dev [--no-seed] [--json FILE] [--param Name=Value ...] [--template FILE]

(`make dev ARGS='...'` passes the options.) Ports: LOCAL_AWS_PORT (default 4566) for the AWS endpoint, PORT
(default 3000) for the API. Each function runs in up to LOCAL_LAMBDA_WORKERS (default 2) execution environments.
`--param` takes template parameters and the local stack's own settings (see smsdev.devstack). The endpoints,
ports and seed go to .smsdev/stack.json (git-ignored; removed on a clean stop), where smsctl finds the stack
whatever its ports; `--json FILE` writes them elsewhere instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from smsdev.admin_store import DynamoAdminStore
from smsdev.clock import set_clock
from smsdev.devstack import FAKE_CREDENTIALS, DevStack, aws_client, bind_local_tables
from smsdev.provision import seed_exclusion_snapshot
from smsdev.seed import RNE_LISTED_NUMBER, DemoSeed, seed_demo
from smsdev.stop_signals import StopSignals
from smsdev.targets import STACK_FILE
from smsdev.template import TEMPLATE_PATH


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        sys.exit(f"{name} must be a whole number, got {raw!r}")


def _parameters(pairs: list[str]) -> dict[str, Any]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            sys.exit(f"--param takes Name=Value (a template parameter), got {pair!r}")
        parameters[key] = value
    return parameters


def write_stack_file(
    path: Path, *, api_url: str, aws_endpoint: str, seed: DemoSeed | None, function_urls: dict[str, str] | None = None
) -> None:
    """The running stack's endpoints, ports, process and seed, for smsctl (smsdev.targets) and tests."""

    def port(url: str) -> int | None:
        return urlsplit(url).port if url else None

    info = {
        "apiUrl": api_url,
        "awsEndpoint": aws_endpoint,
        "apiPort": port(api_url),
        "awsPort": port(aws_endpoint),
        "pid": os.getpid(),
        "functionUrls": function_urls or {},  # FunctionUrlConfig, by function logical id (Twilio's StatusCallback)
        "seed": seed.as_json() if seed else None,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(info, indent=2))
    partial.replace(path)  # a reader never sees half a file


def forget_stack_file(path: Path) -> None:
    """Remove the file when it still describes this process (another `make dev` may have written it since)."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def print_summary(stack: DevStack, seed: DemoSeed | None) -> None:
    lines = [
        "",
        f"AWS endpoint  {stack.endpoint}   (AWS_ENDPOINT_URL for the aws CLI / boto3, any credentials)",
        f"API           {stack.api_url}",
        *(f"Function URL  {url}   ({function_id})" for function_id, url in sorted(stack.names.function_urls.items())),
    ]
    admin_url = f"{stack.api_url}/admin/"
    if seed is not None:
        lines += [
            "",
            f"Tenant        {seed.tenant_name}  {seed.tenant_id}  ({seed.credits} credits, country CO)",
            f"Terms         {seed.terms_version}",
            f"Token (accepted terms)      {seed.accepted.token}",
            f"Token (terms not accepted)  {seed.pending.token}",
            f"Admin UI      {admin_url}   (sign in with either token; the second one is read-only)",
            "Tags          " + "  ".join(f"{name}={tag_id}" for name, tag_id in sorted(seed.tag_ids.items())),
            "",
            "Try it:",
            seed.example_curl(stack.api_url),
            "",
            "List the tags (and their contact counts) with the same token:",
            f"curl -sS {stack.api_url}/api/tags -H 'Authorization: Bearer {seed.accepted.token}'",
        ]
    else:
        lines.append(f"Admin UI      {admin_url}")
    lines += ["", f"ready: {stack.api_url} (Ctrl-C to stop)"]
    print("\n".join(lines), flush=True)


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(prog="python -m smsdev.dev", description="Local stack with demo data.")
    command.add_argument("--no-seed", action="store_true", help="start empty")
    command.add_argument(
        "--json",
        type=Path,
        default=STACK_FILE,
        help="write the endpoints, ports and seed (tokens, tag ids) here (default: .smsdev/stack.json, which smsctl "
        "reads to find the stack)",
    )
    command.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="Name=Value",
        help="template parameter override, or a local setting: LocalGatewayTimeoutSeconds, LocalScheduleRateSeconds, "
        "<FunctionId>.Timeout",
    )
    command.add_argument("--template", type=Path, default=TEMPLATE_PATH, help="SAM template (default: template.yaml)")
    command.add_argument(
        "--clock",
        type=datetime.fromisoformat,
        default=None,
        metavar="ISO-8601",
        help="tests only: the stack's clock starts at this instant (with an offset) and ticks from there",
    )
    return command


def main(argv: list[str] | None = None) -> int:
    arguments = parser()
    args = arguments.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="[%(name)s] %(levelname)s %(message)s")
    # The poller's short polls would fill the screen; the API logs its own requests.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    # This process talks only to the emulator; never to whatever account the shell is configured for.
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_PROFILE", None)
    if args.clock is not None:
        try:
            set_clock(args.clock)
        except ValueError as exc:
            arguments.error(str(exc))

    try:
        stack = DevStack(
            aws_port=_int_env("LOCAL_AWS_PORT", 4566),
            api_port=_int_env("PORT", 3000),
            workers=max(1, _int_env("LOCAL_LAMBDA_WORKERS", 2)),
            parameters=_parameters(args.param),
            template_path=args.template.resolve(),
        )
    except (OSError, ValueError) as exc:
        arguments.error(str(exc))
    stop = StopSignals(signal.SIGTERM, signal.SIGINT)
    started = time.monotonic()
    try:
        stack.start()
    except OSError as exc:
        stack.stop()
        print(
            f"cannot start the local stack: {exc} (is another `make dev` running? set PORT / LOCAL_AWS_PORT)",
            file=sys.stderr,
        )
        return 1
    try:
        seed = None
        if not args.no_seed:
            bind_local_tables(stack.shared_environment, stack.names.region, stack.endpoint)
            seed = seed_demo(DynamoAdminStore(region=stack.names.region, host=stack.endpoint))
            seed_exclusion_snapshot(
                aws_client("dynamodb", stack.endpoint, stack.names.region), stack.names, (RNE_LISTED_NUMBER,)
            )
        write_stack_file(
            args.json,
            api_url=stack.api_url,
            aws_endpoint=stack.endpoint,
            seed=seed,
            function_urls=dict(stack.names.function_urls),
        )
        logging.getLogger("smsdev.dev").info("started in %.1f s", time.monotonic() - started)
        print_summary(stack, seed)
        stop.wait()
    finally:
        print("stopping...", file=sys.stderr, flush=True)
        if args.json == STACK_FILE:
            forget_stack_file(STACK_FILE)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
