"""MaxSyncRecipients is bounded so that the 201 (which lists every message) always fits Lambda's response limit;
MaxRecipients (answered 202 above it) goes up to 1,000,000."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from pydantic import ValidationError

from smscore.api.models import EnqueuedMessage, MessageEnqueueResultDto
from smscore.settings import MAX_RECIPIENTS_LIMIT, MAX_SYNC_RECIPIENTS_LIMIT, Settings
from smsdev.template import load_template
from smsdev.testing import LambdaContextStub
from tests.conftest import api_event

# Lambda's synchronous response limit is 6 MB; keep half a megabyte for headers and growth.
RESPONSE_BUDGET_BYTES = 5_500_000
LONGEST_E164 = "+" + "9" * 15


def lambda_response_bytes(recipients: int) -> int:
    """The serialised Lambda response of a 201 to `recipients` recipients, through Powertools as the send
    handler answers it (the body is a JSON string inside the response JSON, so its quotes are escaped)."""
    app = APIGatewayRestResolver()
    body = MessageEnqueueResultDto(
        queue_id=str(uuid.uuid4()),
        messages=[EnqueuedMessage(id=str(uuid.uuid4()), recipient=LONGEST_E164) for _ in range(recipients)],
    )

    @app.post("/api/messages/sms/tags")
    def created() -> Response[MessageEnqueueResultDto]:
        return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)

    response: dict[str, Any] = app.resolve(api_event({}, tenant_id="t", member_id="m"), LambdaContextStub())
    assert response["statusCode"] == 201
    return len(json.dumps(response).encode())


def test_the_largest_allowed_audience_gets_a_response_under_5_5_mb() -> None:
    # Given the template's upper bound of MaxSyncRecipients and the measured size of one more recipient
    max_value = int(load_template()["Parameters"]["MaxSyncRecipients"]["MaxValue"])
    per_recipient = (lambda_response_bytes(2_000) - lambda_response_bytes(1_000)) / 1_000
    fixed = lambda_response_bytes(0)
    # Then the largest audience the template allows answers within the budget
    assert max_value * per_recipient + fixed < RESPONSE_BUDGET_BYTES
    # ... and the settings model refuses what the template refuses
    assert max_value == MAX_SYNC_RECIPIENTS_LIMIT
    assert int(load_template()["Parameters"]["MaxRecipients"]["MaxValue"]) == MAX_RECIPIENTS_LIMIT == 1_000_000


@pytest.mark.parametrize("name", ["MaxRecipients", "MaxSyncRecipients"])
def test_the_default_audience_limits_are_within_their_bounds(name: str) -> None:
    parameter = load_template()["Parameters"][name]
    assert parameter["MinValue"] <= parameter["Default"] <= parameter["MaxValue"]


def test_settings_refuse_a_max_recipients_above_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an environment asking for one recipient more than the bound
    monkeypatch.setenv("MAX_RECIPIENTS", str(MAX_RECIPIENTS_LIMIT + 1))
    monkeypatch.setenv("DELIVERY_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/q")
    # Then the settings do not load
    with pytest.raises(ValidationError, match="max_recipients"):
        Settings()


def test_settings_refuse_a_max_sync_recipients_above_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an environment asking for a 201 one recipient larger than Lambda's response allows
    monkeypatch.setenv("MAX_SYNC_RECIPIENTS", str(MAX_SYNC_RECIPIENTS_LIMIT + 1))
    monkeypatch.setenv("DELIVERY_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/q")
    # Then the settings do not load
    with pytest.raises(ValidationError, match="max_sync_recipients"):
        Settings()
