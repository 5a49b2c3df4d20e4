"""The clock guard itself: its instants fall where it claims, and a `clock_sensitive` test really runs at them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smscore.domain.model import Purpose
from smscore.domain.windows import is_allowed
from tests.clocks import frozen_instants


@pytest.mark.parametrize(
    ("name", "marketing_allowed"),
    [("sunday-0300-bogota", False), ("holiday-1000-bogota", False), ("wednesday-1200-bogota", True)],
)
def test_the_instants_are_outside_and_inside_colombias_marketing_window(name: str, marketing_allowed: bool) -> None:
    # Given the guard's instant; Then Colombia's marketing window is closed or open there as its name says
    instant = frozen_instants()[name]
    assert is_allowed(instant, "CO", Purpose.MARKETING, None) is marketing_allowed
    assert is_allowed(instant, "CO", Purpose.TRANSACTIONAL, None)


@pytest.mark.clock_sensitive
def test_a_clock_sensitive_test_runs_at_the_frozen_instant(
    frozen_clock: datetime | None, request: pytest.FixtureRequest
) -> None:
    # Given one of the guard's runs of a clock_sensitive test
    run = request.node.callspec.id
    # When the test reads the process clock
    now = datetime.now(UTC)
    # Then the frozen runs read their instant (ticking from it) and the first run the unfrozen clock
    if run == "wall-clock":
        assert frozen_clock is None
    else:
        assert frozen_clock == frozen_instants()[run]
        assert 0 <= (now - frozen_clock).total_seconds() < 60
