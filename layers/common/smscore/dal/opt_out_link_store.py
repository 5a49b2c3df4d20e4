"""What the opt-out link page reads and writes (smscore.domain.opt_out_links), in DynamoDB.

The code names a message: one GetItem of the Messages table (keyed by message id, so codes spread over every
partition) gives its tenant, number and provider. The tenant's contacts with the number come from the sparse
`by_number` index of the Contacts table (one Query, keys only); each gets the tenant's own opt-out and a revoked
consent record in its history (smscore.dal.contact_store, the contacts API's transactions).
"""

from __future__ import annotations

from datetime import datetime

from smscore.dal.contact_store import DynamoContactStore
from smscore.dal.tables import ContactRecord, MessageRecord, TenantRecord
from smscore.dal.tenant_settings import stored_compliance
from smscore.domain.compliance import default_sender_name
from smscore.domain.consent_records import ConsentOrigin, ConsentStatus, MarketingConsent
from smscore.domain.opt_out_links import LinkContacts, LinkedMessage


def linked_message(message_id: str) -> LinkedMessage | None:
    try:
        record = MessageRecord.get(message_id, attributes_to_get=["message_id", "tenant_id", "recipient", "provider"])
    except MessageRecord.DoesNotExist:
        return None
    return LinkedMessage(record.tenant_id, record.recipient, record.provider)


def sender_name_of(tenant_id: str) -> str | None:
    """The name the tenant's marketing SMS start with: what the page says the person leaves."""
    try:
        record = TenantRecord.get(tenant_id, attributes_to_get=["tenant_id", "name", "compliance"])
    except TenantRecord.DoesNotExist:
        return None
    stored = stored_compliance(record)
    return stored.sender_name if stored is not None else default_sender_name(record.name)


class DynamoLinkContacts(LinkContacts):
    def __init__(self, store: DynamoContactStore) -> None:
        self._store = store

    def contacts_of(self, tenant_id: str, e164: str) -> list[str]:
        return [r.contact_id for r in ContactRecord.by_number.query(e164, ContactRecord.tenant_id == tenant_id)]

    def opt_out(self, tenant_id: str, contact_id: str, consent: MarketingConsent, at: datetime) -> None:
        contact = self._store.set_opted_out(tenant_id, contact_id, True, ConsentOrigin.LINK.value, at)
        latest = contact.marketing_consent
        if latest is not None and latest.status is ConsentStatus.REVOKED and latest.source is ConsentOrigin.LINK:
            return  # recorded by this page before: the history keeps one record per change
        self._store.set_marketing_consent(tenant_id, contact_id, consent, at)
