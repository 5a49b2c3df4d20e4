"""In-memory fakes of the integrations ports (API keys, webhooks): the same behaviour as the DynamoDB adapters."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from smscore.domain.api_keys import ApiKey, Role


@dataclass
class InMemoryKeyStore:
    """smscore.domain.api_keys.KeyStore over dicts; `roles` is (tenant, member) -> role."""

    roles: dict[tuple[str, str], Role] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)  # token hash -> key

    def member_role(self, tenant_id: str, member_id: str) -> Role | None:
        return self.roles.get((tenant_id, member_id))

    def add(self, key: ApiKey, token_hash: str) -> None:
        assert token_hash not in self.keys
        self.keys[token_hash] = key

    def tenant_keys(self, tenant_id: str) -> list[ApiKey]:
        return sorted((k for k in self.keys.values() if k.tenant_id == tenant_id), key=lambda k: k.created_at)

    def revoke(self, tenant_id: str, key_id: str, at: datetime) -> bool:
        for token_hash, key in self.keys.items():
            if key.key_id == key_id and key.tenant_id == tenant_id and key.revoked_at is None:
                self.keys[token_hash] = replace(key, revoked_at=at)
                return True
        return False
