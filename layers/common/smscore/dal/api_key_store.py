"""API keys in the Tokens table (smscore.domain.api_keys.KeyStore): one item per token, keyed by its hash.

A tenant's keys are one Query of the `by_tenant` index. Tokens smsctl issued carry no key id, name or scope: they
are listed as full-scope keys named "smsctl" whose id is derived from the hash (stable, and no secret).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pynamodb.exceptions import UpdateError

from smscore.dal.tables import MemberRecord, TokenRecord
from smscore.domain.api_keys import ApiKey, Role
from smscore.domain.auth import Scope

_LEGACY_NAMESPACE = uuid.UUID("5d4bd8b2-3f0e-4b59-9a0e-6f1c2b7a8e01")
LEGACY_NAME = "smsctl"


def key_id_of(record: TokenRecord) -> str:
    return record.key_id or str(uuid.uuid5(_LEGACY_NAMESPACE, record.token_hash))


def _key(record: TokenRecord) -> ApiKey:
    return ApiKey(
        key_id=key_id_of(record),
        tenant_id=record.tenant_id,
        member_id=record.member_id,
        name=record.name or LEGACY_NAME,
        prefix=record.prefix,
        scope=Scope(record.scope or Scope.FULL.value),
        created_at=record.created_at,
        expires_at=record.expires_at,
        last_used_at=record.last_used_at,
        revoked_at=record.revoked_at,
    )


class DynamoApiKeyStore:
    def member_role(self, tenant_id: str, member_id: str) -> Role | None:
        try:
            member = MemberRecord.get(member_id)
        except MemberRecord.DoesNotExist:
            return None
        if member.tenant_id != tenant_id:
            return None
        return Role(member.role or Role.MEMBER.value)

    def add(self, key: ApiKey, token_hash: str) -> None:
        TokenRecord(
            token_hash,
            prefix=key.prefix,
            member_id=key.member_id,
            tenant_id=key.tenant_id,
            created_at=key.created_at,
            key_id=key.key_id,
            name=key.name,
            scope=key.scope.value,
            expires_at=key.expires_at,
        ).save(condition=TokenRecord.token_hash.does_not_exist())

    def _records(self, tenant_id: str) -> list[TokenRecord]:
        return list(TokenRecord.by_tenant.query(tenant_id))

    def tenant_keys(self, tenant_id: str) -> list[ApiKey]:
        return [_key(record) for record in self._records(tenant_id)]

    def revoke(self, tenant_id: str, key_id: str, at: datetime) -> bool:
        record = next((r for r in self._records(tenant_id) if key_id_of(r) == key_id), None)
        if record is None:
            return False
        try:
            record.update(
                actions=[TokenRecord.revoked_at.set(at)],
                condition=TokenRecord.revoked_at.does_not_exist() & (TokenRecord.tenant_id == tenant_id),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            return False  # revoked concurrently
        return True
