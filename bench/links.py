"""Tracked short links: how long a click waits for its 302 on the local stack, against a bare route's floor in the
same run, and the DynamoDB write units one click costs.

Latency: `python -m smsdev.dev` (the demo seed) sends one campaign with trackLinks over HTTP; the figure is the p50
of `clicks` GETs of one recipient's short link (each a counted click: the message's conditional update, the link
item read once per warm environment; the first click also a counter shard) through the local gateway and Lambda
runtime. The floor is the bare route (the same function on the same route with a code of the wrong shape: the
gateway, the runtime and the handler's 404, no DynamoDB call) plus one bare UpdateItem of the click's shape sent
straight to the same emulator in the same run: the one write a counted click cannot avoid.

Write units: the real send and links handlers on in-process moto, every write measured by item size
(bench.capacity's capture): a first click, and a repeat click, of one recipient.
"""

from __future__ import annotations

import http.client
import json
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.harness import Row

ROW_LATENCY = "links: redirect latency p50 on the local stack"
ROW_UNITS = "capacity: write units per click"
TARGET_LATENCY_RATIO = 1.5  # of the bare route plus one bare UpdateItem: a warm click makes that one call
TARGET_UNITS = 3  # the message's conditional update and, on the first click only, one counter shard
URL = "https://tienda.example.co/ofertas?utm_source=sms"
EVENT = "tests/events/apigw_send_by_tags.json"


def _get(url: str, user_agent: str = "Mozilla/5.0 (Linux; Android 14) Mobile") -> tuple[int, float]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        started = time.perf_counter()
        connection.request("GET", parts.path, headers={"User-Agent": user_agent})
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        connection.close()


def _p50(url: str, clicks: int, expected: int) -> float:
    timings = []
    for _ in range(clicks):
        status, seconds = _get(url)
        assert status == expected, (url, status)
        timings.append(seconds)
    return statistics.median(timings) * 1000


def measure_latency(clicks: int = 200) -> Row:
    from smsdev.testing import dev_stack_process, http_call

    with tempfile.TemporaryDirectory() as workdir, dev_stack_process(Path(workdir)) as stack:
        assert stack.seed is not None
        token = stack.seed["accepted"]["token"]
        body = {
            "message": f"Hola {{nombre|cliente}}, mira {URL}",
            "tagIds": stack.seed["examplePayload"]["tagIds"],
            "purpose": "transactional",
            "trackLinks": True,
        }
        sent = http_call(stack.api_url, "POST", "/api/messages/sms/tags", token=token, body=body)
        assert sent.status == 201, sent.body
        message_id = sent.body["messages"][0]["id"]
        text = http_call(stack.api_url, "GET", f"/api/messages/{message_id}", token=token).body["body"]
        link = re.findall(re.escape(stack.api_url) + r"/l/[0-9A-Za-z]+", text)[0]
        bare = stack.api_url + "/l/not-a-code"
        for url, status in ((link, 302), (bare, 404)):  # warm both paths (one execution environment each)
            _p50(url, 5, status)
        floor = _p50(bare, clicks, 404)
        value = _p50(link, clicks, 302)
        write = _bare_update_p50(stack.endpoint, clicks, message_id)
        counted = http_call(stack.api_url, "GET", f"/api/messages/{message_id}", token=token).body["clicks"]
    # What no counted click can beat here: the bare route, plus the one write a click must make.
    floor_with_write = floor + write
    return Row(
        ROW_LATENCY,
        round(value, 2),
        "ms",
        round(floor_with_write, 2),
        f"<= {TARGET_LATENCY_RATIO:g}x (bare route {floor:.1f} ms + one bare UpdateItem {write:.1f} ms)",
        value <= TARGET_LATENCY_RATIO * floor_with_write,
        {
            "clicks": clicks,
            "clicks_recorded": counted,
            "bare_route_ms": round(floor, 2),
            "bare_route": "GET /l/not-a-code -> 404: same gateway, runtime and function, no DynamoDB call",
            "bare_update_item_ms": round(write, 2),
            "ratio_to_bare_route": round(value / floor, 2),
        },
    )


def _bare_update_p50(endpoint: str, calls: int, message_id: str) -> float:
    """p50 of a conditional UpdateItem of the click's shape (SET if_not_exists, ADD, UPDATED_NEW) on the stack's
    Messages table, by boto3 straight to the local emulator, on a copy of the clicked message (same size): no
    function in between."""
    from smsdev.devstack import aws_client
    from smsdev.template import LocalNames

    dynamodb = aws_client("dynamodb", endpoint, LocalNames().region)
    table = LocalNames().physical("MessagesTable")
    key = {"message_id": {"S": "bench-links-probe"}}
    item = dynamodb.get_item(TableName=table, Key={"message_id": {"S": message_id}}, ConsistentRead=True)["Item"]
    item = {
        k: v for k, v in item.items() if k not in ("created_key", "tenant_recipient", "queue_shard", "tenant_shard")
    }
    dynamodb.put_item(TableName=table, Item={**item, **key, "queue_id": {"S": "probe"}})
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET first_clicked_at = if_not_exists(first_clicked_at, :at) ADD clicks :one",
            ConditionExpression="attribute_exists(message_id) AND queue_id = :q",
            ExpressionAttributeValues={":at": {"S": "2026-12-06T00:00:00Z"}, ":one": {"N": "1"}, ":q": {"S": "probe"}},
            ReturnValues="UPDATED_NEW",
        )
        timings.append(time.perf_counter() - started)
    dynamodb.delete_item(TableName=table, Key=key)
    return statistics.median(timings) * 1000


def measure_units() -> Row:
    from bench.capacity import captured, schemas_from_template
    from bench.harness import LambdaContext, moto_stack

    with moto_stack() as stack:
        from functions.links import app as links_app
        from functions.send_by_tags import app as send_app
        from smscore import wiring
        from smscore.dal.tables import MessageRecord
        from smsdev.admin_store import ContactInput, DynamoAdminStore

        wiring.bound_settings()
        admin = DynamoAdminStore(region=stack.names.region)
        tenant = admin.create_tenant("Bench", credits=100, default_country="CO")
        member = admin.create_member(tenant, "bench@links.test", accept_terms=True)
        admin.add_contacts(tenant, [ContactInput(phone="+573001234567", name="Ana", tag_names=["vip"])])
        tag = admin.tags(tenant)[0].tag_id
        body = {"message": f"Hola {{nombre}}, mira {URL}", "tagIds": [tag], "purpose": "transactional"}
        event = _api_event({**body, "trackLinks": True}, tenant, member.member_id, member.token.token)
        answer = send_app.lambda_handler(event, LambdaContext("send", 1769, 26_000))
        assert answer["statusCode"] == 201, answer["body"]
        (message,) = list(MessageRecord.scan())
        code = re.findall(r"/l/([0-9A-Za-z]+)", message.body)[0]
        schemas = schemas_from_template(stack.names)
        units: list[float] = []
        by_table: list[dict[str, Any]] = []
        for _click in range(2):  # the first click, then a repeat
            with captured(schemas) as tally:
                response = links_app.lambda_handler(_click_event(code), LambdaContext("links", 512, 10_000))
            assert response["statusCode"] == 302, response
            units.append(sum(tally.units.values()))
            by_table.append(dict(tally.units))
    first, repeat = units
    return Row(
        ROW_UNITS,
        round(first, 2),
        "WU/click",
        None,
        f"<= {TARGET_UNITS} (first click: the message's update + one counter shard; a repeat: the update only)",
        first <= TARGET_UNITS,
        {"first_click": by_table[0], "repeat_click": by_table[1], "repeat_click_units": repeat},
    )


def _api_event(body: dict[str, Any], tenant_id: str, member_id: str, token: str | None = None) -> dict[str, Any]:
    """The recorded API Gateway event (tests/events) with this caller, token and body."""
    event: dict[str, Any] = json.loads((Path(__file__).resolve().parents[1] / EVENT).read_text())
    event["body"] = json.dumps(body)
    event["requestContext"]["authorizer"].update(tenantId=tenant_id, memberId=member_id, principalId=member_id)
    if token is not None:
        event["headers"]["Authorization"] = event["multiValueHeaders"]["Authorization"][0] = f"Bearer {token}"
    return event


def _click_event(code: str) -> dict[str, Any]:
    event = _api_event({}, "-", "-")
    event["requestContext"].pop("authorizer", None)
    headers = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) Mobile", "Host": "bench.example"}
    event.update(
        httpMethod="GET",
        path=f"/l/{code}",
        resource="/l/{code}",
        pathParameters={"code": code},
        headers=headers,
        multiValueHeaders={k: [v] for k, v in headers.items()},
        body=None,
    )
    event["requestContext"].update(httpMethod="GET", resourcePath="/l/{code}", path=f"/dev/l/{code}")
    return event


def measure() -> list[Row]:
    return [measure_latency(), measure_units()]
