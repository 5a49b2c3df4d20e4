"""Demo data for `make dev`, also what the end-to-end tests run the seed's own example against.

Each contact states the E.164 number it must become (None: invalid, skipped), written out by hand so a
test can check the service's answer against this table instead of against the service's own code.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from smscore.dal.tables import TenantRecord
from smsdev.admin_store import ContactInput, DynamoAdminStore

TERMS_VERSION = "2026-11"
DEMO_CREDITS = 10_000
EXAMPLE_MESSAGE = "Exclusive offer for VIP customers! 30% off your next purchase."
EXAMPLE_TAGS = ("vip", "buyers")


@dataclass(frozen=True)
class DemoContact:
    name: str
    phone: str  # as entered
    tags: tuple[str, ...]
    e164: str | None  # what it normalises to in Colombia; None when invalid
    opted_out: bool = False


DEMO_CONTACTS: tuple[DemoContact, ...] = (
    DemoContact("Ana Gómez", "3001234567", ("vip", "buyers"), "+573001234567"),
    DemoContact("Bruno Díaz", "+57 310 555 0101", ("vip",), "+573105550101"),
    DemoContact("Camila Ruiz", "(315) 222-3344", ("vip",), "+573152223344"),
    DemoContact("Daniel Mora", "573209998877", ("vip", "newsletter"), "+573209998877"),
    DemoContact("Elena Castro", "321 765 4321", ("buyers",), "+573217654321"),
    DemoContact("Felipe Rojas", "3123456789", ("buyers",), "+573123456789"),
    DemoContact("Gabriela Ortiz", "3015550123", ("buyers", "newsletter"), "+573015550123"),
    DemoContact("Hugo Vargas", "+573001234567", ("buyers",), "+573001234567"),  # shares Ana's number
    DemoContact("Isabel Reyes", "350 123 4567", ("newsletter",), "+573501234567"),
    DemoContact("Juan Pérez", "311-444-5566", ("newsletter",), "+573114445566"),
    DemoContact("Karen López", "318 777 8899", ("newsletter",), "+573187778899"),
    DemoContact("Luis Herrera", "3166661122", ("vip",), "+573166661122"),
    DemoContact("María Torres", "304 333 2211", ("buyers",), "+573043332211"),
    DemoContact("Nicolás Silva", "3142221100", ("newsletter", "vip"), "+573142221100"),
    DemoContact("Olga Medina", "319 888 1234", ("newsletter",), "+573198881234"),
    DemoContact("Pablo Jiménez", "3172345678", ("buyers",), "+573172345678"),
    DemoContact("Quintín Suárez", "3138889900", ("vip",), "+573138889900", opted_out=True),
    DemoContact("Rosa Navarro", "12345", ("vip",), None),
    # Not "300-CALL-NOW": phonenumbers reads letters as keypad digits and that one is a valid mobile.
    DemoContact("Santiago Cruz", "300-CALL", ("buyers",), None),
    DemoContact("Teresa Peña", "322 456 7890", ("newsletter",), "+573224567890"),
)


# On the RNE snapshot `make dev` loads (docs/compliance-co.md): marketing skips it, a transactional send reaches it.
# A newsletter-only contact, so the seed's example campaign (vip + buyers) is unchanged.
RNE_LISTED_NUMBER = "+573187778899"  # Karen López


def expected_recipients(
    tag_names: tuple[str, ...], contacts: tuple[DemoContact, ...] = DEMO_CONTACTS, *, marketing: bool = True
) -> set[str]:
    """Who a campaign to these tags must reach: valid, not opted out, one SMS per number; marketing also skips the
    number on the demo RNE snapshot."""
    listed = {RNE_LISTED_NUMBER} if marketing else set()
    return {
        c.e164
        for c in contacts
        if c.e164 is not None and not c.opted_out and c.e164 not in listed and any(t in c.tags for t in tag_names)
    }


@dataclass(frozen=True)
class DemoMember:
    member_id: str
    email: str
    token: str
    token_prefix: str


@dataclass(frozen=True)
class DemoSeed:
    tenant_id: str
    tenant_name: str
    credits: int
    terms_version: str
    accepted: DemoMember
    pending: DemoMember  # has not accepted the current terms: may read, may not send
    tag_ids: dict[str, str] = field(default_factory=dict)  # name -> UUID

    def example_payload(self) -> dict[str, Any]:
        return {"message": EXAMPLE_MESSAGE, "tagIds": [self.tag_ids[t] for t in EXAMPLE_TAGS], "country": "CO"}

    def example_curl(self, api_url: str) -> str:
        return (
            f"curl -sS -X POST {api_url}/api/messages/sms/tags \\\n"
            f"  -H 'Content-Type: application/json' \\\n"
            f"  -H 'Authorization: Bearer {self.accepted.token}' \\\n"
            f"  -d {shlex.quote(json.dumps(self.example_payload()))}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "tenantId": self.tenant_id,
            "tenantName": self.tenant_name,
            "credits": self.credits,
            "termsVersion": self.terms_version,
            "accepted": self.accepted.__dict__,
            "pending": self.pending.__dict__,
            "tagIds": self.tag_ids,
            "examplePayload": self.example_payload(),
        }


DEMO_CREDIT_PRICE_COP = "13.5"  # pesos per credit


def seed_demo(admin: DynamoAdminStore, credits: int = DEMO_CREDITS) -> DemoSeed:
    """Terms, the Demo Store tenant, its two members and its tagged contacts."""
    admin.publish_terms(TERMS_VERSION)
    tenant_id = admin.create_tenant("Demo Store", credits=credits, default_country="CO")
    # what `smsctl tenant credit-price --cop 13.5` sets: the admin shows pesos beside credits
    TenantRecord(tenant_id).update(actions=[TenantRecord.credit_price_cop.set(DEMO_CREDIT_PRICE_COP)])
    accepted = admin.create_member(tenant_id, "owner@demo-store.test", accept_terms=True)
    pending = admin.create_member(tenant_id, "new-hire@demo-store.test", accept_terms=False)
    contacts = [ContactInput(c.phone, c.name, list(c.tags), c.opted_out) for c in DEMO_CONTACTS]
    admin.add_contacts(tenant_id, contacts)
    return DemoSeed(
        tenant_id=tenant_id,
        tenant_name="Demo Store",
        credits=credits,
        terms_version=TERMS_VERSION,
        accepted=DemoMember(accepted.member_id, accepted.email, accepted.token.token, accepted.token.prefix),
        pending=DemoMember(pending.member_id, pending.email, pending.token.token, pending.token.prefix),
        tag_ids={tag.name: tag.tag_id for tag in admin.tags(tenant_id)},
    )
