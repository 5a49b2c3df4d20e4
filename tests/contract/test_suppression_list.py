"""The SuppressionList: the in-memory fake and the Suppressions table (DynamoSuppressionList on moto) agree on
scope (number and sender), order (a later change wins, an older one is ignored) and the bulk reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smscore.dal.suppression_store import BATCH_GET_KEYS, DynamoSuppressionList
from smscore.domain.ports import ConsentChange, SuppressionList
from tests.consent_fakes import InMemorySuppressionList

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ANA = "+573001234567"
SENDER = "twilio:+15550001111"


@pytest.fixture(params=["in-memory", "dynamodb"])
def suppressions(request: pytest.FixtureRequest) -> SuppressionList:
    if request.param == "in-memory":
        return InMemorySuppressionList()
    request.getfixturevalue("stack")  # the template's tables on moto, models bound
    return DynamoSuppressionList()


def change(opted_out: bool, at: datetime = T0, number: str = ANA, sender: str = SENDER) -> ConsentChange:
    return ConsentChange(number, sender, opted_out, "STOP" if opted_out else "START", at, "twilio", "SM1")


def test_an_opt_out_covers_that_number_for_that_sender_only(suppressions: SuppressionList) -> None:
    # When Ana opts out of one sender
    assert suppressions.record(change(True)) is True
    # Then she is suppressed there, and neither another number nor another sender is
    assert suppressions.is_suppressed(ANA, SENDER)
    assert not suppressions.is_suppressed("+573009999999", SENDER)
    assert not suppressions.is_suppressed(ANA, "aws_sms:+15550002222")


def test_a_later_opt_in_lifts_it_and_an_older_or_equal_change_is_ignored(suppressions: SuppressionList) -> None:
    # Given an opt-out at 12:00 and an opt-in at 12:05
    suppressions.record(change(True, T0))
    assert suppressions.record(change(False, T0 + timedelta(minutes=5))) is True
    # When the 12:00 opt-out is delivered again, or another change with the same time
    assert suppressions.record(change(True, T0)) is False
    assert suppressions.record(change(True, T0 + timedelta(minutes=5))) is False
    # Then the later opt-in stands
    assert not suppressions.is_suppressed(ANA, SENDER)
    # And a newer opt-out applies again
    assert suppressions.record(change(True, T0 + timedelta(minutes=6))) is True
    assert suppressions.is_suppressed(ANA, SENDER)


@pytest.mark.parametrize("audience", [3, BATCH_GET_KEYS + 30])
def test_the_bulk_read_returns_exactly_the_suppressed_numbers_of_the_sender(
    suppressions: SuppressionList, audience: int
) -> None:
    # Given an audience (by key below 100 numbers, the sender's partition above), where the 1st and the last
    # numbers opted out of the sender, the 2nd opted out and back in, and the 3rd opted out of another sender
    numbers = [f"+5730000{n:05d}" for n in range(audience)]
    suppressions.record(change(True, number=numbers[0]))
    suppressions.record(change(True, number=numbers[-1]))
    suppressions.record(change(True, number=numbers[1]))
    suppressions.record(change(False, T0 + timedelta(seconds=1), number=numbers[1]))
    suppressions.record(change(True, number=numbers[2], sender="sandbox"))
    suppressions.record(change(True, number="+573999999999"))  # suppressed, not in this audience
    # When the audience is checked against the sender / Then only the two are reported
    assert suppressions.suppressed(numbers, SENDER) == {numbers[0], numbers[-1]}
    assert suppressions.suppressed([], SENDER) == set()


def test_nothing_recorded_means_nobody_is_suppressed(suppressions: SuppressionList) -> None:
    assert suppressions.suppressed([ANA], SENDER) == set()
    assert not suppressions.is_suppressed(ANA, SENDER)
