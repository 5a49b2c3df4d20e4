"""Issue 20, items 5 and 8 in the template: the sweeper's bound is delivery's, and its refunds alarm."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_template import transformed


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the SAM transform needs one


def resources(resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in transformed()["Resources"].items() if v["Type"] == resource_type}


def environment(function_id: str) -> dict[str, Any]:
    variables: dict[str, Any] = resources("AWS::Lambda::Function")[function_id]["Environment"]["Variables"]
    return variables


def test_the_sweepers_bound_is_the_one_delivery_lives_by() -> None:
    # Given the delivery queue and the deliver function as deployed
    queue = resources("AWS::SQS::Queue")["DeliveryQueue"]
    deliver, sweeper = environment("DeliverFunction"), environment("SweeperFunction")
    # Then the sweeper computes lease + visibility timeout x maxReceiveCount from the same figures
    assert int(sweeper["DELIVERY_VISIBILITY_TIMEOUT_SECONDS"]) == queue["VisibilityTimeout"]
    assert sweeper["DELIVERY_LEASE_SECONDS"] == deliver["DELIVERY_LEASE_SECONDS"]
    assert sweeper["DELIVERY_MAX_RECEIVE_COUNT"] == queue["RedrivePolicy"]["maxReceiveCount"]
    assert sweeper["DELIVERY_DEAD_LETTER_QUEUE_URL"] == {"Ref": "DeliveryDeadLetterQueue"}


def test_a_dead_lettered_record_is_hidden_from_an_overlapping_sweep_while_one_works_on_it() -> None:
    dlq = resources("AWS::SQS::Queue")["DeliveryDeadLetterQueue"]
    function = resources("AWS::Lambda::Function")["SweeperFunction"]
    assert dlq["VisibilityTimeout"] > function["Timeout"]


def test_sweeper_refunds_alarm_on_the_topic() -> None:
    alarm = resources("AWS::CloudWatch::Alarm")["SweeperRefundsAlarm"]
    (query,) = alarm["Metrics"]
    assert query["Expression"] == 'SELECT SUM(SweeperRefunded) FROM "SmsByTags"'
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["TreatMissingData"] == "notBreaching"
