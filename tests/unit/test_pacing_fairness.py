"""Fairness on a shared rate-limited sender (issue 20, items 2 and 7): a tenant with a large backlog on the sender
does not push a newcomer tenant's first send slot behind it. The real Pacer on the in-process gate (the fake the
contract tests hold to the DynamoDB gate's rules), on a virtual clock."""

from __future__ import annotations

import random
from collections import Counter

from smscore.domain.pacing import Go, InProcessSenderGate, Later, Pacer, Sender, Wait

SENDER = Sender("twilio:+15550001111", rate=50, validity_seconds=4 * 3600)
T0 = 1_800_000_000.0
A_BACKLOG = 50_000
PER_INVOCATION = 500


def take(gate: InProcessSenderGate, tenant: str, messages: int, now: float, seed: int = 0) -> list[Go | Later | Wait]:
    """One invocation of `messages` messages of `tenant` asking for their slots at `now`."""
    pacer = Pacer(gate, Counter({(SENDER.key, tenant): messages}), clock=lambda: now, rng=random.Random(seed))
    return [pacer.acquire(SENDER, horizon=20.0, tenant=tenant) for _ in range(messages)]


def test_a_newcomer_tenants_first_slot_is_within_the_window_while_another_tenants_backlog_waits() -> None:
    # Given tenant A's 50,000 messages arriving at once on one sender paced at 50 msg/s, 500 per invocation
    gate = InProcessSenderGate()
    a_grants = [g for i in range(A_BACKLOG // PER_INVOCATION) for g in take(gate, "A", PER_INVOCATION, T0, seed=i)]
    a_slots = [g.at for g in a_grants if isinstance(g, Go | Later)]
    a_waiting = [g for g in a_grants if isinstance(g, Wait)]
    # Then A holds at most the holder's share of the window, and the rest of its backlog waits on the queue
    assert a_slots
    assert max(a_slots) < T0 + 2 * SENDER.window / 3
    assert len(a_waiting) == A_BACKLOG - len(a_slots)
    assert all(not w.paused and w.seconds >= 1.0 for w in a_waiting)
    # When tenant B's first message asks for a slot 1 s later, and A's next invocation right after
    b_first = take(gate, "B", 1, T0 + 1)[0]
    a_next = take(gate, "A", PER_INVOCATION, T0 + 1)
    # Then B's slot comes within the window W (10 s at this rate), after A's held slots but before A's waiting
    assert SENDER.window == 10.0
    assert isinstance(b_first, Go)
    assert T0 + 1 <= b_first.at <= T0 + 1 + SENDER.window
    assert b_first.at > max(a_slots) - 1e-9
    # And A, still holding slots, is not given more until the bucket is back within its shorter reach
    assert all(isinstance(g, Wait) for g in a_next)


def test_waiting_records_of_one_backlog_come_back_spread_over_the_window() -> None:
    # Given a bucket already held a window ahead by tenant A
    gate = InProcessSenderGate()
    take(gate, "A", PER_INVOCATION, T0)
    # When 50 more of A's invocations find it out of reach
    waits = [take(gate, "A", 10, T0, seed=i)[0] for i in range(50)]
    # Then each waits (no slot), and they come back at different times spread over about one window
    seconds = sorted(w.seconds for w in waits if isinstance(w, Wait))
    assert len(seconds) == 50
    assert len(set(seconds)) == 50
    assert seconds[-1] - seconds[0] > SENDER.window / 2
    assert seconds[-1] <= SENDER.window + SENDER.window  # reach + jitter, never the validity


def test_one_invocation_asks_the_bucket_once_when_it_is_out_of_reach() -> None:
    # Given a bucket held ahead by tenant A
    gate = InProcessSenderGate()
    take(gate, "A", PER_INVOCATION, T0)
    pacer = Pacer(gate, Counter({(SENDER.key, "A"): 200}), clock=lambda: T0, rng=random.Random(1))
    # When an invocation's 200 messages of A ask for slots
    grants = [pacer.acquire(SENDER, horizon=20.0, tenant="A") for _ in range(200)]
    # Then they all wait together, after a single reservation attempt
    assert all(isinstance(g, Wait) for g in grants)
    assert len({g.seconds for g in grants if isinstance(g, Wait)}) == 1
    assert pacer.reservations == 1


def test_a_slow_sender_widens_the_window_to_hold_at_least_a_few_slots() -> None:
    # Given a sender at 0.1 msg/s (one slot every 10 s)
    slow = Sender("aws_sms:pool", rate=0.1, validity_seconds=3600)
    # Then its window holds 3 slots (30 s), not 10 s that would hold one or none
    assert slow.window == 30.0
    assert Sender("s", rate=50, validity_seconds=3600, fairness_window_seconds=60).window == 60.0


def test_the_window_setting_reaches_every_configured_sender() -> None:
    # Given SENDER_FAIRNESS_WINDOW_SECONDS = 20 and a Twilio rate of 1 msg/s
    from smscore.providers.senders import senders_from
    from smscore.settings import Settings

    settings = Settings.model_construct(
        **{
            **{name: field.default for name, field in Settings.model_fields.items() if not field.is_required()},
            "provider_rate_limits": {"twilio": 1.0},
            "sender_fairness_window_seconds": 20.0,
        }
    )
    # When the deliver function builds its senders / Then each carries the window (the rate widens none of them)
    senders = senders_from(settings)
    assert senders["twilio"].window == 20.0
    assert senders["twilio"].fairness_window_seconds == 20.0
