"""The contacts API on in-process moto: a large import through the upload route and the import function,
and the latency of one page of GET /api/contacts; each next to the bare DynamoDB calls on the same data.

- Import: POST /api/contacts/imports/uploads, the file put at the presigned key, then the S3 Object Created event
  handled by `import_handler`, timed from the event to the COMPLETED job. Baseline: BatchWriteItem of the same
  contacts and memberships (25 items a call), which is what a blind, non-idempotent import costs; the API import
  reads each chunk first (BatchGetItem) and writes it as a transaction with the tag counters (idempotent and
  exact counts), so it is reported, not held to the floor.
- List: pages of 50 contacts through the handler (authorizer context, validation, cursor codec, response
  model) against the same pages read with a bare Query.
- Search: GET /api/contacts?q=andres (the admin's first page, 25) over 50,000 contacts, through the handler
  (the search index's Query with begins_with, one BatchGetItem of the contacts, the response model) against the
  same index page read with a bare Query: the floor of any search that reads only what matches.

moto answers one request at a time here (smsdev.testing.serialised_moto), as DynamoDB makes each one atomic.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

from bench.contacts_data import CSV_HEADER, bare_batch_writes, contact_rows, import_rate_row
from bench.harness import LambdaContext, Row, moto_stack, seeding_into_moto_tables, serialised_moto
from smscore import wiring
from smscore.domain.contacts import ImportReport, import_contacts
from smsdev.admin_store import DynamoAdminStore
from smsdev.moto_transactions import install as install_item_level_rollback
from smsdev.provision import create_buckets

PAGE = 50


def _event(
    method: str,
    path: str,
    tenant_id: str,
    member_id: str,
    query: dict[str, str] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """A REST proxy event as API Gateway sends it after the authorizer (a write carries the member's token: the
    function re-checks it, smscore.api.access)."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "body": None,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/dev{path}",
            "stage": "dev",
            "requestId": str(uuid.uuid4()),
            "authorizer": {"tenantId": tenant_id, "memberId": member_id, "principalId": member_id},
            "identity": {"sourceIp": "127.0.0.1"},
        },
    }


def _csv(rows: int) -> tuple[str, int]:
    """phone,name,tags with one or two tags a row; returns the text and the number of memberships."""
    lines, memberships = contact_rows(rows)
    return "\n".join(",".join(line) for line in [CSV_HEADER, *lines]) + "\n", memberships


def measure_import(rows: int = 20_000) -> Row:
    from functions.contacts import app

    with moto_stack() as stack, serialised_moto():
        s3 = boto3.client("s3", region_name=stack.names.region)
        create_buckets(s3, stack.names)
        env = stack.environment("ContactsFunction")
        os.environ.update(env)
        wiring.reset()
        wiring.bound_settings()  # PynamoDB models pointed at this stack's tables
        admin = DynamoAdminStore(region=stack.names.region)
        tenant_id = admin.create_tenant("Bench", credits=0, default_country="CO")
        member = admin.create_member(tenant_id, "bench@bench.test", accept_terms=True)
        member_id = member.member_id
        text, memberships = _csv(rows)

        started = app.lambda_handler(
            _event("POST", "/api/contacts/imports/uploads", tenant_id, member_id, token=member.token.token),
            LambdaContext(),
        )
        job_id = json.loads(started["body"])["job"]["id"]
        key = f"uploads/{tenant_id}/{job_id}.csv"
        s3.put_object(Bucket=env["IMPORTS_BUCKET"], Key=key, Body=text.encode())
        event = {"detail-type": "Object Created", "source": "aws.s3", "detail": {"object": {"key": key}}}
        began = time.perf_counter()
        result = app.import_handler(event, LambdaContext())
        seconds = time.perf_counter() - began
        job_event = _event("GET", f"/api/contacts/imports/{job_id}", tenant_id, member_id)
        job_event["resource"] = "/api/contacts/imports/{jobId}"
        job_event["pathParameters"] = {"jobId": job_id}
        job = json.loads(app.lambda_handler(job_event, LambdaContext())["body"])
        floor = bare_batch_writes(stack.names, rows, memberships, phone_prefix="+57")
    return import_rate_row(
        f"contacts: import rows/s via the API, {rows:,} rows (upload + import function, moto)",
        rows,
        seconds,
        floor,
        passed=result.get("status") == "COMPLETED" and job["created"] == rows,
        memberships=memberships,
    )


def measure_list_page(contacts: int = 2_000, pages: int = 40) -> Row:
    from functions.contacts import app

    with moto_stack() as stack, serialised_moto():
        os.environ.update(stack.environment("ContactsFunction"))
        wiring.reset()
        wiring.bound_settings()
        admin = DynamoAdminStore(region=stack.names.region)
        tenant_id = admin.create_tenant("Bench", credits=0, default_country="CO")
        member_id = admin.create_member(tenant_id, "bench@bench.test", accept_terms=True).member_id
        text, _ = _csv(contacts)
        store = admin.contact_store()
        import_contacts(store, tenant_id, "CO", text.splitlines(keepends=True), ImportReport(), datetime.now(UTC))

        def through_handler() -> int:
            cursor, seen = None, 0
            for _ in range(pages):
                query = {"limit": str(PAGE), **({"cursor": cursor} if cursor else {})}
                body = json.loads(
                    app.lambda_handler(_event("GET", "/api/contacts", tenant_id, member_id, query), LambdaContext())[
                        "body"
                    ]
                )
                seen += len(body["items"])
                cursor = body["nextCursor"]
            return seen

        dynamodb = boto3.client("dynamodb", region_name=stack.names.region)
        table = stack.names.physical("ContactsTable")

        def bare_query() -> int:
            start: dict[str, Any] | None = None
            seen = 0
            for _ in range(pages):
                kwargs: dict[str, Any] = {
                    "TableName": table,
                    "KeyConditionExpression": "tenant_id = :t",
                    "ExpressionAttributeValues": {":t": {"S": tenant_id}},
                    "Limit": PAGE,
                }
                if start:
                    kwargs["ExclusiveStartKey"] = start
                page = dynamodb.query(**kwargs)
                seen += len(page["Items"])
                start = page.get("LastEvaluatedKey")
            return seen

        through_handler()  # warm: imports, models, connections
        bare_query()
        began = time.perf_counter()
        handled = through_handler()
        handler_seconds = time.perf_counter() - began
        began = time.perf_counter()
        queried = bare_query()
        bare_seconds = time.perf_counter() - began
    per_page, bare_per_page = handler_seconds / pages * 1000, bare_seconds / pages * 1000
    # moto sorts the whole partition on every Query, so both figures are mostly the emulator's; the ratio is the
    # handler's own share (validation, cursor codec, response model) on top of the same single Query.
    return Row(
        name=f"contacts: list page latency, GET /api/contacts?limit={PAGE} ({contacts:,} contacts, moto)",
        value=round(per_page, 2),
        unit="ms",
        baseline=round(bare_per_page, 2),
        target="<= 2x a bare Query page",
        passed=handled == queried == PAGE * pages and per_page <= 2 * bare_per_page,
        details={"pages": pages, "handler_seconds": round(handler_seconds, 3), "bare_seconds": round(bare_seconds, 3)},
    )


FIRST_NAMES = ("Andrés", "Ana", "María", "José", "Luis", "Sofía", "Camilo", "Valentina", "Juan", "Daniela")
SURNAMES = ("Muñoz", "Gómez", "Rodríguez", "Peña", "Núñez", "Díaz", "Andrade", "Ruiz", "Castaño", "Ortiz")


def measure_search(contacts: int = 50_000, rounds: int = 5) -> Row:
    """Search latency of the admin's first page against a bare Query of the same index page.

    moto answers a Query by scanning the whole table (about 300,000 word items here), so each call takes seconds of
    CPU and the mean of 5 rounds is steady; 20 rounds took about 2 minutes more of `make bench` for the same ratio.
    """
    from functions.contacts import app
    from smsdev.admin_store import ContactInput

    with moto_stack() as stack, serialised_moto():
        os.environ.update(stack.environment("ContactsFunction"))
        wiring.reset()
        wiring.bound_settings()
        admin = DynamoAdminStore(region=stack.names.region)
        tenant_id = admin.create_tenant("Bench", credits=0, default_country="CO")
        member_id = admin.create_member(tenant_id, "bench@bench.test", accept_terms=True).member_id
        people = [
            ContactInput(
                phone=f"+57300{n:07d}",
                name=f"{FIRST_NAMES[n % 10]} {SURNAMES[(n // 10) % 10]} {SURNAMES[(n // 100) % 10]}",
            )
            for n in range(contacts)
        ]
        # The 50,000 contacts, their words and tag items are put straight into moto's tables (the same items
        # add_contacts writes, without a request per 25 of them): the seeding took most of the suite's time.
        began = time.perf_counter()
        with seeding_into_moto_tables():
            for start in range(0, contacts, 5_000):
                admin.add_contacts(tenant_id, people[start : start + 5_000])
        seed_seconds = time.perf_counter() - began
        query = {"q": "andres", "limit": "25"}

        def through_handler() -> list[str]:
            reply = app.lambda_handler(_event("GET", "/api/contacts", tenant_id, member_id, query), LambdaContext())
            return [c["name"] for c in json.loads(reply["body"])["items"]]

        dynamodb = boto3.client("dynamodb", region_name=stack.names.region)
        table = stack.names.physical("TagMembersTable")

        def bare_query() -> int:
            page = dynamodb.query(
                TableName=table,
                KeyConditionExpression="tag_key = :k AND begins_with(contact_id, :p)",
                ExpressionAttributeValues={":k": {"S": f"{tenant_id}#search#an"}, ":p": {"S": "andres"}},
                Limit=26,
            )
            return len(page["Items"])

        first = through_handler()  # warm: imports, models, connections
        bare_query()
        began = time.perf_counter()
        for _ in range(rounds):
            found = through_handler()
        handler_seconds = time.perf_counter() - began
        began = time.perf_counter()
        for _ in range(rounds):
            bare = bare_query()
        bare_seconds = time.perf_counter() - began
    per_search, floor = handler_seconds / rounds * 1000, bare_seconds / rounds * 1000
    right = found == first and len(found) == 25 and all(name.startswith("Andrés ") for name in found) and bare == 26
    return Row(
        name=f"contacts: search latency, GET /api/contacts?q=andres&limit=25 ({contacts:,} contacts, moto)",
        value=round(per_search, 2),
        unit="ms",
        baseline=round(floor, 2),
        target="<= 3x a bare Query of the same index page (the search adds one BatchGetItem)",
        passed=right and per_search <= 3 * floor,
        details={
            "rounds": rounds,
            "handler_seconds": round(handler_seconds, 3),
            "bare_seconds": round(bare_seconds, 3),
            "seed_seconds": round(seed_seconds, 1),
            "seeding": "items put straight into moto's tables (bench.harness.seeding_into_moto_tables)",
        },
    )


def measure(rows: int = 20_000) -> list[Row]:
    install_item_level_rollback()
    return [measure_import(rows), measure_list_page(), measure_search()]
