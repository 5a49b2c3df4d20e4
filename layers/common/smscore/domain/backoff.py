"""Exponential backoff with full jitter, for the retry loops that no library runs for us.

PynamoDB's batch writes retry unprocessed items without any backoff, and SQS's SendMessageBatch reports failed
entries in a successful reply (botocore retries only failed calls), so the adapters keep their own loops; each
pause is uniform in [0, min(cap, base * 2^(retry - 1))] ("full jitter"), so that many writers throttled at the
same moment spread out instead of retrying in step. botocore's own jittered backoff is internal to its retry
handler, and Powertools has none to offer.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base_seconds: float
    cap_seconds: float

    def ceiling(self, retry: int) -> float:
        """The longest pause before retry number `retry` (1 for the first retry)."""
        return min(self.cap_seconds, self.base_seconds * float(2 ** max(0, retry - 1)))

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        return (rng or _shared_rng).uniform(0, self.ceiling(retry))

    def attempts(
        self, count: int, *, sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None
    ) -> Iterator[int]:
        """Attempt numbers 1..count, pausing a jittered delay before each one after the first.

        for attempt in BACKOFF.attempts(8):
            if try_once():
                break
        """
        for attempt in range(1, count + 1):
            if attempt > 1:
                sleep(self.delay(attempt - 1, rng))
            yield attempt


_shared_rng = random.Random()
