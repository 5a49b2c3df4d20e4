"""A campaign's failed recipients are resent to once per outcome: a resend skips whoever an earlier resend of the
same campaign already targeted, unless that message ended FAILED or UNDELIVERED (or was cancelled), or the body says
`{"force": true}`; the answer counts them (`skippedAlreadyResent`). Through the real handler on moto.

Before this, 10 resends of one campaign with 10 Idempotency-Keys made 10 campaigns to the same failed numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from smscore import wiring
from smscore.api.campaigns import Caller
from smscore.api.models import ResendPayload
from smscore.dal.tables import DispatchRecord, MessageRecord
from smsdev.moto_transactions import install as install_item_level_rollback
from smsdev.testing import serialised_moto
from tests.conftest import Stack
from tests.integration.conftest import Campaign
from tests.integration.test_preview_and_resend import OUTCOMES, end_as, finish, resend

RESENDABLE = sorted(number for number, outcome in OUTCOMES.items() if outcome[3])  # 3 numbers


@pytest.fixture
def original(stack: Stack, campaign: Campaign) -> str:
    """A finished campaign of the OUTCOMES numbers: 3 of them failed for a reason another attempt may fix."""
    return finish(stack, campaign)


def resends_of(queue_id: str) -> list[DispatchRecord]:
    return [d for d in DispatchRecord.scan() if d.resend_of == queue_id]


def recipients(answer: dict[str, Any]) -> list[str]:
    return sorted(m["recipient"] for m in answer["messages"])


def test_ten_resends_with_ten_keys_text_the_failed_numbers_once(
    stack: Stack, campaign: Campaign, original: str
) -> None:
    balance = campaign.balance()
    # When the campaign is resent ten times, each time with its own Idempotency-Key
    answers = [resend(campaign, original, {"purpose": "transactional"}, key=f"resend-{n}") for n in range(10)]
    # Then the first reaches the three failed numbers, and says it skipped nobody
    status, first = answers[0]
    assert (status, recipients(first), first["skippedAlreadyResent"]) == (201, RESENDABLE, 0)
    # And the nine others reach nobody, debit nothing, and say why
    for status, later in answers[1:]:
        assert (status, later["queueId"], later["messages"]) == (200, "", [])
        assert later["skippedAlreadyResent"] == 3
    assert len(resends_of(original)) == 1
    assert campaign.balance() == balance - 3 == campaign.ledger_sum()


def test_whoever_the_earlier_resend_failed_again_is_resent_again(
    stack: Stack, campaign: Campaign, original: str
) -> None:
    # Given a first resend whose messages ended: failed again, delivered, and still queued
    status, first = resend(campaign, original, key="first")
    assert status == 201
    endings = {
        "+573001110001": ("FAILED", "SANDBOX_429", "retries exhausted: Too many requests"),
        "+573001110002": ("DELIVERED", None, None),
        "+573001110003": ("QUEUED", None, None),
    }
    for message in first["messages"]:
        end_as(message["id"], *endings[message["recipient"]])
    # When the campaign is resent again with another key
    status, second = resend(campaign, original, key="second")
    # Then only the one whose resent message failed is reached; the delivered and the pending are skipped
    assert (status, recipients(second), second["skippedAlreadyResent"]) == (201, ["+573001110001"], 2)


def test_a_cancelled_resend_does_not_count_as_texted(stack: Stack, campaign: Campaign, original: str) -> None:
    status, first = resend(campaign, original, key="first")
    assert status == 201
    for message in first["messages"]:
        end_as(message["id"], "CANCELLED", None, "CANCELLED")
    status, second = resend(campaign, original, key="second")
    assert (status, recipients(second), second["skippedAlreadyResent"]) == (201, RESENDABLE, 0)


def test_force_resends_to_everyone_who_qualifies(stack: Stack, campaign: Campaign, original: str) -> None:
    assert resend(campaign, original, key="first")[0] == 201
    balance = campaign.balance()
    status, forced = resend(campaign, original, {"force": True}, key="forced")
    assert (status, recipients(forced), forced["skippedAlreadyResent"]) == (201, RESENDABLE, 0)
    assert campaign.balance() == balance - 3
    # And a resend after it skips whoever the forced one targeted too
    status, after = resend(campaign, original, key="after")
    assert (status, after["messages"], after["skippedAlreadyResent"]) == (200, [], 3)


def test_a_retry_of_a_resend_that_reached_nobody_answers_the_same(
    stack: Stack, campaign: Campaign, original: str
) -> None:
    assert resend(campaign, original, key="first")[0] == 201
    once = resend(campaign, original, key="second")
    again = resend(campaign, original, key="second")
    assert once == again == (200, {"queueId": "", "channel": "sms", "messages": [], "skippedAlreadyResent": 3})


def test_a_send_says_nothing_of_resends(stack: Stack, campaign: Campaign, original: str) -> None:
    sent = [d for d in DispatchRecord.scan() if d.queue_id == original]
    assert len(sent) == 1
    from tests.integration.test_preview_and_resend import send

    status, body = send(campaign, {"message": "Hola", "tagIds": [campaign.tags["all"]], "purpose": "transactional"})
    assert status == 201
    assert "skippedAlreadyResent" not in body


@pytest.fixture
def atomic_moto(stack: Stack) -> Iterator[None]:
    """moto answering one request at a time, a cancelled transaction rolled back: DynamoDB's atomicity."""
    install_item_level_rollback()
    with serialised_moto():
        yield


def test_concurrent_resends_with_different_keys_text_the_failed_numbers_once(
    stack: Stack, campaign: Campaign, original: str, atomic_moto: None
) -> None:
    # Given the send function's campaign service (the resolver holds one request at a time; the service does not)
    service = wiring.send_deps().campaigns
    who = Caller(tenant_id=campaign.tenant_id, member_id=campaign.member_id)
    balance = campaign.balance()

    def resend_with(key: str) -> list[str]:
        outcome = service.resend(who, original, ResendPayload(), key, None)
        return sorted(m.recipient for m in outcome.body.messages)

    # When eight resends with eight keys run at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        reached = list(pool.map(resend_with, [f"race-{n}" for n in range(8)]))
    # Then one of them reaches the three numbers, the others nobody, and three credits were debited
    assert sorted(reached, key=len) == [[]] * 7 + [RESENDABLE]
    assert len(resends_of(original)) == 1
    assert campaign.balance() == balance - 3 == campaign.ledger_sum()
    queued = [m for m in MessageRecord.scan() if m.queue_id == resends_of(original)[0].queue_id]
    assert sorted(m.recipient for m in queued) == RESENDABLE
