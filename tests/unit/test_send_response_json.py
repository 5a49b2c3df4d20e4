"""The send's 201 is written without a model per message (smscore.api.campaigns.Outcome.json): it must be the very
bytes the resolver wrote from the documented model, for every optional field present or absent."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from http import HTTPStatus

import pytest
from aws_lambda_powertools.event_handler.api_gateway import _JSON_DUMP_CALL

from smscore.api.campaigns import Outcome
from smscore.api.models import EnqueuedMessage, MessageEnqueueResultDto
from smscore.gc_pause import paused_collection

PAIRS = [
    ("0f0e0d0c-0000-8000-8000-000000000001", "+573001234567"),
    ("0f0e0d0c-0000-8000-8000-000000000002", "+5215512345678"),
]


def _resolver_bytes(dto: MessageEnqueueResultDto) -> str:
    """What Powertools wrote for a route returning the model: the model dumped for JSON, then its json.dumps."""
    return str(_JSON_DUMP_CALL(dto.model_dump(mode="json")))


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"scheduled_for": datetime(2026, 3, 2, 13, 0, tzinfo=UTC)},
        {"skipped_already_resent": 0, "skipped_too_long": 3, "skipped_no_consent": 2},
        {"total_messages": 120_000, "credits_debited": 240_000},
    ],
)
def test_the_fast_body_is_the_models_bytes(extra: dict[str, object]) -> None:
    # Given a send's answer with two messages and these optional fields
    header = MessageEnqueueResultDto(queue_id="q-1", messages=[], **extra)
    full = header.model_copy(update={"messages": [EnqueuedMessage(id=i, recipient=r) for i, r in PAIRS]})

    # When it is written the fast way
    outcome = Outcome(HTTPStatus.CREATED, header, PAIRS)

    # Then the bytes are the resolver's, and the model a test reads is the full one
    assert outcome.json() == _resolver_bytes(full)
    assert outcome.body == full
    assert outcome.queue_id == "q-1"


def test_an_answer_without_pairs_is_its_model() -> None:
    dto = MessageEnqueueResultDto(queue_id="", messages=[])
    assert Outcome(HTTPStatus.OK, dto).json() == _resolver_bytes(dto) == '{"queueId":"","channel":"sms","messages":[]}'


def test_collection_is_paused_inside_and_restored_after_an_error() -> None:
    seen: list[bool] = []

    def fails_inside() -> None:
        with paused_collection():
            seen.append(gc.isenabled())
            raise RuntimeError("boom")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        fails_inside()
    assert seen == [False]
    assert gc.isenabled()
