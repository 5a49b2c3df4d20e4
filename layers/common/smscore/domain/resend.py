"""Resend to failed: which recipients of a finished campaign are worth a second campaign.

A recipient qualifies when its message ended FAILED or UNDELIVERED for a reason another attempt may overcome
(retries exhausted, a carrier outage, a message never enqueued, a handset off for the validity period). It does not
when the failure says the number itself is wrong (invalid, not a mobile, unknown handset) or that the recipient
opted out (at the carrier, or our own `OPTED_OUT` at delivery time): sending again would be paid for and fail again,
or break the opt-out. Recipients whose contact was opted out, deleted or suppressed since are left to the planning
step (`smscore.domain.campaign.plan_campaign`), exactly as for a send.

The codes are the providers' own, as stored on the message (`provider_error_code`): a send-time refusal keeps the
provider's code, an UNDELIVERED receipt keeps the receipt's (Twilio `ErrorCode`, AWS `messageStatus`).

A recipient an earlier resend of the same campaign already targeted is skipped (counted `skipped_already_resent`),
unless that message ended without reaching anyone: FAILED, UNDELIVERED or CANCELLED. So resends with different
Idempotency-Keys do not text the same failed numbers again and again; `force` resends to them all the same. Each
campaign lists its resends (`OriginalCampaign.resends`, recorded by the resend's debit, conditionally on the list
the resend was planned with: smscore.domain.campaign.ResendRaced).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Protocol

from smscore.domain.gsm import EncodingOption
from smscore.domain.model import MessageStatus, TagRecipient

RESENDABLE_STATUSES = frozenset({MessageStatus.FAILED, MessageStatus.UNDELIVERED})
# How an earlier resend's message may have ended and still leave its recipient to a later resend: nobody was texted.
NOT_TEXTED_STATUSES = RESENDABLE_STATUSES | {MessageStatus.CANCELLED}
# Our own reason for a message stopped at delivery time by an opt-out (smscore.domain.delivery).
OPTED_OUT_REASON = "OPTED_OUT"

# The number is wrong for SMS: another attempt fails the same way.
INVALID_NUMBER_CODES = frozenset(
    {
        # Twilio REST errors at send time
        "21211",  # invalid 'To' phone number
        "21214",  # 'To' phone number cannot be reached
        "21217",  # phone number does not appear to be valid
        "21401",  # invalid phone number
        "21407",  # this phone number type does not support SMS
        "21614",  # 'To' number is not a valid mobile number
        # Twilio delivery receipts (ErrorCode of an undelivered message)
        "30005",  # unknown destination handset: the number does not exist
        "30006",  # landline or unreachable carrier
        # AWS End User Messaging SMS delivery events (messageStatus of TEXT_INVALID)
        "INVALID",
        "TEXT_INVALID",
        # the local sandbox's magic numbers (smscore.providers.sandbox)
        "SANDBOX_21211",
    }
)
# The recipient opted out, at the carrier or with us.
OPTED_OUT_CODES = frozenset(
    {
        OPTED_OUT_REASON,
        "21610",  # Twilio: attempt to send to an unsubscribed recipient (the handset sent STOP)
        "ConflictException:DESTINATION_PHONE_NUMBER_OPTED_OUT",  # AWS: the number is on an opt-out list
        "SANDBOX_21610",
    }
)


@dataclass(frozen=True)
class MessageOutcome:
    """How one message of a campaign ended, as far as a resend cares."""

    recipient: str  # E.164
    contact_id: str
    status: MessageStatus
    provider_error_code: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class OriginalCampaign:
    """What a resend takes from the campaign it repeats: the text, the tags and country it was read with."""

    queue_id: str
    body: str
    tag_ids: list[str]
    country: str | None
    total_messages: int
    resends: tuple[str, ...] = ()  # queue ids of the resends of this campaign, as recorded by their debits
    encoding: EncodingOption = EncodingOption.AUTO  # the original's encoding option: a resend repeats it
    track_links: bool = False  # the original's URLs were tracked short links: a resend's are too


class ResendSource(Protocol):
    """The reads a resend needs (smscore.dal.resend_source; tests/fakes.py)."""

    def original_campaign(self, tenant_id: str, queue_id: str) -> OriginalCampaign | None:
        """The tenant's campaign; None when there is none, or it is another tenant's."""
        ...

    def message_outcomes(self, campaign: OriginalCampaign, tenant_id: str) -> list[MessageOutcome]:
        """How every persisted message of the campaign stands now (strongly consistent)."""
        ...

    def contacts_opted_out(self, tenant_id: str, contact_ids: Sequence[str]) -> dict[str, bool]:
        """Contact id -> opted out, for the contacts that still exist."""
        ...


FREQUENCY_CAPPED = "FREQUENCY_CAPPED"  # left out at delivery over the frequency cap: a resend (never capped) would
# send what the cap refused (smscore.domain.frequency_recheck)


def recipient_fault(outcome: MessageOutcome) -> bool:
    """True when the failure is the recipient's for good: an invalid number, an opt-out, or the frequency cap."""
    code = outcome.provider_error_code
    if code in INVALID_NUMBER_CODES or code in OPTED_OUT_CODES or code == FREQUENCY_CAPPED:
        return True
    return (outcome.failure_reason or "").startswith(OPTED_OUT_REASON)


def resend_candidates(outcomes: Iterable[MessageOutcome]) -> list[MessageOutcome]:
    """The messages that ended FAILED or UNDELIVERED for a reason that is not the recipient's for good."""
    return [o for o in outcomes if o.status in RESENDABLE_STATUSES and not recipient_fault(o)]


def texted(outcomes: Iterable[MessageOutcome]) -> set[str]:
    """The recipients (E.164) of an earlier resend's messages that did not end without texting them."""
    return {o.recipient for o in outcomes if o.status not in NOT_TEXTED_STATUSES}


def resend_members(
    candidates: Iterable[MessageOutcome], contacts_now: Mapping[str, bool], already_resent: Set[str] = frozenset()
) -> list[TagRecipient]:
    """The candidates as memberships for `plan_campaign`, with their contacts as they are now.

    `contacts_now` maps each still-existing contact to its current opt-out flag: a contact deleted since is not
    sent to again; one opted out since is passed on opted out, so the plan skips and counts it like a send does.
    A number in `already_resent` is passed on as such: the plan skips and counts it (`skipped_already_resent`).
    """
    return [
        TagRecipient(
            contact_id=c.contact_id,
            phone=c.recipient,
            opted_out=contacts_now[c.contact_id],
            already_resent=c.recipient in already_resent,
        )
        for c in candidates
        if c.contact_id in contacts_now
    ]


def read_resend_members(
    source: ResendSource, campaign: OriginalCampaign, tenant_id: str, *, skip_resent: bool = True
) -> list[TagRecipient]:
    """Read the campaign's outcomes, its earlier resends' outcomes (unless `skip_resent` is off: `force`) and the
    candidates' contacts, and answer `resend_members`."""
    candidates = resend_candidates(source.message_outcomes(campaign, tenant_id))
    if not candidates:
        return []
    already_resent: set[str] = set()
    for queue_id in campaign.resends if skip_resent else ():
        earlier = source.original_campaign(tenant_id, queue_id)
        if earlier is not None:
            already_resent |= texted(source.message_outcomes(earlier, tenant_id))
    contacts = source.contacts_opted_out(tenant_id, sorted({c.contact_id for c in candidates}))
    return resend_members(candidates, contacts, already_resent)
