"""Webhooks out on moto (issue 25, item 1): events emitted once per state change (campaign.completed and credits.low
too), retries until success and no
more, disabling after the failure window, replay, and the endpoints API.

The state changes go through the real send and deliver handlers and the wired receipt store; events travel on the
template's webhook queue. Attempts go to a scripted poster (the HTTP side, with its SSRF rules, is
tests/unit/test_webhooks.py and tests/e2e/test_webhooks_e2e.py), on a clock the test moves.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.integrations import app as integrations
from functions.webhook_deliver import app as webhook_deliver
from smscore import wiring
from smscore.dal.outbox_store import DynamoOutbox
from smscore.dal.tables import OutboxRecord, TenantRecord
from smscore.dal.webhook_queue import SqsWebhookQueue
from smscore.dal.webhook_store import DynamoWebhookStore
from smscore.domain import completion
from smscore.domain.completion import check_message
from smscore.domain.events import Event
from smscore.domain.model import MessageStatus, Receipt
from smscore.domain.receipts import ReceiptOutcome, apply_receipt
from smscore.domain.webhook_delivery import WebhookDeliverer
from smscore.domain.webhooks import Attempt, DeliveryStatus, Endpoint, verify
from smscore.providers.sandbox import PERMANENT_INVALID_NUMBER, SandboxProvider
from smscore.wiring import WebhookDeliverDeps
from smsdev.provision import function_environment
from smsdev.testing import serialised_moto
from tests.conftest import LambdaContextStub, Stack, api_event, load_event
from tests.integration.conftest import Campaign, make_campaign
from tests.integration.test_deliver import Counting, Delivery
from tests.integration.test_opt_out_link import page as opt_out_page

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
MESSAGE_EVENTS = ["message.sent", "message.delivered", "message.undelivered", "message.failed"]


@pytest.fixture
def env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The deliver function's environment (it holds the API's tables and queues too), loopback endpoints allowed."""
    for function_id in ("IntegrationsFunction", "WebhookDeliverFunction", "DeliverFunction"):
        for key, value in function_environment(stack.names, function_id).items():
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("SANDBOX_TIMEOUT_SECONDS", "0")
    wiring.reset()
    with serialised_moto():
        yield stack
    wiring.reset()


def call(who: Campaign, method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
    event = api_event(body, tenant_id=who.tenant_id, member_id=who.member_id, token=who.token)
    resource = path
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    event.update(httpMethod=method, resource=resource, path=path, pathParameters=params or None)
    event["requestContext"].update(httpMethod=method, resourcePath=resource)
    response = integrations.lambda_handler(event, LambdaContextStub())
    raw = response.get("body")
    return response["statusCode"], json.loads(raw) if raw else None


def add_endpoint(who: Campaign, events: list[str] | None = None) -> dict[str, Any]:
    status, body = call(
        who, "POST", "/api/webhooks", {"url": "http://127.0.0.1:9/hook", "events": events or MESSAGE_EVENTS}
    )
    assert status == 201, body
    return dict(body)


def drain_webhook_queue(stack: Stack) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=stack.names.region)
    url = stack.queue_urls["WebhookQueue"]
    bodies: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in got:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


@dataclass
class Clock:
    at: datetime = T0

    def __call__(self) -> datetime:
        return self.at


@dataclass
class ScriptedPoster:
    """Answers the scripted status codes in turn (then the last one forever); records what it was sent."""

    codes: list[int]
    clock: Clock
    sent: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def post(self, url: str, headers: dict[str, str], body: bytes) -> Attempt:
        code = self.codes[min(len(self.sent), len(self.codes) - 1)]
        self.sent.append((url, headers, body))
        return Attempt(at=self.clock(), status_code=code, latency_ms=12, response=f"answer {len(self.sent)}")


@dataclass
class FakeQueue:
    messages: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        self.messages.append((message, delay_seconds))


def an_event(tenant_id: str, n: int = 0, at: datetime = T0) -> Event:
    return Event(str(uuid.uuid4()), "message.sent", at + timedelta(seconds=n), tenant_id, {"messageId": f"m{n}"})


# ---------------------------------------------------------------------------------------------- emitted once


def test_each_message_event_is_emitted_exactly_once_per_state_change(env: Stack, campaign: Campaign) -> None:
    # Given an endpoint that wants every message event
    add_endpoint(campaign)
    delivery = Delivery(stack=env, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    ok, invalid = "+573001112233", PERMANENT_INVALID_NUMBER
    queue_id, ids = delivery.send_campaign(campaign, ok, "+573001112244", invalid)
    bodies = delivery.sqs_bodies()
    # When the delivery records arrive twice (SQS at-least-once) and once more later
    delivery.deliver(*bodies, *bodies)
    delivery.deliver(*bodies)
    # Then each message's SENT or FAILED change produced one event, and nothing else did
    events = [Event.from_body(m["event"]) for m in drain_webhook_queue(env)]
    assert Counter((e.event_type, e.data["messageId"]) for e in events) == {
        ("message.sent", ids[ok]): 1,
        ("message.sent", ids["+573001112244"]): 1,
        ("message.failed", ids[invalid]): 1,
    }
    failed = next(e for e in events if e.event_type == "message.failed")
    assert (failed.tenant_id, failed.data["queueId"], failed.data["recipient"]) == (
        campaign.tenant_id,
        queue_id,
        invalid,
    )
    assert failed.data["errorCode"]
    # When receipts arrive (twice each): one DELIVERED, one UNDELIVERED
    receipts = wiring.receipts_deps().receipts  # the receipts queue consumer's store
    for message_id, status in ((ids[ok], MessageStatus.DELIVERED), (ids["+573001112244"], MessageStatus.UNDELIVERED)):
        receipt = Receipt(
            "sandbox", status, T0, status.value, "30003" if status is MessageStatus.UNDELIVERED else None, message_id
        )
        assert apply_receipt(receipt, receipts) is ReceiptOutcome.APPLIED
        assert apply_receipt(receipt, receipts) is ReceiptOutcome.STALE
    # Then one event each, with the provider's code for the undelivered one
    events = [Event.from_body(m["event"]) for m in drain_webhook_queue(env)]
    assert sorted((e.event_type, e.data["messageId"], e.data["errorCode"]) for e in events) == sorted(
        [("message.delivered", ids[ok], None), ("message.undelivered", ids["+573001112244"], "30003")]
    )


def test_a_tenant_without_endpoints_queues_no_events(env: Stack, campaign: Campaign) -> None:
    delivery = Delivery(stack=env, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    delivery.send_campaign(campaign, "+573001112233")
    delivery.deliver(*delivery.sqs_bodies())
    assert drain_webhook_queue(env) == []


def test_an_endpoint_gets_only_the_event_types_it_wants(env: Stack, campaign: Campaign) -> None:
    endpoint = add_endpoint(campaign, ["message.failed"])
    store = DynamoWebhookStore()
    deliverer = WebhookDeliverer(store, FakeQueue(), ScriptedPoster([200], Clock()), now=Clock())
    assert deliverer.fan_out(an_event(campaign.tenant_id)) == []
    assert store.deliveries(campaign.tenant_id, endpoint["id"], 10, None) == []


# ---------------------------------------------------------------------------------------------- retries


def run_queue(deliverer: WebhookDeliverer, queue: FakeQueue, clock: Clock, limit: int = 50) -> int:
    """Hand each queued message back after its delay, as SQS would, until none is left; returns the hops."""
    hops = 0
    while queue.messages and hops < limit:
        message, delay = queue.messages.pop(0)
        clock.at += timedelta(seconds=delay)
        deliverer.handle(message)
        hops += 1
    assert not queue.messages, "the queue never emptied"
    return hops


def test_a_failing_endpoint_is_retried_until_it_succeeds_and_no_more(env: Stack, campaign: Campaign) -> None:
    endpoint = add_endpoint(campaign)
    clock, queue = Clock(), FakeQueue()
    poster = ScriptedPoster([500, 503, 200, 200], clock)
    store = DynamoWebhookStore()
    deliverer = WebhookDeliverer(store, queue, poster, now=clock, rng=random.Random(3))
    event = an_event(campaign.tenant_id)
    # When the event is fanned out and its retries come back as SQS brings them
    deliverer.fan_out(event)
    run_queue(deliverer, queue, clock)
    # Then it was POSTed three times, the same body (same event id) each time, each signed with the secret
    assert len(poster.sent) == 3
    assert {body for _, _, body in poster.sent} == {event.body().encode()}
    assert {json.loads(body)["id"] for _, _, body in poster.sent} == {event.event_id}
    secret = endpoint["secret"]
    for _url, headers, body in poster.sent:
        assert verify(headers["Sms-Signature"], body, secret, now=int(clock.at.timestamp()), tolerance=86_400)
    # And the delivery shows every attempt, newest first, SUCCEEDED
    status, page = call(campaign, "GET", "/api/webhooks/{webhookId}/deliveries", webhookId=endpoint["id"])
    assert status == 200, page
    (delivery,) = page["items"]
    assert (delivery["status"], delivery["attemptCount"], delivery["eventId"]) == ("SUCCEEDED", 3, event.event_id)
    assert [a["statusCode"] for a in delivery["attempts"]] == [200, 503, 500]
    assert delivery["attempts"][0]["response"] == "answer 3"
    assert delivery["payload"] == json.loads(event.body())
    # And the backoff grew between attempts (steps of at most 30 s then 60 s, jittered over their upper half)
    first, second, third = (datetime.fromisoformat(a["at"]) for a in reversed(delivery["attempts"]))
    assert timedelta(seconds=15) <= second - first <= timedelta(seconds=30)
    assert timedelta(seconds=30) <= third - second <= timedelta(seconds=60)


def test_a_wait_longer_than_15_minutes_is_chained_in_hops_without_attempting(env: Stack, campaign: Campaign) -> None:
    add_endpoint(campaign)
    clock, queue = Clock(), FakeQueue()
    poster = ScriptedPoster([500, 200], clock)
    deliverer = WebhookDeliverer(DynamoWebhookStore(), queue, poster, backoff_base_seconds=2000, now=clock)
    deliverer.fan_out(an_event(campaign.tenant_id))
    ((_, delay),) = queue.messages
    assert delay == 900  # SQS's maximum
    hops = run_queue(deliverer, queue, clock)
    assert hops >= 2  # at least one hop only re-queued the wait
    assert len(poster.sent) == 2


def test_retries_stop_after_24_hours_and_the_delivery_is_failed(env: Stack, campaign: Campaign) -> None:
    endpoint = add_endpoint(campaign)
    clock, queue = Clock(), FakeQueue()
    poster = ScriptedPoster([500], clock)
    store = DynamoWebhookStore()
    deliverer = WebhookDeliverer(store, queue, poster, now=clock, rng=random.Random(5))
    deliverer.fan_out(an_event(campaign.tenant_id))
    run_queue(deliverer, queue, clock, limit=200)
    (delivery,) = store.deliveries(campaign.tenant_id, endpoint["id"], 10, None)
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.first_attempt_at is not None
    assert delivery.attempts[-1].at - delivery.first_attempt_at <= timedelta(hours=24)
    assert len(poster.sent) == delivery.attempt_count >= 10


# ---------------------------------------------------------------------------------------------- disabling


def test_an_endpoint_failing_for_three_days_is_disabled_with_a_note(env: Stack, campaign: Campaign) -> None:
    endpoint = add_endpoint(campaign)
    clock, queue = Clock(), FakeQueue()
    disabled: list[tuple[str, str]] = []
    deliverer = WebhookDeliverer(
        DynamoWebhookStore(),
        queue,
        ScriptedPoster([500], clock),
        now=clock,
        on_disabled=lambda e, reason: disabled.append((e.endpoint_id, reason)),
    )
    # Given failures that began at T0
    deliverer.fan_out(an_event(campaign.tenant_id, 1))
    assert call(campaign, "GET", "/api/webhooks/{webhookId}", webhookId=endpoint["id"])[1]["failingSince"]
    # When it still fails just before 3 days, it stays on; at 3 days it is disabled
    clock.at = T0 + timedelta(days=3) - timedelta(seconds=1)
    deliverer.fan_out(an_event(campaign.tenant_id, 2, clock.at))
    assert call(campaign, "GET", "/api/webhooks/{webhookId}", webhookId=endpoint["id"])[1]["enabled"] is True
    clock.at = T0 + timedelta(days=3)
    deliverer.fan_out(an_event(campaign.tenant_id, 3, clock.at))
    shown = call(campaign, "GET", "/api/webhooks/{webhookId}", webhookId=endpoint["id"])[1]
    assert shown["enabled"] is False
    assert shown["disabledReason"].startswith("webhook.disabled")
    assert [e for e, _ in disabled] == [endpoint["id"]]
    # Then nothing more is sent to it: no new delivery, and pending retries end FAILED without a POST
    queue.messages.clear()
    assert deliverer.fan_out(an_event(campaign.tenant_id, 4, clock.at)) == []
    # And enabling it again clears the note
    status, body = call(campaign, "PATCH", "/api/webhooks/{webhookId}", {"enabled": True}, webhookId=endpoint["id"])
    assert status == 200, body
    assert (body["enabled"], body["disabledReason"], body["failingSince"]) == (True, None, None)


def test_a_success_clears_the_failing_streak(env: Stack, campaign: Campaign) -> None:
    endpoint = add_endpoint(campaign)
    clock = Clock()
    deliverer = WebhookDeliverer(DynamoWebhookStore(), FakeQueue(), ScriptedPoster([500, 200], clock), now=clock)
    deliverer.fan_out(an_event(campaign.tenant_id, 1))
    deliverer.fan_out(an_event(campaign.tenant_id, 2))
    assert call(campaign, "GET", "/api/webhooks/{webhookId}", webhookId=endpoint["id"])[1]["failingSince"] is None


# ---------------------------------------------------------------------------------------------- replay


def deliver_queue_records(stack: Stack, poster: ScriptedPoster, clock: Clock) -> dict[str, Any]:
    """The webhook deliver handler over what is on the webhook queue now (with the scripted poster)."""
    template = load_event("sqs_delivery_batch.json")["Records"][0]
    records = []
    for body in drain_webhook_queue(stack):
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps(body)
        records.append(record)
    queue = SqsWebhookQueue(stack.names.region, stack.queue_urls["WebhookQueue"])
    deps = WebhookDeliverDeps(deliverer=WebhookDeliverer(DynamoWebhookStore(), queue, poster, now=clock))
    result: dict[str, Any] = webhook_deliver.lambda_handler({"Records": records}, LambdaContextStub(), deps=deps)
    return result


def test_replay_sends_the_same_event_once_more(env: Stack, campaign: Campaign) -> None:
    endpoint = add_endpoint(campaign)
    clock = Clock()
    poster = ScriptedPoster([200, 500], clock)
    event = an_event(campaign.tenant_id)
    # Given an event delivered through the queue and the deliver handler
    SqsWebhookQueue(env.names.region, env.queue_urls["WebhookQueue"]).send({"kind": "event", "event": event.body()})
    assert deliver_queue_records(env, poster, clock) == {"batchItemFailures": []}
    (delivery,) = call(campaign, "GET", "/api/webhooks/{webhookId}/deliveries", webhookId=endpoint["id"])[1]["items"]
    # When the member replays it
    status, body = call(
        campaign,
        "POST",
        "/api/webhooks/{webhookId}/deliveries/{deliveryId}/replay",
        webhookId=endpoint["id"],
        deliveryId=delivery["id"],
    )
    assert (status, body["status"]) == (202, "PENDING")
    clock.at += timedelta(minutes=5)
    assert deliver_queue_records(env, poster, clock) == {"batchItemFailures": []}
    # Then the same body (same event id) went again, newly signed, once: a failed replay is not retried
    assert [body for _, _, body in poster.sent] == [event.body().encode()] * 2
    assert poster.sent[0][1]["Sms-Signature"] != poster.sent[1][1]["Sms-Signature"]
    assert drain_webhook_queue(env) == []
    (replayed,) = call(campaign, "GET", "/api/webhooks/{webhookId}/deliveries", webhookId=endpoint["id"])[1]["items"]
    assert (replayed["status"], replayed["attemptCount"]) == ("FAILED", 2)


def test_replaying_an_unknown_delivery_is_404(env: Stack, campaign: Campaign) -> None:
    endpoint = add_endpoint(campaign)
    status, body = call(
        campaign,
        "POST",
        "/api/webhooks/{webhookId}/deliveries/{deliveryId}/replay",
        webhookId=endpoint["id"],
        deliveryId=f"{0:013d}-{uuid.uuid4()}",
    )
    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert drain_webhook_queue(env) == []


# ---------------------------------------------------------------------------------------------- the endpoints API


def test_the_secret_is_shown_once_and_rotation_keeps_the_old_one_for_a_day(env: Stack, campaign: Campaign) -> None:
    created = add_endpoint(campaign)
    assert created["secret"].startswith("whsec_")
    listed = call(campaign, "GET", "/api/webhooks")[1]["items"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert all("secret" not in e for e in listed)
    status, rotated = call(campaign, "POST", "/api/webhooks/{webhookId}/secret", webhookId=created["id"])
    assert status == 200, rotated
    assert rotated["secret"] != created["secret"]
    stored = DynamoWebhookStore().endpoint(campaign.tenant_id, created["id"])
    assert isinstance(stored, Endpoint)
    assert stored.secrets_in_force(datetime.now(UTC)) == [rotated["secret"], created["secret"]]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.example.com/sms", True),
        ("http://127.0.0.1:8080/hook", True),  # the loopback exception this environment has
        ("http://hooks.example.com/sms", False),
        ("https://10.1.2.3/hook", False),
        ("https://169.254.169.254/latest", False),
        ("https://[::ffff:127.0.0.1]/hook", False),
        ("http://127.0.0.2:8080/hook", False),
    ],
)
def test_endpoint_urls_must_be_https_on_a_public_host(env: Stack, campaign: Campaign, url: str, allowed: bool) -> None:
    status, body = call(campaign, "POST", "/api/webhooks", {"url": url, "events": ["message.sent"]})
    assert status == (201 if allowed else 400), body
    assert len(DynamoWebhookStore().endpoints(campaign.tenant_id)) == (1 if allowed else 0)


def test_without_the_loopback_parameter_http_127_0_0_1_is_refused(
    env: Stack, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOKS_ALLOW_LOOPBACK", "false")
    wiring.reset()
    status, body = call(
        campaign, "POST", "/api/webhooks", {"url": "http://127.0.0.1:8080/h", "events": ["message.sent"]}
    )
    assert (status, body["code"]) == (400, "VALIDATION_ERROR")


def test_unknown_events_and_other_tenants_endpoints_are_refused(env: Stack, campaign: Campaign, admin: Any) -> None:
    status, body = call(campaign, "POST", "/api/webhooks", {"url": "https://x.example.com/", "events": ["sms.any"]})
    assert (status, body["code"]) == (400, "VALIDATION_ERROR")
    endpoint = add_endpoint(campaign)
    from tests.integration.conftest import make_campaign

    stranger = make_campaign(admin)
    for method in ("GET", "DELETE"):
        status, body = call(stranger, method, "/api/webhooks/{webhookId}", webhookId=endpoint["id"])
        assert (status, body["code"]) == (404, "NOT_FOUND")
    assert call(campaign, "DELETE", "/api/webhooks/{webhookId}", webhookId=endpoint["id"])[0] == 204
    assert call(campaign, "GET", "/api/webhooks/{webhookId}", webhookId=endpoint["id"])[0] == 404


# ---------------------------------------------------------------------------------------------- contact events


def test_opting_a_contact_out_and_in_emits_each_change_once(
    env: Stack, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.contacts import app as contacts_app

    for key, value in function_environment(env.names, "ContactsFunction").items():
        monkeypatch.setenv(key, value)
    wiring.reset()
    add_endpoint(campaign, ["contact.opted_out", "contact.opted_in"])
    contact_id = campaign.add("3001234567", "vip", name="Ana")

    def patch(body: dict[str, Any]) -> int:
        event = api_event(body, tenant_id=campaign.tenant_id, member_id=campaign.member_id, token=campaign.token)
        resource = "/api/contacts/{contactId}"
        event.update(
            httpMethod="PATCH",
            resource=resource,
            path=f"/api/contacts/{contact_id}",
            pathParameters={"contactId": contact_id},
        )
        event["requestContext"].update(httpMethod="PATCH", resourcePath=resource)
        status: int = contacts_app.lambda_handler(event, LambdaContextStub())["statusCode"]
        return status

    # When the contact is opted out twice, then back in
    assert patch({"optedOut": True}) == 200
    assert patch({"optedOut": True}) == 200
    assert patch({"optedOut": False}) == 200
    # Then one event per change of state, in the tenant's name, with the number
    events = [Event.from_body(m["event"]) for m in drain_webhook_queue(env)]
    assert [(e.event_type, e.data["contactId"], e.data["optedOut"]) for e in events] == [
        ("contact.opted_out", contact_id, True),
        ("contact.opted_in", contact_id, False),
    ]
    assert {e.tenant_id for e in events} == {campaign.tenant_id}
    assert events[0].data["phone"] == "+573001234567"
    assert len({e.event_id for e in events}) == 2


# ---------------------------------------------------------------------------------------------- one batch


def batch_of(events: list[Event]) -> list[dict[str, Any]]:
    template = load_event("sqs_delivery_batch.json")["Records"][0]
    records = []
    for event in events:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps({"kind": "event", "event": event.body()})
        records.append(record)
    return records


@dataclass
class FailingSaves:
    """The Dynamo store whose batched delivery write fails `failures` times (the table throttled)."""

    inner: DynamoWebhookStore
    failures: int = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def save_deliveries(self, deliveries: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("ProvisionedThroughputExceeded")
        self.inner.save_deliveries(deliveries)


def test_one_invocation_attempts_every_event_of_its_batch_once(env: Stack, campaign: Campaign) -> None:
    endpoint = add_endpoint(campaign)
    clock = Clock()
    poster = ScriptedPoster([200], clock)
    events = [an_event(campaign.tenant_id, n) for n in range(12)]
    records = batch_of(events)
    records.append({**copy.deepcopy(records[0]), "messageId": str(uuid.uuid4())})  # SQS brought one twice
    deps = WebhookDeliverDeps(deliverer=WebhookDeliverer(DynamoWebhookStore(), FakeQueue(), poster, now=clock))
    # When one deliver invocation gets the batch
    result = webhook_deliver.lambda_handler({"Records": records}, LambdaContextStub(), deps=deps)
    # Then every record succeeded, each event was POSTed once (the duplicate too: once), signed
    assert result == {"batchItemFailures": []}
    assert Counter(json.loads(body)["id"] for _, _, body in poster.sent) == {e.event_id: 1 for e in events}
    for _url, headers, body in poster.sent:
        assert verify(headers["Sms-Signature"], body, endpoint["secret"], now=int(clock.at.timestamp()))
    # And each delivery is recorded SUCCEEDED with its one attempt
    status, page = call(campaign, "GET", "/api/webhooks/{webhookId}/deliveries", webhookId=endpoint["id"])
    assert status == 200, page
    assert sorted((d["eventId"], d["status"], d["attemptCount"]) for d in page["items"]) == sorted(
        (e.event_id, "SUCCEEDED", 1) for e in events
    )


def test_a_batch_delivered_once_and_brought_again_by_sqs_is_not_attempted_again(env: Stack, campaign: Campaign) -> None:
    # Given a batch of events delivered by one invocation (one write per delivery, after its attempt)
    add_endpoint(campaign)
    clock = Clock()
    poster = ScriptedPoster([200], clock)
    events = [an_event(campaign.tenant_id, n) for n in range(4)]
    deps = WebhookDeliverDeps(deliverer=WebhookDeliverer(DynamoWebhookStore(), FakeQueue(), poster, now=clock))
    assert webhook_deliver.lambda_handler({"Records": batch_of(events)}, LambdaContextStub(), deps=deps) == {
        "batchItemFailures": []
    }
    # When SQS brings the same events again in another batch
    again = webhook_deliver.lambda_handler({"Records": batch_of(events)}, LambdaContextStub(), deps=deps)
    # Then the batch's deliveries are found together and none is POSTed a second time
    assert again == {"batchItemFailures": []}
    assert Counter(json.loads(body)["id"] for _, _, body in poster.sent) == {e.event_id: 1 for e in events}


def test_a_batch_whose_deliveries_could_not_be_written_comes_back_and_is_attempted_again(
    env: Stack, campaign: Campaign
) -> None:
    endpoint = add_endpoint(campaign)
    clock = Clock()
    poster = ScriptedPoster([200], clock)
    events = [an_event(campaign.tenant_id, n) for n in range(3)]
    records = batch_of(events)
    store = FailingSaves(DynamoWebhookStore())
    deps = WebhookDeliverDeps(deliverer=WebhookDeliverer(store, FakeQueue(), poster, now=clock))  # type: ignore[arg-type]
    # Given an invocation whose batched delivery write failed
    result = webhook_deliver.lambda_handler({"Records": records}, LambdaContextStub(), deps=deps)
    # Then every record is reported failed, so SQS brings each event back
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(r["messageId"] for r in records)
    # When SQS brings them back
    again = webhook_deliver.lambda_handler({"Records": records}, LambdaContextStub(), deps=deps)
    # Then each unrecorded attempt is made again (at least once) and recorded this time, SUCCEEDED
    assert again == {"batchItemFailures": []}
    assert Counter(json.loads(body)["id"] for _, _, body in poster.sent) == {e.event_id: 2 for e in events}
    page = call(campaign, "GET", "/api/webhooks/{webhookId}/deliveries", webhookId=endpoint["id"])[1]
    assert sorted((d["eventId"], d["status"], d["attemptCount"]) for d in page["items"]) == sorted(
        (e.event_id, "SUCCEEDED", 1) for e in events
    )


# ---------------------------------------------------------------------------------------------- campaign.completed


def completion_record(message: dict[str, Any]) -> dict[str, Any]:
    record = copy.deepcopy(load_event("sqs_delivery_batch.json")["Records"][0])
    record.update(messageId=str(uuid.uuid4()), body=json.dumps(message))
    return record


def test_campaign_completed_is_emitted_once_when_no_message_is_left_pending(
    env: Stack, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(completion, "FIRST_CHECK_SECONDS", 0)  # SQS holds the first check 10 s: read it at once
    # Given an endpoint that wants campaign.completed, and a campaign of three (one number the carrier refuses)
    endpoint = add_endpoint(campaign, ["campaign.completed"])
    delivery = Delivery(stack=env, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    queue_id, ids = delivery.send_campaign(campaign, "+573001112233", "+573001112244", PERMANENT_INVALID_NUMBER)
    bodies = delivery.sqs_bodies()
    clock, queue = Clock(), FakeQueue()
    poster = ScriptedPoster([200], clock)
    deliverer = WebhookDeliverer(DynamoWebhookStore(), queue, poster, now=clock, completion=wiring.completion_store())
    # When a check runs while every message still waits
    early = check_message(campaign.tenant_id, queue_id, clock())
    assert deliverer.handle(early) is None
    # Then nothing is emitted and the check is put back on the queue, delayed
    assert poster.sent == []
    assert [(m["kind"], m["queueId"], m["pending"]) for m, _ in queue.messages] == [("completion", queue_id, 3)]
    assert 10 <= queue.messages[0][1] <= 900
    # When every message is delivered, its records arriving twice (SQS at-least-once)
    delivery.deliver(*bodies, *bodies)
    # Then one check chain was started for the campaign, however many messages finished
    started = [m for m in drain_webhook_queue(env) if m["kind"] == "completion"]
    assert [(m["tenantId"], m["queueId"]) for m in started] == [(campaign.tenant_id, queue_id)]
    # When its check runs, then again (SQS at-least-once), and the early check comes back too
    clock.at += timedelta(seconds=30)
    deliverer.handle(started[0])
    deliverer.handle(started[0])
    clock.at += timedelta(seconds=30)
    deliverer.handle(queue.messages.pop(0)[0])
    result = webhook_deliver.lambda_handler({"Records": [completion_record(started[0])]}, LambdaContextStub())
    assert result == {"batchItemFailures": []}
    # Then the endpoint got campaign.completed exactly once, signed, with the campaign's final counts
    assert len(poster.sent) == 1
    _url, headers, body = poster.sent[0]
    assert verify(headers["Sms-Signature"], body, endpoint["secret"], now=int(clock.at.timestamp()))
    event = json.loads(body)
    assert (event["type"], event["tenantId"], event["data"]["queueId"]) == (
        "campaign.completed",
        campaign.tenant_id,
        queue_id,
    )
    assert event["data"]["totalMessages"] == 3
    assert {k: v for k, v in event["data"]["counts"].items() if v} == {"SENT": 2, "FAILED": 1}
    assert event["data"]["creditsRefunded"] == 1
    assert len(ids) == 3
    # And nothing more is queued: the chain ended with the completion
    assert queue.messages == []
    assert [m for m in drain_webhook_queue(env) if m["kind"] == "completion"] == []


def test_a_tenant_without_a_campaign_completed_endpoint_starts_no_checks(env: Stack, campaign: Campaign) -> None:
    add_endpoint(campaign, ["message.failed"])
    delivery = Delivery(stack=env, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    delivery.send_campaign(campaign, "+573001112233")
    delivery.deliver(*delivery.sqs_bodies())
    assert drain_webhook_queue(env) == []


# ---------------------------------------------------------------------------------------------- credits.low


def test_credits_low_is_emitted_once_per_crossing_of_the_threshold(env: Stack, admin: Any) -> None:
    # Given a tenant with 7 credits, a threshold of 5 and an endpoint that wants credits.low
    tenant = make_campaign(admin, credits=7)
    TenantRecord(tenant.tenant_id).update(actions=[TenantRecord.credits_low_threshold.set(5)])
    add_endpoint(tenant, ["credits.low"])
    delivery = Delivery(stack=env, sandbox=Counting(SandboxProvider(DynamoOutbox())))

    def low_events() -> list[dict[str, Any]]:
        return [json.loads(m["event"]) for m in drain_webhook_queue(env) if m["kind"] == "event"]

    # When one-credit campaigns take the balance 7 -> 6 -> 5: still at the threshold
    for number in ("+573001110001", "+573001110002"):
        delivery.send_campaign(tenant, number)
    assert (tenant.balance(), low_events()) == (5, [])
    # When the next one takes it under (4), and the one after further under (3)
    first, _ = delivery.send_campaign(tenant, "+573001110003")
    assert tenant.balance() == 4
    crossing = low_events()
    delivery.send_campaign(tenant, "+573001110004")
    # Then credits.low came once, for the crossing debit, with the balance it left
    assert [(e["type"], e["tenantId"], e["data"]) for e in crossing] == [
        (
            "credits.low",
            tenant.tenant_id,
            {"balance": 4, "threshold": 5, "queueId": first, "at": crossing[0]["data"]["at"]},
        )
    ]
    assert (tenant.balance(), low_events()) == (3, [])
    # When a top-up brings it back above (13) and one campaign of 9 takes it straight under again (4)
    admin.add_credits(tenant.tenant_id, 10)
    numbers = [f"+5730011200{n:02d}" for n in range(9)]
    second, _ = delivery.send_campaign(tenant, *numbers)
    # Then that is a new crossing: one more credits.low, with another id
    again = low_events()
    assert [(e["type"], e["data"]["balance"], e["data"]["queueId"]) for e in again] == [("credits.low", 4, second)]
    assert again[0]["id"] != crossing[0]["id"]
    assert tenant.balance() == tenant.ledger_sum() == 4


def test_a_tenant_without_a_threshold_gets_no_credits_low(env: Stack, admin: Any) -> None:
    tenant = make_campaign(admin, credits=2)
    add_endpoint(tenant, ["credits.low"])
    delivery = Delivery(stack=env, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    delivery.send_campaign(tenant, "+573001110001", "+573001110002")
    assert tenant.balance() == 0
    assert drain_webhook_queue(env) == []


def test_opting_out_by_link_emits_contact_opted_out_once(
    env: Stack, campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an endpoint that wants contact.opted_out, and a marketing SMS sent through a route without two-way SMS
    # in Colombia, so it ends with the person's own opt-out link
    monkeypatch.setenv("TWO_WAY_SMS_COUNTRIES", '{"sandbox": "", "twilio": "*"}')
    wiring.reset()
    add_endpoint(campaign, ["contact.opted_out"])
    delivery = Delivery(stack=env, sandbox=Counting(SandboxProvider(DynamoOutbox())))
    number = "+573001112233"
    _queue_id, ids = delivery.send_campaign(campaign, number)
    delivery.deliver(*delivery.sqs_bodies())
    code = OutboxRecord.get(ids[number], consistent_read=True).body.rsplit("/o/", 1)[1]
    # When the person presses the page's button twice (a double tap)
    assert [opt_out_page("POST", code)["statusCode"] for _ in range(2)] == [200, 200]
    # Then the endpoint's tenant hears of it once, as an opt-out by link
    events = [Event.from_body(m["event"]) for m in drain_webhook_queue(env) if m["kind"] == "event"]
    assert [(e.event_type, e.tenant_id, e.data["optedOut"], e.data["source"]) for e in events] == [
        ("contact.opted_out", campaign.tenant_id, True, "link")
    ]
