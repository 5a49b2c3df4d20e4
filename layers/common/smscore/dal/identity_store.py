"""PynamoDB lookups the authorizer needs: token -> member -> terms."""

from __future__ import annotations

from smscore.dal.tables import MemberRecord, SettingRecord, TokenRecord
from smscore.domain.auth import TokenOwner

TERMS_SETTING = "terms"


class DynamoIdentityStore:
    def token_owner(self, token_hash: str) -> TokenOwner | None:
        try:
            token = TokenRecord.get(token_hash)
        except TokenRecord.DoesNotExist:
            return None
        try:
            member = MemberRecord.get(token.member_id)
        except MemberRecord.DoesNotExist:
            return None
        return TokenOwner(
            tenant_id=token.tenant_id,
            member_id=token.member_id,
            member_active=member.status == "ACTIVE",
            revoked=token.revoked_at is not None,
            accepted_terms_version=member.accepted_terms_version,
        )

    def current_terms_version(self) -> str | None:
        try:
            return SettingRecord.get(TERMS_SETTING).value
        except SettingRecord.DoesNotExist:
            return None
