"""The send function's deadline: a reserve derived from the measured per-message cleanup cost, and a Timeout that
leaves API Gateway's 29 s room for the cold start, so the client gets the function's answer, never a 504."""

from __future__ import annotations

from smscore.domain.campaign import FanoutBudget
from smsdev.template import load_template

API_GATEWAY_LIMIT_SECONDS = 29
INIT_ALLOWANCE_SECONDS = 3  # a cold start's imports and wiring (about 0.3-0.5 s measured) and the gateway


def test_before_any_write_the_reserve_uses_the_measured_cleanup_floor() -> None:
    # Given 20,000 messages left and the floor of 0.17 ms per message (the cleanup's measured cost)
    budget = FanoutBudget(remaining_seconds=lambda: 6.5, reserve_seconds=3.0)
    # Then 3 s + 3.4 s is needed: 6.5 s left is enough, 6.3 s is not
    assert budget.may_continue(20_000)
    assert not FanoutBudget(remaining_seconds=lambda: 6.3, reserve_seconds=3.0).may_continue(20_000)


def test_a_slow_persist_step_raises_the_reserve_for_the_rest() -> None:
    # Given a budget with 8 s left
    budget = FanoutBudget(remaining_seconds=lambda: 8.0, reserve_seconds=3.0)
    assert budget.may_continue(20_000)
    # When a persist step wrote 5,000 message items in 1.5 s (0.3 ms each: the table is throttling)
    budget.observe(1.5, 5_000)
    # Then the cleanup of 20,000 is reckoned at 6 s, and the next step does not start
    assert budget.per_message_seconds == 0.0003
    assert not budget.may_continue(20_000)
    # And a fast step later does not lower it below what was measured
    budget.observe(0.1, 5_000)
    assert budget.per_message_seconds == 0.0003


def test_the_send_function_answers_before_api_gateway_gives_up() -> None:
    # Given the send function's Timeout in the template
    props = load_template()["Resources"]["SendByTagsFunction"]["Properties"]
    # Then its Timeout plus the cold start's allowance stays within API Gateway's 29 s
    assert props["Timeout"] + INIT_ALLOWANCE_SECONDS <= API_GATEWAY_LIMIT_SECONDS
