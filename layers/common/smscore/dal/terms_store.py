"""Terms acceptance on DynamoDB: the member's accepted version and its audit entry in one transaction."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from smscore.dal.identity_store import TERMS_SETTING
from smscore.dal.tables import MemberRecord, SettingRecord, TermsAcceptanceRecord
from smscore.domain.terms import Acceptance

logger = Logger(child=True)


class DynamoTermsStore:
    def __init__(self, connection: Connection | None = None) -> None:
        self._connection = connection

    def current_terms_version(self) -> str | None:
        try:
            return SettingRecord.get(TERMS_SETTING, consistent_read=True).value
        except SettingRecord.DoesNotExist:
            return None

    def accepted(self, member_id: str) -> tuple[str, str | None, datetime | None] | None:
        try:
            member = MemberRecord.get(member_id, consistent_read=True)
        except MemberRecord.DoesNotExist:
            return None
        if member.status != "ACTIVE":
            return None
        return member.tenant_id, member.accepted_terms_version, member.accepted_terms_at

    def accept(self, acceptance: Acceptance) -> bool:
        if self._connection is None:  # the models are bound to their tables (and endpoint) by then
            self._connection = Connection(region=MemberRecord.Meta.region, host=MemberRecord.Meta.host)
        entry = TermsAcceptanceRecord(
            TermsAcceptanceRecord.key_for(acceptance.member_id, acceptance.version, acceptance.accepted_at),
            accepted_by=acceptance.member_id,
            tenant=acceptance.tenant_id,
            version=acceptance.version,
            accepted_at=acceptance.accepted_at,
            source=acceptance.source,
        )
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.update(
                    MemberRecord(acceptance.member_id),
                    actions=[
                        MemberRecord.accepted_terms_version.set(acceptance.version),
                        MemberRecord.accepted_terms_at.set(acceptance.accepted_at),
                    ],
                    condition=(MemberRecord.tenant_id == acceptance.tenant_id)
                    & (MemberRecord.status == "ACTIVE")
                    & (
                        MemberRecord.accepted_terms_version.does_not_exist()
                        | (MemberRecord.accepted_terms_version != acceptance.version)
                    ),
                )
                tx.save(entry, condition=TermsAcceptanceRecord.key.does_not_exist())
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            return False
        logger.info(
            "Terms accepted",
            extra={"member_id": acceptance.member_id, "version": acceptance.version, "source": acceptance.source},
        )
        return True
