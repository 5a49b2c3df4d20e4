"""Alarms that reach someone (issue 12, item 6), read from the SAM-transformed template: every alarm notifies one
SNS topic, an optional AlarmEmail subscribes to it, and delivery that stalls, dead letters and a paused sender
each have an alarm with a threshold that can fire."""

from __future__ import annotations

import re
from typing import Any

import pytest

from smsdev.template import load_template
from tests.unit.test_template import transformed

TOPIC = {"Ref": "AlarmTopic"}


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the SAM transform needs one


def resources(resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in transformed()["Resources"].items() if v["Type"] == resource_type}


def alarms() -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in resources("AWS::CloudWatch::Alarm").items()}


def alarms_on(metric: str, queue: str) -> list[dict[str, Any]]:
    return [
        props
        for props in alarms().values()
        if props.get("MetricName") == metric
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}} in props.get("Dimensions", [])
    ]


def parameter_default(name: str) -> Any:
    return load_template()["Parameters"][name]["Default"]


def test_every_alarm_notifies_the_alarm_topic_when_it_fires_and_when_it_clears() -> None:
    # Given the template's alarms (the function error alarms, dead letters, queue age, paused sender...)
    assert len(alarms()) >= 10
    # Then each one publishes to the one SNS topic on ALARM and on OK
    assert resources("AWS::SNS::Topic").keys() == {"AlarmTopic", "InboundSmsTopic"}  # the other: two-way SMS in
    without_topic = [name for name, props in alarms().items() if TOPIC not in props.get("AlarmActions", [])]
    without_ok = [name for name, props in alarms().items() if TOPIC not in props.get("OKActions", [])]
    assert (without_topic, without_ok) == ([], [])


def test_the_alarm_email_is_subscribed_only_when_given() -> None:
    # Given the optional AlarmEmail parameter, empty by default
    parameter = load_template()["Parameters"]["AlarmEmail"]
    assert parameter["Default"] == ""
    # Then the e-mail subscription exists only under the condition that the address is not empty
    subscriptions = {
        name: props
        for name, props in resources("AWS::SNS::Subscription").items()
        if props["Properties"].get("TopicArn") == TOPIC  # not the two-way SMS topic's Lambda subscription
    }
    assert list(subscriptions) == ["AlarmEmailSubscription"]
    (subscription,) = subscriptions.values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert transformed()["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    assert subscription["Properties"] == {"TopicArn": TOPIC, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("", True), ("ops@example.com", True), ("sms-oncall+prod@acme.co", True), ("ops", False), ("a b@c.d", False)],
)
def test_the_alarm_email_parameter_takes_an_address_or_nothing(value: str, accepted: bool) -> None:
    # CloudFormation matches AllowedPattern against the whole value
    pattern = load_template()["Parameters"]["AlarmEmail"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is accepted


def dead_letter_queues() -> set[str]:
    """Queues something parks failures in: SQS redrive targets and Lambda async-invocation DLQs."""
    targets: list[Any] = []
    for queue in resources("AWS::SQS::Queue").values():
        redrive = queue["Properties"].get("RedrivePolicy")
        if redrive:
            targets.append(redrive["deadLetterTargetArn"])
    for function in resources("AWS::Lambda::Function").values():
        config = function["Properties"].get("DeadLetterConfig")
        if config:
            targets.append(config["TargetArn"])
    for rule in resources("AWS::Events::Rule").values():
        targets += [t["DeadLetterConfig"]["Arn"] for t in rule["Properties"]["Targets"] if "DeadLetterConfig" in t]
    for schedule in resources("AWS::Scheduler::Schedule").values():
        config = schedule["Properties"]["Target"].get("DeadLetterConfig")
        if config:
            targets.append(config["Arn"])
    assert all("Fn::GetAtt" in t for t in targets), targets
    return {t["Fn::GetAtt"][0] for t in targets}


def test_every_dead_letter_queue_alarms_on_its_first_message() -> None:
    # Given every queue the template parks failures in
    queues = dead_letter_queues()
    assert {"DeliveryDeadLetterQueue", "ReceiptsDeadLetterQueue"} <= queues
    for queue in sorted(queues):
        # Then one message visible there is an alarm within a minute
        (alarm,) = alarms_on("ApproximateNumberOfMessagesVisible", queue)
        assert alarm["Namespace"] == "AWS/SQS"
        assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
            "Maximum",
            "GreaterThanThreshold",
            0,
        )
        assert alarm["Period"] * alarm["EvaluationPeriods"] <= 300


def test_a_stalled_delivery_queue_alarms_before_its_messages_expire() -> None:
    # Given the alarm on the age of the delivery queue's oldest message
    (alarm,) = alarms_on("ApproximateAgeOfOldestMessage", "DeliveryQueue")
    assert alarm["Namespace"] == "AWS/SQS"
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Maximum", "GreaterThanThreshold")
    # Then its threshold is the parameter, sustained (not one slow minute), and far inside the queue's retention
    assert alarm["Threshold"] == {"Ref": "DeliveryQueueMaxAgeSeconds"}
    parameter = load_template()["Parameters"]["DeliveryQueueMaxAgeSeconds"]
    retention = resources("AWS::SQS::Queue")["DeliveryQueue"]["Properties"]["MessageRetentionPeriod"]
    assert 300 <= parameter["MinValue"] <= parameter["Default"] <= parameter["MaxValue"] < retention
    assert alarm["Period"] * alarm["EvaluationPeriods"] >= 600


def deliver_environment() -> dict[str, Any]:
    variables: dict[str, Any] = resources("AWS::Lambda::Function")["DeliverFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    return variables


def test_a_paused_sender_alarms_on_the_metric_the_deliver_function_emits() -> None:
    # Given the deliver function's metrics namespace (Powertools reads POWERTOOLS_METRICS_NAMESPACE)
    namespace = deliver_environment()["POWERTOOLS_METRICS_NAMESPACE"]
    # When the paused-sender alarm is read
    (alarm,) = [p for p in alarms().values() if "SenderPaused" in str(p.get("Metrics", ""))]
    (query,) = alarm["Metrics"]
    # Then it aggregates SenderPaused over every sender (any dimensions) in exactly that namespace
    assert query["Expression"] == f'SELECT MAX(SenderPaused) FROM "{namespace}"'  # noqa: S608 - CloudWatch, not SQL
    assert query["ReturnData"] is True
    # And one paused sender in one minute fires it; no data (nothing paused) is not an alarm
    assert (query["Period"], alarm["EvaluationPeriods"]) == (60, 1)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching"


def test_the_sms_events_rule_lets_only_final_events_through() -> None:
    (rule,) = [r["Properties"] for r in resources("AWS::Events::Rule").values() if "aws.sms-voice" in str(r)]
    assert rule["EventPattern"]["detail"] == {"isFinal": [True]}
    assert rule["EventPattern"]["source"] == ["aws.sms-voice"]


def test_aws_sms_sends_promotional_unless_configured() -> None:
    assert parameter_default("AwsSmsMessageType") == "PROMOTIONAL"
    assert deliver_environment()["AWS_SMS_MESSAGE_TYPE"] == {"Ref": "AwsSmsMessageType"}
