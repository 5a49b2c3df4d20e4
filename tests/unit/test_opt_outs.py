"""Opt-outs on in-memory ports: a keyword reply's effect (suppression per number and sender, nothing else, once per
provider message, in the provider's order, confirmed once), the send path leaving suppressed numbers out
uncharged, and delivery's re-check."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from smscore.domain.campaign import CampaignLimits, CampaignRequest, send_campaign
from smscore.domain.delivery import OPTED_OUT, Deliverer, Outcome, RetryPolicy
from smscore.domain.inbound import REPLAY_WINDOW, Confirmations, InboundResult, InboundSms, handle_inbound
from smscore.domain.keywords import KeywordAction, Keywords
from smscore.domain.model import MessageStatus, QueueBatch, StoredMessage, TagRecipient
from smscore.domain.pacing import Sender
from smscore.domain.ports import RecordOutcome
from smscore.domain.windows import sendat_only
from smscore.providers.senders import inbound_sender
from smscore.settings import Settings
from tests.consent_fakes import InMemorySuppressionList
from tests.delivery_fakes import InMemoryMessageStore, ListDeadLetters, Providers, ScriptedProvider
from tests.fakes import InMemoryCampaignStore, InMemoryQueue

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ANA = "+573001234567"
SENDER = "twilio:+15550001111"
OTHER_SENDER = "twilio:+15550002222"
CONFIRMATIONS = Confirmations("Unsubscribed.", "Subscribed again.", provider_confirmed=frozenset({"stop", "start"}))


@pytest.fixture
def suppressions() -> InMemorySuppressionList:
    return InMemorySuppressionList()


def reply(
    body: str,
    suppressions: InMemorySuppressionList,
    *,
    at: datetime = T0,
    sender: str = SENDER,
    from_number: str = ANA,
    reference: str | None = None,
    now: datetime | None = None,
) -> InboundResult:
    return handle_inbound(
        InboundSms(
            provider="twilio", sender=sender, from_number=from_number, body=body, received_at=at, reference=reference
        ),
        keywords=Keywords.of(),
        suppressions=suppressions,
        confirmations=CONFIRMATIONS,
        now=now or at,
    )


def test_an_opt_out_suppresses_the_number_for_that_sender_only(suppressions: InMemorySuppressionList) -> None:
    # When Ana replies "Bája" to our number
    result = reply(" Bája ", suppressions, reference="SM1")
    # Then her number is suppressed for that sender only (contacts are not written: their consent is derived)
    assert result.as_json() == {
        "action": "OPT_OUT",
        "keyword": "BAJA",
        "number": "+********4567",
        "sender": SENDER,
        "applied": True,
        "duplicate": False,
        "reply": "Unsubscribed.",  # Twilio does not answer BAJA itself
    }
    assert suppressions.suppressed([ANA, "+573009999999"], SENDER) == {ANA}
    assert not suppressions.is_suppressed(ANA, OTHER_SENDER)


def test_no_confirmation_where_the_provider_answers_the_keyword_itself(suppressions: InMemorySuppressionList) -> None:
    # When she replies STOP (which the provider confirms on its own) / Then it is applied, with no second reply
    result = reply("stop", suppressions)
    assert (result.action, result.applied, result.reply) == (KeywordAction.OPT_OUT, True, None)


def test_a_message_that_is_not_a_keyword_changes_nothing(suppressions: InMemorySuppressionList) -> None:
    result = reply("Stop sending me offers please", suppressions, reference="SM1")
    assert result.as_json()["action"] == "NONE"
    assert (result.reply, result.outcome) == (None, None)
    assert (suppressions.entries, suppressions.seen) == ({}, {})


def test_an_opt_in_lifts_the_opt_out_of_that_sender(suppressions: InMemorySuppressionList) -> None:
    # Given Ana opted out by keyword / When she replies ALTA later
    reply("BAJA", suppressions, reference="SM1")
    result = reply("alta", suppressions, at=T0 + timedelta(minutes=5), reference="SM2")
    # Then the sender may send to her again, and she is told so
    assert (result.action, result.applied, result.reply) == (KeywordAction.OPT_IN, True, "Subscribed again.")
    assert not suppressions.is_suppressed(ANA, SENDER)


def test_an_older_change_arriving_late_does_not_undo_a_newer_one(suppressions: InMemorySuppressionList) -> None:
    # Given Ana's START (12:05) was processed before her earlier STOP (12:00) arrived (SNS does not keep order)
    reply("START", suppressions, at=T0 + timedelta(minutes=5))
    late = reply("STOP", suppressions, at=T0)
    # Then the STOP is not applied: she stays subscribed
    assert (late.applied, late.outcome) == (False, RecordOutcome.SUPERSEDED)
    assert not suppressions.is_suppressed(ANA, SENDER)


def test_an_older_alta_delivered_after_a_newer_baja_is_neither_applied_nor_confirmed(
    suppressions: InMemorySuppressionList,
) -> None:
    # Given Ana replied ALTA at 12:00 and BAJA at 12:05, and the BAJA was handled first (and confirmed)
    assert reply("BAJA", suppressions, at=T0 + timedelta(minutes=5), reference="SM2").reply == "Unsubscribed."
    # When the 12:00 ALTA arrives
    late = reply("ALTA", suppressions, at=T0, reference="SM1", now=T0 + timedelta(minutes=6))
    # Then she stays opted out, and is not told "Subscribed again" (her latest word was BAJA)
    assert (late.outcome, late.reply) == (RecordOutcome.SUPERSEDED, None)
    assert suppressions.is_suppressed(ANA, SENDER)


def test_the_same_provider_message_again_changes_nothing_and_is_not_confirmed_again(
    suppressions: InMemorySuppressionList,
) -> None:
    # Given Ana's BAJA (SM1, 12:00) and then her ALTA (SM2, 12:05)
    reply("BAJA", suppressions, reference="SM1")
    reply("ALTA", suppressions, at=T0 + timedelta(minutes=5), reference="SM2")
    # When SM1 is posted again at 12:10 (Twilio dates a webhook at receipt: the replay looks newer)
    replayed = reply("BAJA", suppressions, at=T0 + timedelta(minutes=10), reference="SM1")
    # Then it is recognised, changes nothing and sends no second confirmation: she stays subscribed
    assert replayed.as_json() | {"number": None} == {
        "action": "OPT_OUT",
        "keyword": "BAJA",
        "number": None,
        "sender": SENDER,
        "applied": False,
        "duplicate": True,
        "reply": None,
    }
    assert not suppressions.is_suppressed(ANA, SENDER)


def test_a_superseded_message_is_remembered_too(suppressions: InMemorySuppressionList) -> None:
    # Given a STOP (SM1) that arrived after a newer START (SM2) and was not applied
    reply("START", suppressions, at=T0 + timedelta(minutes=5), reference="SM2")
    assert reply("STOP", suppressions, at=T0, reference="SM1").outcome is RecordOutcome.SUPERSEDED
    # When SM1 is replayed later, dated at its new receipt / Then it is a duplicate, not a newer STOP
    assert reply("STOP", suppressions, at=T0 + timedelta(hours=1), reference="SM1").outcome is RecordOutcome.DUPLICATE
    assert not suppressions.is_suppressed(ANA, SENDER)


@pytest.mark.parametrize(
    ("received_at", "now"),
    [
        pytest.param(T0, T0 + timedelta(hours=6), id="dated-by-the-provider-before-now"),
        pytest.param(T0 + timedelta(minutes=1), T0, id="provider-clock-ahead-of-ours"),
    ],
)
def test_a_message_is_remembered_for_the_replay_window_from_the_later_of_its_time_and_now(
    suppressions: InMemorySuppressionList, received_at: datetime, now: datetime
) -> None:
    reply("STOP", suppressions, at=received_at, reference="SM1", now=now)
    assert suppressions.seen == {("twilio", "SM1"): max(received_at, now) + REPLAY_WINDOW}
    assert timedelta(days=23, hours=6) <= REPLAY_WINDOW  # SNS's retries to Lambda, then Lambda's event age


def test_a_keyword_without_a_message_id_is_ordered_but_not_deduplicated(suppressions: InMemorySuppressionList) -> None:
    # Two STOPs with no provider id (no replay can be told from a repeat): the later one applies again
    assert reply("BAJA", suppressions).outcome is RecordOutcome.APPLIED
    assert reply("BAJA", suppressions, at=T0 + timedelta(seconds=1)).outcome is RecordOutcome.APPLIED
    assert suppressions.seen == {}


@pytest.mark.parametrize("from_number", ["MyShop", "12345", "+1"])
def test_a_reply_from_something_that_is_not_a_phone_number_is_ignored(
    from_number: str, suppressions: InMemorySuppressionList
) -> None:
    result = reply("STOP", suppressions, from_number=from_number)
    assert result.action is KeywordAction.NONE
    assert suppressions.entries == {}


# -- the send path ------------------------------------------------------------------------------------------


def limits(suppressions: InMemorySuppressionList) -> CampaignLimits:
    return CampaignLimits(
        max_recipients=100,
        recipients_per_queue_message=10,
        default_provider="sandbox",
        character_limits={"sandbox": 1600},
        sender_keys={"sandbox": "sandbox"},
        suppressions=suppressions,
    )


def test_numbers_suppressed_for_the_campaigns_sender_are_skipped_counted_and_not_charged(
    suppressions: InMemorySuppressionList,
) -> None:
    # Given three contacts, one of whom replied STOP to the sandbox sender and one to another sender
    store = InMemoryCampaignStore()
    store.add_tenant("t", credits=100)
    store.tag(
        "t", "vip", TagRecipient("c1", ANA), TagRecipient("c2", "+573001110000"), TagRecipient("c3", "+573002220000")
    )
    suppressions.opt_out(ANA, "sandbox")
    suppressions.opt_out("+573001110000", OTHER_SENDER)
    queue = InMemoryQueue()
    # When the campaign is sent
    result = send_campaign(
        CampaignRequest(tenant_id="t", member_id="m", message="Hola", tag_ids=["vip"]),
        store=store,
        queue=queue,
        limits=limits(suppressions),
        opening=sendat_only,
    )
    # Then Ana gets nothing and is counted as opted out; only two messages are paid for
    assert [m.recipient for m in result.messages] == ["+573001110000", "+573002220000"]
    assert (result.audience.skipped_opted_out, result.audience.skipped_suppressed) == (1, 1)
    assert result.credits_debited == 2
    assert store.balance("t") == 98


def test_a_campaign_whose_every_number_is_suppressed_debits_nothing(suppressions: InMemorySuppressionList) -> None:
    store = InMemoryCampaignStore()
    store.add_tenant("t", credits=100)
    store.tag("t", "vip", TagRecipient("c1", ANA))
    suppressions.opt_out(ANA, "sandbox")
    result = send_campaign(
        CampaignRequest(tenant_id="t", member_id="m", message="Hola", tag_ids=["vip"]),
        store=store,
        queue=InMemoryQueue(),
        limits=limits(suppressions),
        opening=sendat_only,
    )
    assert (result.queue_id, result.messages, result.credits_debited) == ("", [], 0)
    assert store.balance("t") == 100


# -- delivery's re-check ------------------------------------------------------------------------------------


def stored(n: int, recipient: str) -> StoredMessage:
    return StoredMessage(
        message_id=f"m-{n}",
        tenant_id="t",
        queue_id="q",
        recipient=recipient,
        body="hola",
        segments=1,
        credits=1,
        status=MessageStatus.QUEUED,
        provider="twilio",
        created_at=T0,
    )


def test_a_stop_that_arrives_mid_campaign_fails_the_rest_opted_out_refunded_and_unsent(
    suppressions: InMemorySuppressionList,
) -> None:
    # Given two paid, queued messages through the Twilio sender, and Ana replied STOP after the campaign was sent
    store = InMemoryMessageStore()
    store.add(stored(1, ANA))
    store.add(stored(2, "+573002220000"))
    suppressions.opt_out(ANA, SENDER)
    twilio = ScriptedProvider("twilio")
    deliverer = Deliverer(
        store,
        Providers({"twilio": twilio}),
        ListDeadLetters(),
        RetryPolicy(),
        senders={"twilio": Sender(key=SENDER, rate=0.0, validity_seconds=3600)},
        suppressions=suppressions,
        now=lambda: T0,
        rng=random.Random(1),
    )
    # When their record is delivered
    report = deliverer.deliver(QueueBatch(tenant_id="t", queue_id="q", message_ids=["m-1", "m-2"]))
    # Then Ana's message never reaches Twilio: FAILED with OPTED_OUT and refunded; the other one is sent
    assert [c.recipient for c in twilio.calls] == ["+573002220000"]
    assert report.outcomes == {"m-1": Outcome.OPTED_OUT, "m-2": Outcome.SENT}
    assert store.messages["m-1"].status is MessageStatus.FAILED
    assert store.details["m-1"]["code"] == OPTED_OUT
    assert (report.refunded_messages, report.refunded_credits) == (1, 1)
    assert store.ledger[-1] == ("t", 1, "REFUND", ["m-1"])
    assert store.balance["t"] == -1  # two debited, one refunded


def test_the_keyword_consent_source_is_the_contacts_modules() -> None:
    # smscore.domain.consent names it without importing smscore.domain.contacts (which loads phonenumbers)
    from smscore.domain.consent import KEYWORD_SOURCE
    from smscore.domain.contacts import ConsentSource

    assert ConsentSource.KEYWORD.value == KEYWORD_SOURCE


def test_the_webhook_and_inbound_functions_load_no_phone_library_at_cold_start() -> None:
    # Given a fresh interpreter / When both handlers are imported / Then phonenumbers waits for a keyword reply
    probe = "import functions.webhooks.app, functions.inbound.app, sys; print('phonenumbers' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("provider", "addresses", "configured", "expected"),
    [
        ("twilio", ["MG1", "+15550001111"], {"twilio_messaging_service_sid": "MG1"}, "twilio:MG1"),
        ("twilio", ["MG1", "+15550001111"], {"twilio_from_number": "+15550001111"}, "twilio:+15550001111"),
        ("twilio", ["+15550009999"], {"twilio_from_number": "+15550001111"}, "twilio:+15550009999"),
        ("aws_sms", ["+15550002222"], {"aws_sms_origination_identity": "+15550002222"}, "aws_sms:+15550002222"),
        (
            "aws_sms",
            ["+15550002222"],
            {"aws_sms_origination_identity": "pool-0123456789abcdef"},
            "aws_sms:pool-0123456789abcdef",
        ),
        ("aws_sms", ["+15550002222"], {}, "aws_sms:default"),
        ("aws_sms", ["+15550003333"], {"aws_sms_origination_identity": "+15550002222"}, "aws_sms:+15550003333"),
        ("aws_sms", ["+15005550006"], {"aws_sms_origination_identity": "+15550002222"}, "sandbox"),
    ],
)
def test_a_reply_lands_on_the_sender_key_the_send_path_uses(
    provider: str, addresses: list[str], configured: dict[str, str], expected: str
) -> None:
    settings = Settings.model_construct(**{**SENDER_SETTINGS, **configured})
    assert inbound_sender(provider, addresses, settings) == expected


SENDER_SETTINGS: dict[str, object] = {
    "sandbox_sender_number": "+15005550006",
    "twilio_messaging_service_sid": None,
    "twilio_from_number": None,
    "aws_sms_origination_identity": None,
}
