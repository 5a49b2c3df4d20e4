"""Tags, contacts, imports, the campaign list and credits at the HTTP edge: request/response models and use cases.

Everything is scoped to the caller's tenant: another tenant's tag, contact or import job answers exactly like
one that does not exist (404 NOT_FOUND), and every list cursor is bound to the tenant and filters that made it
(smscore.api.pagination).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from smscore.api.errors import PayloadTooLarge, UnsupportedMediaType
from smscore.api.middlewares import check_json_body, refusal_response
from smscore.api.models import QueueStatusDto
from smscore.api.pagination import decode_cursor, encode_cursor, filters_fingerprint
from smscore.domain.consent import Consent, ConsentReader, ConsentState, OptOutReason, consent_of
from smscore.domain.consent_records import (
    MAX_EVIDENCE,
    ConsentOrigin,
    ConsentStatus,
    MarketingConsent,
    parse_consent,
)
from smscore.domain.contacts import (
    MAX_NAME_LENGTH,
    MAX_TAG_NAME_LENGTH,
    MAX_TAGS_PER_CONTACT,
    ConsentSource,
    Contact,
    ContactChange,
    ContactFilters,
    ContactNumber,
    ContactStore,
    CsvFileError,
    FileProblem,
    ImportJob,
    ImportReport,
    ImportStatus,
    Tag,
    checked_csv_lines,
    clean_contact_name,
    clean_field_value,
    clean_tag_name,
    import_contacts,
    merge_tag,
    require_contact_number,
    set_consent,
)
from smscore.domain.errors import (
    ContactExists,
    DomainError,
    FieldIssue,
    InvalidCharacter,
    InvalidRequest,
    NotFound,
    TenantNotFound,
    UnknownMergeField,
)
from smscore.domain.personalize import BUILT_IN_FIELDS, MAX_CUSTOM_FIELDS, checked_field_names
from smscore.domain.search import SHARD_CHARS, search_query
from smscore.domain.views import DispatchView

if TYPE_CHECKING:
    from smscore.dal.tables import LedgerRecord

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
MAX_PHONE_LENGTH = 32
MAX_QUERY_LENGTH = 64


class _Dto(BaseModel):
    """camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        defer_build=True, alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


class _Request(_Dto):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="ignore")


def _cleaned[T](clean: Callable[[str], T], value: str) -> T:
    """A name cleaned by the domain's rule inside a model's validator.

    InvalidCharacter is not a ValueError, so pydantic lets it through to the error handler: 400 INVALID_CHARACTER
    with `codePoint` and `position`. Every other refusal is a field error: 400 VALIDATION_ERROR.
    """
    try:
        return clean(value)
    except InvalidCharacter:
        raise
    except InvalidRequest as exc:
        raise ValueError(exc.details[0].message) from exc


def _country(value: str | None) -> str | None:
    if value is None:
        return None
    from smscore.domain.phone import is_supported_country

    if len(value) != 2 or not value.isalpha() or not is_supported_country(value):
        raise ValueError("country must be an ISO 3166-1 alpha-2 code, such as CO")
    return value.upper()


# ---------------------------------------------------------------------------------------------- models


class TagDto(_Dto):
    id: str
    name: str
    contact_count: int = Field(description="Contacts carrying the tag (a counter moved with every membership change)")
    created_at: datetime


class TagPageDto(_Dto):
    items: list[TagDto]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null on the last")


class TagNameRequest(_Request):
    """POST /api/tags and PATCH /api/tags/{tagId}."""

    name: Annotated[str, Field(min_length=1, max_length=MAX_TAG_NAME_LENGTH, description="Unique per tenant, any case")]

    @field_validator("name")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _cleaned(clean_tag_name, value)


class TagMergeRequest(_Request):
    """POST /api/tags/{tagId}/merge."""

    into: UUID = Field(description="The tag the merged tag's contacts get instead; the merged tag is then deleted")


class TagMergeDto(_Dto):
    into: TagDto = Field(description="The remaining tag, with its contact count after the merge")
    moved: int = Field(description="Contacts that carried the merged tag")


class OptOutCauseDto(_Dto):
    reason: OptOutReason = Field(
        description="TENANT_OPT_OUT: opted out by the tenant (API, UI); KEYWORD: the number replied an opt-out keyword "
        "(STOP, BAJA...) to a sender this tenant sends through"
    )
    sender: str | None = Field(default=None, description="KEYWORD: the sender it replied to, e.g. twilio:+15550001111")
    keyword: str | None = Field(default=None, description="KEYWORD: the keyword, as configured")
    at: datetime | None = None


class ConsentDto(_Dto):
    state: ConsentState
    reasons: list[OptOutCauseDto] = Field(description="Why every send skips the contact; empty when SUBSCRIBED")


class MarketingConsentDto(_Dto):
    """A marketing consent record (Ley 1581 de 2012): what the contact agreed to, how and when, and the proof."""

    status: ConsentStatus = Field(description="granted or revoked")
    source: ConsentOrigin = Field(description="import, api, ui, keyword or link")
    at: datetime = Field(description="When the consent was given or revoked")
    evidence: str | None = Field(default=None, description="Free text, at most 500 characters: the proof")


class MarketingConsentRequest(_Request):
    """A consent change: `source` defaults to api, `at` to now."""

    status: Annotated[str, Field(max_length=20, description="granted or revoked")]
    source: Annotated[str, Field(max_length=20, description="import, api, ui, keyword or link")] = "api"
    at: datetime | None = Field(default=None, description="When it was given or revoked; not in the future")
    evidence: Annotated[str | None, Field(max_length=MAX_EVIDENCE)] = None


def marketing_consent_dto(consent: MarketingConsent | None) -> MarketingConsentDto | None:
    if consent is None:
        return None
    return MarketingConsentDto(status=consent.status, source=consent.source, at=consent.at, evidence=consent.evidence)


class ContactDto(_Dto):
    id: str
    phone: str = Field(description="E.164")
    name: str | None = None
    opted_out: bool = Field(description="Every send skips it: consent.state is OPTED_OUT")
    opted_out_at: datetime | None = None
    tag_ids: list[str]
    created_at: datetime
    updated_at: datetime | None = None
    consent: ConsentDto
    fields: dict[str, str] = Field(
        default_factory=dict, description="Custom merge fields (declared with PUT /api/contacts/fields) -> value"
    )
    marketing_consent: MarketingConsentDto | None = Field(
        default=None, description="The latest marketing consent record; null: none recorded (consentRequired skips it)"
    )


class ContactPageDto(_Dto):
    items: list[ContactDto]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last. A filtered page may be short."
    )


TagIdList = Annotated[list[UUID], Field(max_length=MAX_TAGS_PER_CONTACT)]
FieldValues = Annotated[
    dict[str, Annotated[str, Field(max_length=MAX_NAME_LENGTH)]], Field(max_length=MAX_CUSTOM_FIELDS)
]
PatchFieldValues = Annotated[
    dict[str, Annotated[str | None, Field(max_length=MAX_NAME_LENGTH)]], Field(max_length=MAX_CUSTOM_FIELDS)
]


class MergeFieldDto(_Dto):
    name: str = Field(description="A lower-case letter, then a-z, 0-9 or _, at most 30; used as {name} in a message")


class MergeFieldsDto(_Dto):
    """GET/PUT /api/contacts/fields: the tenant's custom merge fields."""

    fields: list[MergeFieldDto]
    built_in: list[str] = Field(
        default_factory=lambda: sorted(BUILT_IN_FIELDS), description="Always available: the contact's name"
    )
    max_fields: int = MAX_CUSTOM_FIELDS


class MergeFieldsRequest(_Request):
    """PUT /api/contacts/fields: the whole list (fields left out are no longer usable in messages)."""

    fields: Annotated[list[MergeFieldDto], Field(max_length=MAX_CUSTOM_FIELDS)]


class ContactRequest(_Request):
    """POST /api/contacts (create) and PUT /api/contacts (create or merge)."""

    phone: Annotated[str, Field(min_length=1, max_length=MAX_PHONE_LENGTH, description="E.164, or national")]
    name: Annotated[str | None, Field(max_length=MAX_NAME_LENGTH)] = None
    tag_ids: TagIdList = Field(default_factory=list)
    country: str | None = Field(
        default=None, description="ISO 3166-1 alpha-2 code to read a national number; default: the tenant's"
    )
    fields: FieldValues | None = Field(
        default=None,
        description="Custom merge fields -> value; each must be declared (PUT /api/contacts/fields), else 400 "
        "UNKNOWN_MERGE_FIELD. A merge sets the fields given and keeps the others",
    )
    marketing_consent: MarketingConsentRequest | None = Field(
        default=None, description="The contact's marketing consent record (a merge records it too), kept in its history"
    )

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        return _country(value)

    @field_validator("name")
    @classmethod
    def _trim(cls, value: str | None) -> str | None:
        return _cleaned(clean_contact_name, value) if value is not None else None


class ContactPatchRequest(_Request):
    """PATCH /api/contacts/{contactId}: only the fields present change; `"name": null` clears the name."""

    name: Annotated[str | None, Field(max_length=MAX_NAME_LENGTH)] = None
    add_tag_ids: TagIdList = Field(default_factory=list)
    remove_tag_ids: TagIdList = Field(default_factory=list)
    opted_out: bool | None = Field(
        default=None, description="true: opt out (no SMS is sent to it any more), false: opt back in"
    )
    fields: PatchFieldValues | None = Field(
        default=None, description="Custom merge fields to set (a value) or remove (null); the others are kept"
    )
    marketing_consent: MarketingConsentRequest | None = Field(
        default=None, description="A marketing consent change, appended to the contact's consent history"
    )

    @field_validator("name")
    @classmethod
    def _trim(cls, value: str | None) -> str | None:
        return _cleaned(clean_contact_name, value) if value is not None else None


class RejectedRowDto(_Dto):
    line: int
    reason: str
    content: str | None = Field(
        default=None, description="The rejected row as the file had it (cells joined by its separator)"
    )
    code: str | None = Field(
        default=None,
        description="Why, as a stable code: COLUMNS, PHONE_MISSING, PHONE_INVALID, NAME, TAGS, TOO_MANY_TAGS, NOT_CSV",
    )


class ImportJobDto(_Dto):
    id: str
    status: ImportStatus
    source: Literal["body", "upload"]
    created_at: datetime
    updated_at: datetime
    rows_processed: int = Field(description="Data rows read so far (imported + rejected)")
    imported: int = Field(description="Valid rows written")
    created: int = Field(description="New contacts")
    updated: int = Field(description="Existing contacts given new tags or a new name")
    unchanged: int = Field(description="Existing contacts the row added nothing to")
    rejected: int
    warned: int
    rejected_rows: list[RejectedRowDto] = Field(description="The first 100 rejected rows")
    warnings: list[RejectedRowDto] = Field(description="The first 100 rows imported with a warning (not_mobile)")
    error: str | None = None
    error_code: str | None = Field(
        default=None,
        description="Why a FAILED job's file was refused whole: ENCODING, NOT_TEXT, EMPTY, HEADER, UNCLOSED_QUOTE, "
        "FIELD_TOO_LARGE, TOO_LARGE",
    )


class ImportUploadDto(_Dto):
    job: ImportJobDto
    upload_url: str = Field(description="PUT the CSV file here (Content-Type: text/csv) before expiresAt")
    method: Literal["PUT"] = "PUT"
    expires_at: datetime


class CampaignPageDto(_Dto):
    items: list[QueueStatusDto]
    next_cursor: str | None = None


class LedgerEntryDto(_Dto):
    id: str
    kind: Literal["TOPUP", "DEBIT", "REFUND"]
    amount: int = Field(description="Credits: positive for top-ups and refunds, negative for debits")
    queue_id: str | None = None
    reason: str | None = None
    created_at: datetime


class SessionDto(_Dto):
    """GET /api/me: who the token belongs to, what it may do, and the balance (the admin UI's header)."""

    tenant_id: str
    tenant_name: str
    member_id: str
    access: Literal["FULL", "READ_ONLY"] = Field(
        description="READ_ONLY: the member has not accepted the current terms, so only GET routes are allowed"
    )
    balance: int = Field(description="Current credits")
    country: str | None = Field(
        default=None, description="The tenant's default country (ISO 3166-1 alpha-2): national numbers are read in it"
    )
    credit_price_cop: str | None = Field(
        default=None,
        description='What one credit costs in Colombian pesos, a decimal string (e.g. "13.5"), set by the operator '
        "(smsctl tenant credit-price); null: not set",
    )


class CreditsDto(_Dto):
    balance: int = Field(description="Current credits; always the sum of the whole ledger")
    entries: list[LedgerEntryDto] = Field(description="Ledger entries, newest first")
    next_cursor: str | None = None


def tag_dto(tag: Tag) -> TagDto:
    return TagDto(id=tag.tag_id, name=tag.name, contact_count=tag.contact_count, created_at=tag.created_at)


def contact_dto(contact: Contact, consent: Consent | None = None) -> ContactDto:
    """The contact as shown: `consent` derived from its own flag and its senders' keyword opt-outs
    (smscore.domain.consent); without one, from its own flag only."""
    consent = consent or consent_of(contact)
    return ContactDto(
        id=contact.contact_id,
        phone=contact.phone,
        name=contact.name,
        opted_out=consent.opted_out,
        opted_out_at=consent.opted_out_at,
        tag_ids=sorted(contact.tag_ids),
        created_at=contact.created_at,
        updated_at=contact.updated_at,
        fields=dict(contact.fields),
        marketing_consent=marketing_consent_dto(contact.marketing_consent),
        consent=ConsentDto(
            state=consent.state,
            reasons=[
                OptOutCauseDto(reason=c.reason, sender=c.sender, keyword=c.keyword, at=c.at) for c in consent.causes
            ],
        ),
    )


def job_dto(job: ImportJob) -> ImportJobDto:
    report = job.report
    return ImportJobDto(
        id=job.job_id,
        status=job.status,
        source="upload" if job.source == "upload" else "body",
        created_at=job.created_at,
        updated_at=job.updated_at,
        rows_processed=report.rows_processed,
        imported=report.imported,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected=report.rejected,
        warned=report.warned,
        rejected_rows=[
            RejectedRowDto(line=r.line, reason=r.reason, content=r.content, code=r.code) for r in report.rejected_rows
        ],
        warnings=[RejectedRowDto(line=r.line, reason=r.reason) for r in report.warnings],
        error=job.error,
        error_code=job.error_code,
    )


def ledger_dto(record: LedgerRecord) -> LedgerEntryDto:
    return LedgerEntryDto(
        id=record.entry_id,
        kind=record.kind,
        amount=int(record.amount),
        queue_id=record.queue_id,
        reason=record.reason,
        created_at=record.created_at,
    )


# ---------------------------------------------------------------------------------------------- ports


class ImportJobs(Protocol):
    def create_job(
        self,
        tenant_id: str,
        job_id: str,
        *,
        member_id: str,
        source: str,
        status: ImportStatus,
        at: datetime,
        object_key: str | None = None,
    ) -> ImportJob: ...

    def get_job(self, tenant_id: str, job_id: str) -> ImportJob | None: ...

    def claim_job(self, tenant_id: str, job_id: str, at: datetime) -> bool: ...

    def save_progress(
        self,
        tenant_id: str,
        job_id: str,
        report: ImportReport,
        at: datetime,
        status: ImportStatus | None = None,
        error: str | None = None,
        error_code: str | None = None,
    ) -> None: ...

    def tenant_country(self, tenant_id: str) -> str | None: ...


class ContactsStorePort(ContactStore, ImportJobs, Protocol):
    """What the contacts function needs from storage (DynamoContactStore)."""


class Uploads(Protocol):
    """Where large CSV files are uploaded (the imports bucket)."""

    def presigned_put(self, key: str, expires_in: int) -> str: ...

    def size(self, key: str) -> int: ...

    def chunks(self, key: str) -> Iterable[bytes]:
        """The file's bytes, streamed in chunks (a 100,000-row file is never held whole)."""
        ...


class AccountQueries(Protocol):
    def campaigns(
        self, tenant_id: str, limit: int, start_key: dict[str, str | int] | None
    ) -> tuple[list[DispatchView], dict[str, str | int] | None]: ...

    def balance(self, tenant_id: str) -> int | None: ...

    def tenant_summary(self, tenant_id: str) -> tuple[str, int, str | None, str | None] | None:
        """(name, balance, default country, credit price in pesos) of the tenant; None when it no longer exists."""
        ...

    def ledger(
        self, tenant_id: str, limit: int, start_key: dict[str, str | int] | None
    ) -> tuple[list[LedgerRecord], dict[str, str | int] | None]: ...


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    member_id: str


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------- use cases

UPLOAD_PREFIX = "uploads/"


def upload_key(tenant_id: str, job_id: str) -> str:
    return f"{UPLOAD_PREFIX}{tenant_id}/{job_id}.csv"


def parse_upload_key(key: str) -> tuple[str, str] | None:
    """(tenant id, job id) of an upload key; None for anything we did not hand out."""
    if not key.startswith(UPLOAD_PREFIX) or not key.endswith(".csv"):
        return None
    parts = key[len(UPLOAD_PREFIX) : -len(".csv")].split("/")
    if len(parts) != 2:
        return None
    try:
        return str(UUID(parts[0])), str(UUID(parts[1]))
    except ValueError:
        return None


def renamed_field(error: DomainError, stored: str, sent: str) -> DomainError:
    """`error` with the field `stored` (the name a shared store path uses) reported as `sent` (the client's)."""
    error.details = [FieldIssue(sent, d.message) if d.field == stored else d for d in error.details]
    error.message = error.message.replace(f": {stored}: ", f": {sent}: ")
    error.args = (error.message,)
    return error


class ContactsApi:
    """The use cases behind the contacts function's routes."""

    def __init__(
        self,
        store: ContactsStorePort,
        accounts: AccountQueries,
        uploads: Uploads | None = None,
        *,
        upload_ttl_seconds: int = 900,
        max_upload_bytes: int = 50 * 1024 * 1024,
        import_workers: int = 4,
        clock: Callable[[], datetime] = _now,
        consent: ConsentReader | None = None,
    ) -> None:
        self._store = store
        self._consent = consent  # None: a contact shows its own flag only (no suppression list)
        self._accounts = accounts
        self._uploads = uploads
        self._upload_ttl = upload_ttl_seconds
        self._max_upload_bytes = max_upload_bytes
        self._import_workers = import_workers
        self._clock = clock

    # -- tags
    def list_tags(self, tenant_id: str, limit: int, cursor: str | None) -> TagPageDto:
        fingerprint = filters_fingerprint("tags:by_name")
        start = (
            decode_cursor(
                cursor,
                tenant_id,
                fingerprint,
                key_attributes={"tenant_id", "tag_id", "name_key"},
                partition={"tenant_id": tenant_id},
            )
            if cursor
            else None
        )
        tags, next_key = self._store.list_tags(tenant_id, limit, start)
        return TagPageDto(
            items=[tag_dto(t) for t in tags],
            next_cursor=encode_cursor(tenant_id, fingerprint, next_key) if next_key else None,
        )

    def create_tag(self, tenant_id: str, request: TagNameRequest) -> TagDto:
        return tag_dto(self._store.create_tag(tenant_id, request.name, self._clock()))

    def get_tag(self, tenant_id: str, tag_id: str) -> TagDto:
        tag = self._store.get_tag(tenant_id, tag_id)
        if tag is None:
            raise NotFound("No tag with this id")
        return tag_dto(tag)

    def rename_tag(self, tenant_id: str, tag_id: str, request: TagNameRequest) -> TagDto:
        return tag_dto(self._store.rename_tag(tenant_id, tag_id, request.name, self._clock()))

    def delete_tag(self, tenant_id: str, tag_id: str) -> None:
        if not self._store.delete_tag(tenant_id, tag_id):
            raise NotFound("No tag with this id")

    def merge_tag(self, tenant_id: str, tag_id: str, request: TagMergeRequest) -> TagMergeDto:
        merged = merge_tag(self._store, tenant_id, tag_id, str(request.into), self._clock())
        return TagMergeDto(into=tag_dto(merged.into), moved=merged.moved)

    # -- contacts
    def _dtos(self, tenant_id: str, contacts: list[Contact]) -> list[ContactDto]:
        consents = self._consent.consents(tenant_id, contacts) if self._consent else {}
        return [contact_dto(c, consents.get(c.contact_id)) for c in contacts]

    def _dto(self, tenant_id: str, contact: Contact) -> ContactDto:
        return self._dtos(tenant_id, [contact])[0]

    def _number(self, tenant_id: str, raw: str, country: str | None, field_name: str = "phone") -> ContactNumber:
        return require_contact_number(raw, country or self._store.tenant_country(tenant_id), field_name)

    def list_contacts(
        self,
        tenant_id: str,
        *,
        tag_id: str | None,
        phone: str | None,
        q: str | None,
        opted_out: bool | None,
        limit: int,
        cursor: str | None,
    ) -> ContactPageDto:
        e164 = self._number(tenant_id, phone, None).e164 if phone is not None else None
        text = q.strip() if q is not None and q.strip() else None
        filters = ContactFilters(tag_id=tag_id, e164=e164, text=text, opted_out=opted_out)
        if text is not None and e164 is None:
            return self._search(tenant_id, text, filters, limit, cursor)
        if e164 is not None:
            plan, keys, partition = (
                "by_phone",
                {"tenant_id", "contact_id", "e164"},
                {"tenant_id": tenant_id, "e164": e164},
            )
        elif tag_id is not None:
            plan, keys = "by_tag", {"tag_key", "contact_id"}
            partition = {"tag_key": f"{tenant_id}#{tag_id}"}
        else:
            plan, keys, partition = "by_tenant", {"tenant_id", "contact_id"}, {"tenant_id": tenant_id}
        fingerprint = filters_fingerprint("contacts", plan, tag_id, e164, text, opted_out)
        start = (
            decode_cursor(cursor, tenant_id, fingerprint, key_attributes=keys, partition=partition) if cursor else None
        )
        # optedOut filters the shown (derived) state, after the read: the stored flag is only the tenant's own part.
        contacts, next_key = self._store.list_contacts(tenant_id, replace(filters, opted_out=None), limit, start)
        items = [d for d in self._dtos(tenant_id, contacts) if opted_out is None or d.opted_out == opted_out]
        return ContactPageDto(
            items=items,
            next_cursor=encode_cursor(tenant_id, fingerprint, next_key) if next_key else None,
        )

    def _search(
        self, tenant_id: str, text: str, filters: ContactFilters, limit: int, cursor: str | None
    ) -> ContactPageDto:
        """`q`: the prefix of any word of the name (without case or accents) or of the number's digits, read from
        the search index page by page (smscore.domain.search); `tagId` and `optedOut` filter each page."""
        query = search_query(text)
        if query is None:
            message = f"write at least {SHARD_CHARS} letters or digits"
            raise InvalidRequest(f"Invalid request: q: {message}", details=[FieldIssue("q", message)])
        from smscore.dal.tables import ContactSearchRecord  # PynamoDB only for a search, not at the function's init

        partition = {"tag_key": ContactSearchRecord.key_for(tenant_id, query.prefix)}
        fingerprint = filters_fingerprint("contacts", "search", filters.tag_id, text, filters.opted_out)
        start = (
            decode_cursor(cursor, tenant_id, fingerprint, key_attributes={"tag_key", "contact_id"}, partition=partition)
            if cursor
            else None
        )
        contacts, next_key = self._store.search_contacts(tenant_id, query, filters, limit, start)
        opted_out = filters.opted_out
        items = [d for d in self._dtos(tenant_id, contacts) if opted_out is None or d.opted_out == opted_out]
        return ContactPageDto(
            items=items, next_cursor=encode_cursor(tenant_id, fingerprint, next_key) if next_key else None
        )

    def get_contact(self, tenant_id: str, contact_id: str) -> ContactDto:
        contact = self._store.get_contact(tenant_id, contact_id)
        if contact is None:
            raise NotFound("No contact with this id")
        return self._dto(tenant_id, contact)

    def _field_values(self, tenant_id: str, values: Mapping[str, str | None] | None) -> dict[str, str | None]:
        """Values of declared custom fields, cleaned like names (blank: removed); UnknownMergeField names the first
        undeclared one."""
        if not values:
            return {}
        declared = set(self._store.declared_fields(tenant_id))
        cleaned: dict[str, str | None] = {}
        for name, value in values.items():
            if name not in declared:
                raise UnknownMergeField(
                    f"{name} is not a declared contact field (PUT /api/contacts/fields declares them)",
                    details=[FieldIssue(f"fields.{name}", "not a declared contact field")],
                    field=name,
                )
            cleaned[name] = clean_field_value(value, f"fields.{name}")
        return cleaned

    def get_fields(self, tenant_id: str) -> MergeFieldsDto:
        return MergeFieldsDto(fields=[MergeFieldDto(name=n) for n in self._store.declared_fields(tenant_id)])

    def put_fields(self, tenant_id: str, request: MergeFieldsRequest) -> MergeFieldsDto:
        names = checked_field_names(field.name for field in request.fields)
        self._store.declare_fields(tenant_id, names)
        return MergeFieldsDto(fields=[MergeFieldDto(name=n) for n in names])

    def create_contact(self, tenant_id: str, request: ContactRequest) -> ContactDto:
        number = self._number(tenant_id, request.phone, request.country)
        tag_ids = frozenset(str(t) for t in request.tag_ids)
        values = {k: v for k, v in self._field_values(tenant_id, request.fields).items() if v is not None}
        consent = self._marketing_consent(request.marketing_consent)
        created = self._store.create_contact(tenant_id, number, request.name, tag_ids, self._clock(), values or None)
        if consent is not None:
            created = self._store.set_marketing_consent(tenant_id, created.contact_id, consent, self._clock())
        return self._dto(tenant_id, created)

    def _marketing_consent(self, request: MarketingConsentRequest | None) -> MarketingConsent | None:
        """The body's consent record, checked before anything is written."""
        if request is None:
            return None
        return parse_consent(request.status, request.source, request.at, request.evidence, self._clock())

    def upsert_contact(self, tenant_id: str, request: ContactRequest) -> tuple[bool, ContactDto]:
        """(created, contact): a new number is created; a known one gets the tags added and the name if given."""
        try:
            return True, self.create_contact(tenant_id, request)
        except ContactExists as exists:
            values = self._field_values(tenant_id, request.fields)
            change = ContactChange(
                name=request.name,
                add_tag_ids=frozenset(str(t) for t in request.tag_ids),
                fields=tuple((k, v) for k, v in values.items() if v is not None),
            )
            consent = self._marketing_consent(request.marketing_consent)
            try:
                updated = self._store.update_contact(tenant_id, exists.existing_id, change, self._clock())
            except DomainError as refused:  # the merge adds the body's tagIds: name the field the client sent
                raise renamed_field(refused, "addTagIds", "tagIds") from None
            if consent is not None:
                updated = self._store.set_marketing_consent(tenant_id, exists.existing_id, consent, self._clock())
            return False, self._dto(tenant_id, updated)

    def update_contact(self, caller: Caller, contact_id: str, request: ContactPatchRequest) -> ContactDto:
        tenant_id = caller.tenant_id
        fields = request.model_fields_set
        if self._store.get_contact(tenant_id, contact_id) is None:
            raise NotFound("No contact with this id")
        change = ContactChange(
            name=request.name if "name" in fields else None,
            clear_name="name" in fields and request.name is None,
            add_tag_ids=frozenset(str(t) for t in request.add_tag_ids),
            remove_tag_ids=frozenset(str(t) for t in request.remove_tag_ids),
            fields=tuple(self._field_values(tenant_id, request.fields).items()),
        )
        both = change.add_tag_ids & change.remove_tag_ids
        if both:
            message = "a tag cannot be both added and removed"
            raise InvalidRequest(f"Invalid request: addTagIds: {message}", details=[FieldIssue("addTagIds", message)])
        consent = self._marketing_consent(request.marketing_consent)
        contact: Contact | None = None
        if change != ContactChange() or "name" in fields:
            contact = self._store.update_contact(tenant_id, contact_id, change, self._clock())
        if request.opted_out is not None:
            contact = set_consent(
                self._store, tenant_id, contact_id, request.opted_out, ConsentSource.API, self._clock()
            )
        if consent is not None:
            contact = self._store.set_marketing_consent(tenant_id, contact_id, consent, self._clock())
        if contact is None:
            contact = self._store.get_contact(tenant_id, contact_id)
            if contact is None:
                raise NotFound("No contact with this id")
        return self._dto(tenant_id, contact)

    def delete_contact(self, tenant_id: str, contact_id: str) -> None:
        if not self._store.delete_contact(tenant_id, contact_id):
            raise NotFound("No contact with this id")

    # -- imports
    def import_csv(self, caller: Caller, body: bytes) -> ImportJobDto:
        """A small CSV in the request body, imported at once: the answer is the finished job.

        Read as an upload is (checked_csv_lines: the encoding and the separator detected): a file that is not
        text, bytes its encoding cannot read, an unclosed quote or a bad header are a 400 naming the row (`line`,
        and `byteOffset` for bytes) and the `problem` (a FileProblem), and nothing is written.
        """
        tenant_id, at = caller.tenant_id, self._clock()
        country = self._store.tenant_country(tenant_id)
        report = ImportReport()
        try:
            lines = checked_csv_lines(lambda: [body])
            import_contacts(
                self._store,
                tenant_id,
                country,
                lines,
                report,
                at,
                workers=self._import_workers,
                declared=self._store.declared_fields(tenant_id),
            )
        except CsvFileError as exc:
            extras = {"line": exc.line, "byteOffset": exc.byte_offset, "problem": exc.problem.value}
            raise InvalidRequest(
                f"Invalid request: body: {exc}",
                details=[FieldIssue("body", str(exc))],
                **{name: value for name, value in extras.items() if value is not None},
            ) from exc
        job_id = str(uuid.uuid4())
        self._store.create_job(
            tenant_id, job_id, member_id=caller.member_id, source="body", status=ImportStatus.COMPLETED, at=at
        )
        self._store.save_progress(tenant_id, job_id, report, self._clock(), ImportStatus.COMPLETED)
        return self.get_import(tenant_id, job_id)

    def start_upload(self, caller: Caller) -> ImportUploadDto:
        if self._uploads is None:
            raise InvalidRequest("Large imports are not configured on this stack (no imports bucket)")
        at, job_id = self._clock(), str(uuid.uuid4())
        key = upload_key(caller.tenant_id, job_id)
        job = self._store.create_job(
            caller.tenant_id,
            job_id,
            member_id=caller.member_id,
            source="upload",
            status=ImportStatus.AWAITING_UPLOAD,
            at=at,
            object_key=key,
        )
        url = self._uploads.presigned_put(key, self._upload_ttl)
        return ImportUploadDto(job=job_dto(job), upload_url=url, expires_at=at + timedelta(seconds=self._upload_ttl))

    def get_import(self, tenant_id: str, job_id: str) -> ImportJobDto:
        job = self._store.get_job(tenant_id, job_id)
        if job is None:
            raise NotFound("No import with this id")
        return job_dto(job)

    def process_upload(self, key: str, progress_every_rows: int = 2_000) -> ImportJob | None:
        """Import an uploaded file (the S3 Object Created event). A key we did not hand out, or a job that is
        not waiting for its upload (a repeated event), is ignored; a bad file ends the job FAILED."""
        if self._uploads is None:
            raise RuntimeError("process_upload needs the uploads adapter")
        parsed = parse_upload_key(key)
        if parsed is None:
            return None
        tenant_id, job_id = parsed
        if not self._store.claim_job(tenant_id, job_id, self._clock()):
            return None
        report = ImportReport()
        size = self._uploads.size(key)
        if size > self._max_upload_bytes:
            self._store.save_progress(
                tenant_id,
                job_id,
                report,
                self._clock(),
                ImportStatus.FAILED,
                error=f"file is {size} bytes; at most {self._max_upload_bytes} are accepted",
                error_code=FileProblem.TOO_LARGE.value,
            )
            return self._store.get_job(tenant_id, job_id)
        last_saved = [0]

        def on_progress(current: ImportReport) -> None:
            if current.rows_processed - last_saved[0] >= progress_every_rows:
                last_saved[0] = current.rows_processed
                self._store.save_progress(tenant_id, job_id, current, self._clock())

        uploads = self._uploads
        try:
            import_contacts(
                self._store,
                tenant_id,
                self._store.tenant_country(tenant_id),
                checked_csv_lines(lambda: uploads.chunks(key)),
                report,
                self._clock(),
                workers=self._import_workers,
                on_progress=on_progress,
                declared=self._store.declared_fields(tenant_id),
            )
        except CsvFileError as exc:
            self._store.save_progress(
                tenant_id,
                job_id,
                report,
                self._clock(),
                ImportStatus.FAILED,
                error=str(exc),
                error_code=exc.problem.value,
            )
            return self._store.get_job(tenant_id, job_id)
        self._store.save_progress(tenant_id, job_id, report, self._clock(), ImportStatus.COMPLETED)
        return self._store.get_job(tenant_id, job_id)

    # -- campaigns and credits
    def list_campaigns(self, tenant_id: str, limit: int, cursor: str | None) -> CampaignPageDto:
        fingerprint = filters_fingerprint("campaigns:by_tenant_created")
        start = (
            decode_cursor(
                cursor,
                tenant_id,
                fingerprint,
                key_attributes={"tenant_id", "created_at", "queue_id"},
                partition={"tenant_id": tenant_id},
            )
            if cursor
            else None
        )
        from smscore.api.messages import queue_status_of  # the messages API's views only for this route

        records, next_key = self._accounts.campaigns(tenant_id, limit, start)
        return CampaignPageDto(
            items=[queue_status_of(r) for r in records],
            next_cursor=encode_cursor(tenant_id, fingerprint, next_key) if next_key else None,
        )

    def session(self, caller: Caller, access: str) -> SessionDto:
        summary = self._accounts.tenant_summary(caller.tenant_id)
        if summary is None:
            raise TenantNotFound("The token's tenant no longer exists")
        name, balance, country, price = summary
        return SessionDto(
            tenant_id=caller.tenant_id,
            tenant_name=name,
            member_id=caller.member_id,
            access="FULL" if access == "FULL" else "READ_ONLY",
            balance=balance,
            country=country,
            credit_price_cop=price,
        )

    def credits(self, tenant_id: str, limit: int, cursor: str | None) -> CreditsDto:
        fingerprint = filters_fingerprint("credits:ledger")
        start = (
            decode_cursor(
                cursor,
                tenant_id,
                fingerprint,
                key_attributes={"tenant_id", "entry_id"},
                partition={"tenant_id": tenant_id},
            )
            if cursor
            else None
        )
        balance = self._accounts.balance(tenant_id)
        if balance is None:
            raise TenantNotFound("The token's tenant no longer exists")
        entries, next_key = self._accounts.ledger(tenant_id, limit, start)
        return CreditsDto(
            balance=balance,
            entries=[ledger_dto(e) for e in entries],
            next_cursor=encode_cursor(tenant_id, fingerprint, next_key) if next_key else None,
        )


# ---------------------------------------------------------------------------------------------- body guard

IMPORT_CSV_ROUTE = "/api/contacts/imports"
CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv"})


def _content_type(event: dict[str, Any]) -> str:
    headers = event.get("headers") or {}
    raw = next((str(value) for key, value in headers.items() if key.lower() == "content-type"), "")
    return raw.split(";")[0].strip().lower()


def check_csv_body(event: dict[str, Any], max_bytes: int) -> None:
    """The CSV import route takes text/csv (415 otherwise) of at most `max_bytes` (413 otherwise)."""
    body = event.get("body")
    if not body:
        return
    content_type = _content_type(event)
    if content_type not in CSV_MEDIA_TYPES:
        raise UnsupportedMediaType(f"Send the file as text/csv, not {content_type or 'no Content-Type'}")
    size = len(base64.b64decode(body)) if event.get("isBase64Encoded") else len(body.encode())
    if size > max_bytes:
        raise PayloadTooLarge(
            f"The CSV is larger than {max_bytes} bytes: start an upload with POST /api/contacts/imports/uploads"
        )


def body_refusal(event: dict[str, Any], max_json_bytes: int, max_csv_bytes: int) -> dict[str, Any] | None:
    """The error response for a body this function must not parse (wrong media type, too large), else None.

    Runs before Powertools' validation, which would try form or multipart parsing on other media types.
    """
    route = event.get("resource") or event.get("path") or ""
    if event.get("httpMethod") == "POST" and route == IMPORT_CSV_ROUTE:
        return refusal_response(lambda: check_csv_body(event, max_csv_bytes))
    return refusal_response(lambda: check_json_body(event, max_json_bytes))
