"""Which provider a tenant sends through: what the contacts API needs to show the keyword opt-outs that apply to
it (smscore.domain.consent). The send path reads the same attribute with the whole tenant (campaign_store)."""

from __future__ import annotations

from smscore.dal.tables import TenantRecord


def tenant_provider(tenant_id: str) -> str | None:
    """The tenant's own provider, None for the stack's default (or an unknown tenant): one GetItem of one attribute."""
    try:
        provider: str | None = TenantRecord.get(tenant_id, attributes_to_get=["provider"]).provider
    except TenantRecord.DoesNotExist:
        return None
    return provider
