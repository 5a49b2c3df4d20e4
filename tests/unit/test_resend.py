"""Which recipients of a campaign a resend targets (smscore.domain.resend), on in-memory outcomes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from smscore.domain.model import MessageStatus, TagRecipient
from smscore.domain.resend import (
    MessageOutcome,
    OriginalCampaign,
    read_resend_members,
    recipient_fault,
    resend_candidates,
)

FAILED, UNDELIVERED = MessageStatus.FAILED, MessageStatus.UNDELIVERED


@pytest.mark.parametrize(
    ("status", "code", "reason", "resent"),
    [
        # another attempt may overcome these
        (FAILED, "SANDBOX_429", "retries exhausted: Too many requests", True),
        (FAILED, "20429", "retries exhausted: throttled", True),
        (FAILED, "TIMEOUT", "retries exhausted: ReadTimeoutError", True),
        (FAILED, None, "not enqueued", True),
        (FAILED, "ThrottlingException", "retries exhausted", True),
        (UNDELIVERED, "30003", None, True),  # Twilio: unreachable handset
        (UNDELIVERED, "TTL_EXPIRED", None, True),  # AWS: validity ran out
        (UNDELIVERED, None, None, True),
        # the number is wrong
        (FAILED, "21211", "permanent failure: invalid 'To'", False),
        (FAILED, "21614", "permanent failure: not a mobile number", False),
        (UNDELIVERED, "30005", None, False),
        (UNDELIVERED, "30006", None, False),
        (UNDELIVERED, "INVALID", None, False),
        (FAILED, "SANDBOX_21211", "permanent failure: not a valid phone number", False),
        # the recipient opted out
        (FAILED, "OPTED_OUT", "permanent failure: OPTED_OUT: the recipient opted out of sender x", False),
        (FAILED, None, "OPTED_OUT", False),
        (FAILED, "21610", "permanent failure: unsubscribed recipient", False),
        (FAILED, "ConflictException:DESTINATION_PHONE_NUMBER_OPTED_OUT", "permanent failure", False),
        (FAILED, "SANDBOX_21610", "permanent failure", False),
        # not a failure
        (MessageStatus.SENT, None, None, False),
        (MessageStatus.DELIVERED, None, None, False),
        (MessageStatus.QUEUED, "SANDBOX_429", "waiting", False),
        (MessageStatus.SENDING, None, None, False),
        (MessageStatus.SCHEDULED, None, None, False),
        (MessageStatus.CANCELLED, None, "CANCELLED", False),
    ],
)
def test_a_message_is_resent_only_after_a_failure_that_is_not_the_recipients_for_good(
    status: MessageStatus, code: str | None, reason: str | None, resent: bool
) -> None:
    outcome = MessageOutcome("+573001110001", "c1", status, code, reason)
    assert (resend_candidates([outcome]) == [outcome]) is resent


def test_invalid_numbers_and_opt_outs_are_the_recipients_fault() -> None:
    assert recipient_fault(MessageOutcome("+573001110001", "c1", FAILED, "21211"))
    assert not recipient_fault(MessageOutcome("+573001110001", "c1", FAILED, "30003"))


class FakeResendSource:
    """In memory: one campaign's outcomes and the contacts as they are now."""

    def __init__(self, outcomes: list[MessageOutcome], contacts: dict[str, bool]) -> None:
        self.outcomes = outcomes
        self.contacts = contacts
        self.contacts_asked: list[list[str]] = []

    def original_campaign(self, tenant_id: str, queue_id: str) -> OriginalCampaign | None:
        return OriginalCampaign(queue_id, "Hi", ["t1"], "CO", len(self.outcomes))

    def message_outcomes(self, campaign: OriginalCampaign, tenant_id: str) -> list[MessageOutcome]:
        return self.outcomes

    def contacts_opted_out(self, tenant_id: str, contact_ids: Sequence[str]) -> dict[str, bool]:
        self.contacts_asked.append(list(contact_ids))
        return {cid: self.contacts[cid] for cid in contact_ids if cid in self.contacts}


def test_the_members_carry_each_contacts_state_now_and_leave_out_deleted_contacts() -> None:
    # Given three transient failures: one contact opted out since, one deleted; and a delivered message
    source = FakeResendSource(
        [
            MessageOutcome("+573001110001", "ana", FAILED, "SANDBOX_429"),
            MessageOutcome("+573001110002", "beto", UNDELIVERED, "30003"),
            MessageOutcome("+573001110003", "caro", FAILED, None, "not enqueued"),
            MessageOutcome("+573001110004", "dani", MessageStatus.DELIVERED),
        ],
        contacts={"ana": False, "beto": True, "dani": False},
    )
    # When the resend's members are read
    members = read_resend_members(source, source.original_campaign("t", "q"), "t")
    # Then the plan gets the live ones, the opted-out one flagged (skipped and counted there), not the deleted one
    assert members == [
        TagRecipient("ana", "+573001110001", opted_out=False),
        TagRecipient("beto", "+573001110002", opted_out=True),
    ]
    # And only the candidates' contacts were looked up
    assert source.contacts_asked == [["ana", "beto", "caro"]]


def test_nobody_failed_reads_no_contact() -> None:
    source = FakeResendSource([MessageOutcome("+573001110004", "dani", MessageStatus.SENT)], {"dani": False})
    assert read_resend_members(source, source.original_campaign("t", "q"), "t") == []
    assert source.contacts_asked == []


class FakeResendSourceWithResends(FakeResendSource):
    """The original's outcomes, and one earlier resend ("r1") with its own outcomes."""

    def __init__(self, outcomes: list[MessageOutcome], resent: list[MessageOutcome]) -> None:
        super().__init__(outcomes, contacts={o.contact_id: False for o in outcomes})
        self.resent = resent

    def original_campaign(self, tenant_id: str, queue_id: str) -> OriginalCampaign | None:
        resends = ("r1",) if queue_id == "q" else ()
        return OriginalCampaign(queue_id, "Hi", ["t1"], "CO", 0, resends=resends)

    def message_outcomes(self, campaign: OriginalCampaign, tenant_id: str) -> list[MessageOutcome]:
        return self.resent if campaign.queue_id == "r1" else self.outcomes


@pytest.mark.parametrize(
    ("ended", "skipped"),
    [
        (MessageStatus.QUEUED, True),
        (MessageStatus.SCHEDULED, True),
        (MessageStatus.SENDING, True),
        (MessageStatus.SENT, True),
        (MessageStatus.DELIVERED, True),
        (MessageStatus.FAILED, False),
        (MessageStatus.UNDELIVERED, False),
        (MessageStatus.CANCELLED, False),
    ],
)
def test_a_recipient_an_earlier_resend_texted_is_passed_on_as_already_resent(
    ended: MessageStatus, skipped: bool
) -> None:
    # Given two transient failures, one of which an earlier resend targeted, its message ending `ended`
    source = FakeResendSourceWithResends(
        [
            MessageOutcome("+573001110001", "ana", FAILED, "SANDBOX_429"),
            MessageOutcome("+573001110002", "beto", FAILED),
        ],
        resent=[MessageOutcome("+573001110001", "ana", ended)],
    )
    original = source.original_campaign("t", "q")
    assert original is not None
    # Then the plan gets it flagged (skipped and counted there) unless that message texted nobody
    members = read_resend_members(source, original, "t")
    assert members == [
        TagRecipient("ana", "+573001110001", already_resent=skipped),
        TagRecipient("beto", "+573001110002"),
    ]
    # And with force, nobody is flagged
    forced = read_resend_members(source, original, "t", skip_resent=False)
    assert [m.already_resent for m in forced] == [False, False]
