"""A STOP (opt-out keyword) as proof in the consent history (Ley 1581 de 2012; issue 22, item 6).

The keyword itself changes the suppression list of the sender it was sent to (smscore.domain.inbound); this adds,
for every tenant that sends through that sender and has a contact with the number, a consent record `revoked`,
source `keyword`, to that contact's history (and as its latest record), so that the tenant can show when and how
the person withdrew. Other tenants' contacts with the number (another sender) are untouched, as the keyword is.
The tenant's own opt-out flag is not set: the keyword already stops that sender's sends, and an opt-in keyword
(START) lifts it without leaving a tenant flag behind. What the contacts show moves with the keyword all the same,
and `events` tells the tenants' webhooks (contact.opted_out / opted_in, smscore.domain.consent_events).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from smscore.domain.consent_events import SuppressionEvents
from smscore.domain.consent_records import ConsentOrigin, ConsentStatus, MarketingConsent
from smscore.domain.errors import ConcurrentUpdate, NotFound
from smscore.domain.masking import mask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeywordConsent:
    contacts_with_number: Callable[[str], list[tuple[str, str]]]  # number -> (tenant id, contact id), every tenant
    sender_of_tenant: Callable[[str], str]  # tenant id -> the sender key its campaigns go out through
    record: Callable[[str, str, MarketingConsent], object]  # (tenant, contact, record): contact + history, one write
    # contact.opted_out / opted_in for the contacts a keyword's change of state moved (smscore.domain.consent_events)
    events: SuppressionEvents | None = None

    def revoke(self, number: str, sender: str, keyword: str, at: datetime) -> int:
        """Append the revocation to the contacts of the tenants sending through `sender`; how many were written."""
        written = 0
        senders: dict[str, str] = {}
        for tenant_id, contact_id in self.contacts_with_number(number):
            if tenant_id not in senders:
                senders[tenant_id] = self.sender_of_tenant(tenant_id)
            if senders[tenant_id] != sender:
                continue
            consent = MarketingConsent(
                ConsentStatus.REVOKED, ConsentOrigin.KEYWORD, at, f'Replied "{keyword}" to sender {sender}'
            )
            try:
                self.record(tenant_id, contact_id, consent)
            except (NotFound, ConcurrentUpdate):
                # deleted meanwhile, or changing under other writers through every retry: the keyword itself is
                # recorded (the suppression), only this proof is missing; logged for the operator
                log.error("Keyword consent record not written", extra={"number": mask(number), "tenant_id": tenant_id})
                continue
            written += 1
        return written
