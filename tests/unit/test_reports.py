"""Usage by day: Bogotá calendar days, empty days kept, credits by the day they moved, rates and range limits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from smscore.domain.errors import InvalidRequest
from smscore.domain.model import LedgerKind, MessageStatus
from smscore.domain.reports import LedgerMovement, day_range, delivery_rate, usage_by_day
from smscore.domain.views import DispatchView


def campaign(queue_id: str, created_at: datetime, total: int, **counts: int) -> DispatchView:
    return DispatchView(
        queue_id=queue_id,
        tenant_id="t",
        body="Hola",
        tag_ids=(),
        country="CO",
        total_messages=total,
        segments_per_message=1,
        counts={MessageStatus(k): v for k, v in counts.items()},
        credits_debited=total,
        credits_refunded=0,
        created_at=created_at,
    )


def test_campaigns_and_credits_fall_on_their_bogota_day() -> None:
    # 2026-12-07 03:00 UTC is still the 6th in Bogotá (UTC-5); 05:00 UTC is the 7th
    late = campaign("q1", datetime(2026, 12, 7, 3, 0, tzinfo=UTC), 10, DELIVERED=8, FAILED=2)
    early = campaign("q2", datetime(2026, 12, 7, 5, 0, tzinfo=UTC), 5, UNDELIVERED=1)
    ledger = [
        LedgerMovement(datetime(2026, 12, 7, 3, 0, tzinfo=UTC), LedgerKind.DEBIT, -10),
        LedgerMovement(datetime(2026, 12, 7, 6, 0, tzinfo=UTC), LedgerKind.REFUND, 2),
        LedgerMovement(datetime(2026, 12, 7, 6, 0, tzinfo=UTC), LedgerKind.TOPUP, 500),
    ]
    days = usage_by_day(
        date(2026, 12, 5), date(2026, 12, 7), [late, early], {"q1": {"30003": 2}, "q2": {"30005": 1}}, ledger
    )
    assert [d.day for d in days] == [date(2026, 12, 5), date(2026, 12, 6), date(2026, 12, 7)]
    empty, sixth, seventh = days
    assert (empty.sends, empty.credits_spent) == (0, 0)
    assert (sixth.sends, sixth.delivered, sixth.failed, dict(sixth.failures_by_code)) == (10, 8, 2, {"30003": 2})
    assert (sixth.credits_spent, sixth.credits_refunded) == (10, 0)
    assert (seventh.sends, seventh.undelivered, seventh.credits_refunded, seventh.credits_spent) == (5, 1, 2, 0)


def test_the_range_is_bogota_midnight_to_midnight_and_bounded() -> None:
    start, end = day_range(date(2026, 12, 6), date(2026, 12, 6))
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 12, 6, 5, tzinfo=UTC),
        datetime(2026, 12, 7, 5, tzinfo=UTC),
    )
    with pytest.raises(InvalidRequest):
        day_range(date(2026, 12, 6), date(2026, 12, 5))
    with pytest.raises(InvalidRequest):
        day_range(date(2025, 1, 1), date(2026, 12, 6))


def test_the_delivery_rate_is_of_settled_messages() -> None:
    assert delivery_rate({MessageStatus.SENT: 5}) is None
    assert delivery_rate({MessageStatus.DELIVERED: 3, MessageStatus.UNDELIVERED: 1, MessageStatus.SENT: 9}) == 0.75


def test_failures_the_tally_does_not_hold_are_reported_as_uncounted() -> None:
    # Given a campaign sent before failures were counted by code (no tally) and one counted in part
    old = campaign("old", datetime(2026, 12, 6, 15, 0, tzinfo=UTC), 10, DELIVERED=6, FAILED=3, UNDELIVERED=1)
    new = campaign("new", datetime(2026, 12, 6, 16, 0, tzinfo=UTC), 5, DELIVERED=2, FAILED=3)
    # When the day is reported
    (day,) = usage_by_day(date(2026, 12, 6), date(2026, 12, 6), [old, new], {"new": {"30003": 2}}, [])
    # Then the codes and the uncounted add up to the failures, none hidden
    assert (dict(day.failures_by_code), day.failures_uncounted) == ({"30003": 2}, 5)
    assert sum(day.failures_by_code.values()) + day.failures_uncounted == day.failed + day.undelivered
