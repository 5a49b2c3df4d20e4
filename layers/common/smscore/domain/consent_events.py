"""contact.opted_out / contact.opted_in when a contact's shown consent changes (issue 25, webhooks out).

What counts as a change of state. A contact shows `optedOut` (GET /api/contacts/{id}, and what every send applies)
when either is set (smscore.domain.consent):
- its own opt-out, the tenant's flag (the contacts API's `optedOut`, the opt-out link page), or
- an opt-out of its number for the sender its tenant sends through (the suppression list: a STOP keyword reply, the
  link page), which covers every tenant sending through that sender.
An event is emitted when that shown value moves, once per contact, by the write that moved it:
- a write of the own flag (smscore.domain.events.EmittingContactStore) emits when the flag changed and the number is
  not suppressed for the tenant's sender (read just before the write);
- a write of the suppression (`SuppressionList.apply`, conditional on the state it moves from, so exactly one
  writer sees each change) emits, for every contact with that number of each tenant sending through that sender,
  when the contact's own flag is not set (read just before the write: `watching`).
So a second STOP, a STOP for a contact the tenant opted out itself, a START while the tenant's own opt-out stands,
and a START for a number never suppressed emit nothing. Reading the other half of the state before one's own write
means two writes of the same contact at the same moment (a STOP and a PATCH racing, or two PATCHes) may both emit,
each with its own id, but a change is never missed.

The event's id is uuid5 of the type, the contact and the change's time (the provider's timestamp of the reply, or
the time of the link's press), so a re-emission of the same change carries the same id. Its data holds
`contactId`, `phone` (the tenant's own contact's number, as message events carry `recipient`), `optedOut`, `source`
(`keyword`, `link` or `api`) and `at`. No log line here names a number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from smscore.domain.events import EventSink, consent_event
from smscore.domain.webhooks import EventType

_CONSENT_TYPES = frozenset({EventType.CONTACT_OPTED_OUT.value, EventType.CONTACT_OPTED_IN.value})


@dataclass(frozen=True)
class Watched:
    """A contact whose shown consent follows the (number, sender) suppression: its own flag is not set."""

    tenant_id: str
    contact_id: str
    phone: str


@dataclass(frozen=True)
class SuppressionEvents:
    """The contact events of a (number, sender) suppression that changed state (a keyword reply, the link page)."""

    contacts_with_number: Callable[[str], list[tuple[str, str]]]  # number -> (tenant id, contact id), every tenant
    sender_of_tenant: Callable[[str], str]  # tenant id -> the sender key its campaigns go out through
    own_opt_out: Callable[[str, str], bool | None]  # (tenant, contact) -> its own flag; None: the contact is gone
    sink: EventSink
    # tenant id -> the event types its enabled endpoints want (cached): tenants without consent webhooks read nothing
    subscribed: Callable[[str], frozenset[str]] | None = None

    def watching(self, number: str, sender: str) -> list[Watched]:
        """Before the suppression write: the contacts with the number, of the tenants sending through `sender`,
        whose own opt-out is not set (their shown state is the suppression's)."""
        senders: dict[str, str] = {}
        watched: list[Watched] = []
        for tenant_id, contact_id in self.contacts_with_number(number):
            if tenant_id not in senders:
                senders[tenant_id] = self.sender_of_tenant(tenant_id)
            if senders[tenant_id] != sender or not self._wants(tenant_id):
                continue
            if self.own_opt_out(tenant_id, contact_id) is False:
                watched.append(Watched(tenant_id, contact_id, number))
        return watched

    def _wants(self, tenant_id: str) -> bool:
        return self.subscribed is None or not _CONSENT_TYPES.isdisjoint(self.subscribed(tenant_id))

    def changed(self, watched: Sequence[Watched], opted_out: bool, source: str, at: datetime) -> int:
        """After a write that moved the suppression (`Recorded.changed`): one event per watched contact."""
        events = [consent_event(w.tenant_id, w.contact_id, w.phone, opted_out, source, at) for w in watched]
        if events:
            self.sink.publish(events)
        return len(events)
