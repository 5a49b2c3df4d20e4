"""The names of a page's contacts, for message lists: one BatchGetItem of the page's contact ids (never a read per
message), only the `name` attribute."""

from __future__ import annotations

from collections.abc import Iterable

from smscore.dal.tables import ContactRecord


class DynamoContactNames:
    def names(self, tenant_id: str, contact_ids: Iterable[str]) -> dict[str, str]:
        """contact id -> name, for the ids that are a contact of the tenant with a name (PynamoDB pages the
        BatchGetItem by 100 keys and retries unprocessed ones)."""
        keys = [(tenant_id, contact_id) for contact_id in dict.fromkeys(contact_ids)]
        if not keys:
            return {}
        return {
            record.contact_id: record.name
            for record in ContactRecord.batch_get(keys, attributes_to_get=["contact_id", "name"])
            if record.name
        }
