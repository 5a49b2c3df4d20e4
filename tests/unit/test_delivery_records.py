"""The delivery queue's body: written by encode_batch, read back through Powertools' parser as a DeliveryRecord."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from smscore.dal.delivery_records import DeliveryRecord
from smscore.dal.sqs_queue import encode_batch
from smscore.domain.model import QueueBatch
from tests.conftest import load_event


def record(body: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("sqs_delivery_batch.json"))
    raw: dict[str, Any] = event["Records"][0]
    raw["body"] = body
    return raw


def test_what_the_send_path_writes_the_deliver_function_reads() -> None:
    batch = QueueBatch(tenant_id="t-1", queue_id="q-1", message_ids=["m-1", "m-2"])
    parsed = DeliveryRecord.model_validate(record(encode_batch(batch)))
    assert parsed.body.to_batch() == batch
    assert parsed.attributes.ApproximateReceiveCount == "1"


def test_the_wire_names_are_camel_case() -> None:
    body = json.loads(encode_batch(QueueBatch(tenant_id="t-1", queue_id="q-1", message_ids=["m-1"])))
    assert body == {"tenantId": "t-1", "queueId": "q-1", "messageIds": ["m-1"]}


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"tenantId": "t-1", "queueId": "q-1"}),  # no messageIds
        json.dumps({"tenantId": "", "queueId": "q-1", "messageIds": []}),  # empty tenant
        json.dumps({"tenant_id": "t-1", "queue_id": "q-1", "message_ids": []}),  # Python names are not the format
        json.dumps({"tenantId": "t-1", "queueId": "q-1", "messageIds": [1, 2]}),
    ],
)
def test_anything_else_is_refused(body: str) -> None:
    with pytest.raises(ValidationError):
        DeliveryRecord.model_validate(record(body))
