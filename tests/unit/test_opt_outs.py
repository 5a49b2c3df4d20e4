"""Opt-outs on in-memory ports: a keyword reply's effect (suppression per number and sender, every tenant's
contacts, confirmation), the send path leaving suppressed numbers out uncharged, and delivery's re-check."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from smscore.domain.campaign import CampaignLimits, CampaignRequest, send_campaign
from smscore.domain.delivery import OPTED_OUT, Deliverer, Outcome, RetryPolicy
from smscore.domain.inbound import Confirmations, InboundResult, InboundSms, handle_inbound
from smscore.domain.keywords import KeywordAction, Keywords
from smscore.domain.model import MessageStatus, QueueBatch, StoredMessage, TagRecipient
from smscore.domain.pacing import Sender
from smscore.domain.windows import sendat_only
from smscore.providers.senders import inbound_sender
from smscore.settings import Settings
from tests.consent_fakes import InMemoryConsentContacts, InMemorySuppressionList
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


@pytest.fixture
def contacts() -> InMemoryConsentContacts:
    contacts = InMemoryConsentContacts()
    contacts.add("tenant-a", "ca", ANA)
    contacts.add("tenant-b", "cb", ANA)
    contacts.add("tenant-b", "other", "+573009999999")
    return contacts


def reply(
    body: str,
    suppressions: InMemorySuppressionList,
    contacts: InMemoryConsentContacts,
    *,
    at: datetime = T0,
    sender: str = SENDER,
    from_number: str = ANA,
) -> InboundResult:
    return handle_inbound(
        InboundSms(provider="twilio", sender=sender, from_number=from_number, body=body, received_at=at),
        keywords=Keywords.of(),
        suppressions=suppressions,
        contacts=contacts,
        confirmations=CONFIRMATIONS,
    )


def test_an_opt_out_suppresses_the_number_for_that_sender_and_marks_every_tenants_contact(
    suppressions: InMemorySuppressionList, contacts: InMemoryConsentContacts
) -> None:
    # Given Ana is a contact of two tenants
    # When she replies "Bája" to our number
    result = reply(" Bája ", suppressions, contacts)
    # Then her number is suppressed for that sender only, and both tenants' contacts are opted out by keyword
    assert result.as_json() == {
        "action": "OPT_OUT",
        "keyword": "BAJA",
        "number": "+********4567",
        "sender": SENDER,
        "applied": True,
        "contactsUpdated": 2,
        "reply": "Unsubscribed.",  # Twilio does not answer BAJA itself
    }
    assert suppressions.suppressed([ANA, "+573009999999"], SENDER) == {ANA}
    assert not suppressions.is_suppressed(ANA, OTHER_SENDER)
    for tenant_id, contact_id in (("tenant-a", "ca"), ("tenant-b", "cb")):
        contact = contacts.contact(tenant_id, contact_id)
        assert (contact.opted_out, contact.consent_source, contact.opted_out_at) == (True, "keyword", T0)
    assert contacts.contact("tenant-b", "other").opted_out is False


def test_no_confirmation_where_the_provider_answers_the_keyword_itself(
    suppressions: InMemorySuppressionList, contacts: InMemoryConsentContacts
) -> None:
    # When she replies STOP (which the provider confirms on its own) / Then it is applied, with no second reply
    result = reply("stop", suppressions, contacts)
    assert (result.action, result.applied, result.reply) == (KeywordAction.OPT_OUT, True, None)


def test_a_message_that_is_not_a_keyword_changes_nothing(
    suppressions: InMemorySuppressionList, contacts: InMemoryConsentContacts
) -> None:
    result = reply("Stop sending me offers please", suppressions, contacts)
    assert result.as_json()["action"] == "NONE"
    assert (result.reply, result.contacts_updated) == (None, 0)
    assert suppressions.entries == {}
    assert not contacts.contact("tenant-a", "ca").opted_out


def test_an_opt_in_restores_what_a_keyword_opted_out_but_not_a_tenants_own_opt_out(
    suppressions: InMemorySuppressionList, contacts: InMemoryConsentContacts
) -> None:
    # Given Ana opted out by keyword, and tenant C had opted her out itself (through the API)
    contacts.add("tenant-c", "cc", ANA, opted_out=True, source="api")
    reply("BAJA", suppressions, contacts)
    # When she replies ALTA later
    result = reply("alta", suppressions, contacts, at=T0 + timedelta(minutes=5))
    # Then the sender may send to her again, and the contacts a keyword opted out are back; tenant C's stays out
    assert (result.action, result.applied, result.contacts_updated) == (KeywordAction.OPT_IN, True, 2)
    assert result.reply == "Subscribed again."
    assert not suppressions.is_suppressed(ANA, SENDER)
    assert not contacts.contact("tenant-a", "ca").opted_out
    assert not contacts.contact("tenant-b", "cb").opted_out
    assert contacts.contact("tenant-c", "cc").opted_out


def test_an_older_change_arriving_late_does_not_undo_a_newer_one(
    suppressions: InMemorySuppressionList, contacts: InMemoryConsentContacts
) -> None:
    # Given Ana's START (12:05) was processed before her earlier STOP (12:00) arrived (SNS does not keep order)
    reply("START", suppressions, contacts, at=T0 + timedelta(minutes=5))
    late = reply("STOP", suppressions, contacts, at=T0)
    # Then the STOP is not applied: she stays subscribed
    assert late.applied is False
    assert not suppressions.is_suppressed(ANA, SENDER)
    assert not contacts.contact("tenant-a", "ca").opted_out


@pytest.mark.parametrize("from_number", ["MyShop", "12345", "+1"])
def test_a_reply_from_something_that_is_not_a_phone_number_is_ignored(
    from_number: str, suppressions: InMemorySuppressionList, contacts: InMemoryConsentContacts
) -> None:
    result = reply("STOP", suppressions, contacts, from_number=from_number)
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
    # smscore.domain.inbound names it without importing smscore.domain.contacts (which loads phonenumbers)
    from smscore.domain.contacts import ConsentSource
    from smscore.domain.inbound import KEYWORD_SOURCE

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
