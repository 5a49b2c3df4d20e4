"""The API's OpenAPI 3 document, generated from the handlers' Powertools resolvers and template.yaml.

Every function with Api events in template.yaml is imported and its resolver's schema merged. The
template then decides what the resolvers cannot know: which routes sit behind the bearer-token
authorizer (security + the gateway's 401, 403 and 500) and which do not, and adds the gateway's 504. Request
validation errors are answered 400 by smscore.api.errors, so Powertools' default 422 entries (the ones whose
schema is its HTTPValidationError) are dropped; a 422 a route declares itself stays.

    python -m smsdev.openapi_doc          # rewrite openapi.json
    python -m smsdev.openapi_doc --check  # exit 1 when openapi.json differs from the code
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from smscore.api.access import is_write
from smsdev.template import ROOT, LocalNames, Resolver, functions, load_template

DOCUMENT_PATH = ROOT / "openapi.json"
BEARER = "bearerAuth"
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
UNAUTHORIZED = {
    "description": "Missing, malformed, unknown or revoked bearer token (answered by API Gateway)",
    "content": {"application/json": {"schema": ERROR_REF}},
}
# A write re-checks the caller fresh (smscore.api.access): the function answers too, within the authorizer cache.
WRITE_UNAUTHORIZED = {
    "description": "Missing, malformed, unknown or revoked bearer token (answered by API Gateway), or revoked or its "
    "member disabled since the cached authorization (code UNAUTHORIZED, answered by the function)",
    "content": {"application/json": {"schema": ERROR_REF}},
}
TERMS_NOT_ACCEPTED = {
    "description": "The member has not accepted the current terms (answered by API Gateway, or code "
    "TERMS_NOT_ACCEPTED by the function when they were published since the cached authorization)",
    "content": {"application/json": {"schema": ERROR_REF}},
}
AUTHORIZER_FAILURE = {
    "description": "The authorizer itself failed (code AUTHORIZER_FAILURE, answered by API Gateway)",
    "content": {"application/json": {"schema": ERROR_REF}},
}
GATEWAY_TIMEOUT = {
    "description": "The function did not answer within API Gateway's 29 s (code GATEWAY_TIMEOUT)",
    "content": {"application/json": {"schema": ERROR_REF}},
}
POWERTOOLS_VALIDATION_ERROR = "#/components/schemas/HTTPValidationError"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _template_routes() -> dict[tuple[str, str], bool]:
    """(METHOD, path) -> behind the authorizer, for every Api event of every function."""
    specs = functions(Resolver(load_template(), LocalNames()))
    return {(r.method, r.path): r.authorized for spec in specs.values() for r in spec.routes}


def _handler_modules() -> list[str]:
    specs = functions(Resolver(load_template(), LocalNames()))
    return sorted({spec.module for spec in specs.values() if spec.routes})


def build() -> dict[str, Any]:
    merge = OpenAPIMerge(
        title="SMS by tags",
        version="1.0.0",
        description="Send SMS campaigns to the contacts carrying given tags, and follow them to delivery.",
        on_conflict="error",
    )
    for module_name in _handler_modules():
        module = importlib.import_module(module_name)
        merge.add_schema(module.app.get_openapi_schema())
    document: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    bearer = HTTPBearer(description="API token: Authorization: Bearer <token>")
    document.setdefault("components", {})["securitySchemes"] = {
        BEARER: bearer.model_dump(mode="json", by_alias=True, exclude_none=True)
    }

    routes = _template_routes()
    documented: set[tuple[str, str]] = set()
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            key = (method.upper(), path)
            if key not in routes:
                raise SystemExit(f"{method.upper()} {path} is handled but not declared in template.yaml")
            documented.add(key)
            responses = operation["responses"]
            if POWERTOOLS_VALIDATION_ERROR in json.dumps(responses.get("422", {})):
                del responses["422"]
            responses.setdefault("504", GATEWAY_TIMEOUT)
            if routes[key]:
                operation["security"] = [{BEARER: []}]
                writes = is_write(method)  # members who have not accepted the terms may only read
                responses.setdefault("401", WRITE_UNAUTHORIZED if writes else UNAUTHORIZED)
                responses.setdefault("500", AUTHORIZER_FAILURE)
                if writes:
                    responses.setdefault("403", TERMS_NOT_ACCEPTED)
            else:
                operation["security"] = []
    missing = set(routes) - documented
    if missing:
        raise SystemExit(f"routes in template.yaml without a handler route: {sorted(missing)}")
    _drop_unreferenced(document, ("HTTPValidationError", "ValidationError", "ResponseValidationError"))
    return document


def _drop_unreferenced(document: dict[str, Any], names: tuple[str, ...]) -> None:
    """Remove Powertools' validation-error schemas once nothing refers to them any more."""
    schemas = document.get("components", {}).get("schemas", {})
    changed = True
    while changed:
        changed = False
        for name in names:
            if name not in schemas:
                continue
            others = {k: v for k, v in document.items() if k != "components"}
            others["schemas"] = {k: v for k, v in schemas.items() if k != name}
            if f"#/components/schemas/{name}" not in json.dumps(others):
                del schemas[name]
                changed = True


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when the checked-in document is stale")
    parser.add_argument("--output", type=Path, default=DOCUMENT_PATH)
    args = parser.parse_args(argv)
    current = render(build())
    if args.check:
        if not args.output.exists() or args.output.read_text() != current:
            print(f"{args.output} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(current)
    print(f"wrote {args.output} ({len(re.findall(r'operationId', current))} operations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
