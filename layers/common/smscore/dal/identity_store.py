"""PynamoDB lookups the authorizer needs: token -> member -> terms."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger
from pynamodb.connection import Connection
from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactGet

from smscore.dal.tables import MemberRecord, SettingRecord, TokenRecord
from smscore.domain.auth import Scope, TokenOwner

logger = Logger(child=True)

TERMS_SETTING = "terms"


def _owner(token: TokenRecord, member: MemberRecord) -> TokenOwner:
    return TokenOwner(
        tenant_id=token.tenant_id,
        member_id=token.member_id,
        member_active=member.status == "ACTIVE",
        revoked=token.revoked_at is not None,
        accepted_terms_version=member.accepted_terms_version,
        scope=Scope(token.scope or Scope.FULL.value),
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
    )


class DynamoIdentityStore:
    def __init__(self) -> None:
        self._connection: Connection | None = None

    def fresh_owner_and_terms(self, token_hash: str, member_id: str) -> tuple[TokenOwner | None, str | None]:
        """Token, member and terms in one TransactGetItems: one call, a consistent snapshot of the three."""
        if self._connection is None:  # the models are bound to their tables (and endpoint) by then
            self._connection = Connection(region=TokenRecord.Meta.region, host=TokenRecord.Meta.host)
        with TransactGet(connection=self._connection) as read:
            token_future = read.get(TokenRecord, token_hash)
            member_future = read.get(MemberRecord, member_id)
            terms_future = read.get(SettingRecord, TERMS_SETTING)
        try:
            terms: str | None = terms_future.get().value
        except SettingRecord.DoesNotExist:
            terms = None
        try:
            token, member = token_future.get(), member_future.get()
        except (TokenRecord.DoesNotExist, MemberRecord.DoesNotExist):
            return None, terms
        if token.member_id != member.member_id:
            return None, terms
        return _owner(token, member), terms

    def token_owner(self, token_hash: str) -> TokenOwner | None:
        try:
            token = TokenRecord.get(token_hash)
        except TokenRecord.DoesNotExist:
            return None
        try:
            member = MemberRecord.get(token.member_id)
        except MemberRecord.DoesNotExist:
            return None
        return _owner(token, member)

    def mark_used(self, token_hash: str, hour: datetime) -> None:
        """One conditional UpdateItem: only moves `last_used_at` forward, so concurrent authorizers write it once."""
        try:
            TokenRecord(token_hash).update(
                actions=[TokenRecord.last_used_at.set(hour)],
                condition=TokenRecord.token_hash.exists()
                & (TokenRecord.last_used_at.does_not_exist() | (TokenRecord.last_used_at < hour)),
            )
        except UpdateError as exc:
            # Recorded already (ConditionalCheckFailed), or throttled: a later call records it; access is not refused.
            logger.info("Last use not recorded", extra={"reason": exc.cause_response_code})

    def current_terms_version(self) -> str | None:
        try:
            return SettingRecord.get(TERMS_SETTING).value
        except SettingRecord.DoesNotExist:
            return None
