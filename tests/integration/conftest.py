"""Fixtures that give a tenant, a member and tagged contacts on the in-process moto stack."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from smsdev.admin_store import ContactInput, DynamoAdminStore
from tests.conftest import Stack


@dataclass
class Campaign:
    """A tenant with tags and contacts, ready to send to."""

    admin: DynamoAdminStore
    tenant_id: str
    member_id: str
    token: str
    tags: dict[str, str] = field(default_factory=dict)  # name -> id

    def add(self, phone: str, *tags: str, name: str | None = None, opted_out: bool = False) -> str:
        contact_id = self.admin.add_contacts(
            self.tenant_id, [ContactInput(phone=phone, name=name, tag_names=list(tags), opted_out=opted_out)]
        )[0]
        for tag in self.admin.tags(self.tenant_id):
            self.tags[tag.name] = tag.tag_id
        return contact_id

    def balance(self) -> int:
        return int(self.admin.tenant(self.tenant_id).credits)

    def ledger_sum(self) -> int:
        return sum(int(e.amount) for e in self.admin.ledger(self.tenant_id))


@pytest.fixture
def admin(stack: Stack) -> DynamoAdminStore:
    return DynamoAdminStore(region=stack.names.region)


def make_campaign(admin: DynamoAdminStore, credits: int = 1000, country: str | None = "CO") -> Campaign:
    tenant_id = admin.create_tenant("Acme", credits=credits, default_country=country)
    member = admin.create_member(tenant_id, f"owner-{tenant_id[:8]}@acme.test", accept_terms=True)
    return Campaign(admin, tenant_id, member.member_id, member.token.token)


@pytest.fixture
def campaign(admin: DynamoAdminStore) -> Campaign:
    return make_campaign(admin)
