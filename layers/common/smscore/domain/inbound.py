"""Inbound SMS: a recipient's reply that is an opt-out (STOP, BAJA...) or opt-in (START, ALTA...) keyword.

Where the carrier sees it: an opt-out is tied to the recipient's number and the sender it replied to (the
number, Messaging Service or origination identity we send from), so it is recorded in the suppression list
for that (number, sender) and covers every tenant sending through that sender: the send path skips the number
(uncharged) and delivery re-checks it just before sending (FAILED `OPTED_OUT`, refunded). It also marks every
tenant's contact with that number opted out (source `keyword`), so the contacts API and the UI show it. An
opt-in removes the suppression for that sender and restores the contacts a keyword had opted out; a contact
opted out through the API or the UI stays opted out (a START is not the tenant's decision to undo).

Each provider module turns its own wire format into an `InboundSms` (smscore.providers.twilio for the
webhook, smscore.providers.aws_sms for the two-way SNS payload); plain Python here, stores injected.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from smscore.domain.errors import NotFound
from smscore.domain.keywords import KeywordAction, Keywords, fold
from smscore.domain.masking import mask
from smscore.domain.ports import ConsentChange, SuppressionList

if TYPE_CHECKING:
    from smscore.domain.contacts import Contact

# smscore.domain.contacts.ConsentSource.KEYWORD: not imported at module level, because that module loads
# phonenumbers, which the webhook function only needs for a keyword reply (cold starts stay small).
KEYWORD_SOURCE = "keyword"

log = logging.getLogger(__name__)

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True)
class InboundSms:
    """One reply, provider-neutral. `sender` is the sender key it came in on (smscore.providers.senders)."""

    provider: str
    sender: str
    from_number: str
    body: str
    received_at: datetime
    reference: str | None = None  # the provider's id of the inbound message


@dataclass(frozen=True)
class Confirmations:
    """The one reply sent back after a keyword, where the provider does not already answer it itself.

    `provider_confirmed` are the folded keywords the provider answers on its own (Twilio's default opt-out and
    opt-in words; AWS's STOP-type keywords): replying too would send the recipient two confirmations.
    """

    opt_out: str
    opt_in: str
    provider_confirmed: frozenset[str] = frozenset()

    def text_for(self, action: KeywordAction, keyword: str | None) -> str | None:
        if action is KeywordAction.NONE or keyword is None or fold(keyword) in self.provider_confirmed:
            return None
        text = self.opt_out if action is KeywordAction.OPT_OUT else self.opt_in
        return text or None


@dataclass(frozen=True)
class InboundResult:
    action: KeywordAction
    keyword: str | None
    number: str | None  # E.164; None when the sender of the reply is not a phone number
    sender: str
    applied: bool  # False: not a keyword, or an older change than the one stored
    contacts_updated: int
    reply: str | None  # the confirmation to send back, if any

    def as_json(self) -> dict[str, object]:
        """What `smsctl inbound` prints and the AWS handler returns (number masked: it may reach logs)."""
        return {
            "action": self.action.value,
            "keyword": self.keyword,
            "number": mask(self.number) if self.number else None,
            "sender": self.sender,
            "applied": self.applied,
            "contactsUpdated": self.contacts_updated,
            "reply": self.reply,
        }


class ConsentContacts(Protocol):
    """The contacts an opt-out reaches: every tenant's contact with the number (smscore.dal.contact_store)."""

    def contacts_with_number(self, e164: str) -> list[tuple[str, str]]:
        """(tenant id, contact id) of every contact, any tenant, whose E.164 number is `e164` (no Scan)."""
        ...

    def get_contact(self, tenant_id: str, contact_id: str) -> Contact | None: ...

    def set_opted_out(self, tenant_id: str, contact_id: str, opted_out: bool, source: str, at: datetime) -> Contact:
        """The contact's flag and every membership copy, in one transaction. Raises NotFound."""
        ...


def e164_of(raw: str) -> str | None:
    """The replying number in E.164, or None (a short code or alphanumeric id cannot be a recipient of ours)."""
    text = raw.strip()
    if not text.startswith("+") or not _E164.match(text):
        return None
    from smscore.domain.phone import valid_e164  # loads phonenumbers: only for a keyword reply

    return valid_e164(text, None) or text


def handle_inbound(
    sms: InboundSms,
    *,
    keywords: Keywords,
    suppressions: SuppressionList,
    contacts: ConsentContacts,
    confirmations: Confirmations,
) -> InboundResult:
    """Apply one reply: a keyword changes the suppression list and the contacts; anything else changes nothing."""
    match = keywords.match(sms.body)
    number = e164_of(sms.from_number) if match.action is not KeywordAction.NONE else None
    if number is None:
        return InboundResult(KeywordAction.NONE, None, None, sms.sender, False, 0, None)

    opted_out = match.action is KeywordAction.OPT_OUT
    keyword = match.keyword or ""
    applied = suppressions.record(
        ConsentChange(
            number=number,
            sender=sms.sender,
            opted_out=opted_out,
            keyword=keyword,
            at=sms.received_at,
            provider=sms.provider,
            reference=sms.reference,
        )
    )
    updated = _update_contacts(contacts, number, opted_out, sms.received_at) if applied else 0
    log.info(
        "Keyword reply applied" if applied else "Keyword reply older than the stored change: ignored",
        extra={"action": match.action.value, "keyword": keyword, "number": mask(number), "sender": sms.sender},
    )
    # Confirm even a repeated keyword: the recipient asked, and carriers expect an answer to every STOP.
    reply = confirmations.text_for(match.action, match.keyword)
    return InboundResult(match.action, match.keyword, number, sms.sender, applied, updated, reply)


def _update_contacts(contacts: ConsentContacts, number: str, opted_out: bool, at: datetime) -> int:
    """Every tenant's contact with the number: opted out; or back in, only if a keyword had opted it out."""
    updated = 0
    for tenant_id, contact_id in contacts.contacts_with_number(number):
        contact = contacts.get_contact(tenant_id, contact_id)
        if contact is None or contact.opted_out == opted_out:
            continue
        if not opted_out and contact.consent_source != KEYWORD_SOURCE:
            continue  # opted out by the tenant (API, UI): a START does not overrule it
        try:
            contacts.set_opted_out(tenant_id, contact_id, opted_out, KEYWORD_SOURCE, at)
        except NotFound:
            continue  # deleted meanwhile
        updated += 1
    return updated
