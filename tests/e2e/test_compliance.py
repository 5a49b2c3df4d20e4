"""Colombian marketing rules on the local stack `make dev` starts (issue 22): the demo RNE snapshot, as a developer
meets it."""

from __future__ import annotations

import pytest

from smsdev.seed import RNE_LISTED_NUMBER, expected_recipients
from tests.e2e.conftest import LocalStackProcess
from tests.e2e.test_opt_outs import smsctl

pytestmark = [pytest.mark.e2e, pytest.mark.local_only]  # the demo RNE snapshot is what `make dev` loads


def test_the_demo_snapshot_lists_one_demo_number(local_stack: LocalStackProcess) -> None:
    status = smsctl(local_stack, "exclusions", "status")
    assert status["count"] == 1
    assert status["snapshotDate"] is not None


def test_a_listed_demo_number_is_skipped_by_marketing_and_reached_by_a_transactional_send(
    local_stack: LocalStackProcess,
) -> None:
    # Given the demo tenant's newsletter tag, which holds the number on the demo RNE snapshot
    seed = local_stack.seed
    token = seed["accepted"]["token"]
    newsletter = {"tagIds": [seed["tagIds"]["newsletter"]]}

    # When a marketing campaign is previewed and sent to it
    preview = local_stack.call(
        "POST", "/api/messages/sms/tags/preview", token=token, body={"message": "Promo", **newsletter}
    )
    marketing = local_stack.send(token, {"message": "Promo de temporada", **newsletter})

    # Then the listed number is left out (and said so before sending), and nobody else is
    assert preview.status == 200, preview.body
    assert preview.body["skippedExcluded"] == 1
    assert marketing.status == 201, marketing.body
    reached = {m["recipient"] for m in marketing.body["messages"]}
    assert RNE_LISTED_NUMBER not in reached
    assert reached == expected_recipients(("newsletter",))

    # When a transactional message goes to the same tag, Then it reaches the listed number too
    transactional = local_stack.send(token, {"message": "Tu pedido salio", "purpose": "transactional", **newsletter})
    assert transactional.status == 201, transactional.body
    reached = {m["recipient"] for m in transactional.body["messages"]}
    assert reached == expected_recipients(("newsletter",), marketing=False)
    assert RNE_LISTED_NUMBER in reached
