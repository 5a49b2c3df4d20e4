"""The contact events' rules without I/O (smscore.domain.consent_events): whose shown state a sender's opt-out
decides, the events of one change, and their ids (the same change always has the same id)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from smscore.domain.consent_events import SuppressionEvents, Watched
from smscore.domain.events import EmittingContactStore, Event, consent_event

T0 = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)
ANA = "+573001234567"


@dataclass
class Sink:
    published: list[Event] = field(default_factory=list)

    def publish(self, events: Sequence[Event]) -> None:
        self.published.extend(events)


def test_the_same_change_has_the_same_id_and_any_other_change_another() -> None:
    # Given one opt-out of one contact at one time, built twice (a retried handler builds it again)
    first = consent_event("t1", "c1", ANA, True, "keyword", T0)
    again = consent_event("t1", "c1", ANA, True, "keyword", T0)
    # Then the id and the body are the same
    assert (first.event_id, first.body()) == (again.event_id, again.body())
    # And another contact, another time, or the opposite change each have their own id
    others = [
        consent_event("t1", "c2", ANA, True, "keyword", T0),
        consent_event("t1", "c1", ANA, True, "keyword", T0 + timedelta(seconds=1)),
        consent_event("t1", "c1", ANA, False, "keyword", T0),
    ]
    assert len({first.event_id, *(e.event_id for e in others)}) == 4
    # And the body is the documented shape
    body = json.loads(first.body())
    assert body == {
        "id": first.event_id,
        "type": "contact.opted_out",
        "createdAt": "2026-12-06T13:00:00.000Z",
        "tenantId": "t1",
        "data": {
            "contactId": "c1",
            "phone": ANA,
            "optedOut": True,
            "source": "keyword",
            "at": "2026-12-06T13:00:00.000Z",
        },
    }


def events_for(
    contacts: list[tuple[str, str]], senders: dict[str, str], own: dict[str, bool], wanted: dict[str, frozenset[str]]
) -> tuple[SuppressionEvents, Sink]:
    sink = Sink()
    events = SuppressionEvents(
        contacts_with_number=lambda number: contacts,
        sender_of_tenant=lambda tenant_id: senders[tenant_id],
        own_opt_out=lambda tenant_id, contact_id: own.get(contact_id),
        sink=sink,
        subscribed=lambda tenant_id: wanted.get(tenant_id, frozenset()),
    )
    return events, sink


def test_a_senders_opt_out_decides_only_contacts_of_its_tenants_not_opted_out_by_their_tenant() -> None:
    # Given Ana in four tenants: A and B on the sender (B opted her out itself), C on another sender, D on the
    # sender without a contact-event endpoint; and a contact of E deleted meanwhile
    both = frozenset({"contact.opted_out", "contact.opted_in"})
    events, sink = events_for(
        contacts=[("A", "a1"), ("B", "b1"), ("C", "c1"), ("D", "d1"), ("E", "e1")],
        senders={"A": "sms1", "B": "sms1", "C": "sms2", "D": "sms1", "E": "sms1"},
        own={"a1": False, "b1": True, "c1": False, "d1": False},
        wanted={"A": both, "B": both, "C": both, "D": frozenset({"message.sent"}), "E": both},
    )
    # When the sender's opt-out moves / Then only A's contact is watched, and gets one event
    watched = events.watching(ANA, "sms1")
    assert watched == [Watched("A", "a1", ANA)]
    assert events.changed(watched, True, "keyword", T0) == 1
    assert [(e.tenant_id, e.event_type, e.data["contactId"]) for e in sink.published] == [
        ("A", "contact.opted_out", "a1")
    ]
    # And a change nobody watches publishes nothing
    assert events.changed([], False, "keyword", T0) == 0
    assert len(sink.published) == 1


@dataclass
class Contact:
    phone: str
    opted_out: bool


@dataclass
class Contacts:
    contact: Contact

    def get_contact(self, tenant_id: str, contact_id: str) -> Contact:
        return self.contact

    def set_opted_out(self, tenant_id: str, contact_id: str, opted_out: bool, source: str, at: datetime) -> Contact:
        self.contact = Contact(self.contact.phone, opted_out)
        return self.contact


def test_the_own_opt_out_emits_only_when_the_shown_state_moves() -> None:
    # Given a contact whose number is opted out of the tenant's sender (it replied STOP)
    sink, suppressed = Sink(), {ANA}
    store = EmittingContactStore(Contacts(Contact(ANA, False)), sink, suppressed=lambda t, n: n in suppressed)
    # When the tenant opts it out and back in / Then nothing: it showed opted out all along
    store.set_opted_out("t1", "c1", True, "api", T0)
    store.set_opted_out("t1", "c1", False, "api", T0 + timedelta(seconds=1))
    assert sink.published == []
    # When the sender's opt-out is lifted (START) and the tenant opts it out twice / Then one event
    suppressed.clear()
    store.set_opted_out("t1", "c1", True, "api", T0 + timedelta(seconds=2))
    store.set_opted_out("t1", "c1", True, "api", T0 + timedelta(seconds=3))
    assert [(e.event_type, e.data["source"]) for e in sink.published] == [("contact.opted_out", "api")]
