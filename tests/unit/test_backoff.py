"""The one jittered backoff of the retry loops: full jitter under a doubling, capped ceiling."""

from __future__ import annotations

import random

from smscore.domain.backoff import Backoff


def test_the_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(base_seconds=0.1, cap_seconds=1.0)
    assert [backoff.ceiling(retry) for retry in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_every_delay_is_within_zero_and_the_ceiling_and_they_spread() -> None:
    backoff = Backoff(base_seconds=0.1, cap_seconds=1.0)
    rng = random.Random(7)
    delays = [backoff.delay(3, rng) for _ in range(200)]
    assert all(0 <= d <= 0.4 for d in delays)
    assert max(delays) - min(delays) > 0.2  # jittered, not in step


def test_attempts_pause_before_each_retry_only() -> None:
    # Given a loop of four attempts whose pauses are recorded instead of slept
    pauses: list[float] = []
    backoff = Backoff(base_seconds=0.05, cap_seconds=2.0)
    # When every attempt fails
    attempts = list(backoff.attempts(4, sleep=pauses.append, rng=random.Random(1)))
    # Then there were four attempts and three pauses, each under its retry's ceiling
    assert attempts == [1, 2, 3, 4]
    assert len(pauses) == 3
    assert all(0 <= pause <= backoff.ceiling(retry) for retry, pause in enumerate(pauses, start=1))


def test_a_loop_that_succeeds_first_never_pauses() -> None:
    pauses: list[float] = []
    for _attempt in Backoff(0.05, 2.0).attempts(8, sleep=pauses.append):
        break
    assert pauses == []
