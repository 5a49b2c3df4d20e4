"""The SuppressionList: the in-memory fake and the Suppressions table (DynamoSuppressionList on moto) agree on
scope (number and sender), order (a later change wins, an older one is ignored), replays (a provider message is
applied once, whatever its time) and the bulk reads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from smscore.dal.suppression_store import BATCH_GET_KEYS, DynamoSuppressionList
from smscore.domain.ports import ConsentChange, RecordOutcome, SuppressionList
from smsdev.testing import serialised_moto
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


UNTIL = T0 + timedelta(days=30)
APPLIED, SUPERSEDED, DUPLICATE = RecordOutcome.APPLIED, RecordOutcome.SUPERSEDED, RecordOutcome.DUPLICATE


def change(
    opted_out: bool, at: datetime = T0, number: str = ANA, sender: str = SENDER, reference: str | None = "SM1"
) -> ConsentChange:
    return ConsentChange(number, sender, opted_out, "STOP" if opted_out else "START", at, "twilio", reference)


def test_an_opt_out_covers_that_number_for_that_sender_only(suppressions: SuppressionList) -> None:
    # When Ana opts out of one sender
    assert suppressions.record(change(True)) is APPLIED
    # Then she is suppressed there, and neither another number nor another sender is
    assert suppressions.is_suppressed(ANA, SENDER)
    assert not suppressions.is_suppressed("+573009999999", SENDER)
    assert not suppressions.is_suppressed(ANA, "aws_sms:+15550002222")


def test_a_later_opt_in_lifts_it_and_an_older_or_equal_change_is_ignored(suppressions: SuppressionList) -> None:
    # Given an opt-out at 12:00 and an opt-in at 12:05
    suppressions.record(change(True, T0))
    assert suppressions.record(change(False, T0 + timedelta(minutes=5))) is APPLIED
    # When the 12:00 opt-out is delivered again, or another change with the same time
    assert suppressions.record(change(True, T0)) is SUPERSEDED
    assert suppressions.record(change(True, T0 + timedelta(minutes=5))) is SUPERSEDED
    # Then the later opt-in stands
    assert not suppressions.is_suppressed(ANA, SENDER)
    # And a newer opt-out applies again
    assert suppressions.record(change(True, T0 + timedelta(minutes=6))) is APPLIED
    assert suppressions.is_suppressed(ANA, SENDER)


def test_a_remembered_message_is_applied_once_whatever_the_time_it_comes_back_with(
    suppressions: SuppressionList,
) -> None:
    # Given Ana's STOP (SM1, 12:00) and START (SM2, 12:05), each remembered
    assert suppressions.record(change(True, T0, reference="SM1"), UNTIL) is APPLIED
    assert suppressions.record(change(False, T0 + timedelta(minutes=5), reference="SM2"), UNTIL) is APPLIED
    # When SM1 comes back dated 13:00 (a Twilio replay is dated at its receipt), and SM2 exactly as before
    assert suppressions.record(change(True, T0 + timedelta(hours=1), reference="SM1"), UNTIL) is DUPLICATE
    assert suppressions.record(change(False, T0 + timedelta(minutes=5), reference="SM2"), UNTIL) is DUPLICATE
    # Then she stays subscribed
    assert not suppressions.is_suppressed(ANA, SENDER)


def test_a_superseded_message_is_remembered_in_case_it_comes_back_newer(suppressions: SuppressionList) -> None:
    # Given a START at 12:05, then a STOP (SM1) of 12:00 that arrives late and is not applied
    suppressions.record(change(False, T0 + timedelta(minutes=5), reference="SM2"), UNTIL)
    assert suppressions.record(change(True, T0, reference="SM1"), UNTIL) is SUPERSEDED
    # When SM1 is posted again, now dated 13:00 / Then it is a duplicate: the START stands
    assert suppressions.record(change(True, T0 + timedelta(hours=1), reference="SM1"), UNTIL) is DUPLICATE
    assert not suppressions.is_suppressed(ANA, SENDER)


def test_the_same_message_delivered_concurrently_is_applied_exactly_once(suppressions: SuppressionList) -> None:
    # When eight deliveries of one STOP race (a redelivery overlapping the first, or replays in parallel)
    barrier = threading.Barrier(8)

    def deliver() -> RecordOutcome:
        barrier.wait()
        return suppressions.record(change(True, T0, reference="SM1"), UNTIL)

    with serialised_moto(), ThreadPoolExecutor(max_workers=8) as pool:  # DynamoDB's atomic requests, on moto
        outcomes = list(pool.map(lambda _: deliver(), range(8)))
    # Then exactly one applied it; every other one is a duplicate
    assert sorted(outcomes) == [APPLIED] + [DUPLICATE] * 7
    assert suppressions.is_suppressed(ANA, SENDER)


def test_message_ids_are_per_provider_and_unremembered_changes_are_only_ordered(suppressions: SuppressionList) -> None:
    # The same id from another provider is another message
    assert suppressions.record(change(True, T0, reference="X1"), UNTIL) is APPLIED
    aws = ConsentChange(ANA, "aws_sms:+15550002222", True, "STOP", T0, "aws_sms", "X1")
    assert suppressions.record(aws, UNTIL) is APPLIED
    # Without remember_until (or without an id) nothing is remembered: a newer time applies again
    assert suppressions.record(change(True, T0 + timedelta(seconds=1), reference="X2")) is APPLIED
    assert suppressions.record(change(True, T0 + timedelta(seconds=2), reference="X2"), UNTIL) is APPLIED
    assert suppressions.record(change(True, T0 + timedelta(seconds=3), reference=None), UNTIL) is APPLIED


@pytest.mark.parametrize("remembered", [True, False], ids=["with-message-id", "without"])
def test_only_the_write_that_moves_the_state_says_it_changed(suppressions: SuppressionList, remembered: bool) -> None:
    def apply(opted_out: bool, minutes: int, ref: str) -> tuple[RecordOutcome, bool]:
        at = T0 + timedelta(minutes=minutes)
        got = suppressions.apply(change(opted_out, at, reference=ref if remembered else None), UNTIL)
        return got.outcome, got.changed

    # A START with nothing stored keeps "not opted out": applied, no change
    assert apply(False, 0, "SM0") == (APPLIED, False)
    # Ana's first STOP moves the state; a second STOP (a new message) is applied but moves nothing
    assert apply(True, 1, "SM1") == (APPLIED, True)
    assert apply(True, 2, "SM2") == (APPLIED, False)
    # An older START delivered late changes nothing; a newer START moves it back, once
    assert apply(False, 1, "SM3") == (SUPERSEDED, False)
    assert apply(False, 3, "SM4") == (APPLIED, True)
    assert apply(False, 4, "SM5") == (APPLIED, False)
    if remembered:  # the same message again is a duplicate, whatever it says
        assert apply(True, 9, "SM1") == (DUPLICATE, False)
    assert not suppressions.is_suppressed(ANA, SENDER)


def test_of_stops_racing_from_an_opted_in_state_exactly_one_moves_it(suppressions: SuppressionList) -> None:
    # Given Ana subscribed; When eight different STOP messages with different times race
    barrier = threading.Barrier(8)

    def stop(n: int) -> bool:
        barrier.wait()
        return suppressions.apply(change(True, T0 + timedelta(seconds=n), reference=f"SM{n}"), UNTIL).changed

    with serialised_moto(), ThreadPoolExecutor(max_workers=8) as pool:
        changed = list(pool.map(stop, range(8)))
    # Then exactly one of them reports the change of state (one contact.opted_out), and she is opted out
    assert changed.count(True) == 1
    assert suppressions.is_suppressed(ANA, SENDER)


def test_the_opt_outs_of_a_page_carry_their_keyword_and_time(suppressions: SuppressionList) -> None:
    # Given Ana opted out of the sender, Beto opted out and back in, Caro opted out of another sender
    beto, caro = "+573001110000", "+573002220000"
    suppressions.record(change(True, T0, reference=None))
    suppressions.record(change(True, T0, number=beto, reference=None))
    suppressions.record(change(False, T0 + timedelta(minutes=1), number=beto, reference=None))
    suppressions.record(change(True, T0, number=caro, sender="sandbox", reference=None))
    # When the page's numbers are read for the sender / Then only Ana's opt-out, with what she replied and when
    found = suppressions.opt_outs([ANA, beto, caro, "+573009999999"], SENDER)
    assert {n: (c.sender, c.opted_out, c.keyword, c.at) for n, c in found.items()} == {ANA: (SENDER, True, "STOP", T0)}
    assert suppressions.opt_outs([], SENDER) == {}


@pytest.mark.parametrize("consistent", [False, True], ids=["eventual", "consistent"])
@pytest.mark.parametrize("audience", [3, BATCH_GET_KEYS + 30, 20 * BATCH_GET_KEYS + 7])
def test_the_bulk_read_returns_exactly_the_suppressed_numbers_of_the_sender(
    suppressions: SuppressionList, audience: int, consistent: bool
) -> None:
    # Given an audience (one BatchGetItem, two, or 21 of them in parallel), where the 1st and the last
    # numbers opted out of the sender, the 2nd opted out and back in, and the 3rd opted out of another sender
    numbers = [f"+5730000{n:05d}" for n in range(audience)]
    suppressions.record(change(True, number=numbers[0]))
    suppressions.record(change(True, number=numbers[-1]))
    suppressions.record(change(True, number=numbers[1]))
    suppressions.record(change(False, T0 + timedelta(seconds=1), number=numbers[1]))
    suppressions.record(change(True, number=numbers[2], sender="sandbox"))
    suppressions.record(change(True, number="+573999999999"))  # suppressed, not in this audience
    # When the audience is checked against the sender / Then only the two are reported
    assert suppressions.suppressed(numbers, SENDER, consistent=consistent) == {numbers[0], numbers[-1]}
    assert suppressions.suppressed([], SENDER, consistent=consistent) == set()
    # And a number given twice is reported once
    assert suppressions.suppressed([numbers[0], numbers[0]], SENDER, consistent=consistent) == {numbers[0]}


def test_nothing_recorded_means_nobody_is_suppressed(suppressions: SuppressionList) -> None:
    assert suppressions.suppressed([ANA], SENDER) == set()
    assert not suppressions.is_suppressed(ANA, SENDER)


def test_an_opt_out_is_stored_under_its_number_and_read_by_key_only(stack: object) -> None:
    """DynamoDB side only (the fake has no partitions): the sender no longer shares one partition key."""
    import boto3

    from smscore.dal.tables import SuppressionRecord

    suppressions = DynamoSuppressionList()
    # Given a sender with 300 opt-outs, two of which are in a 5-number audience
    opted_out = [f"+5731{n:08d}" for n in range(300)]
    for number in opted_out:
        suppressions.record(change(True, number=number, reference=None))
    audience = [opted_out[7], opted_out[250], "+573200000001", "+573200000002", "+573200000003"]
    # Then each opt-out is its own partition key (the number), the sender the sort key
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = client.describe_table(TableName=SuppressionRecord.Meta.table_name)
    assert {k["AttributeName"]: k["KeyType"] for k in table["Table"]["KeySchema"]} == {
        "number": "HASH",
        "sender": "RANGE",
    }
    assert len({item.number for item in SuppressionRecord.scan()}) == 300
    # When the audience is checked
    calls: list[tuple[str, int, bool]] = []

    def count(params: dict[str, object], model: object, **_: object) -> None:
        name = getattr(model, "name", "")
        if name == "BatchGetItem":
            (request,) = params["RequestItems"].values()  # type: ignore[attr-defined]
            calls.append((name, len(request["Keys"]), bool(request.get("ConsistentRead"))))
        else:
            calls.append((str(name), 0, False))

    connection = SuppressionRecord._get_connection().connection
    connection.client.meta.events.register("provide-client-params.dynamodb.*", count)
    try:
        found = suppressions.suppressed(audience, SENDER)
    finally:
        connection.client.meta.events.unregister("provide-client-params.dynamodb.*", count)
    # Then the two are found with one eventually consistent BatchGetItem of the 5 keys: no Query of the sender
    assert found == {opted_out[7], opted_out[250]}
    assert calls == [("BatchGetItem", 5, False)]
