"""PynamoDB models of every table. Table names are not known at import: `bind_tables` sets them from settings."""

from __future__ import annotations

import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import (
    AllProjection,
    GlobalSecondaryIndex,
    IncludeProjection,
    KeysOnlyProjection,
    LocalSecondaryIndex,
)
from pynamodb.models import Model

if TYPE_CHECKING:  # a name source only: the authorizer binds its models without pydantic-settings
    from smscore.settings import TableNames


class _Unbound:
    """Meta of a model whose table has not been bound yet: using it fails loudly instead of hitting a default."""

    table_name = "__unbound__"
    region: str | None = None
    host: str | None = None
    max_retry_attempts = 3


class TenantRecord(Model):
    class Meta(_Unbound):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    credits = NumberAttribute(default=0)
    default_country = UnicodeAttribute(null=True)
    provider = UnicodeAttribute(null=True)
    # The tenant's own pause for marketing messages: {"start": "21:00", "end": "08:00", "timeZone": "..."}
    quiet_hours = MapAttribute[str, Any](null=True)
    # Its compliance settings (smscore.dal.tenant_settings): absent = every default (sender name = its name)
    compliance = MapAttribute[str, Any](null=True)
    merge_fields = ListAttribute[str](null=True)  # declared custom fields (PUT /api/contacts/fields), in order
    # What one credit costs the tenant in Colombian pesos, a decimal string ("13.5"), kept by the operator
    # (smsctl tenant credit-price); the admin shows pesos beside credits with it. Absent: credits only.
    credit_price_cop = UnicodeAttribute(null=True)
    # credits.low (smscore.domain.credits_low): the balance under which the tenant's webhooks are told (PUT
    # /api/settings creditsLowThreshold; absent: never), and when they were, until the balance is back at or above.
    credits_low_threshold = NumberAttribute(null=True)
    credits_low_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class MemberByTenantEmail(GlobalSecondaryIndex["MemberRecord"]):
    class Meta:
        index_name = "by_tenant_email"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute(range_key=True)


class MemberRecord(Model):
    class Meta(_Unbound):
        pass

    member_id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    email = UnicodeAttribute()
    status = UnicodeAttribute(default="ACTIVE")  # ACTIVE | DISABLED
    accepted_terms_version = UnicodeAttribute(null=True)
    accepted_terms_at = UTCDateTimeAttribute(null=True)
    role = UnicodeAttribute(null=True)  # admin | member (absent: member); an admin manages the tenant's API keys
    created_at = UTCDateTimeAttribute()
    test_sends_day = UnicodeAttribute(null=True)  # Bogota date of the test sends counted (smscore.domain.test_send)
    test_sends = NumberAttribute(null=True)  # test messages sent that day
    by_tenant_email = MemberByTenantEmail()


class TermsAcceptanceRecord(Model):
    """The audit entry of one acceptance of a terms version by a member, in the Members table under
    "<member_id>#terms#<version>#<accepted at>" (no email, so in none of its indexes); written once, never replaced."""

    class Meta(_Unbound):
        pass

    key = UnicodeAttribute(hash_key=True, attr_name="member_id")
    kind = UnicodeAttribute(default="terms-acceptance")
    accepted_by = UnicodeAttribute()  # the member id
    tenant = UnicodeAttribute()
    version = UnicodeAttribute()
    accepted_at = UTCDateTimeAttribute()
    source = UnicodeAttribute()  # api (POST /api/me/terms, the admin) | smsctl

    @staticmethod
    def key_for(member_id: str, version: str, accepted_at: datetime) -> str:
        return f"{member_id}#terms#{version}#{accepted_at.isoformat()}"


class TokenByPrefix(GlobalSecondaryIndex["TokenRecord"]):
    class Meta:
        index_name = "by_prefix"
        projection = AllProjection()

    prefix = UnicodeAttribute(hash_key=True)


class TokenByTenant(GlobalSecondaryIndex["TokenRecord"]):
    """A tenant's tokens, oldest first: the API keys a member (their own) or an admin (all) lists and revokes."""

    class Meta:
        index_name = "by_tenant"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class TokenRecord(Model):
    """An API token, stored only as its SHA-256 hash; `prefix` is what a person may see and revoke by.

    Tokens made through POST /api/keys (smscore.domain.api_keys) also carry an id, a name, a scope and an optional
    expiry; tokens smsctl issues have none of these (full scope, no expiry)."""

    class Meta(_Unbound):
        pass

    token_hash = UnicodeAttribute(hash_key=True)
    prefix = UnicodeAttribute()
    member_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)
    key_id = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    scope = UnicodeAttribute(null=True)  # full | read (absent: full)
    expires_at = UTCDateTimeAttribute(null=True)
    last_used_at = UTCDateTimeAttribute(null=True)  # to the hour, written by the authorizer
    by_prefix = TokenByPrefix()
    by_tenant = TokenByTenant()


class SettingRecord(Model):
    """Platform-wide settings, one item each (the current terms version is `setting = "terms"`)."""

    class Meta(_Unbound):
        pass

    setting = UnicodeAttribute(hash_key=True)
    value = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()


class ContactByPhone(GlobalSecondaryIndex["ContactRecord"]):
    """A tenant's contacts by E.164 (GET /api/contacts?phone=), older contacts that share a number included."""

    class Meta:
        index_name = "by_phone"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    e164 = UnicodeAttribute(range_key=True)


class ContactByNumber(GlobalSecondaryIndex["ContactRecord"]):
    """Every tenant's contacts with one E.164 number (keys only): an opt-out reply marks them all without a Scan.
    Sparse: contacts without `e164` are not in it."""

    class Meta:
        index_name = "by_number"
        projection = KeysOnlyProjection()

    e164 = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(range_key=True)


class ContactRecord(Model):
    """A contact. Written by the contacts API/import with `contact_id` = UUIDv5(tenant#E.164) (see
    smscore.domain.contacts): the natural key is the key. `phone` is E.164 then (as typed for older contacts)."""

    class Meta(_Unbound):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    contact_id = UnicodeAttribute(range_key=True)
    phone = UnicodeAttribute()
    e164 = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    search_text = UnicodeAttribute(null=True)  # casefolded "name e164" for the `q` filter
    opted_out = BooleanAttribute(default=False)
    opted_out_at = UTCDateTimeAttribute(null=True)
    consent_source = UnicodeAttribute(null=True)
    marketing_consent = MapAttribute[str, Any](null=True)  # {status, source, at, evidence} (consent_records)
    tag_ids = UnicodeSetAttribute(null=True)
    fields = MapAttribute[str, Any](
        null=True
    )  # custom merge fields: declared name -> value (smscore.domain.personalize)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute(null=True)
    revision = NumberAttribute(null=True)  # +1 on every change: writes are conditional on the revision read
    by_phone = ContactByPhone()
    by_number = ContactByNumber()


class TagByName(LocalSecondaryIndex["TagRecord"]):
    class Meta:
        index_name = "by_name"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    name_key = UnicodeAttribute(range_key=True)


class TagRecord(Model):
    class Meta(_Unbound):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    tag_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    name_key = UnicodeAttribute()  # case-folded name, unique per tenant (guarded by a UniqueKeyRecord)
    contact_count = NumberAttribute(default=0)  # moved in the same transaction as every membership change
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute(null=True)
    by_name = TagByName()


class UniqueKeyRecord(Model):
    """A uniqueness guard: `<tenant>#TAGNAME#<folded name>` -> the tag holding it, written in the same
    transaction as the tag (put with attribute_not_exists), so two tags can never share a name."""

    class Meta(_Unbound):
        pass

    unique_key = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()

    @staticmethod
    def tag_name(tenant_id: str, name_key: str) -> str:
        return f"{tenant_id}#TAGNAME#{name_key}"


class RejectedLine(MapAttribute[str, Any]):
    line = NumberAttribute()
    reason = UnicodeAttribute()
    content = UnicodeAttribute(null=True)  # the row as the file had it (rejected rows)
    code = UnicodeAttribute(null=True)  # smscore.domain.contacts.RowProblem


class ImportJobRecord(Model):
    """A contacts import: state, progress, counts and the first rejected rows (line numbers + reasons)."""

    class Meta(_Unbound):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    job_id = UnicodeAttribute(range_key=True)
    member_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    source = UnicodeAttribute()  # body | upload
    object_key = UnicodeAttribute(null=True)
    rows_processed = NumberAttribute(default=0)
    imported = NumberAttribute(default=0)
    created = NumberAttribute(default=0)
    updated = NumberAttribute(default=0)
    unchanged = NumberAttribute(default=0)
    rejected = NumberAttribute(default=0)
    warned = NumberAttribute(default=0)
    rejected_rows = ListAttribute[RejectedLine](of=RejectedLine, null=True)
    warnings = ListAttribute[RejectedLine](of=RejectedLine, null=True)
    error = UnicodeAttribute(null=True)
    error_code = UnicodeAttribute(null=True)  # smscore.domain.contacts.FileProblem of a FAILED job
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class TagMemberRecord(Model):
    """Contact-tag membership, keyed `tenant#tag` so one Query per tag reads the audience and nothing else.

    The phone and opt-out flag are copied here so that a campaign never reads the contacts table.
    """

    class Meta(_Unbound):
        pass

    tag_key = UnicodeAttribute(hash_key=True)
    contact_id = UnicodeAttribute(range_key=True)
    phone = UnicodeAttribute()
    opted_out = BooleanAttribute(default=False)
    consent_granted = BooleanAttribute(null=True)  # the contact's marketing consent is granted (consentRequired)
    # The contact's name ("" without one), copied so that a message with {nombre} needs no read of the contacts
    # table; absent on memberships written before the copy existed (the send path then reads the contact).
    contact_name = UnicodeAttribute(null=True)

    @staticmethod
    def key_for(tenant_id: str, tag_id: str) -> str:
        return f"{tenant_id}#{tag_id}"


class ConsentHistoryRecord(Model):
    """One change of a contact's marketing consent, append-only: in the memberships table under a partition key no
    tag uses, `<tenant>#consent#<contact id>`, range key `<at ISO>#<revision>`; written in the transaction that
    changes the contact (smscore.dal.contact_store), never updated."""

    class Meta(_Unbound):
        pass

    tag_key = UnicodeAttribute(hash_key=True)
    contact_id = UnicodeAttribute(range_key=True)  # the range key of the memberships table: `<at>#<revision>`
    status = UnicodeAttribute()
    source = UnicodeAttribute()
    at = UnicodeAttribute()
    evidence = UnicodeAttribute(null=True)
    recorded_at = UTCDateTimeAttribute()

    @staticmethod
    def key_for(tenant_id: str, contact_id: str) -> str:
        return f"{tenant_id}#consent#{contact_id}"


class ContactSearchRecord(Model):
    """One word a contact is found by (smscore.domain.search), in the memberships table under partition keys no tag
    uses, `<tenant>#search#<the word's first 2 characters>`; the range key is `<word>#<contact id>`, so a Query
    with begins_with(<prefix>) reads exactly the matching words, in order. `words` (all of the contact's) lets
    a reader return each contact once and check every term of a query."""

    class Meta(_Unbound):
        pass

    tag_key = UnicodeAttribute(hash_key=True)
    contact_id = UnicodeAttribute(range_key=True)  # "<word>#<contact id>"
    target = UnicodeAttribute()  # the contact id
    words = UnicodeSetAttribute()

    @staticmethod
    def key_for(tenant_id: str, word: str) -> str:
        return f"{tenant_id}#search#{word[:2]}"

    @classmethod
    def item(
        cls, tenant_id: str, word: str, contact_id: str, words: frozenset[str] = frozenset()
    ) -> ContactSearchRecord:
        return cls(cls.key_for(tenant_id, word), f"{word}#{contact_id}", target=contact_id, words=set(words) or {word})


class StatusChange(MapAttribute[str, Any]):
    status = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    code = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class StatusHistoryAttribute(ListAttribute[StatusChange]):
    """A message's status changes, each stored as one string "<status>|<epoch milliseconds>|<code>|<detail>".

    A map per change costs about 100 bytes (attribute names, an ISO time); the string about a third of that, which
    keeps a message item under 1 KB through DELIVERED, so each status write costs 1 write unit instead of 2 (README,
    "Capacity"). Items written before hold maps: both are read. Appends (list_append) serialize through here too.
    """

    def __init__(self, null: bool | None = None) -> None:
        super().__init__(null=null, of=StatusChange)

    @staticmethod
    def _compact(change: StatusChange) -> str:
        millis = (change.at - _EPOCH) // timedelta(milliseconds=1)
        return f"{change.status}|{millis}|{change.code or ''}|{change.detail or ''}"

    def serialize(self, values: Any, *, null_check: bool = True) -> Any:
        return [{"S": self._compact(value)} for value in values]

    def deserialize(self, values: Any) -> Any:
        changes = []
        for value in values:
            if "S" not in value:  # a map, written before the compact form
                changes.extend(super().deserialize([value]))
                continue
            status, millis, code, detail = value["S"].split("|", 3)
            at = _EPOCH + timedelta(milliseconds=int(millis))
            changes.append(StatusChange(status=status, at=at, code=code or None, detail=detail or None))
        return changes


# Every message of a campaign, and every message of a tenant, would otherwise share one index partition key
# value, and one partition key value takes at most 1,000 write units/s: a 50,000-recipient campaign would need
# 50 s to be written. Both keys are spread over MESSAGE_INDEX_SHARDS values ("<id>#<n>", n from the message id)
# and read back by merging the shards in key order (smscore.dal.message_queries). See README, "Capacity".
MESSAGE_INDEX_SHARDS = 16


def message_shard(message_id: str) -> int:
    """The shard of a message: stable (a retried write lands where the first one did) and uniform."""
    return zlib.crc32(message_id.encode()) % MESSAGE_INDEX_SHARDS


def shard_keys(owner: str) -> list[str]:
    """Every index partition key value of a campaign or tenant: the values a merged read queries."""
    return [f"{owner}#{n}" for n in range(MESSAGE_INDEX_SHARDS)]


class MessageByQueueShard(GlobalSecondaryIndex["MessageRecord"]):
    """A campaign's messages by message id. Projects only what never changes after creation (what the replay of a
    send and the list filters need), so status changes never write this index."""

    class Meta:
        index_name = "by_queue_shard"
        projection = IncludeProjection(["tenant_id", "recipient", "created_key", "channel"])

    queue_shard = UnicodeAttribute(hash_key=True)
    message_id = UnicodeAttribute(range_key=True)


class MessageByTenantShard(GlobalSecondaryIndex["MessageRecord"]):
    """A tenant's messages, newest first: GET /api/messages without a queue or recipient (status filtered on the
    page's items: a status index would cost a delete and a put on every status change)."""

    class Meta:
        index_name = "by_tenant_shard"
        projection = IncludeProjection(["channel"])

    tenant_shard = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class MessageByRecipient(GlobalSecondaryIndex["MessageRecord"]):
    """A tenant's messages to one E.164 number, newest first (`tenant_recipient` = "<tenant>#<E.164>")."""

    class Meta:
        index_name = "by_recipient"
        projection = IncludeProjection(["channel"])

    tenant_recipient = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class MessageByProviderMessageId(GlobalSecondaryIndex["MessageRecord"]):
    """Sparse: only sent messages carry a provider id. Finds the message a Twilio status callback is about."""

    class Meta:
        index_name = "by_provider_message_id"
        projection = KeysOnlyProjection()

    provider_message_id = UnicodeAttribute(hash_key=True)


# A SCHEDULED step's detail in a message's history ends with "waiting until <ISO instant>" (every writer uses this).
WAITING_UNTIL = "waiting until "


def waiting_until(detail: str | None) -> datetime | None:
    """The instant a SCHEDULED step's detail names (None when it names none)."""
    if not detail or WAITING_UNTIL not in detail:
        return None
    try:
        return datetime.fromisoformat(detail.rsplit(WAITING_UNTIL, 1)[1].strip())
    except ValueError:
        return None


# SCHEDULED messages wait in the sparse by_due index under "due#<bucket>#<tenant>#<shard>": the minute they are due
# in (DUE_BUCKET_SECONDS, UTC), their tenant, and one of DUE_SHARDS shards of the message id. Every tenant's due
# work at one opening is thus spread over DUE_SHARDS key values per tenant (5M due at 07:00 are not 16 platform-wide
# partitions' 1,000 writes/s each), and the scheduler finds them through a small index of which tenants have due
# work in which bucket (DueBucketRecord) instead of reading every key (issue 20, item 6; README, "Scheduling").
DUE_SHARDS = 64
DUE_BUCKET_SECONDS = 60
DUE_BUCKETS_KEY = "due-buckets"  # by_due key of the bucket index's items (one per bucket and tenant)
# Before issue 20, item 6 the keys were platform-wide "due#<0..15>": the scheduler still reads them.
LEGACY_DUE_SHARDS = 16


def due_bucket(at: datetime) -> str:
    """The bucket of a due time: its minute, UTC, as it sorts ("20260105T1200")."""
    at = at.astimezone(UTC)
    floored = at - timedelta(seconds=at.second % DUE_BUCKET_SECONDS, microseconds=at.microsecond)
    return floored.strftime("%Y%m%dT%H%M")


def due_bucket_start(bucket: str) -> datetime:
    return datetime.strptime(bucket, "%Y%m%dT%H%M").replace(tzinfo=UTC)


def due_shard_key(message_id: str, tenant_id: str, due_at: datetime) -> str:
    return f"due#{due_bucket(due_at)}#{tenant_id}#{message_shard(message_id) % DUE_SHARDS}"


def due_keys(bucket: str, tenant_id: str) -> list[str]:
    """Every by_due key of one tenant's bucket: what the scheduler reads for it."""
    return [f"due#{bucket}#{tenant_id}#{n}" for n in range(DUE_SHARDS)]


def legacy_due_shard_keys() -> list[str]:
    return [f"due#{n}" for n in range(LEGACY_DUE_SHARDS)]


class MessageByDue(GlobalSecondaryIndex["MessageRecord"]):
    """Sparse: only SCHEDULED messages carry `due_shard` / `due_at`; the scheduler queries `due_at <= now` here
    (never a Scan). Releasing or cancelling a message removes both, taking it out of the index."""

    class Meta:
        index_name = "by_due"
        projection = IncludeProjection(["tenant_id", "queue_id"])

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = UTCDateTimeAttribute(range_key=True)


class MessageRecord(Model):
    class Meta(_Unbound):
        pass

    message_id = UnicodeAttribute(hash_key=True)
    # MessageRetentionDays after creation DynamoDB deletes the message (TTL); the ledger keeps the money exact
    expires_at = TTLAttribute(null=True)
    tenant_id = UnicodeAttribute()
    queue_id = UnicodeAttribute()
    channel = UnicodeAttribute(default="sms")
    recipient = UnicodeAttribute()
    contact_id = UnicodeAttribute()
    body = UnicodeAttribute()
    segments = NumberAttribute()
    encoding = UnicodeAttribute()
    credits = NumberAttribute()
    status = UnicodeAttribute()
    provider = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    # The last status change's time is its history entry's: status writes do not store updated_at (items keep
    # the creation's until their first change); read it through `changed_at`.
    updated_at = UTCDateTimeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    # Delivery bookkeeping (written by the deliver function).
    attempts = NumberAttribute(default=0)
    lease_until = UTCDateTimeAttribute(null=True)
    deferrals = NumberAttribute(null=True)  # claims that ended waiting for the sender: not attempts
    redrives = NumberAttribute(null=True)  # times the sweeper re-enqueued it from the dead-letter queue (absent: 0)
    redriven_at = UTCDateTimeAttribute(null=True)  # the sweeper's last re-enqueue
    # The provider's id of a sent message: `provider_message_id` (in the by_provider_message_id index) when its
    # receipts carry only that id, `provider_ref` (in no index: one write unit less) when they name our message id
    # too (AWS Context, Twilio's StatusCallback URL). Read both through `sent_provider_id`.
    provider_message_id = UnicodeAttribute(null=True)
    provider_ref = UnicodeAttribute(null=True)
    provider_error_code = UnicodeAttribute(null=True)
    provider_price = UnicodeAttribute(null=True)
    provider_price_unit = UnicodeAttribute(null=True)  # ISO 4217 of provider_price (Twilio's price_unit)
    permanent_failure = BooleanAttribute(null=True)
    sent_at = UTCDateTimeAttribute(null=True)
    history = StatusHistoryAttribute(null=True)
    last_write = UnicodeAttribute(null=True)  # token of the latest status change, to recognise a retried write
    purpose = UnicodeAttribute(null=True)  # marketing | transactional (absent: marketing)
    due_shard = UnicodeAttribute(null=True)  # by_due key: SCHEDULED only
    due_at = UTCDateTimeAttribute(null=True)  # SCHEDULED: when it may go (sendAt, then the next window opening)
    valid_from = UTCDateTimeAttribute(null=True)  # released from SCHEDULED: its validity period starts here
    clicks = NumberAttribute(null=True)  # tracked short links: counted clicks (smscore.domain.links)
    first_clicked_at = UTCDateTimeAttribute(null=True)
    # Index keys derived from the fields above (see `serialize`); never set by hand, never changed after creation,
    # so that a status change writes the table item only (README, "Capacity").
    created_key = UnicodeAttribute(null=True)  # "<created_at as stored>#<message_id>": unique, sorts by time
    tenant_recipient = UnicodeAttribute(null=True)
    queue_shard = UnicodeAttribute(null=True)  # "<queue_id>#<shard>"
    tenant_shard = UnicodeAttribute(null=True)  # "<tenant_id>#<shard>"
    by_queue_shard = MessageByQueueShard()
    by_tenant_shard = MessageByTenantShard()
    by_recipient = MessageByRecipient()
    by_provider_message_id = MessageByProviderMessageId()
    by_due = MessageByDue()

    @staticmethod
    def recipient_key(tenant_id: str, recipient: str) -> str:
        return f"{tenant_id}#{recipient}"

    def sent_provider_id(self) -> str | None:
        """The provider's id of this message, wherever the SENT write stored it."""
        return self.provider_message_id or self.provider_ref

    def changed_at(self) -> datetime:
        """When the message last changed: its last history entry (status writes store no updated_at)."""
        if self.history:
            return self.history[-1].at
        return self.updated_at or self.created_at

    @classmethod
    def status_actions(cls, tenant_id: str, status: str) -> list[Any]:
        """Update actions that change the status; every status update uses them (no index key depends on it)."""
        return [cls.status.set(status)]

    def serialize(self, null_check: bool = True) -> dict[str, dict[str, Any]]:
        """Fill the derived index keys on every put (save, batch write, transaction), so no writer can forget them."""
        if self.created_at is not None and self.message_id is not None:
            stored_time = MessageRecord.created_at.serialize(self.created_at)
            self.created_key = f"{stored_time}#{self.message_id}"
        if self.tenant_id is not None and self.recipient is not None:
            self.tenant_recipient = self.recipient_key(self.tenant_id, self.recipient)
        if self.message_id is not None:
            shard = message_shard(self.message_id)
            if self.queue_id is not None:
                self.queue_shard = f"{self.queue_id}#{shard}"
            if self.tenant_id is not None:
                self.tenant_shard = f"{self.tenant_id}#{shard}"
        return super().serialize(null_check=null_check)


class DispatchByTenantCreated(GlobalSecondaryIndex["DispatchRecord"]):
    """A tenant's campaigns, newest first (GET /api/messages/queues)."""

    class Meta:
        index_name = "by_tenant_created"
        projection = AllProjection()

    tenant_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class DispatchByFanoutDue(GlobalSecondaryIndex["DispatchRecord"]):
    """Sparse: only campaigns whose fan-out is still open carry `fanout_due`; the reconciler queries the ones past
    their deadline (`fanout_deadline <= now`) here instead of scanning the table."""

    class Meta:
        index_name = "by_fanout_due"
        projection = KeysOnlyProjection()

    fanout_due = UnicodeAttribute(hash_key=True)
    fanout_deadline = UTCDateTimeAttribute(range_key=True)


class DispatchRecord(Model):
    """One campaign request, named by its queueId; counters are maintained atomically as messages move."""

    class Meta(_Unbound):
        pass

    by_tenant_created = DispatchByTenantCreated()
    by_fanout_due = DispatchByFanoutDue()

    queue_id = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    channel = UnicodeAttribute(default="sms")
    body = UnicodeAttribute()
    tag_ids = ListAttribute[str]()
    country = UnicodeAttribute(null=True)
    total_messages = NumberAttribute()
    segments_per_message = NumberAttribute()
    credits_debited = NumberAttribute()
    credits_refunded = NumberAttribute(default=0)
    count_scheduled = NumberAttribute(default=0)
    count_queued = NumberAttribute(default=0)
    count_sending = NumberAttribute(default=0)
    count_sent = NumberAttribute(default=0)
    count_delivered = NumberAttribute(default=0)
    count_undelivered = NumberAttribute(default=0)
    count_failed = NumberAttribute(default=0)
    count_cancelled = NumberAttribute(default=0)
    count_clicked = NumberAttribute(null=True)  # added up from the counter shards (smscore.domain.links)
    created_at = UTCDateTimeAttribute()
    # Fan-out state (smscore.domain.campaign / smscore.domain.reconciler); absent on campaigns sent before it existed.
    fanout = UnicodeAttribute(null=True)  # PLANNING | PENDING | RECONCILING | COMPLETE | RECONCILED | FAILED
    fanout_due = UnicodeAttribute(null=True)  # by_fanout_due key: set while PENDING/RECONCILING, removed when done
    fanout_deadline = UTCDateTimeAttribute(null=True)  # the sender's hard stop (+ grace), then a reconciler's lease
    fanout_owner = UnicodeAttribute(null=True)  # the reconciler run holding the claim (fencing token)
    fanout_enqueued = NumberAttribute(null=True)  # messages that reached the delivery queue
    fanout_refunded = NumberAttribute(null=True)  # messages refunded because they never reached it
    fanout_refunded_credits = NumberAttribute(null=True)  # their credits (messages may differ: merge fields)
    request_hash = UnicodeAttribute(null=True)  # SHA-256 of the request of an Idempotency-Key'd campaign
    resend_of = UnicodeAttribute(null=True)  # the queue id whose failed recipients this campaign resent to
    resends = UnicodeSetAttribute(null=True)  # the queue ids of this campaign's resends (each added by its debit)
    purpose = UnicodeAttribute(null=True)  # marketing | transactional (absent: marketing)
    send_at = UTCDateTimeAttribute(null=True)  # the client's sendAt
    scheduled_for = UTCDateTimeAttribute(null=True)  # when every message waited: the earliest may go then
    scheduled_reason = JSONAttribute(null=True)  # why (smscore.domain.wait_reasons.WaitReason.as_json())
    cancelled_at = UTCDateTimeAttribute(null=True)  # the first cancel that cancelled something
    cancelled_by = UnicodeAttribute(null=True)  # the member who asked it
    encoding = UnicodeAttribute(null=True)  # the send's encoding option when not auto (smscore.domain.gsm)
    template_id = UnicodeAttribute(null=True)  # the saved template the campaign was composed from
    test = BooleanAttribute(null=True)  # a test send (smscore.domain.test_send): not in the campaign list
    track_links = BooleanAttribute(null=True)  # sent with tracked short links (smscore.domain.links)
    # A large campaign's plan (smscore.domain.plan): its chunks' prefix and count, and how many the fan-out workers
    # have enqueued; absent on campaigns whose request wrote their messages itself.
    plan_prefix = UnicodeAttribute(null=True)
    plan_chunks = NumberAttribute(null=True)
    fanout_chunks_done = NumberAttribute(null=True)
    # A campaign above MaxSyncRecipients planned by the fan-out workers (smscore.domain.planning): absent on every
    # other campaign. The request records PLANNING; the planner's checkpoints move the cursor and the running totals.
    planning_status = UnicodeAttribute(null=True)  # PLANNING | PLANNED | FAILED
    planning_error = JSONAttribute(null=True)  # FAILED: {"code", "message"} (nothing was charged)
    planning_estimate = NumberAttribute(null=True)  # the tags' contacts at accept (an upper bound)
    planning_prefix = UnicodeAttribute(null=True)  # the plan's chunk prefix (plan_prefix once debited)
    planning_messages_deadline = UTCDateTimeAttribute(null=True)  # no planned SCHEDULED message is due before it
    planning_opt_out_base = UnicodeAttribute(null=True)  # the request's opt-out link base
    planning_owner = UnicodeAttribute(null=True)  # the planner holding the lease (fencing token)
    planning_lease = UTCDateTimeAttribute(null=True)
    planning_cursor = UnicodeAttribute(null=True)  # PlanCursor.as_json()
    planning_chunks = NumberAttribute(null=True)
    planning_messages = NumberAttribute(null=True)
    planning_credits = NumberAttribute(null=True)
    planning_scheduled = NumberAttribute(null=True)
    planning_segments = NumberAttribute(null=True)
    planning_contacts_read = NumberAttribute(null=True)
    planning_skipped = JSONAttribute(null=True)  # skip counts by name (smscore.domain.planning.SKIP_FIELDS)


class PlanChunkRecord(Model):
    """One chunk of a large campaign's plan (smscore.domain.plan), in the Dispatches table under
    "plan#<prefix>#<chunk>": the planned messages (compressed) and the chunk's fan-out state and lease. It has no
    tenant_id/created_at/fanout_due, so it is in none of the table's indexes."""

    class Meta(_Unbound):
        pass

    key = UnicodeAttribute(hash_key=True, attr_name="queue_id")
    plan_queue = UnicodeAttribute()
    plan_tenant = UnicodeAttribute()
    plan = BinaryAttribute(legacy_encoding=False)
    messages = NumberAttribute()
    state = UnicodeAttribute()  # PLANNED | WRITTEN | ENQUEUED
    lease_owner = UnicodeAttribute(null=True)
    lease_until = UTCDateTimeAttribute(null=True)


# Every status change of a message moves its campaign's counters. On the Dispatch item itself that is one item
# taking every change of the campaign (at most 1,000 write units/s: 300-500 messages/s). The changes go to
# COUNTER_SHARDS counter items instead, chosen by message id; a read adds them to the Dispatch item's own
# counts (set at the debit, moved when a fan-out closes). README, "Capacity".
COUNTER_SHARDS = 32


class DispatchCounterRecord(Model):
    """One shard of a campaign's status counters, in the Dispatches table under "<queue_id>#counts#<n>".

    It has no tenant_id/created_at/fanout_due, so it is in none of the table's (sparse) indexes.
    """

    class Meta(_Unbound):
        pass

    queue_id = UnicodeAttribute(hash_key=True)
    count_scheduled = NumberAttribute(default=0)
    count_queued = NumberAttribute(default=0)
    count_sending = NumberAttribute(default=0)
    count_sent = NumberAttribute(default=0)
    count_delivered = NumberAttribute(default=0)
    count_undelivered = NumberAttribute(default=0)
    count_failed = NumberAttribute(default=0)
    count_cancelled = NumberAttribute(default=0)
    credits_refunded = NumberAttribute(default=0)
    count_clicked = NumberAttribute(null=True)  # messages clicked at least once (smscore.domain.links)

    @staticmethod
    def key_for(queue_id: str, shard: int) -> str:
        return f"{queue_id}#counts#{shard}"

    @staticmethod
    def shard_of(message_id: str) -> int:
        return zlib.crc32(message_id.encode()) % COUNTER_SHARDS


class LedgerRecord(Model):
    """Every movement of credits. The balance always equals the sum of a tenant's entries."""

    class Meta(_Unbound):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    entry_id = UnicodeAttribute(range_key=True)  # "<ISO time>#<uuid>": sorts by time
    kind = UnicodeAttribute()
    amount = NumberAttribute()
    queue_id = UnicodeAttribute(null=True)
    message_ids = ListAttribute[str](null=True)
    reason = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


def ledger_entry_id(at: datetime) -> str:
    """A ledger entry's range key: sorts by time, unique however many entries share the instant."""
    return f"{at.isoformat()}#{uuid.uuid4()}"


class OutboxRecord(Model):
    """What the sandbox provider 'sent': the local stand-in for a carrier."""

    class Meta(_Unbound):
        pass

    message_id = UnicodeAttribute(hash_key=True)
    provider_message_id = UnicodeAttribute()
    tenant_id = UnicodeAttribute(null=True)
    recipient = UnicodeAttribute()
    body = UnicodeAttribute()
    sent_at = UTCDateTimeAttribute()
    send_count = NumberAttribute(default=1)


class SuppressionRecord(Model):
    """One recipient number's consent for one sender (smscore.dal.suppression_store): opted out after a STOP-type
    reply, kept (opted_out false) after a START-type one, so the latest change and its time stay auditable."""

    class Meta(_Unbound):
        pass

    number = UnicodeAttribute(hash_key=True)  # keyed by number: opt-outs spread over partitions (issue 20)
    sender = UnicodeAttribute(range_key=True)
    opted_out = BooleanAttribute()
    keyword = UnicodeAttribute()
    changed_at = UTCDateTimeAttribute()
    provider = UnicodeAttribute()
    reference = UnicodeAttribute(null=True)


class InboundMessageRecord(Model):
    """A provider's inbound keyword message, once handled (smscore.dal.suppression_store): a redelivery or a replay
    of it within the provider's retry window changes nothing. In the Suppressions table under the key (number
    "inbound#<provider>#<message id>", sender "message"), which no E.164 number can take; deleted by DynamoDB's
    TTL at `expires_at` (the table's TimeToLiveSpecification)."""

    class Meta(_Unbound):
        pass

    message_key = UnicodeAttribute(hash_key=True, attr_name="number")
    marker = UnicodeAttribute(range_key=True, attr_name="sender")
    outcome = UnicodeAttribute()  # what the message did the first time: APPLIED or SUPERSEDED
    handled_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()

    MARKER = "message"

    @staticmethod
    def key_for(provider: str, reference: str) -> str:
        return f"inbound#{provider}#{reference}"


class ParkedReceiptRecord(Model):
    """A delivery receipt that overtook our SENT write (smscore.dal.parked_receipts), kept until the message is
    SENT. In the Messages table under the key "receipt#<provider>#<provider message id>", which no message id (a
    UUID) can take; it carries none of the indexes' attributes, so no index sees it. Deleted by DynamoDB's TTL at
    `expires_at` (the table's TimeToLiveSpecification; messages carry it too: MessageRetentionDays)."""

    class Meta(_Unbound):
        pass

    parked_key = UnicodeAttribute(hash_key=True, attr_name="message_id")
    receipt_status = UnicodeAttribute()
    reported_at = UTCDateTimeAttribute()
    provider_status = UnicodeAttribute()
    error_code = UnicodeAttribute(null=True)
    receipt_message_id = UnicodeAttribute(null=True)  # ours, when the receipt named it
    expires_at = TTLAttribute()

    @staticmethod
    def key_for(provider: str, provider_message_id: str) -> str:
        return f"receipt#{provider}#{provider_message_id}"


class DueBucketByDue(GlobalSecondaryIndex["DueBucketRecord"]):
    """The bucket index's view of by_due: its items sit under the one key DUE_BUCKETS_KEY, by bucket start."""

    class Meta:
        index_name = "by_due"
        projection = IncludeProjection(["tenant_id", "queue_id"])

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = UTCDateTimeAttribute(range_key=True)


class DueBucketRecord(Model):
    """ "Tenant T has SCHEDULED messages due in bucket B": the scheduler's index of where due work is, in the
    Messages table under "duebucket#<bucket>#<tenant>" (no message id, a UUID, takes it) and in by_due under
    DUE_BUCKETS_KEY. Written (put, `touched_at` = now) with the messages that go into the bucket, in the same batch;
    taken out of by_due by the scheduler once the bucket is past, every key of it is empty and nobody touched it for
    DUE_BUCKET_GRACE_SECONDS (conditional on `touched_at` as read); its TTL deletes it later."""

    class Meta(_Unbound):
        pass

    bucket_key = UnicodeAttribute(hash_key=True, attr_name="message_id")
    tenant_id = UnicodeAttribute()
    bucket = UnicodeAttribute()
    due_shard = UnicodeAttribute(null=True)  # DUE_BUCKETS_KEY while the bucket may hold due messages
    due_at = UTCDateTimeAttribute(null=True)  # the bucket's start
    touched_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()
    by_due = DueBucketByDue()

    @staticmethod
    def key_for(bucket: str, tenant_id: str) -> str:
        return f"duebucket#{bucket}#{tenant_id}"

    @classmethod
    def touched(cls, bucket: str, tenant_id: str, now: datetime) -> DueBucketRecord:
        start = due_bucket_start(bucket)
        return cls(
            cls.key_for(bucket, tenant_id),
            tenant_id=tenant_id,
            bucket=bucket,
            due_shard=DUE_BUCKETS_KEY,
            due_at=start,
            touched_at=now,
            expires_at=max(start, now) + timedelta(days=3),
        )


class WebhookAttemptMap(MapAttribute[str, Any]):
    at = UTCDateTimeAttribute()
    status_code = NumberAttribute(null=True)
    latency_ms = NumberAttribute()
    error = UnicodeAttribute(null=True)
    response = UnicodeAttribute(null=True)


class WebhookEndpointRecord(Model):
    """A tenant's webhook endpoint (smscore.dal.webhook_store), under sort key "endpoint#<id>" in the Webhooks
    table: one Query (begins_with "endpoint#") reads a tenant's endpoints. The secrets are signing keys the
    function must read back, so they are stored as they are (the table is encrypted at rest) and never logged."""

    class Meta(_Unbound):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)
    endpoint_id = UnicodeAttribute()
    url = UnicodeAttribute()
    events = UnicodeSetAttribute()
    description = UnicodeAttribute(null=True)
    enabled = BooleanAttribute()
    secret = UnicodeAttribute()
    previous_secret = UnicodeAttribute(null=True)
    previous_secret_expires_at = UTCDateTimeAttribute(null=True)
    failing_since = UTCDateTimeAttribute(null=True)
    disabled_at = UTCDateTimeAttribute(null=True)
    disabled_reason = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class WebhookDeliveryRecord(Model):
    """One event for one endpoint and its latest attempts, under "delivery#<endpoint id>#<delivery id>" in the
    Webhooks table (delivery ids sort by the event's time). Deleted by DynamoDB's TTL at `expires_at`."""

    class Meta(_Unbound):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)
    delivery_id = UnicodeAttribute()
    endpoint_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    body = UnicodeAttribute()
    status = UnicodeAttribute()
    attempt_count = NumberAttribute(default=0)
    attempts = ListAttribute[WebhookAttemptMap](of=WebhookAttemptMap, null=True)
    first_attempt_at = UTCDateTimeAttribute(null=True)
    next_attempt_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)


class FrequencyRecord(Model):
    """A tenant's marketing messages to one number in one ISO week (Bogota): the total and each day's count
    (smscore.dal.frequency_store). Keyed by tenant#number: no hot partition; TTL'd."""

    class Meta(_Unbound):
        pass

    key = UnicodeAttribute(hash_key=True)
    week = UnicodeAttribute(range_key=True)
    total = NumberAttribute(default=0)
    days = MapAttribute[str, Any](null=True)
    expires_at = TTLAttribute()


class ExclusionRecord(Model):
    """One number of one RNE snapshot (smscore.domain.exclusions). Keyed by number, so a 5,000,000-number load and a
    campaign's lookups spread over every partition; the snapshot is the sort key, so a new snapshot is written next
    to the current one and takes over when the pointer (SettingRecord `exclusions`) moves. TTL'd."""

    class Meta(_Unbound):
        pass

    number = UnicodeAttribute(hash_key=True)
    snapshot = UnicodeAttribute(range_key=True)
    expires_at = TTLAttribute()


class ExportJobRecord(Model):
    """A large CSV export (smscore.domain.exports), under "export#<job id>" in the Webhooks table (the tenant's
    integrations partition). Deleted by DynamoDB's TTL at `expires_at`, like the file by the bucket's lifecycle."""

    class Meta(_Unbound):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)
    job_id = UnicodeAttribute()
    queue_id = UnicodeAttribute()
    delimiter = UnicodeAttribute()
    status = UnicodeAttribute()
    rows = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)


class LinkRecord(Model):
    """One tracked link of a campaign: a URL of its text (smscore.domain.links). One item per (campaign, URL); the
    recipients' codes are derived from it, none is stored."""

    class Meta(_Unbound):
        pass

    link_key = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute()
    queue_id = UnicodeAttribute()
    url = UnicodeAttribute()
    secret = UnicodeAttribute()  # hex HMAC key of this link's codes
    messages = NumberAttribute()
    plan_prefix = UnicodeAttribute(null=True)
    chunk_sizes = ListAttribute[int](null=True)  # messages per plan chunk (a planned campaign)
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)  # with the campaign's messages (MessageRetentionDays)


class TemplateRecord(Model):
    """A tenant's saved message (smscore.domain.templates)."""

    class Meta(_Unbound):
        pass

    tenant_id = UnicodeAttribute(hash_key=True)
    template_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    text = UnicodeAttribute()
    purpose = UnicodeAttribute()
    encoding = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


MODELS_BY_SETTING: dict[str, type[Model]] = {
    "tenants_table": TenantRecord,
    "members_table": MemberRecord,
    "tokens_table": TokenRecord,
    "settings_table": SettingRecord,
    "contacts_table": ContactRecord,
    "tags_table": TagRecord,
    "tag_members_table": TagMemberRecord,
    "messages_table": MessageRecord,
    "dispatches_table": DispatchRecord,
    "ledger_table": LedgerRecord,
    "outbox_table": OutboxRecord,
    "unique_keys_table": UniqueKeyRecord,
    "import_jobs_table": ImportJobRecord,
    "suppressions_table": SuppressionRecord,
    "webhooks_table": WebhookEndpointRecord,
    "exclusions_table": ExclusionRecord,
    "frequency_table": FrequencyRecord,
    "templates_table": TemplateRecord,
    "links_table": LinkRecord,
}


# Models that share a table with one of MODELS_BY_SETTING.
SHARED_TABLE_MODELS: dict[type[Model], str] = {
    TermsAcceptanceRecord: "members_table",
    DispatchCounterRecord: "dispatches_table",
    ContactSearchRecord: "tag_members_table",
    ConsentHistoryRecord: "tag_members_table",
    PlanChunkRecord: "dispatches_table",
    InboundMessageRecord: "suppressions_table",
    ParkedReceiptRecord: "messages_table",
    DueBucketRecord: "messages_table",
    WebhookDeliveryRecord: "webhooks_table",
    ExportJobRecord: "webhooks_table",
}


def all_models() -> list[tuple[str, type[Model]]]:
    """(setting, model) of every model, those sharing a table included."""
    return [*MODELS_BY_SETTING.items(), *((setting, model) for model, setting in SHARED_TABLE_MODELS.items())]


def bind_tables(names: TableNames, region: str, host: str | None = None, max_pool_connections: int = 10) -> None:
    """Point every model at its physical table. Called once per process (and again by tests).

    `max_pool_connections` sizes botocore's connection pool (PynamoDB's default is 10): at least as many as the
    threads that share it, or each one above waits for a free connection (and botocore logs "pool is full").
    """
    for setting, model in all_models():
        bind_model(model, getattr(names, setting), region, host, max_pool_connections)


def bind_model(
    model: type[Model], table_name: str, region: str, host: str | None = None, max_pool_connections: int = 10
) -> None:
    """Point one model at its physical table (bind_tables does it for every model)."""
    model.Meta.table_name = table_name
    model.Meta.region = region
    model.Meta.host = host
    model.Meta.max_pool_connections = max_pool_connections
    model._connection = None
