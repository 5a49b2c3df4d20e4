"""Test sends: a member texts a message to at most five numbers of their own, now, to see it before a campaign.

A test send is a campaign in every way that matters for money (priced, debited, fanned out, refunded on failure,
idempotent) but it goes now (transactional: no send window), is marked `test` and is left out of the campaign
list. Each member may send at most a daily number of test messages (Bogota's day): the allowance is taken before
the debit and given back when the send is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

MAX_TEST_NUMBERS = 5
TEST_DAY_ZONE = ZoneInfo("America/Bogota")


def test_day(now: datetime) -> str:
    """The day a test send counts against: the date in Bogota."""
    return now.astimezone(TEST_DAY_ZONE).date().isoformat()


class TestSendAllowance(Protocol):
    """Each member's test messages of the day (smscore.dal.test_send_allowance; tests/fakes.py)."""

    __test__: bool = False  # not a pytest class

    def take(self, member_id: str, day: str, messages: int, cap: int) -> bool:
        """Count `messages` more for `day` if that keeps the member within `cap`; False (nothing counted) if not."""
        ...

    def give_back(self, member_id: str, day: str, messages: int) -> None:
        """Uncount messages of a send that was refused (only while `day` is still the one counted)."""
        ...
