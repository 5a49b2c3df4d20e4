"""What the local stack must reproduce of API Gateway and Lambda, over HTTP against `make dev`.

- Each function runs with exactly its own template environment: the Twilio webhook has no
  TWILIO_STATUS_CALLBACK_URL (the deliver function's), so it rebuilds the URL Twilio signed from Host,
  X-Forwarded-Proto and requestContext.path, as on AWS; a callback signed for the URL the client called
  is accepted, for the execute-api form with the stage too.
- The status webhook's function URL (the StatusCallback the deliver function gives Twilio) is served on a port of
  its own, with the payload format 2.0 event: a callback signed for that URL is queued, one signed for the REST
  route is refused.
- An expected 401 from the authorizer is one log line, not a traceback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from smscore.domain.auth import issue_token
from smsdev.testing import http_call
from tests.e2e.conftest import ApiResponse, LocalStackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]

TWILIO_PATH = "/api/webhooks/twilio/status"
AUTH_TOKEN = "local-twilio-auth-token"


def twilio_signature(url: str, params: dict[str, str], auth_token: str) -> str:
    """Twilio's documented scheme, written out here: base64(HMAC-SHA1(token, url + sorted key+value pairs))."""
    signed = url + "".join(key + params[key] for key in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


@pytest.fixture
def twilio_credentials(local_stack: LocalStackProcess) -> None:
    """The webhook's auth token, where the template says the function reads it (SSM, SecureString JSON)."""
    ssm = local_stack.aws_client("ssm")
    ssm.put_parameter(
        Name=f"/{local_stack.names.stack_name}/providers/twilio",
        Value=json.dumps({"account_sid": "AC" + "0" * 32, "auth_token": AUTH_TOKEN}),
        Type="SecureString",
        Overwrite=True,
    )


def post_callback(local_stack: LocalStackProcess, path: str, signed_url: str) -> ApiResponse:
    params = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(signed_url, params, AUTH_TOKEN),
    }
    return local_stack.call("POST", path, body=urlencode(params).encode(), headers=headers)


@pytest.mark.usefixtures("twilio_credentials")
def test_a_twilio_callback_signed_for_the_url_the_gateway_presents_is_accepted(local_stack: LocalStackProcess) -> None:
    # Given Twilio's auth token in SSM, and a receipt for a message this stack never sent
    # When Twilio posts it to the local API, signed for exactly the URL it posts to
    response = post_callback(local_stack, TWILIO_PATH, local_stack.api_url + TWILIO_PATH)
    # Then the webhook rebuilt that URL from the request, the signature holds, and the receipt is acknowledged
    assert response.status == 200, response.body
    assert set(response.body) == {"outcome"}


@pytest.mark.usefixtures("twilio_credentials")
def test_the_stage_prefixed_url_is_rebuilt_with_its_stage(local_stack: LocalStackProcess) -> None:
    # The execute-api form (…/{stage}/api/…): requestContext.path carries the stage, as on AWS
    path = f"/{local_stack.api.stage}{TWILIO_PATH}"
    response = post_callback(local_stack, path, local_stack.api_url + path)
    assert response.status == 200, response.body


@pytest.mark.usefixtures("twilio_credentials")
def test_a_callback_signed_for_another_url_is_refused(local_stack: LocalStackProcess) -> None:
    # Given the deliver function's configured callback URL, which the webhook must not use: it has its own env
    deliver_url = local_stack.names.physical("SmsApi")
    signed_for = f"https://{deliver_url}.execute-api.{local_stack.names.region}.amazonaws.com/dev{TWILIO_PATH}"
    # When a callback signed for that URL arrives at the local API
    response = post_callback(local_stack, TWILIO_PATH, signed_for)
    # Then 403, nothing applied
    assert response.status == 403
    assert response.body["code"] == "INVALID_SIGNATURE"


def post_to_function_url(local_stack: LocalStackProcess, query: str, signed_url: str) -> ApiResponse:
    params = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(signed_url, params, AUTH_TOKEN),
    }
    base = local_stack.function_urls["TwilioStatusFunction"]
    return http_call(base.rstrip("/"), "POST", f"/?{query}", body=urlencode(params).encode(), headers=headers)


@pytest.mark.usefixtures("twilio_credentials")
def test_a_callback_signed_for_the_function_url_is_queued(local_stack: LocalStackProcess) -> None:
    # Given the status webhook's function URL, as the running stack serves it (its own port)
    url = local_stack.function_urls["TwilioStatusFunction"]
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/")
    # When Twilio posts a receipt there with our id in the query, signed for exactly that URL
    response = post_to_function_url(local_stack, "messageId=m-e2e-1", f"{url}?messageId=m-e2e-1")
    # Then the webhook rebuilt the URL from the function URL's event, the signature holds, and it is queued
    assert response.status == 200, response.body
    assert response.body == {"outcome": "ACCEPTED"}


@pytest.mark.usefixtures("twilio_credentials")
def test_a_callback_at_the_function_url_signed_for_the_rest_route_is_refused(local_stack: LocalStackProcess) -> None:
    response = post_to_function_url(local_stack, "messageId=m-e2e-2", local_stack.api_url + TWILIO_PATH)
    assert (response.status, response.body["code"]) == (403, "INVALID_SIGNATURE")


def test_an_expected_401_from_the_authorizer_is_one_log_line(local_stack: LocalStackProcess) -> None:
    # Given the stack's log so far
    assert local_stack.log_path is not None
    before = local_stack.log_path.stat().st_size
    # When a well-formed but unknown token is refused by the authorizer function
    response = local_stack.send(issue_token().token, {"message": "hi", "tagIds": []})
    assert response.status == 401
    # Then the log gained the request line and no traceback
    with local_stack.log_path.open() as log:
        log.seek(before)
        added = log.read()
    assert "Traceback" not in added
    gateway_lines = [line for line in added.splitlines() if "smsdev.gateway" in line]
    assert len(gateway_lines) == 1, added
    assert "POST /api/messages/sms/tags -> 401" in gateway_lines[0]
