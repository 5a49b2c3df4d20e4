"""The SenderGate: the fleet-wide bucket and circuit breaker behave the same in-process and in DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from smscore.dal.sender_gate import DynamoSenderGate
from smscore.domain.pacing import PROBE_LEASE_SECONDS, InProcessSenderGate
from smscore.domain.ports import Reservation, SenderGate
from smsdev.testing import serialised_moto
from tests.conftest import Stack

NOW = 1_800_000_000.0


@pytest.fixture(params=["in-process", "dynamodb"])
def gate(request: pytest.FixtureRequest) -> Iterator[SenderGate]:
    if request.param == "in-process":
        yield InProcessSenderGate()
        return
    stack: Stack = request.getfixturevalue("stack")
    client = boto3.client("dynamodb", region_name=stack.names.region)
    table = next(t for t in client.list_tables()["TableNames"] if "Senders" in t)
    with serialised_moto():
        yield DynamoSenderGate(client, table)


def test_an_idle_sender_grants_a_slice_starting_now_spaced_at_its_rate(gate: SenderGate) -> None:
    # When 4 slots are asked of an idle sender at 2 messages/second
    reservation = gate.reserve("twilio:+15550001", 2.0, 4, NOW, horizon=10)
    # Then they start now, half a second apart
    assert reservation == Reservation(slots=(NOW, NOW + 0.5, NOW + 1.0, NOW + 1.5))


def test_the_next_slice_continues_where_the_last_one_ended(gate: SenderGate) -> None:
    gate.reserve("s", 2.0, 4, NOW, horizon=10)
    # When another invocation asks a moment later
    reservation = gate.reserve("s", 2.0, 2, NOW + 0.1, horizon=10)
    # Then its slots follow the first invocation's, never overlapping
    assert reservation.slots == pytest.approx((NOW + 2.0, NOW + 2.5))


def test_a_sender_idle_again_starts_from_now_without_a_burst(gate: SenderGate) -> None:
    gate.reserve("s", 2.0, 2, NOW, horizon=10)
    reservation = gate.reserve("s", 2.0, 2, NOW + 60, horizon=10)
    assert reservation.slots == pytest.approx((NOW + 60, NOW + 60.5))


def test_no_slot_beyond_the_horizon_is_taken(gate: SenderGate) -> None:
    # Given a bucket reserved 30 seconds ahead
    gate.reserve("s", 1.0, 30, NOW, horizon=10)
    # When an invocation that can wait 10 seconds asks: nothing, come back when the backlog is within reach
    reservation = gate.reserve("s", 1.0, 5, NOW, horizon=10)
    assert reservation.slots == ()
    assert reservation.retry_at == pytest.approx(NOW + 20)
    assert not reservation.paused
    # And the refusal reserved nothing: the next slot is still 30 seconds ahead
    assert gate.reserve("s", 1.0, 1, NOW, horizon=60).slots == pytest.approx((NOW + 30,))


def test_concurrent_reservations_never_share_a_slot(gate: SenderGate) -> None:
    # When 8 invocations take 5 slots each at the same time, at 10 messages/second
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: gate.reserve("s", 10.0, 5, NOW, horizon=60), range(8)))
    slots = sorted(round(slot, 3) for r in results for slot in r.slots)
    # Then the 40 slots are distinct, 0.1 s apart, from now on: no second holds more than the rate
    assert slots == pytest.approx([NOW + i / 10 for i in range(40)])


def test_a_paused_sender_grants_nothing_until_the_cool_down_then_one_probe(gate: SenderGate) -> None:
    # Given a sender paused for 300 s by a configuration error
    assert gate.pause("s", NOW + 300, "21606", NOW)
    # Then a second pause within the cool-down does not alarm again
    assert not gate.pause("s", NOW + 200, "21606", NOW + 1)
    # And nothing is granted meanwhile, limited or not
    assert gate.reserve("s", 1.0, 3, NOW + 10, horizon=10) == Reservation(retry_at=NOW + 300, paused=True)
    assert gate.reserve("s", 0.0, 1, NOW + 10, horizon=10) == Reservation(retry_at=NOW + 300, paused=True)
    # When the cool-down is over, exactly one caller gets the probe; the next waits for its answer
    probe = gate.reserve("s", 1.0, 3, NOW + 301, horizon=10)
    assert probe == Reservation(slots=(NOW + 301,), paused=True, probe=True)
    other = gate.reserve("s", 1.0, 3, NOW + 302, horizon=10)
    assert other.slots == ()
    assert other.paused
    assert other.retry_at == pytest.approx(NOW + 301 + PROBE_LEASE_SECONDS)
    # When the probe fails with the same error: paused again, and that is worth an alarm
    assert gate.pause("s", NOW + 601, "21606", NOW + 302)
    # When a later probe succeeds: the breaker closes and slots flow again
    assert gate.reserve("s", 1.0, 1, NOW + 602, horizon=10).probe
    gate.resume("s")
    assert gate.reserve("s", 1.0, 2, NOW + 603, horizon=10).slots == pytest.approx((NOW + 603, NOW + 604))


def test_a_probe_whose_owner_vanished_is_offered_again_after_its_hold(gate: SenderGate) -> None:
    gate.pause("s", NOW + 300, "20003", NOW)
    assert gate.reserve("s", 0.0, 1, NOW + 301, horizon=10).probe
    # Its prober crashed: after the hold, another caller probes
    later = NOW + 301 + PROBE_LEASE_SECONDS + 1
    assert gate.reserve("s", 0.0, 1, later, horizon=10).probe


def test_an_unlimited_sender_that_is_not_paused_is_not_paced(gate: SenderGate) -> None:
    assert gate.reserve("sandbox", 0.0, 50, NOW, horizon=10) == Reservation()


def test_a_tenant_holding_slots_gets_the_short_reach_and_a_newcomer_the_whole_window(gate: SenderGate) -> None:
    # Given tenant A holding 6 slots of a sender at 1 msg/s (two slices of 3), asked with a 10 s window whose
    # holders may only start within 3 s
    fair = {"horizon": 10.0, "holding_horizon": 3.0}
    first = gate.reserve("s", 1.0, 3, NOW, tenant="A", **fair)
    second = gate.reserve("s", 1.0, 3, NOW + 0.5, tenant="A", **fair)
    assert (first.slots, second.slots) == ((NOW, NOW + 1, NOW + 2), pytest.approx((NOW + 3, NOW + 4, NOW + 5)))
    # When A asks again at NOW + 1: the bucket (NOW + 6) is beyond its 3 s reach
    again = gate.reserve("s", 1.0, 3, NOW + 1, tenant="A", **fair)
    assert again.slots == ()
    assert again.retry_at == pytest.approx(NOW + 3)
    # When tenant B, holding nothing, asks at the same moment: it starts right after A's slots, within its window
    newcomer = gate.reserve("s", 1.0, 1, NOW + 1, tenant="B", **fair)
    assert newcomer.slots == pytest.approx((NOW + 6,))


def test_expired_tenant_holds_are_forgotten_once_enough_pile_up(stack: Stack) -> None:
    # Given the DynamoDB gate, and 9 tenants that each reserved a slot of a fair sender, one second apart
    client = boto3.client("dynamodb", region_name=stack.names.region)
    table = next(t for t in client.list_tables()["TableNames"] if "Senders" in t)
    fair = {"horizon": 10.0, "holding_horizon": 3.0}
    with serialised_moto():
        gate = DynamoSenderGate(client, table)
        for i in range(9):
            assert gate.reserve("s", 1.0, 1, NOW + 100 * i, tenant=f"T{i}", **fair).slots
        item = client.get_item(TableName=table, Key={"sender": {"S": "s"}}, ConsistentRead=True)["Item"]
        # Then the markers of tenants whose holds ended long ago are gone; only the last grant's (and those that
        # were not yet 8 expired when it was written) remain
        held = sorted(name for name in item if name.startswith("held_until#"))
        assert held == ["held_until#T8"]
        # And fairness still works for a tenant seen before: T0 asks again, holding nothing now, and is served
        assert gate.reserve("s", 1.0, 1, NOW + 900, tenant="T0", **fair).slots == (NOW + 900,)
