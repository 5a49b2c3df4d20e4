"""Opt-outs on the local stack, as a developer drives them: `smsctl inbound` replies STOP to the sandbox's number
(InboundSmsFunction, the AWS two-way SMS handler, in a local Lambda environment), then the API's next send."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from smscore.dal.tables import SuppressionRecord
from smsdev.admin_store import ContactInput, DynamoAdminStore
from tests.e2e.conftest import LocalStackProcess
from tests.e2e.test_local_stack import AUTH_TOKEN, twilio_credentials, twilio_signature  # noqa: F401 - a fixture

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]  # smsctl inbound runs the function on the local stack

SMSCTL = Path(sys.executable).with_name("smsctl")


def smsctl(stack: LocalStackProcess, *args: str) -> dict[str, Any]:
    assert stack.endpoint is not None
    done = subprocess.run(
        [str(SMSCTL), "--json", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "LOCAL_AWS_PORT": str(urlsplit(stack.endpoint).port)},
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_stop_through_smsctl_inbound_removes_the_number_from_the_next_send(
    local_stack: LocalStackProcess, admin: DynamoAdminStore
) -> None:
    # Given a tenant with two contacts under one tag (numbers no other test uses)
    suffix = uuid.uuid4().int % 10_000_000
    ana, luis = f"+57310{suffix:07d}", f"+57311{suffix:07d}"
    tenant_id = admin.create_tenant(f"Optout {suffix}", credits=100, default_country="CO")
    token = admin.create_member(tenant_id, f"ops-{suffix}@optout.test", accept_terms=True).token.token
    admin.add_contacts(
        tenant_id, [ContactInput(phone=ana, tag_names=["club"]), ContactInput(phone=luis, tag_names=["club"])]
    )
    body = {"message": "Hola", "tagIds": [admin.tags(tenant_id)[0].tag_id]}

    # When Ana replies "Bája" to the local default sender (the sandbox's number)
    result = smsctl(local_stack, "inbound", "--from", ana, "--body", " Bája ")
    # Then the keyword action is printed: opted out of the sandbox sender (a new message, applied), a confirmation
    assert result["action"] == "OPT_OUT"
    assert (result["keyword"], result["sender"], result["applied"], result["duplicate"]) == (
        "BAJA",
        "sandbox",
        True,
        False,
    )
    assert result["reply"]

    # And the next send reaches Luis only, and charges one credit
    sent = local_stack.send(token, body)
    assert sent.status == 201, sent.body
    assert [m["recipient"] for m in sent.body["messages"]] == [luis]
    assert int(admin.tenant(tenant_id).credits) == 99

    # When she replies ALTA / Then the next send reaches her again
    assert smsctl(local_stack, "inbound", "--from", ana, "--body", "alta")["action"] == "OPT_IN"
    again = local_stack.send(token, body)
    assert sorted(m["recipient"] for m in again.body["messages"]) == sorted([ana, luis])


def test_smsctl_inbound_reports_a_reply_that_is_not_a_keyword(local_stack: LocalStackProcess) -> None:
    result = smsctl(local_stack, "inbound", "--from", "+573129999999", "--body", "gracias")
    assert (result["action"], result["applied"], result["reply"]) == ("NONE", False, None)


@pytest.mark.usefixtures("twilio_credentials")
def test_a_signed_twilio_reply_through_the_local_gateway_opts_out_of_that_number(
    local_stack: LocalStackProcess, admin: DynamoAdminStore
) -> None:
    # Given Twilio's auth token in the emulator's SSM, and a reply "BAJA" to our Twilio number, signed for the URL
    number = f"+57312{uuid.uuid4().int % 10_000_000:07d}"
    params = {"MessageSid": "SM" + "2" * 32, "From": number, "To": "+15550001111", "Body": "BAJA"}
    url = local_stack.api_url + "/api/webhooks/twilio/inbound"
    request = urllib.request.Request(url, data=urlencode(params).encode(), method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    request.add_header("X-Twilio-Signature", twilio_signature(url, params, AUTH_TOKEN))
    # When Twilio posts it to the local API
    with urllib.request.urlopen(request, timeout=60) as response:
        status, content_type, body = response.status, response.headers["Content-Type"], response.read().decode()
    # Then the answer is TwiML confirming it, and the number is suppressed for that Twilio number
    assert (status, content_type) == (200, "application/xml")
    assert "<Response><Message>" in body
    stored = SuppressionRecord.get(number, "twilio:+15550001111", consistent_read=True)
    assert (stored.opted_out, stored.keyword) == (True, "BAJA")
