"""Shared fixtures: an in-process moto account holding exactly the tables and queues of template.yaml."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from smsdev.template import load_template
from smsdev.testing import (
    MOTO_ACCOUNT_ENV,
    MOTO_ACCOUNT_UNSET,
    LambdaContextStub,
    MotoStack,
    RunningDevStack,
    build_moto_stack,
    dev_stack_process,
    moto_account,
    share_botocore_models,
)
from tests.clocks import frozen_instants

# The handler modules build their Powertools Metrics when imported (at collection, before any fixture), reading the
# namespace then. Tests disable metrics, and a disabled Metrics never flushes: its values pile up across invocations
# until one metric holds 100, which it then serialises, and that needs the namespace. The template's, as on AWS.
os.environ.setdefault(
    "POWERTOOLS_METRICS_NAMESPACE",
    load_template()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"],
)

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


Stack = MotoStack  # the name the tests use for the moto stack fixture's value


def pytest_configure(config: pytest.Config) -> None:
    share_botocore_models()
    # xdist registers this marker only when it is loaded; `-p no:xdist` runs (one process) must still collect.
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker (--dist loadgroup)")
    config.addinivalue_line(
        "markers",
        "clock_sensitive: sends through the send-window seams; also run with the clock frozen at each instant of "
        "tests/clocks.py (Sunday night, a holiday, a weekday noon in Bogota) to prove it does not read the wall clock",
    )
    if config.getoption("dist", "no") == "loadgroup":
        # The queue keeps the order pytest_collection_modifyitems gives it (xdist would sort groups by size).
        config.option.loadscopereorder = False


LOCAL_STACK_DIRS = ("e2e", "browser")  # tests that talk to a local stack over HTTP (`python -m smsdev.dev`)


DEMO_STACK_FIXTURES = frozenset({"demo_stack", "local_stack", "admin_stack"})  # what shares a worker's demo stack
STACK_MODULES_SPREAD = 0.6  # the local-stack modules are queued among the first 60% of the in-process tests


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `--dist loadgroup`, each module of tests/e2e and tests/browser is one xdist group, spread through the
    first part of the queue between the in-process tests: whichever worker is free takes the next one, so both
    workers run local-stack modules (mostly waiting on the stack) between in-process tests (mostly CPU), a new
    module is balanced without a list to edit, and the last stretch is in-process tests that fill any gap.

    Modules with their own stack come first (their waits are the longest), then the e2e modules on the demo stack,
    then the browser modules: on each worker the e2e tests that assert the demo seed as `make dev` writes it run
    before the browser tests edit it (each worker starts its own demo stack when a module needs it). xdist 3.8 tags
    a grouped test by assigning `Item._nodeid`, which pytest 9.2 no longer reads (it keeps `_id`), so its
    `xdist_group` marks had no effect: the group suffix is applied here.
    """
    tests_dir = Path(__file__).parent

    def folder(item: pytest.Item) -> str:
        return item.path.relative_to(tests_dir).parts[0] if item.path.is_relative_to(tests_dir) else ""

    # The browser tests edit the Demo Store (tags, contacts, campaigns); the e2e tests that assert its pristine seed
    # (the example payload's audience, the tag counts `make dev` prints) run before them on the same stack.
    items.sort(key=lambda item: folder(item) == "browser")
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import coerce_node_id

    modules: dict[Path, list[pytest.Item]] = {}
    in_process: list[pytest.Item] = []
    for item in items:
        if folder(item) in LOCAL_STACK_DIRS:
            modules.setdefault(item.path, []).append(item)
        else:
            in_process.append(item)

    def on_demo_stack(module: list[pytest.Item]) -> bool:
        return any(DEMO_STACK_FIXTURES & set(getattr(item, "fixturenames", ())) for item in module)

    units = sorted(modules.values(), key=lambda module: (folder(module[0]) == "browser", on_demo_stack(module)))
    step = len(in_process) * STACK_MODULES_SPREAD / max(len(units), 1)
    queue: list[pytest.Item] = []
    taken = 0
    for index, unit in enumerate(units):
        upto = round(index * step)
        queue += [*in_process[taken:upto], *unit]
        taken = upto
    items[:] = [*queue, *in_process[taken:]]

    for item in items:
        groups = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if folder(item) in LOCAL_STACK_DIRS:
            groups = {"stack-" + item.path.relative_to(tests_dir).with_suffix("").as_posix().replace("/", "-")}
        if groups and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(sorted(groups))}")


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevStack]:
    """The local stack with the demo seed, as `make dev` starts it: one per test process, shared by tests/e2e and
    tests/browser (each test works in its own tenant, or reads the demo tenant's figures relative to before)."""
    with dev_stack_process(tmp_path_factory.mktemp("devstack")) as running:
        yield running


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A `clock_sensitive` test runs once at the wall clock and once frozen at each of the guard's instants."""
    if metafunc.definition.get_closest_marker("clock_sensitive") is None:
        return
    instants = frozen_instants()
    metafunc.parametrize("frozen_clock", [None, *instants.values()], ids=["wall-clock", *instants], indirect=True)


@pytest.fixture(autouse=True)
def frozen_clock(request: pytest.FixtureRequest) -> Iterator[datetime | None]:
    """The process clock frozen at the test's instant, ticking from there (monotonic time is untouched, so
    deadlines and waits behave); the wall clock for every test that is not `clock_sensitive`."""
    instant: datetime | None = getattr(request, "param", None)
    if instant is None:
        yield None
        return
    import time_machine

    with time_machine.travel(instant, tick=True):
        yield instant


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stack",
        metavar="NAME",
        default=None,
        help="run tests/e2e against this deployed CloudFormation stack (its ApiUrl and table outputs)",
    )


@pytest.fixture
def lambda_context() -> LambdaContextStub:
    return LambdaContextStub()


def reset_process_caches() -> None:
    """Forget settings, adapters and cached parameters (Twilio credentials) read from a previous test's account."""
    from aws_lambda_powertools.utilities import parameters

    from smscore import wiring

    wiring.reset()
    parameters.clear_caches()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in MOTO_ACCOUNT_ENV.items():
        monkeypatch.setenv(key, value)
    for key in MOTO_ACCOUNT_UNSET:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def stack(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A fresh moto account with the template's resources, and the functions' environment pointing at it."""
    with moto_account():
        built = build_moto_stack("test")
        for key, value in built.env.items():
            monkeypatch.setenv(key, value)
        reset_process_caches()
        from smscore.wiring import bound_settings

        bound_settings()
        yield built
        reset_process_caches()


def api_event(
    body: Any, *, tenant_id: str, member_id: str, token: str | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The recorded API Gateway proxy event, with this caller (and its bearer token, when given) and body."""
    event = copy.deepcopy(load_event("apigw_send_by_tags.json"))
    event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    event["requestContext"]["authorizer"].update(tenantId=tenant_id, memberId=member_id, principalId=member_id)
    if token is not None:
        headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    for key, value in (headers or {}).items():
        event["headers"][key] = value
        event["multiValueHeaders"][key] = [value]
    return event
