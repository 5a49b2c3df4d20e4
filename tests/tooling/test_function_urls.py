"""The local function URL (smsdev.function_urls): a server of its own per `FunctionUrlConfig`, handing the function
the payload format 2.0 event and mapping its answer back, with fake functions (a real socket, no processes)."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode

import pytest

from smsdev.function_urls import FunctionUrlServer, url_functions, url_response
from smsdev.lambdas import InvocationError
from smsdev.template import load_template


@pytest.fixture
def server() -> Iterator[FunctionUrlServer]:
    running = FunctionUrlServer("TwilioStatusFunction", "sms-local-TwilioStatusFunction", "123456789012", "us-east-1")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_template_serves_the_twilio_status_webhook_on_a_function_url() -> None:
    assert url_functions(load_template()) == ["TwilioStatusFunction"]


def test_a_request_reaches_the_function_as_a_payload_2_event_and_its_answer_comes_back(
    server: FunctionUrlServer,
) -> None:
    # Given a function that answers 200 with a JSON body and records the event it got
    seen: list[dict[str, Any]] = []

    def invoke(function_id: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append({"function_id": function_id, **event})
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"outcome":"ACCEPTED"}'}

    server.invoke = invoke
    form = urlencode({"MessageSid": "SM1", "MessageStatus": "delivered"}).encode()
    # When Twilio posts a form to the function URL with our id in the query
    status, headers, body = post(
        f"{server.function_url}?messageId=m-1",
        form,
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "sig"},
    )
    # Then the function's answer is the response
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json", {"outcome": "ACCEPTED"})
    # And it got the function URL's event: raw path and query as sent, lower-case headers, the form base64
    (event,) = seen
    assert event["function_id"] == "TwilioStatusFunction"
    assert (event["version"], event["rawPath"], event["rawQueryString"]) == ("2.0", "/", "messageId=m-1")
    assert event["queryStringParameters"] == {"messageId": "m-1"}
    assert event["headers"]["x-twilio-signature"] == "sig"
    assert event["headers"]["host"] == f"127.0.0.1:{server.port}"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == form


def test_a_function_that_fails_is_a_502_and_one_not_yet_bound_a_503(server: FunctionUrlServer) -> None:
    # Before the local runtime is bound: 503
    assert post(server.function_url, b"{}", {"Content-Type": "application/json"})[0] == 503

    def failing(function_id: str, event: dict[str, Any]) -> Any:
        raise InvocationError("Runtime.Error", "boom")

    server.invoke = failing
    status, _, body = post(server.function_url, b"{}", {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (502, {"Message": "Internal Server Error"})


def test_a_result_without_status_code_is_a_200_json_body() -> None:
    assert url_response({"ok": True}) == (200, [("Content-Type", "application/json")], b'{"ok": true}')
    status, headers, raw = url_response({"statusCode": 403, "body": "bm8=", "isBase64Encoded": True})
    assert (status, headers, raw) == (403, [], b"no")
