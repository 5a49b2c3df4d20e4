"""Administrative writes (tenants, members, tokens, terms, credits, tags, contacts) used by smsctl and the seed.

Not part of the Lambda layer: no function creates tenants or tokens, so this stays with the dev tooling.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from smscore.dal.contact_store import DynamoContactStore, search_words
from smscore.dal.identity_store import TERMS_SETTING
from smscore.dal.tables import (
    ContactRecord,
    ContactSearchRecord,
    LedgerRecord,
    MemberRecord,
    OutboxRecord,
    SettingRecord,
    TagMemberRecord,
    TagRecord,
    TenantRecord,
    TokenRecord,
    ledger_entry_id,
)
from smscore.domain.auth import IssuedToken, issue_token
from smscore.domain.contacts import contact_number, tag_name_key
from smscore.domain.errors import InvalidRequest, NotFound
from smscore.domain.model import LedgerKind


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewMember:
    member_id: str
    tenant_id: str
    email: str
    token: IssuedToken
    accepted_terms_version: str | None


@dataclass
class ContactInput:
    phone: str
    name: str | None = None
    tag_names: list[str] = field(default_factory=list)
    opted_out: bool = False


class DynamoAdminStore:
    def __init__(self, region: str, host: str | None = None, connection: Connection | None = None) -> None:
        """`connection` carries explicit credentials (smsctl's local target); by default the normal chain."""
        self._connection = connection or Connection(region=region, host=host)

    # ------------------------------------------------------------------ tenants and credits
    def create_tenant(self, name: str, credits: int, default_country: str | None = None) -> str:
        if credits < 0:
            raise InvalidRequest("credits must be zero or more")
        tenant_id = str(uuid.uuid4())
        now = _now()
        with TransactWrite(connection=self._connection) as tx:
            tx.save(
                TenantRecord(tenant_id, name=name, credits=credits, default_country=default_country, created_at=now),
                condition=TenantRecord.tenant_id.does_not_exist(),
            )
            if credits:
                tx.save(self._ledger(tenant_id, LedgerKind.TOPUP, credits, now, reason="opening balance"))
        return tenant_id

    def tenant(self, tenant_id: str) -> TenantRecord:
        try:
            return TenantRecord.get(tenant_id, consistent_read=True)
        except TenantRecord.DoesNotExist as exc:
            raise NotFound(f"No tenant {tenant_id}") from exc

    @staticmethod
    def _ledger(tenant_id: str, kind: LedgerKind, amount: int, at: datetime, reason: str) -> LedgerRecord:
        return LedgerRecord(
            tenant_id, ledger_entry_id(at), kind=kind.value, amount=amount, reason=reason, created_at=at
        )

    def add_credits(self, tenant_id: str, amount: int) -> int:
        if amount <= 0:
            raise InvalidRequest("amount must be a positive whole number of credits")
        self.tenant(tenant_id)
        now = _now()
        with TransactWrite(connection=self._connection) as tx:
            tx.update(
                TenantRecord(tenant_id),
                actions=[TenantRecord.credits.add(amount)],
                condition=TenantRecord.tenant_id.exists(),
            )
            tx.save(self._ledger(tenant_id, LedgerKind.TOPUP, amount, now, reason="top-up"))
        return int(self.tenant(tenant_id).credits)

    def ledger(self, tenant_id: str) -> list[LedgerRecord]:
        return list(LedgerRecord.query(tenant_id, consistent_read=True))

    # ------------------------------------------------------------------ members, tokens, terms
    def current_terms_version(self) -> str | None:
        try:
            return str(SettingRecord.get(TERMS_SETTING, consistent_read=True).value)
        except SettingRecord.DoesNotExist:
            return None

    def publish_terms(self, version: str) -> str:
        if not version.strip():
            raise InvalidRequest("version must not be blank")
        SettingRecord(TERMS_SETTING, value=version.strip(), updated_at=_now()).save()
        return version.strip()

    def create_member(self, tenant_id: str, email: str, accept_terms: bool = False, admin: bool = False) -> NewMember:
        self.tenant(tenant_id)
        email = email.strip().lower()
        if "@" not in email:
            raise InvalidRequest(f"{email!r} is not an email address")
        if any(MemberRecord.by_tenant_email.query(tenant_id, MemberRecord.email == email)):
            raise InvalidRequest(f"{email} is already a member of this tenant")
        member_id = str(uuid.uuid4())
        now = _now()
        accepted = self.current_terms_version() if accept_terms else None
        MemberRecord(
            member_id,
            tenant_id=tenant_id,
            email=email,
            accepted_terms_version=accepted,
            accepted_terms_at=now if accept_terms else None,
            role="admin" if admin else None,
            created_at=now,
        ).save()
        token = self.issue_token(member_id)
        return NewMember(member_id, tenant_id, email, token, accepted)

    def issue_token(self, member_id: str) -> IssuedToken:
        try:
            member = MemberRecord.get(member_id)
        except MemberRecord.DoesNotExist as exc:
            raise NotFound(f"No member {member_id}") from exc
        issued = issue_token()
        TokenRecord(
            issued.token_hash,
            prefix=issued.prefix,
            member_id=member_id,
            tenant_id=member.tenant_id,
            created_at=_now(),
        ).save(condition=TokenRecord.token_hash.does_not_exist())
        return issued

    def set_role(self, member_id: str, role: str) -> str:
        """admin: manages every API key of the tenant; member: only their own (smscore.domain.api_keys)."""
        try:
            member = MemberRecord.get(member_id)
        except MemberRecord.DoesNotExist as exc:
            raise NotFound(f"No member {member_id}") from exc
        member.update(actions=[MemberRecord.role.set(role)])
        return role

    def accept_terms(self, member_id: str) -> str | None:
        """The current terms accepted for the member, audited like POST /api/me/terms (source smsctl)."""
        from smscore.api.terms import TermsApi
        from smscore.dal.terms_store import DynamoTermsStore

        try:
            member = MemberRecord.get(member_id)
        except MemberRecord.DoesNotExist as exc:
            raise NotFound(f"No member {member_id}") from exc
        if self.current_terms_version() is None:  # nothing to accept: recorded as such, as before
            member.update(
                actions=[
                    MemberRecord.accepted_terms_version.set("none published"),
                    MemberRecord.accepted_terms_at.set(_now()),
                ]
            )
            return "none published"
        accepted = TermsApi(DynamoTermsStore(self._connection)).accept(member.tenant_id, member_id, source="smsctl")
        return accepted.accepted_terms_version

    def revoke_token(self, prefix: str) -> int:
        revoked = 0
        for token in TokenRecord.by_prefix.query(prefix):
            if token.revoked_at is None:
                token.update(actions=[TokenRecord.revoked_at.set(_now())])
                revoked += 1
        if not revoked:
            raise NotFound(f"No active token with prefix {prefix}")
        return revoked

    # ------------------------------------------------------------------ tags and contacts
    def contact_store(self) -> DynamoContactStore:
        """The contacts API's store on the same endpoint (imports, race-safe tags)."""
        return DynamoContactStore(
            region=self._connection.region, host=self._connection.host, connection=self._connection
        )

    def ensure_tag(self, tenant_id: str, name: str) -> str:
        key = tag_name_key(name)
        if not key:
            raise InvalidRequest("tag name must not be blank")
        # The contacts API's race-safe path (name guard + tag in one transaction), so names stay unique.
        return str(self.contact_store().ensure_tags(tenant_id, [name.strip()], _now())[key])

    def tags(self, tenant_id: str) -> list[TagRecord]:
        return sorted(TagRecord.query(tenant_id), key=lambda t: t.name_key)

    def tag_member_count(self, tenant_id: str, tag_id: str) -> int:
        """Contacts carrying a tag: a Query with Select=COUNT on the membership partition (no items returned)."""
        return int(TagMemberRecord.count(TagMemberRecord.key_for(tenant_id, tag_id)))

    def add_contacts(
        self, tenant_id: str, contacts: Sequence[ContactInput], tag_ids: dict[str, str] | None = None
    ) -> list[str]:
        """Write contacts and their tag memberships with batch writes; tag names are created on first use.

        `tag_ids` (case-folded name -> id) lets a caller importing in chunks resolve each name once; it is
        filled in place. Callers writing from several threads must resolve the names first (see ensure_tag).
        """
        if tag_ids is None:
            tag_ids = {}
        now = _now()
        country = self.tenant(tenant_id).default_country
        contact_records: list[ContactRecord] = []
        memberships: list[TagMemberRecord] = []
        for contact in contacts:
            contact_id = str(uuid.uuid4())
            ids = []
            for tag_name in contact.tag_names:
                key = tag_name_key(tag_name)
                if key not in tag_ids:
                    tag_ids[key] = self.ensure_tag(tenant_id, tag_name)
                ids.append(tag_ids[key])
            number = contact_number(contact.phone, country)
            contact_records.append(
                ContactRecord(
                    tenant_id,
                    contact_id,
                    phone=contact.phone,
                    e164=number.e164 if number else None,
                    search_text=f"{(contact.name or '').casefold()} {number.e164 if number else contact.phone}",
                    name=contact.name,
                    opted_out=contact.opted_out,
                    tag_ids=set(ids) or None,
                    created_at=now,
                )
            )
            memberships.extend(
                TagMemberRecord(
                    TagMemberRecord.key_for(tenant_id, tag_id),
                    contact_id,
                    phone=contact.phone,
                    opted_out=contact.opted_out,
                    contact_name=contact.name or "",
                )
                for tag_id in dict.fromkeys(ids)
            )
        self._batch_save(contact_records)
        self._batch_save(memberships)
        self._batch_save(  # the words they are found by (GET /api/contacts?q=)
            [
                ContactSearchRecord.item(tenant_id, word, record.contact_id, words)
                for record in contact_records
                for words in [search_words(record.name, record.e164 or record.phone)]
                for word in words
            ]
        )
        for tag_id, count in Counter(m.tag_key.split("#", 1)[1] for m in memberships).items():
            TagRecord(tenant_id, tag_id).update(actions=[TagRecord.contact_count.add(count)])  # GET /api/tags
        return [c.contact_id for c in contact_records]

    def clear_keyword_flags(self) -> int:
        """Clear the opt-out flags the keyword handler used to write on every tenant's contacts (consent source
        "keyword"), with their membership copies, so that a keyword reaches a tenant only through the suppression
        of the sender it sends through (smscore.domain.consent). The keywords stay in the Suppressions table. A
        Scan of the Contacts table: a one-off migration from smsctl, never a request path. Safe to run again."""
        store = self.contact_store()
        flagged = (ContactRecord.opted_out == True) & (ContactRecord.consent_source == "keyword")  # noqa: E712
        cleared = 0
        for record in ContactRecord.scan(flagged, attributes_to_get=["tenant_id", "contact_id"]):
            try:
                store.set_opted_out(record.tenant_id, record.contact_id, False, "keyword", _now())
            except NotFound:
                continue  # deleted meanwhile
            cleared += 1
        return cleared

    # ------------------------------------------------------------------ sandbox outbox
    def recent_outbox(self, limit: int, recipient: str | None = None) -> list[OutboxRecord]:
        """What the sandbox provider sent (to `recipient`, an E.164 number, when given), newest first.

        A Scan: the Outbox table only exists for the sandbox provider on dev stacks and this is an admin
        read, never a request path.
        """
        condition = OutboxRecord.recipient == recipient if recipient is not None else None
        records = list(OutboxRecord.scan(condition))
        records.sort(key=lambda r: r.sent_at, reverse=True)
        return records[:limit]

    @staticmethod
    def _batch_save(
        records: Iterable[ContactRecord] | Iterable[TagMemberRecord] | Iterable[ContactSearchRecord],
    ) -> None:
        items = list(records)
        if not items:
            return
        with type(items[0]).batch_write() as batch:
            for item in items:
                batch.save(item)
