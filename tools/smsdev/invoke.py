"""One function of template.yaml run by hand against the local stack: `smsctl invoke` and `smsctl env-vars`.

`sam local invoke` does the same in Docker; these machines have no Docker, so `smsctl invoke` starts one
execution environment of the local stack's Lambda runtime (a fresh process holding only that function's
environment, a Lambda context, the function's timeout) and invokes it once. `env-vars` writes the file
that makes `sam local invoke --env-vars` point a function at the same local endpoint.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

from smsdev.devstack import function_env
from smsdev.lambdas import LambdaRuntime, LocalFunction
from smsdev.targets import LOCAL_REGION, LOCAL_STACK_NAME
from smsdev.template import FunctionSpec, LocalNames, Resolver, functions, load_template


class LocalStackUnreachable(Exception):
    """Nothing answers on the local endpoint: the handler would only time out against it."""


def local_names(endpoint: str) -> LocalNames:
    return LocalNames(stack_name=LOCAL_STACK_NAME, region=LOCAL_REGION, endpoint=endpoint)


def function_specs(endpoint: str = "http://127.0.0.1:4566") -> dict[str, FunctionSpec]:
    return functions(Resolver(load_template(), local_names(endpoint)))


def function_ids() -> list[str]:
    return sorted(function_specs())


def local_function(function_id: str, endpoint: str) -> LocalFunction:
    """The function exactly as `make dev` runs it: its template environment resolved to the local names,
    pointed at the endpoint with the emulator's credentials (smsdev.devstack.function_env)."""
    names = local_names(endpoint)
    spec = function_specs(endpoint)[function_id]
    return LocalFunction(
        function_id=function_id,
        function_name=names.physical(function_id),
        module=spec.module,
        attribute=spec.handler,
        timeout_seconds=spec.timeout,
        memory_mb=spec.memory_mb,
        environment=function_env(spec, endpoint, names.region),
    )


def check_reachable(endpoint: str, timeout: float = 2.0) -> None:
    parts = urlsplit(endpoint)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout).close()
    except OSError as exc:
        raise LocalStackUnreachable(endpoint) from exc


def invoke_locally(function_id: str, event: Any, endpoint: str) -> Any:
    """The handler's JSON result from a fresh execution environment, discarded afterwards.

    Raises smsdev.lambdas.InvocationError when the handler raised (or could not start) and
    InvocationTimeout when it ran past the function's Timeout.
    """
    check_reachable(endpoint)
    runtime = LambdaRuntime([local_function(function_id, endpoint)], max_environments=1, region=LOCAL_REGION)
    try:
        return runtime.invoke(function_id, event)
    finally:
        runtime.stop()


def sam_env_vars(endpoint: str) -> dict[str, dict[str, str]]:
    """`sam local invoke --env-vars` content: each function's variables with the local names and endpoint.

    SAM only overrides variables the template declares; template.yaml declares AWS_ENDPOINT_URL (as
    AWS::NoValue, so a deployed function has none) for exactly this purpose.
    """
    return {
        function_id: {**spec.environment, "AWS_ENDPOINT_URL": endpoint}
        for function_id, spec in sorted(function_specs(endpoint).items())
    }
