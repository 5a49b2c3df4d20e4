"""Scheduling, send windows and cancel on moto, through the real handlers and DynamoDB adapters.

The send function runs with SEND_WINDOWS=enforced here (the moto stack's default is off, so that other tests do
not depend on the hour they run at); where "now" matters it is injected (send_campaign, Deliverer, Scheduler).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import holidays
import pytest

from functions.send_by_tags import app as send_app
from smscore import wiring
from smscore.dal.dispatch_counts import load_dispatch
from smscore.dal.message_store import DynamoMessageStore
from smscore.dal.outbox_store import DynamoOutbox
from smscore.dal.tables import (
    DUE_BUCKETS_KEY,
    DueBucketRecord,
    LedgerRecord,
    MessageRecord,
    OutboxRecord,
    due_keys,
    legacy_due_shard_keys,
)
from smscore.dal.tenant_settings import TenantQuietHours, set_quiet_hours
from smscore.domain.campaign import CampaignRequest, FanoutBudget, send_campaign
from smscore.domain.delivery import Deliverer, RetryPolicy
from smscore.domain.model import Purpose, QueueBatch, QuietHours
from smscore.domain.windows import DeliveryWindows, next_opening
from smscore.providers.registry import ProviderRegistry
from smscore.providers.sandbox import SandboxProvider
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack, api_event
from tests.delivery_fakes import ListDeadLetters
from tests.integration.conftest import Campaign
from tests.integration.scheduler_helpers import scheduler_run
from tests.integration.test_deliver import Counting

pytestmark = pytest.mark.clock_sensitive  # sends through the send-window seams: also run at the guard's frozen instants

BOGOTA = timezone(timedelta(hours=-5))
NUMBERS = [f"+5730045600{n:02d}" for n in range(6)]


@pytest.fixture
def windows_on(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The functions' environment (send, deliver, scheduler) with the send windows enforced, one moto call at a time
    (DynamoDB's conditional writes and transactions are atomic; moto's are not)."""
    for function in ("DeliverFunction", "SchedulerFunction", "SendByTagsFunction"):
        for key, value in function_environment(stack.names, function).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("SEND_WINDOWS", "enforced")
    wiring.reset()
    with serialised_moto():
        yield
    wiring.reset()


def tag_numbers(campaign: Campaign, *numbers: str) -> str:
    tag = f"t{uuid.uuid4().hex[:6]}"
    for number in numbers:
        campaign.add(number, tag)
    return campaign.tags[tag]


def post(campaign: Campaign, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    event = api_event(body, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token)
    event["path"] = event["resource"] = path
    event["requestContext"]["path"] = event["requestContext"]["resourcePath"] = path
    response = send_app.lambda_handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def cancel(campaign: Campaign, queue_id: str) -> tuple[int, dict[str, Any]]:
    return post(campaign, f"/api/messages/queues/{queue_id}/cancel")


def next_sunday(after: date) -> date:
    day = after + timedelta(days=2)
    while day.weekday() != 6:
        day += timedelta(days=1)
    return day


def first_working_day_after(day: date) -> date:
    """The law's next opening day (Saturday opens too): the calendar the test states, not the code's."""
    colombian = holidays.country_holidays("CO")
    day += timedelta(days=1)
    while day.weekday() == 6 or day in colombian:
        day += timedelta(days=1)
    return day


def statuses(ids: list[str]) -> list[str]:
    return [MessageRecord.get(mid, consistent_read=True).status for mid in ids]


def due_index() -> list[str]:
    """The messages in the due index, found as the scheduler finds them: the bucket index, then each due key."""
    buckets = [(b.bucket_key.split("#")[1], b.tenant_id) for b in DueBucketRecord.by_due.query(DUE_BUCKETS_KEY)]
    keys = [key for bucket, tenant in buckets for key in due_keys(bucket, tenant)] + legacy_due_shard_keys()
    return [r.message_id for key in keys for r in MessageRecord.by_due.query(key)]


def refunds(tenant_id: str) -> list[tuple[int, str | None]]:
    return [(int(e.amount), e.reason) for e in LedgerRecord.query(tenant_id) if e.kind == "REFUND"]


def deliverer(sandbox: Counting, now: datetime | None = None, windows: bool = True) -> Deliverer:
    store = DynamoMessageStore(region="us-east-1")
    clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    return Deliverer(
        store=store,
        providers=ProviderRegistry({"sandbox": lambda: sandbox}),
        dead_letters=ListDeadLetters(),
        policy=RetryPolicy(max_attempts=3, backoff_base_seconds=0),
        workers=4,
        windows=DeliveryWindows(quiet_hours_of=TenantQuietHours(), store=store) if windows else None,
        now=clock,
    )


# -- sendAt through the API -----------------------------------------------------------------------------------


def test_send_at_on_a_sunday_answers_the_next_opening_and_counts_scheduled(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given a marketing campaign to 3 Colombian numbers, scheduled for 10:00 on a future Sunday in Bogota
    tag_id = tag_numbers(campaign, *NUMBERS[:3])
    sunday = next_sunday(datetime.now(BOGOTA).date())
    send_at = datetime.combine(sunday, time(10), tzinfo=BOGOTA)
    # When it is sent
    status, body = post(
        campaign, "/api/messages/sms/tags", {"message": "Oferta", "tagIds": [tag_id], "sendAt": send_at.isoformat()}
    )
    # Then it is accepted with scheduledFor = the next legal opening after that Sunday, in UTC
    opening_day = first_working_day_after(sunday)
    opens_at = time(8) if opening_day.weekday() == 5 else time(7)
    expected = datetime.combine(opening_day, opens_at, tzinfo=BOGOTA).astimezone(UTC)
    assert status == 201, body
    assert body["scheduledFor"] == expected.isoformat().replace("+00:00", "Z")
    assert len(body["messages"]) == 3
    # And nothing is on the delivery queue; the messages wait SCHEDULED in the due index, paid
    assert stack.drain_delivery_queue() == []
    ids = [m["id"] for m in body["messages"]]
    assert statuses(ids) == ["SCHEDULED"] * 3
    assert sorted(due_index()) == sorted(ids)
    assert {MessageRecord.get(mid).due_at for mid in ids} == {expected}
    assert campaign.balance() == campaign.ledger_sum() == 997
    # And the campaign's counts show them SCHEDULED
    dispatch = load_dispatch(body["queueId"])
    assert (dispatch.count_scheduled, dispatch.count_queued) == (3, 0)
    assert (dispatch.send_at, dispatch.scheduled_for, dispatch.purpose) == (send_at, expected, "marketing")


@pytest.mark.parametrize(
    ("send_at", "field_message"),
    [
        ("2030-01-01T10:00:00", "timezone"),  # no offset
        ("2020-01-01T10:00:00-05:00", "in the future"),
        (timedelta(days=36), "35 days"),  # from the test's own clock, not the collection's
        ("tomorrow", "datetime"),
    ],
    ids=["no offset", "in the past", "over 35 days ahead", "not a date-time"],
)
def test_a_wrong_send_at_is_400_and_leaves_nothing(
    stack: Stack, windows_on: None, campaign: Campaign, send_at: str | timedelta, field_message: str
) -> None:
    if isinstance(send_at, timedelta):
        send_at = (datetime.now(UTC) + send_at).isoformat()
    tag_id = tag_numbers(campaign, NUMBERS[0])
    status, body = post(campaign, "/api/messages/sms/tags", {"message": "Hola", "tagIds": [tag_id], "sendAt": send_at})
    assert status == 400
    assert body["code"] == "VALIDATION_ERROR"
    assert [d["field"] for d in body["details"]] == ["sendAt"]
    assert field_message in body["details"][0]["message"]
    assert list(MessageRecord.scan()) == []
    assert campaign.balance() == 1000


def test_a_wrong_purpose_is_400(stack: Stack, windows_on: None, campaign: Campaign) -> None:
    tag_id = tag_numbers(campaign, NUMBERS[0])
    status, body = post(campaign, "/api/messages/sms/tags", {"message": "Hola", "tagIds": [tag_id], "purpose": "promo"})
    assert (status, body["code"], [d["field"] for d in body["details"]]) == (400, "VALIDATION_ERROR", ["purpose"])
    assert campaign.balance() == 1000


# -- window deferral at send and at delivery, and the scheduler's sweep -----------------------------------------


SATURDAY_1530 = datetime(2027, 3, 6, 15, 30, tzinfo=BOGOTA)  # closed: Saturday window ends at 15:00
MONDAY_0700 = datetime(2027, 3, 8, 7, tzinfo=BOGOTA).astimezone(UTC)


def test_outside_the_window_at_send_the_messages_wait_and_the_sweep_releases_them_at_the_opening(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given a marketing campaign sent on a Saturday at 15:30 in Bogota (injected clock)
    tag_id = tag_numbers(campaign, *NUMBERS[:4])
    request = CampaignRequest(campaign.tenant_id, campaign.member_id, "Promo", [tag_id])
    result = send_campaign(
        request,
        store=wiring.campaign_store(),
        queue=wiring.delivery_queue(),
        limits=wiring.campaign_limits(wiring.bound_settings()),
        now=lambda: SATURDAY_1530.astimezone(UTC),
        budget=FanoutBudget.from_timeout(29.0),
        opening=next_opening,
    )
    ids = [m.message_id for m in result.messages]
    # Then they wait SCHEDULED until Monday 07:00, paid, nothing on the queue
    assert result.scheduled_for == MONDAY_0700
    assert statuses(ids) == ["SCHEDULED"] * 4
    assert stack.drain_delivery_queue() == []
    # When the scheduler runs on Sunday: nothing is due
    assert scheduler_run(MONDAY_0700 - timedelta(days=1))["due"] == 0
    # When it runs on Monday at 07:00:30: every message is enqueued once and released to QUEUED, out of the index
    run = scheduler_run(MONDAY_0700 + timedelta(seconds=30))
    assert (run["due"], run["enqueued"], run["released"]) == (4, 4, 4)
    queued = stack.drain_delivery_queue()
    assert sorted(mid for body in queued for mid in body["messageIds"]) == sorted(ids)
    assert statuses(ids) == ["QUEUED"] * 4
    assert due_index() == []
    dispatch = load_dispatch(result.queue_id)
    assert (dispatch.count_scheduled, dispatch.count_queued) == (0, 4)
    # And a second run finds nothing to do
    assert scheduler_run(MONDAY_0700 + timedelta(minutes=1))["due"] == 0
    # And delivery on Monday sends them, their validity starting at the release
    sandbox = Counting(SandboxProvider(DynamoOutbox()))
    for body in queued:
        deliverer(sandbox, now=MONDAY_0700 + timedelta(minutes=2)).deliver(
            QueueBatch(body["tenantId"], body["queueId"], body["messageIds"])
        )
    assert statuses(ids) == ["SENT"] * 4
    assert dict(sandbox.calls) == dict.fromkeys(ids, 1)
    assert campaign.balance() == campaign.ledger_sum() == 996


def test_a_campaign_still_going_when_the_window_closes_pauses_and_resumes_at_the_next_opening(
    stack: Stack, windows_on: None, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign accepted while the window was open (QUEUED, on the delivery queue)
    monkeypatch.setenv("SEND_WINDOWS", "off")
    wiring.reset()
    tag_id = tag_numbers(campaign, *NUMBERS[:3])
    status, body = post(campaign, "/api/messages/sms/tags", {"message": "Promo", "tagIds": [tag_id]})
    assert status == 201
    assert "scheduledFor" not in body
    (record,) = stack.drain_delivery_queue()
    ids = record["messageIds"]
    sandbox = Counting(SandboxProvider(DynamoOutbox()))
    # When delivery gets the record on Saturday at 15:30 (the window closed at 15:00)
    report = deliverer(sandbox, now=SATURDAY_1530).deliver(QueueBatch(record["tenantId"], record["queueId"], ids))
    # Then nothing is sent, no attempt is used, and each message waits SCHEDULED until Monday 07:00
    assert {o.value for o in report.outcomes.values()} == {"SCHEDULED"}
    assert dict(sandbox.calls) == {}
    for mid in ids:
        stored = MessageRecord.get(mid, consistent_read=True)
        assert (stored.status, stored.due_at, int(stored.attempts or 0)) == ("SCHEDULED", MONDAY_0700, 0)
    assert (load_dispatch(record["queueId"]).count_scheduled, load_dispatch(record["queueId"]).count_queued) == (3, 0)
    assert campaign.balance() == campaign.ledger_sum() == 997
    # And the same record delivered again before the opening changes nothing (the scheduler owns them now)
    again = deliverer(sandbox, now=SATURDAY_1530 + timedelta(hours=1)).deliver(
        QueueBatch(record["tenantId"], record["queueId"], ids)
    )
    assert {o.value for o in again.outcomes.values()} == {"SCHEDULED"}
    # When the scheduler enqueues them on Monday but delivery reads them before their release write lands
    for mid in ids:
        assert MessageRecord.get(mid).due_at <= MONDAY_0700
    report = deliverer(sandbox, now=MONDAY_0700 + timedelta(seconds=5)).deliver(
        QueueBatch(record["tenantId"], record["queueId"], ids)
    )
    # Then delivery claims them straight from SCHEDULED and sends each once; the late release changes nothing
    assert {o.value for o in report.outcomes.values()} == {"SENT"}
    assert scheduler_run(MONDAY_0700 + timedelta(minutes=1))["released"] == 0
    assert statuses(ids) == ["SENT"] * 3
    assert dict(sandbox.calls) == dict.fromkeys(ids, 1)
    assert due_index() == []
    dispatch = load_dispatch(record["queueId"])
    assert (dispatch.count_scheduled, dispatch.count_sent) == (0, 3)


def test_tenant_quiet_hours_defer_marketing_at_delivery_but_not_transactional(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    # Given quiet hours 12:00-14:00 set on the tenant, and a campaign of each purpose, accepted QUEUED
    set_quiet_hours(campaign.tenant_id, QuietHours(time(12), time(14), "America/Bogota"))
    tuesday_noon = datetime(2027, 3, 9, 12, 30, tzinfo=BOGOTA)
    sandbox = Counting(SandboxProvider(DynamoOutbox()))
    outcomes = {}
    for purpose, number in ((Purpose.MARKETING, NUMBERS[0]), (Purpose.TRANSACTIONAL, NUMBERS[1])):
        tag_id = tag_numbers(campaign, number)
        request = CampaignRequest(campaign.tenant_id, campaign.member_id, "Hola", [tag_id], purpose=purpose)
        sent = send_campaign(
            request,
            store=wiring.campaign_store(),
            queue=wiring.delivery_queue(),
            limits=wiring.campaign_limits(wiring.bound_settings()),
            now=lambda: (tuesday_noon - timedelta(minutes=1)).astimezone(UTC),
            opening=lambda at, *_: at,  # accepted as if inside every window (before 12:00 quiet hours began)
        )
        (message,) = sent.messages
        report = deliverer(sandbox, now=tuesday_noon).deliver(
            QueueBatch(campaign.tenant_id, sent.queue_id, [message.message_id])
        )
        outcomes[purpose] = (report.outcomes[message.message_id].value, MessageRecord.get(message.message_id).due_at)
    # Then the marketing message waits until 14:00, the transactional one is sent
    assert outcomes[Purpose.MARKETING] == ("SCHEDULED", datetime(2027, 3, 9, 14, tzinfo=BOGOTA).astimezone(UTC))
    assert outcomes[Purpose.TRANSACTIONAL] == ("SENT", None)


# -- cancel ----------------------------------------------------------------------------------------------------


def scheduled_campaign(campaign: Campaign, count: int) -> tuple[str, list[str]]:
    tag_id = tag_numbers(campaign, *NUMBERS[:count])
    send_at = datetime.now(UTC) + timedelta(days=2)
    status, body = post(
        campaign,
        "/api/messages/sms/tags",
        {"message": "Hola", "tagIds": [tag_id], "sendAt": send_at.isoformat(), "purpose": "transactional"},
    )
    assert status == 201, body
    return body["queueId"], [m["id"] for m in body["messages"]]


def test_cancel_refunds_every_scheduled_message_once(stack: Stack, windows_on: None, campaign: Campaign) -> None:
    # Given a campaign of 5 messages scheduled for the day after tomorrow
    queue_id, ids = scheduled_campaign(campaign, 5)
    assert campaign.balance() == 995
    # When it is cancelled
    status, body = cancel(campaign, queue_id)
    # Then all 5 are CANCELLED and refunded with a REFUND entry (reason CANCELLED), out of the due index
    assert (status, body) == (200, {"queueId": queue_id, "cancelled": 5, "refundedCredits": 5})
    assert statuses(ids) == ["CANCELLED"] * 5
    assert due_index() == []
    assert campaign.balance() == campaign.ledger_sum() == 1000
    assert refunds(campaign.tenant_id) == [(5, "CANCELLED")]
    dispatch = load_dispatch(queue_id)
    assert (dispatch.count_scheduled, dispatch.count_cancelled, dispatch.credits_refunded) == (0, 5, 5)
    # And a second cancel changes nothing
    assert cancel(campaign, queue_id) == (200, {"queueId": queue_id, "cancelled": 0, "refundedCredits": 0})
    assert campaign.balance() == campaign.ledger_sum() == 1000
    assert len(refunds(campaign.tenant_id)) == 1
    # And the scheduler never releases them
    assert scheduler_run(datetime.now(UTC) + timedelta(days=3))["due"] == 0


def test_cancel_of_an_unknown_or_another_tenants_queue_is_404(
    stack: Stack, windows_on: None, campaign: Campaign, admin: Any
) -> None:
    queue_id, ids = scheduled_campaign(campaign, 1)
    from tests.integration.conftest import make_campaign

    other = make_campaign(admin)
    for who, queue in ((other, queue_id), (campaign, str(uuid.uuid4()))):
        status, body = cancel(who, queue)
        assert (status, body["code"]) == (404, "QUEUE_NOT_FOUND")
    assert statuses(ids) == ["SCHEDULED"]
    assert campaign.balance() == 999


def test_cancel_versus_delivery_every_message_is_sent_or_cancelled_exactly_once(
    stack: Stack, windows_on: None, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 30-message campaign on the delivery queue (transactional: no window in the way)
    monkeypatch.setenv("RECIPIENTS_PER_QUEUE_MESSAGE", "5")
    wiring.reset()
    numbers = [f"+5730078{n:05d}" for n in range(30)]
    tag_id = tag_numbers(campaign, *numbers)
    status, body = post(
        campaign, "/api/messages/sms/tags", {"message": "Hola", "tagIds": [tag_id], "purpose": "transactional"}
    )
    assert status == 201
    queue_id, ids = body["queueId"], [m["id"] for m in body["messages"]]
    records = stack.drain_delivery_queue()
    sandbox = Counting(SandboxProvider(DynamoOutbox()))
    # When delivery works through the records while the campaign is cancelled
    start = threading.Barrier(2)
    answers: list[tuple[int, dict[str, Any]]] = []

    def deliver_all() -> None:
        start.wait()
        for record in records:
            deliverer(sandbox, windows=False).deliver(
                QueueBatch(record["tenantId"], record["queueId"], record["messageIds"])
            )

    def cancel_once() -> None:
        start.wait()
        answers.append(cancel(campaign, queue_id))

    threads = [threading.Thread(target=deliver_all), threading.Thread(target=cancel_once)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every message is exactly one of SENT or CANCELLED
    final = dict(zip(ids, statuses(ids), strict=True))
    sent = {mid for mid, s in final.items() if s == "SENT"}
    cancelled = {mid for mid, s in final.items() if s == "CANCELLED"}
    assert sent | cancelled == set(ids)
    # And the provider got each SENT one once and no cancelled one
    assert dict(sandbox.calls) == dict.fromkeys(sent, 1)
    assert {o.message_id for o in OutboxRecord.scan()} == sent
    # And the cancel reports exactly what it cancelled; balance = ledger = 1000 - sent
    ((status, answer),) = answers
    assert (status, answer["cancelled"], answer["refundedCredits"]) == (200, len(cancelled), len(cancelled))
    assert campaign.balance() == campaign.ledger_sum() == 1000 - len(sent)
    dispatch = load_dispatch(queue_id)
    assert (dispatch.count_sent, dispatch.count_cancelled, dispatch.count_queued) == (len(sent), len(cancelled), 0)
    # And the records delivered again afterwards send nothing more
    for record in records:
        deliverer(sandbox, windows=False).deliver(
            QueueBatch(record["tenantId"], record["queueId"], record["messageIds"])
        )
    assert dict(sandbox.calls) == dict.fromkeys(sent, 1)


def test_cancel_while_the_fanout_is_open_is_409_and_changes_nothing(
    stack: Stack, windows_on: None, campaign: Campaign
) -> None:
    queue_id, ids = scheduled_campaign(campaign, 2)
    from smscore.dal.tables import DispatchRecord

    DispatchRecord(queue_id).update(actions=[DispatchRecord.fanout.set("PENDING")])
    status, body = cancel(campaign, queue_id)
    assert (status, body["code"]) == (409, "REQUEST_IN_PROGRESS")
    assert statuses(ids) == ["SCHEDULED"] * 2
    assert campaign.balance() == 998
