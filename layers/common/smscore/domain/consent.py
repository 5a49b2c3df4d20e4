"""A contact's consent as shown (contacts API, admin UI): derived when read, never stored by a keyword.

One model, the one the send path applies (smscore.domain.campaign.plan_campaign), so what the admin shows is what
a send does:
- the tenant's own opt-out (the contacts API and UI, `optedOut` on the contact and its membership copies): the
  tenant's decision, kept until the tenant lifts it;
- the keyword opt-outs (STOP, BAJA...) of the senders the tenant sends through (the suppression list, per number
  and sender; smscore.domain.inbound): the recipient's decision about that sender, lifted by START to it.
A keyword to a sender the tenant does not send through is not the tenant's concern and never shows.

A contact flagged by a keyword before this model (`consent_source` "keyword": the keyword handler used to write
every tenant's contact) is still skipped by the send path (its membership copies say so) until `smsctl contacts
clear-keyword-flags` clears it, so until then it shows as KEYWORD with no sender.

Reading costs one batched read of the suppression list per sender for a whole page (smscore.dal.suppression_store:
BatchGetItem by key, 100 numbers a call), never a scan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from smscore.domain.ports import ConsentChange, SuppressionList

if TYPE_CHECKING:
    from smscore.domain.contacts import Contact

KEYWORD_SOURCE = "keyword"  # smscore.domain.contacts.ConsentSource.KEYWORD (that module loads phonenumbers)


class ConsentState(StrEnum):
    SUBSCRIBED = "SUBSCRIBED"
    OPTED_OUT = "OPTED_OUT"


class OptOutReason(StrEnum):
    TENANT_OPT_OUT = "TENANT_OPT_OUT"  # the tenant opted the contact out (API, UI)
    KEYWORD = "KEYWORD"  # the number replied an opt-out keyword to a sender the tenant sends through


@dataclass(frozen=True)
class OptOutCause:
    reason: OptOutReason
    at: datetime | None = None
    sender: str | None = None  # KEYWORD: the sender key it replied to (None: flagged before senders were kept)
    keyword: str | None = None  # KEYWORD: the keyword as configured (BAJA, STOP...)


@dataclass(frozen=True)
class Consent:
    """Why a contact is skipped: every cause, the tenant's own first; none means subscribed."""

    causes: tuple[OptOutCause, ...] = ()

    @property
    def state(self) -> ConsentState:
        return ConsentState.OPTED_OUT if self.causes else ConsentState.SUBSCRIBED

    @property
    def opted_out(self) -> bool:
        return bool(self.causes)

    @property
    def opted_out_at(self) -> datetime | None:
        return self.causes[0].at if self.causes else None


def tenant_cause(contact: Contact) -> OptOutCause | None:
    """The contact's own flag (what its membership copies give the send path), as a cause."""
    if not contact.opted_out:
        return None
    if contact.consent_source == KEYWORD_SOURCE:
        return OptOutCause(OptOutReason.KEYWORD, contact.opted_out_at)  # flagged by a keyword before this model
    return OptOutCause(OptOutReason.TENANT_OPT_OUT, contact.opted_out_at)


def consent_of(contact: Contact, keyword_opt_outs: Sequence[ConsentChange] = ()) -> Consent:
    """The contact's consent from its own flag and the opt-outs of its number for the tenant's senders."""
    own = tenant_cause(contact)
    keywords = tuple(
        OptOutCause(OptOutReason.KEYWORD, change.at, change.sender, change.keyword) for change in keyword_opt_outs
    )
    return Consent(((own,) if own else ()) + keywords)


class ConsentReader:
    """Consents of a page of one tenant's contacts: `senders_of(tenant_id)` names the senders its campaigns go out
    through (the same choice as the send path), each read once for the page's numbers."""

    def __init__(self, suppressions: SuppressionList, senders_of: Callable[[str], Sequence[str]]) -> None:
        self._suppressions = suppressions
        self._senders_of = senders_of

    def consents(self, tenant_id: str, contacts: Sequence[Contact]) -> dict[str, Consent]:
        """Contact id -> its consent."""
        if not contacts:
            return {}
        numbers = sorted({c.phone for c in contacts})
        found: dict[str, list[ConsentChange]] = {}
        for sender in dict.fromkeys(self._senders_of(tenant_id)):
            for number, change in self._suppressions.opt_outs(numbers, sender).items():
                found.setdefault(number, []).append(change)
        return {c.contact_id: consent_of(c, found.get(c.phone, ())) for c in contacts}

    def consent(self, tenant_id: str, contact: Contact) -> Consent:
        return self.consents(tenant_id, [contact])[contact.contact_id]
