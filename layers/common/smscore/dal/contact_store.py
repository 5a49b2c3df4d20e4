"""PynamoDB implementation of the ContactStore port (smscore.domain.contacts), plus the campaign and credit reads.

Every change that touches memberships is one transaction that also moves the tags' `contact_count`, guarded
by the contact's `revision` (optimistic concurrency): concurrent writers cannot make the counters drift from
the memberships, the loser re-reads and tries again. Uniqueness: a contact's key is derived from its number,
a tag's name has a guard item in UniqueKeys, both written with `attribute_not_exists` conditions.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from smscore.dal.dispatch_counts import with_shards
from smscore.dal.message_queries import dispatch_view
from smscore.dal.tables import (
    ConsentHistoryRecord,
    ContactRecord,
    ContactSearchRecord,
    DispatchRecord,
    ImportJobRecord,
    LedgerRecord,
    RejectedLine,
    TagMemberRecord,
    TagRecord,
    TenantRecord,
    UniqueKeyRecord,
)
from smscore.domain.backoff import Backoff
from smscore.domain.consent_records import (
    ConsentOrigin,
    ConsentStatus,
    MarketingConsent,
    consent_as_map,
    consent_from_map,
)
from smscore.domain.contacts import (
    MAX_TAGS_PER_CONTACT,
    Contact,
    ContactChange,
    ContactFilters,
    ContactNumber,
    ImportJob,
    ImportReport,
    ImportStatus,
    MergeCounts,
    MergeRow,
    RejectedRow,
    Tag,
    contact_id_for,
    tag_name_key,
)
from smscore.domain.errors import (
    ConcurrentUpdate,
    ContactExists,
    FieldIssue,
    InvalidRequest,
    NotFound,
    TagExists,
    TenantNotFound,
)
from smscore.domain.search import SearchQuery, contact_words
from smscore.domain.views import DispatchView

StartKey = dict[str, str | int] | None
MAX_TRANSACTION_ITEMS = 100
BATCH_GET_SIZE = 100
WRITE_ATTEMPTS = 8


def _plain_key(key: dict[str, dict[str, Any]] | None) -> StartKey:
    """A last evaluated key as plain values (strings), for the cursor codec."""
    if not key:
        return None
    return {name: str(next(iter(value.values()))) for name, value in key.items()}


def _typed_key(key: StartKey) -> dict[str, dict[str, Any]] | None:
    return {name: {"S": str(value)} for name, value in key.items()} if key else None


WRITE_BACKOFF = Backoff(base_seconds=0.01, cap_seconds=0.5)


def _backoff(attempt: int) -> None:
    time.sleep(WRITE_BACKOFF.delay(attempt + 1))


def _search_text(name: str | None, e164: str) -> str:
    return f"{(name or '').casefold()} {e164}"


def national_digits(e164: str | None) -> str | None:
    """The national significant number of an E.164 number (+573001234567 -> 3001234567), None if unparsable."""
    if not e164 or not e164.startswith("+"):
        return None
    import phonenumbers  # the contacts function imports it on the first number, not at init

    try:
        return str(phonenumbers.parse(e164, None).national_number)
    except phonenumbers.NumberParseException:
        return None


def search_words(name: str | None, e164: str | None) -> frozenset[str]:
    """The words a contact with this name and number is found by (smscore.domain.search)."""
    return contact_words(name, e164, national_digits(e164))


def _record_words(record: ContactRecord | None) -> frozenset[str]:
    return search_words(record.name, record.e164 or record.phone) if record is not None else frozenset()


def _search_writes(tenant_id: str, contact_id: str, before: frozenset[str], after: frozenset[str]) -> list[Write]:
    """Index items to change when a contact's words go from `before` to `after`, in the contact's transaction:
    stale words deleted, every current word (re)written with the new word set (none when nothing changed)."""
    if before == after:
        return []
    writes = [_delete(ContactSearchRecord.item(tenant_id, w, contact_id)) for w in before - after]
    writes += [_put(ContactSearchRecord.item(tenant_id, w, contact_id, after)) for w in after]
    return writes


def _tag(record: TagRecord) -> Tag:
    return Tag(
        tag_id=record.tag_id,
        name=record.name,
        contact_count=int(record.contact_count or 0),
        created_at=record.created_at,
    )


def _contact(record: ContactRecord) -> Contact:
    return Contact(
        contact_id=record.contact_id,
        phone=record.e164 or record.phone,
        name=record.name,
        opted_out=bool(record.opted_out),
        tag_ids=frozenset(record.tag_ids or ()),
        created_at=record.created_at,
        updated_at=record.updated_at,
        opted_out_at=record.opted_out_at,
        consent_source=record.consent_source,
        fields=_fields_of(record),
        marketing_consent=_consent_of(record),
    )


def _consent_of(record: ContactRecord) -> MarketingConsent | None:
    return consent_from_map(record.marketing_consent.as_dict()) if record.marketing_consent else None


def _consent_granted(record: ContactRecord) -> bool:
    consent = _consent_of(record)
    return consent is not None and consent.granted


def _history(tenant_id: str, contact_id: str, consent: MarketingConsent, revision: int, at: datetime) -> Write:
    """The history item of one consent change: a put conditional on its absence (append-only, never replaced)."""
    item = ConsentHistoryRecord(
        ConsentHistoryRecord.key_for(tenant_id, contact_id),
        f"{at.isoformat()}#{revision:010d}",
        status=consent.status.value,
        source=consent.source.value,
        at=consent.at.isoformat(),
        evidence=consent.evidence,
        recorded_at=at,
    )
    return _put(item, ConsentHistoryRecord.contact_id.does_not_exist())


def _fields_of(record: ContactRecord) -> dict[str, str]:
    return {str(k): str(v) for k, v in record.fields.as_dict().items()} if record.fields else {}


def _revision_is(record: ContactRecord) -> Condition:
    """The contact is exactly as we read it (older contacts have no revision yet)."""
    if record.revision is None:
        return ContactRecord.contact_id.exists() & ContactRecord.revision.does_not_exist()
    return ContactRecord.revision == int(record.revision)


def _membership(tenant_id: str, tag_id: str, record: ContactRecord, name: str | None = None) -> TagMemberRecord:
    """The membership copy the send path reads: phone, opt-out, consent and the name (`name`: a new one being
    written with it, else the record's)."""
    return TagMemberRecord(
        TagMemberRecord.key_for(tenant_id, tag_id),
        record.contact_id,
        phone=record.phone,
        opted_out=bool(record.opted_out),
        consent_granted=_consent_granted(record) or None,
        contact_name=(name if name is not None else record.name) or "",
    )


Write = Callable[[TransactWrite], None]


def _put(record: Any, condition: Condition | None = None) -> Write:
    return lambda tx: tx.save(record, condition=condition)


def _update(record: Any, actions: list[Any], condition: Condition | None = None) -> Write:
    return lambda tx: tx.update(record, actions=actions, condition=condition)


def _delete(record: Any, condition: Condition | None = None) -> Write:
    return lambda tx: tx.delete(record, condition=condition)


def _count(tenant_id: str, tag_id: str, delta: int) -> Write:
    """Move a tag's contact_count; the condition keeps a deleted tag from coming back as a bare counter."""
    return _update(TagRecord(tenant_id, tag_id), [TagRecord.contact_count.add(delta)], TagRecord.tag_id.exists())


@dataclass
class _Plan:
    """One transaction's worth of writes: callables applied to a TransactWrite, and their item count."""

    writes: list[Write]
    items: int


class DynamoContactStore:
    def __init__(
        self, region: str, host: str | None = None, workers: int = 8, connection: Connection | None = None
    ) -> None:
        """`connection` carries explicit credentials (smsctl's local target); by default the normal chain."""
        self._connection = connection or Connection(region=region, host=host)
        self._workers = workers

    # ------------------------------------------------------------------ tags
    def _tag_record(self, tenant_id: str, tag_id: str) -> TagRecord | None:
        try:
            return TagRecord.get(tenant_id, tag_id, consistent_read=True)
        except TagRecord.DoesNotExist:
            return None

    def _tag_holder(self, tenant_id: str, name_key: str) -> str | None:
        """The tag holding a folded name: its guard, or (tags written before guards existed) the by_name index."""
        try:
            owner: str = UniqueKeyRecord.get(
                UniqueKeyRecord.tag_name(tenant_id, name_key), consistent_read=True
            ).owner_id
            return owner
        except UniqueKeyRecord.DoesNotExist:
            pass
        for tag in TagRecord.by_name.query(tenant_id, TagRecord.name_key == name_key, consistent_read=True, limit=1):
            holder: str = tag.tag_id
            return holder
        return None

    def create_tag(self, tenant_id: str, name: str, at: datetime) -> Tag:
        key = tag_name_key(name)
        for _ in range(WRITE_ATTEMPTS):
            holder = self._tag_holder(tenant_id, key)
            if holder is not None:
                raise TagExists(holder)
            tag_id = str(uuid.uuid4())
            record = TagRecord(
                tenant_id, tag_id, name=name, name_key=key, contact_count=0, created_at=at, updated_at=at
            )
            try:
                with TransactWrite(connection=self._connection) as tx:
                    tx.save(
                        UniqueKeyRecord(UniqueKeyRecord.tag_name(tenant_id, key), owner_id=tag_id, tenant_id=tenant_id),
                        condition=UniqueKeyRecord.unique_key.does_not_exist(),
                    )
                    tx.save(record, condition=TagRecord.tag_id.does_not_exist())
            except TransactWriteError:
                continue  # someone took the name: the next round reads the holder
            return _tag(record)
        raise ConcurrentUpdate("The tag name kept changing; try again")

    def ensure_tags(self, tenant_id: str, names: Sequence[str], at: datetime) -> dict[str, str]:
        resolved: dict[str, str] = {}
        for name in names:
            key = tag_name_key(name)
            if key in resolved:
                continue
            holder = self._tag_holder(tenant_id, key)
            if holder is None:
                try:
                    holder = self.create_tag(tenant_id, name.strip(), at).tag_id
                except TagExists as exists:
                    holder = exists.existing_id
            resolved[key] = holder
        return resolved

    def get_tag(self, tenant_id: str, tag_id: str) -> Tag | None:
        record = self._tag_record(tenant_id, tag_id)
        return _tag(record) if record else None

    def list_tags(self, tenant_id: str, limit: int, start_key: StartKey) -> tuple[list[Tag], StartKey]:
        """By name (the by_name index), one Query per page; one item more than asked says whether more follow."""
        results = TagRecord.by_name.query(
            tenant_id, limit=limit + 1, page_size=limit + 1, last_evaluated_key=_typed_key(start_key)
        )
        records: list[TagRecord] = list(results)
        if len(records) <= limit:
            return [_tag(r) for r in records], None
        page = records[:limit]
        last = page[-1]
        return [_tag(r) for r in page], {"tenant_id": tenant_id, "tag_id": last.tag_id, "name_key": last.name_key}

    def rename_tag(self, tenant_id: str, tag_id: str, name: str, at: datetime) -> Tag:
        key = tag_name_key(name)
        for _ in range(WRITE_ATTEMPTS):
            record = self._tag_record(tenant_id, tag_id)
            if record is None:
                raise NotFound("No tag with this id")
            holder = self._tag_holder(tenant_id, key)
            if holder is not None and holder != tag_id:
                raise TagExists(holder)
            try:
                with TransactWrite(connection=self._connection) as tx:
                    if key != record.name_key:
                        tx.delete(
                            UniqueKeyRecord(UniqueKeyRecord.tag_name(tenant_id, record.name_key)),
                            condition=UniqueKeyRecord.owner_id == tag_id,
                        )
                        tx.save(
                            UniqueKeyRecord(
                                UniqueKeyRecord.tag_name(tenant_id, key), owner_id=tag_id, tenant_id=tenant_id
                            ),
                            condition=UniqueKeyRecord.unique_key.does_not_exist(),
                        )
                    tx.update(
                        record,
                        actions=[TagRecord.name.set(name), TagRecord.name_key.set(key), TagRecord.updated_at.set(at)],
                        condition=TagRecord.name_key == record.name_key,
                    )
            except TransactWriteError:
                self._adopt_unguarded_name(tenant_id, record)
                continue
            renamed = self._tag_record(tenant_id, tag_id)
            if renamed is None:
                raise NotFound("No tag with this id")
            return _tag(renamed)
        raise ConcurrentUpdate("The tag kept changing; try again")

    def _adopt_unguarded_name(self, tenant_id: str, record: TagRecord) -> None:
        """A tag written before name guards existed has none to delete: give it one, so a rename can proceed."""
        guard = UniqueKeyRecord(
            UniqueKeyRecord.tag_name(tenant_id, record.name_key), owner_id=record.tag_id, tenant_id=tenant_id
        )
        try:
            guard.save(condition=UniqueKeyRecord.unique_key.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise  # the guard exists (the usual case): nothing to adopt

    def delete_tag(self, tenant_id: str, tag_id: str) -> bool:
        """The tag and its name guard go first (so nothing new can join it), then every membership.

        Campaigns keep the id in their `tagIds`; contacts lose it. A very large tag takes one Query page plus
        one transaction per contact; the send path only reads memberships, so it never sees a half-deleted tag
        as more than the members not yet removed.
        """
        record = self._tag_record(tenant_id, tag_id)
        if record is None:
            return False
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.delete(record, condition=TagRecord.tag_id.exists())
                tx.delete(
                    UniqueKeyRecord(UniqueKeyRecord.tag_name(tenant_id, record.name_key)),
                    condition=UniqueKeyRecord.owner_id.does_not_exist() | (UniqueKeyRecord.owner_id == tag_id),
                )
        except TransactWriteError as exc:
            if self._tag_record(tenant_id, tag_id) is None:
                return False  # deleted by someone else meanwhile
            raise ConcurrentUpdate("The tag kept changing; try again") from exc
        members = [m.contact_id for m in TagMemberRecord.query(TagMemberRecord.key_for(tenant_id, tag_id))]
        self._parallel(lambda contact_id: self._drop_deleted_tag(tenant_id, tag_id, contact_id), members)
        return True

    def _drop_deleted_tag(self, tenant_id: str, tag_id: str, contact_id: str) -> None:
        membership = TagMemberRecord(TagMemberRecord.key_for(tenant_id, tag_id), contact_id)
        removed = self._commit(
            _applying(
                [
                    _delete(membership),
                    _update(
                        ContactRecord(tenant_id, contact_id),
                        [ContactRecord.tag_ids.delete({tag_id}), ContactRecord.revision.add(1)],
                        ContactRecord.contact_id.exists(),
                    ),
                ]
            )
        )
        if not removed:  # a membership left behind by a contact that no longer exists
            membership.delete()

    def _parallel(self, work: Callable[[str], None], items: Sequence[str]) -> None:
        if not items:
            return
        with ThreadPoolExecutor(max_workers=min(self._workers, len(items))) as pool:
            list(pool.map(work, items))

    # ------------------------------------------------------------------ contacts
    def _contact_record(self, tenant_id: str, contact_id: str) -> ContactRecord | None:
        try:
            return ContactRecord.get(tenant_id, contact_id, consistent_read=True)
        except ContactRecord.DoesNotExist:
            return None

    def _existing_tags(self, tenant_id: str, tag_ids: Iterable[str]) -> set[str]:
        keys = [(tenant_id, tag_id) for tag_id in set(tag_ids)]
        if not keys:
            return set()
        return {tag.tag_id for tag in TagRecord.batch_get(keys, consistent_read=True, attributes_to_get=["tag_id"])}

    def _require_tags(self, tenant_id: str, tag_ids: Iterable[str], field_name: str = "tagIds") -> None:
        wanted = set(tag_ids)
        missing = wanted - self._existing_tags(tenant_id, wanted)
        if missing:
            message = f"no such tag: {', '.join(sorted(missing))}"
            raise NotFound(f"Not found: {field_name}: {message}", details=[FieldIssue(field_name, message)])

    def declared_fields(self, tenant_id: str) -> tuple[str, ...]:
        try:
            record = TenantRecord.get(tenant_id, attributes_to_get=["tenant_id", "merge_fields"])
        except TenantRecord.DoesNotExist:
            return ()
        return tuple(record.merge_fields or ())

    def declare_fields(self, tenant_id: str, names: Sequence[str]) -> None:
        """One conditional UpdateItem of the tenant's own item."""
        action = TenantRecord.merge_fields.set(list(names)) if names else TenantRecord.merge_fields.remove()
        try:
            TenantRecord(tenant_id).update(actions=[action], condition=TenantRecord.tenant_id.exists())
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise TenantNotFound("The tenant of this token no longer exists") from exc
            raise

    def create_contact(
        self,
        tenant_id: str,
        number: ContactNumber,
        name: str | None,
        tag_ids: frozenset[str],
        at: datetime,
        fields: Mapping[str, str] | None = None,
    ) -> Contact:
        contact_id = contact_id_for(tenant_id, number.e164)
        for holder in ContactRecord.by_phone.query(tenant_id, ContactRecord.e164 == number.e164, limit=1):
            raise ContactExists(holder.contact_id)  # a contact written before the contacts API, with another id
        record = ContactRecord(
            tenant_id,
            contact_id,
            phone=number.e164,
            e164=number.e164,
            name=name,
            search_text=_search_text(name, number.e164),
            opted_out=False,
            tag_ids=set(tag_ids) or None,
            fields=dict(fields) if fields else None,
            created_at=at,
            updated_at=at,
            revision=1,
        )
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(record, condition=ContactRecord.contact_id.does_not_exist())
                for write in _search_writes(tenant_id, contact_id, frozenset(), search_words(name, number.e164)):
                    write(tx)
                for tag_id in tag_ids:
                    tx.save(_membership(tenant_id, tag_id, record))
                    tx.update(
                        TagRecord(tenant_id, tag_id),
                        actions=[TagRecord.contact_count.add(1)],
                        condition=TagRecord.tag_id.exists(),
                    )
        except TransactWriteError as exc:
            if self._contact_record(tenant_id, contact_id) is not None:
                raise ContactExists(contact_id) from exc
            self._require_tags(tenant_id, tag_ids)
            raise
        return _contact(record)

    def contacts_with_number(self, e164: str) -> list[tuple[str, str]]:
        """(tenant id, contact id) of every tenant's contact with this number: the sparse `by_number` index, one
        Query (keys only), for the opt-out keyword handler (smscore.domain.inbound)."""
        return [(r.tenant_id, r.contact_id) for r in ContactRecord.by_number.query(e164)]

    def get_contact(self, tenant_id: str, contact_id: str) -> Contact | None:
        record = self._contact_record(tenant_id, contact_id)
        return _contact(record) if record else None

    def search_contacts(
        self, tenant_id: str, query: SearchQuery, filters: ContactFilters, limit: int, start_key: StartKey
    ) -> tuple[list[Contact], StartKey]:
        """One Query of the search index (begins_with on one partition key: never a Scan) and one BatchGetItem per
        page. Each contact comes once: at the first of its words the prefix matches. A contact whose words changed
        since its item was read, or outside `filters`, is left out, so a page may hold fewer than `limit`."""
        results = ContactSearchRecord.query(
            ContactSearchRecord.key_for(tenant_id, query.prefix),
            ContactSearchRecord.contact_id.startswith(query.prefix),
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=_typed_key(start_key),
        )
        found_items = list(results)
        items, more = found_items[:limit], len(found_items) > limit
        next_key: StartKey = {"tag_key": items[-1].tag_key, "contact_id": items[-1].contact_id} if more else None
        wanted: list[str] = []
        for item in items:
            word = item.contact_id.rsplit("#", 1)[0]
            words = frozenset(item.words or ()) | {word}
            first = min(w for w in words if w.startswith(query.prefix))
            if word == first and query.matches(words) and item.target not in wanted:
                wanted.append(item.target)
        found = self._batch_contacts(tenant_id, wanted)
        contacts = []
        for contact_id in wanted:
            record = found.get(contact_id)
            if record is None or not query.matches(_record_words(record)):
                continue  # deleted, or renamed since the item was read
            if filters.tag_id is not None and filters.tag_id not in (record.tag_ids or ()):
                continue
            contacts.append(_contact(record))
        return contacts, next_key

    def list_contacts(
        self, tenant_id: str, filters: ContactFilters, limit: int, start_key: StartKey
    ) -> tuple[list[Contact], StartKey]:
        """One Query per page (plus one BatchGetItem when listing a tag); `q` and `optedOut` filter that page,
        so a filtered page may hold fewer than `limit` contacts while `nextCursor` says more may follow."""
        text = filters.text.casefold() if filters.text else None

        def keep(record: ContactRecord) -> bool:
            if filters.opted_out is not None and bool(record.opted_out) != filters.opted_out:
                return False
            if filters.tag_id is not None and filters.tag_id not in (record.tag_ids or ()):
                return False
            haystack = record.search_text or f"{(record.name or '').casefold()} {record.phone}"
            return text is None or text in haystack

        if filters.e164 is not None:
            holders = ContactRecord.by_phone.query(
                tenant_id,
                ContactRecord.e164 == filters.e164,
                limit=limit + 1,
                last_evaluated_key=_typed_key(start_key),
            )
            found = list(holders)
            page, more = found[:limit], len(found) > limit
            next_key: StartKey = (
                {"tenant_id": tenant_id, "contact_id": page[-1].contact_id, "e164": filters.e164} if more else None
            )
            return [_contact(r) for r in page if keep(r)], next_key
        if filters.tag_id is not None:
            tag_key = TagMemberRecord.key_for(tenant_id, filters.tag_id)
            members = list(
                TagMemberRecord.query(
                    tag_key,
                    limit=limit + 1,
                    page_size=limit + 1,
                    attributes_to_get=["contact_id"],
                    last_evaluated_key=_typed_key(start_key),
                )
            )
            page_ids, more = [m.contact_id for m in members[:limit]], len(members) > limit
            by_id = {
                r.contact_id: r
                for r in ContactRecord.batch_get([(tenant_id, cid) for cid in page_ids], consistent_read=True)
            }
            contacts = [_contact(by_id[cid]) for cid in page_ids if cid in by_id and keep(by_id[cid])]
            return contacts, ({"tag_key": tag_key, "contact_id": page_ids[-1]} if more else None)
        condition = None
        if filters.opted_out is not None:
            condition = ContactRecord.opted_out == filters.opted_out
        if text is not None:
            matches = ContactRecord.search_text.contains(text) | ContactRecord.phone.contains(text)
            condition = matches if condition is None else condition & matches
        pages = ContactRecord.query(
            tenant_id, filter_condition=condition, page_size=limit, last_evaluated_key=_typed_key(start_key)
        ).page_iter
        raw = next(pages)  # exactly one Query: a filter that matches little gives a short page, not a long wait
        records = [ContactRecord.from_raw_data(item) for item in raw.get("Items", [])]
        return [_contact(r) for r in records], _plain_key(pages.last_evaluated_key)

    def _commit(self, writes: Write) -> bool:
        """True when the transaction applied; False when a condition failed or it conflicted (re-read, retry)."""
        try:
            with TransactWrite(connection=self._connection) as tx:
                writes(tx)
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            return False
        return True

    def update_contact(self, tenant_id: str, contact_id: str, change: ContactChange, at: datetime) -> Contact:
        for attempt in range(WRITE_ATTEMPTS):
            record = self._contact_record(tenant_id, contact_id)
            if record is None:
                raise NotFound("No contact with this id")
            current = set(record.tag_ids or ())
            added = set(change.add_tag_ids) - current
            removed = set(change.remove_tag_ids) & current
            self._require_tags(tenant_id, added, "addTagIds")
            if len(current | added) - len(removed) > MAX_TAGS_PER_CONTACT:
                message = f"a contact carries at most {MAX_TAGS_PER_CONTACT} tags"
                raise InvalidRequest(
                    f"Invalid request: addTagIds: {message}", details=[FieldIssue("addTagIds", message)]
                )
            live_removed = self._existing_tags(tenant_id, removed)
            name = None if change.clear_name else (change.name if change.name is not None else record.name)
            e164 = record.e164 or record.phone
            actions: list[Any] = [
                ContactRecord.updated_at.set(at),
                ContactRecord.revision.add(1),
                ContactRecord.search_text.set(_search_text(name, e164)),
                ContactRecord.name.set(name) if name is not None else ContactRecord.name.remove(),
            ]
            if added or removed:  # one SET: ADD and DELETE on one attribute cannot share an update expression
                tags = (current | added) - removed
                actions.append(ContactRecord.tag_ids.set(tags) if tags else ContactRecord.tag_ids.remove())
            if change.fields:
                values = {**_fields_of(record), **dict(change.fields)}
                kept = {k: v for k, v in values.items() if v is not None}
                actions.append(ContactRecord.fields.set(kept) if kept else ContactRecord.fields.remove())

            writes = [_update(record, actions, _revision_is(record))]
            writes += _search_writes(tenant_id, contact_id, _record_words(record), search_words(name, e164))
            for tag_id in added:
                writes += [_put(_membership(tenant_id, tag_id, record, name or "")), _count(tenant_id, tag_id, 1)]
            if (name or "") != (record.name or ""):  # a rename: every kept membership's copy of the name too
                writes += [_put(_membership(tenant_id, tag_id, record, name or "")) for tag_id in current - removed]
            for tag_id in removed:
                writes.append(_delete(TagMemberRecord(TagMemberRecord.key_for(tenant_id, tag_id), contact_id)))
                if tag_id in live_removed:
                    writes.append(_count(tenant_id, tag_id, -1))
            if self._commit(_applying(writes)):
                updated = self._contact_record(tenant_id, contact_id)
                if updated is None:
                    raise NotFound("No contact with this id")
                return _contact(updated)
            _backoff(attempt)
        raise ConcurrentUpdate("The contact kept changing; try again")

    def set_opted_out(self, tenant_id: str, contact_id: str, opted_out: bool, source: str, at: datetime) -> Contact:
        for attempt in range(WRITE_ATTEMPTS):
            record = self._contact_record(tenant_id, contact_id)
            if record is None:
                raise NotFound("No contact with this id")
            if bool(record.opted_out) == opted_out:
                return _contact(record)

            actions = [
                ContactRecord.opted_out.set(opted_out),
                ContactRecord.opted_out_at.set(at) if opted_out else ContactRecord.opted_out_at.remove(),
                ContactRecord.consent_source.set(source),
                ContactRecord.updated_at.set(at),
                ContactRecord.revision.add(1),
            ]
            writes = [_update(record, actions, _revision_is(record))]
            for tag_id in record.tag_ids or ():
                membership = _membership(tenant_id, tag_id, record)
                membership.opted_out = opted_out  # the copy the send path reads
                writes.append(_put(membership))
            if self._commit(_applying(writes)):
                updated = self._contact_record(tenant_id, contact_id)
                if updated is None:
                    raise NotFound("No contact with this id")
                return _contact(updated)
            _backoff(attempt)
        raise ConcurrentUpdate("The contact kept changing; try again")

    def set_marketing_consent(
        self, tenant_id: str, contact_id: str, consent: MarketingConsent, at: datetime
    ) -> Contact:
        """Record a consent change: the contact's record, its membership copies (what the send path reads) and one
        new history item, in one transaction conditional on the revision read."""
        for attempt in range(WRITE_ATTEMPTS):
            record = self._contact_record(tenant_id, contact_id)
            if record is None:
                raise NotFound("No contact with this id")
            revision = int(record.revision or 0) + 1
            actions = [
                ContactRecord.marketing_consent.set(consent_as_map(consent)),
                ContactRecord.updated_at.set(at),
                ContactRecord.revision.add(1),
            ]
            writes = [
                _update(record, actions, _revision_is(record)),
                _history(tenant_id, contact_id, consent, revision, at),
            ]
            for tag_id in record.tag_ids or ():
                membership = _membership(tenant_id, tag_id, record)
                membership.consent_granted = consent.granted or None  # the copy the send path reads
                writes.append(_put(membership))
            if self._commit(_applying(writes)):
                updated = self._contact_record(tenant_id, contact_id)
                if updated is None:
                    raise NotFound("No contact with this id")
                return _contact(updated)
            _backoff(attempt)
        raise ConcurrentUpdate("The contact kept changing; try again")

    def consent_history(self, tenant_id: str, contact_id: str) -> list[MarketingConsent]:
        """Every consent change of the contact, oldest first."""
        return [
            MarketingConsent(
                ConsentStatus(item.status), ConsentOrigin(item.source), datetime.fromisoformat(item.at), item.evidence
            )
            for item in ConsentHistoryRecord.query(ConsentHistoryRecord.key_for(tenant_id, contact_id))
        ]

    def delete_contact(self, tenant_id: str, contact_id: str) -> bool:
        for attempt in range(WRITE_ATTEMPTS):
            record = self._contact_record(tenant_id, contact_id)
            if record is None:
                return False
            tags = set(record.tag_ids or ())
            live = self._existing_tags(tenant_id, tags)

            writes = [_delete(record, _revision_is(record))]
            writes += _search_writes(tenant_id, contact_id, _record_words(record), frozenset())
            for tag_id in tags:
                writes.append(_delete(TagMemberRecord(TagMemberRecord.key_for(tenant_id, tag_id), contact_id)))
                if tag_id in live:
                    writes.append(_count(tenant_id, tag_id, -1))
            if self._commit(_applying(writes)):
                return True
            _backoff(attempt)
        raise ConcurrentUpdate("The contact kept changing; try again")

    # ------------------------------------------------------------------ imports
    def merge_contacts(self, tenant_id: str, rows: Sequence[MergeRow], at: datetime) -> MergeCounts:
        """Create-or-merge distinct numbers in as few transactions as fit (100 items each).

        Each contact is written against the revision just read (or must not exist yet), so a concurrent import
        or API change of the same contact makes this transaction fail as a whole; its rows are re-read and retried.
        """
        pending = list(rows)
        totals = MergeCounts()
        for attempt in range(WRITE_ATTEMPTS):
            if not pending:
                return totals
            existing = self._batch_contacts(tenant_id, [contact_id_for(tenant_id, r.e164) for r in pending])
            retry: list[MergeRow] = []
            for plan, plan_rows, counts in self._merge_plans(tenant_id, pending, existing, at):
                if not plan.writes or self._commit(_applying(plan.writes)):
                    totals = _plus(totals, counts)
                else:
                    retry.extend(plan_rows)
            pending = retry
            if pending:
                _backoff(attempt)
        raise ConcurrentUpdate(f"{len(pending)} contacts kept changing during the import")

    def _batch_contacts(self, tenant_id: str, contact_ids: Sequence[str]) -> dict[str, ContactRecord]:
        found: dict[str, ContactRecord] = {}
        for start in range(0, len(contact_ids), BATCH_GET_SIZE):
            keys = [(tenant_id, cid) for cid in contact_ids[start : start + BATCH_GET_SIZE]]
            for record in ContactRecord.batch_get(keys, consistent_read=True):
                found[record.contact_id] = record
        return found

    def _merge_plans(
        self, tenant_id: str, rows: Sequence[MergeRow], existing: dict[str, ContactRecord], at: datetime
    ) -> Iterable[tuple[_Plan, list[MergeRow], MergeCounts]]:
        """Rows packed into transactions of at most 100 items, each with the tag counter moves it implies."""
        writes: list[Write] = []
        plan_rows: list[MergeRow] = []
        counter: dict[str, int] = {}
        created = updated = unchanged = 0

        def flush() -> tuple[_Plan, list[MergeRow], MergeCounts]:
            writes.extend(_count(tenant_id, tag_id, count) for tag_id, count in counter.items())
            return _Plan(list(writes), len(writes)), list(plan_rows), MergeCounts(created, updated, unchanged)

        for row in rows:
            contact_id = contact_id_for(tenant_id, row.e164)
            record = existing.get(contact_id)
            row_writes, new_tags = self._merge_row(tenant_id, contact_id, row, record, at)
            new_counters = [t for t in new_tags if t not in counter]
            if writes and len(writes) + len(row_writes) + len(counter) + len(new_counters) > MAX_TRANSACTION_ITEMS:
                yield flush()
                writes.clear()
                plan_rows.clear()
                counter.clear()
                created = updated = unchanged = 0
            writes.extend(row_writes)
            plan_rows.append(row)
            for tag_id in new_tags:
                counter[tag_id] = counter.get(tag_id, 0) + 1
            if record is None:
                created += 1
            elif row_writes:
                updated += 1
            else:
                unchanged += 1
        if plan_rows:
            yield flush()

    @staticmethod
    def _merge_row(
        tenant_id: str, contact_id: str, row: MergeRow, record: ContactRecord | None, at: datetime
    ) -> tuple[list[Write], set[str]]:
        if record is None:
            new = ContactRecord(
                tenant_id,
                contact_id,
                phone=row.e164,
                e164=row.e164,
                name=row.name,
                search_text=_search_text(row.name, row.e164),
                opted_out=False,
                tag_ids=set(row.tag_ids) or None,
                fields=dict(row.fields) or None,
                marketing_consent=consent_as_map(row.consent) if row.consent else None,
                created_at=at,
                updated_at=at,
                revision=1,
            )
            writes = [_put(new, ContactRecord.contact_id.does_not_exist())]
            if row.consent is not None:
                writes.append(_history(tenant_id, contact_id, row.consent, 1, at))
            writes += _search_writes(tenant_id, contact_id, frozenset(), search_words(row.name, row.e164))
            writes.extend(_put(_membership(tenant_id, t, new)) for t in row.tag_ids)
            return writes, set(row.tag_ids)
        new_tags = set(row.tag_ids) - set(record.tag_ids or ())
        rename = row.name is not None and row.name != record.name
        current_fields = _fields_of(record)
        new_fields = {**current_fields, **dict(row.fields)}
        refill = new_fields != current_fields
        consent = row.consent if row.consent is not None and row.consent != _consent_of(record) else None
        if not new_tags and not rename and not refill and consent is None:
            return [], set()
        e164 = record.e164 or row.e164
        name = row.name if rename else record.name
        actions: list[Any] = [
            ContactRecord.updated_at.set(at),
            ContactRecord.revision.add(1),
            ContactRecord.search_text.set(_search_text(name, e164)),
        ]
        if rename and row.name is not None:
            actions.append(ContactRecord.name.set(row.name))
        if new_tags:
            actions.append(ContactRecord.tag_ids.add(new_tags))
        if refill:
            actions.append(ContactRecord.fields.set(new_fields))
        writes = [_update(record, actions, _revision_is(record))]
        writes += _search_writes(tenant_id, contact_id, _record_words(record), search_words(name, e164))
        moved = set(new_tags) | (set(record.tag_ids or ()) if rename else set())  # a rename: every name copy
        granted = _consent_granted(record)
        if consent is not None:  # the record, its history and every membership copy (what the send path reads)
            actions.append(ContactRecord.marketing_consent.set(consent_as_map(consent)))
            writes.append(_history(tenant_id, contact_id, consent, int(record.revision or 0) + 1, at))
            granted = consent.granted
            moved |= set(record.tag_ids or ())
        for tag_id in moved:
            membership = _membership(tenant_id, tag_id, record, name or "")
            membership.consent_granted = granted or None
            writes.append(_put(membership))
        return writes, new_tags

    # ------------------------------------------------------------------ import jobs
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
    ) -> ImportJob:
        record = ImportJobRecord(
            tenant_id,
            job_id,
            member_id=member_id,
            status=status.value,
            source=source,
            object_key=object_key,
            created_at=at,
            updated_at=at,
        )
        record.save(condition=ImportJobRecord.job_id.does_not_exist())
        return _job(record)

    def get_job(self, tenant_id: str, job_id: str) -> ImportJob | None:
        try:
            return _job(ImportJobRecord.get(tenant_id, job_id, consistent_read=True))
        except ImportJobRecord.DoesNotExist:
            return None

    def claim_job(self, tenant_id: str, job_id: str, at: datetime) -> bool:
        """AWAITING_UPLOAD -> PROCESSING, once: a repeated upload event finds it taken and does nothing."""
        try:
            ImportJobRecord(tenant_id, job_id).update(
                actions=[
                    ImportJobRecord.status.set(ImportStatus.PROCESSING.value),
                    ImportJobRecord.updated_at.set(at),
                ],
                condition=ImportJobRecord.status == ImportStatus.AWAITING_UPLOAD.value,
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def save_progress(
        self,
        tenant_id: str,
        job_id: str,
        report: ImportReport,
        at: datetime,
        status: ImportStatus | None = None,
        error: str | None = None,
        error_code: str | None = None,
    ) -> None:
        actions: list[Any] = [
            ImportJobRecord.rows_processed.set(report.rows_processed),
            ImportJobRecord.imported.set(report.imported),
            ImportJobRecord.created.set(report.created),
            ImportJobRecord.updated.set(report.updated),
            ImportJobRecord.unchanged.set(report.unchanged),
            ImportJobRecord.rejected.set(report.rejected),
            ImportJobRecord.warned.set(report.warned),
            ImportJobRecord.rejected_rows.set(
                [
                    RejectedLine(line=r.line, reason=r.reason, content=r.content, code=r.code)
                    for r in report.rejected_rows
                ]
            ),
            ImportJobRecord.warnings.set([RejectedLine(line=r.line, reason=r.reason) for r in report.warnings]),
            ImportJobRecord.updated_at.set(at),
        ]
        if status is not None:
            actions.append(ImportJobRecord.status.set(status.value))
        if error is not None:
            actions.append(ImportJobRecord.error.set(error))
        if error_code is not None:
            actions.append(ImportJobRecord.error_code.set(error_code))
        ImportJobRecord(tenant_id, job_id).update(actions=actions, condition=ImportJobRecord.job_id.exists())

    # ------------------------------------------------------------------ tenant
    def tenant_country(self, tenant_id: str) -> str | None:
        try:
            country: str | None = TenantRecord.get(tenant_id, attributes_to_get=["default_country"]).default_country
        except TenantRecord.DoesNotExist:
            return None
        return country


def _applying(writes: Sequence[Write]) -> Write:
    def apply(tx: TransactWrite) -> None:
        for write in writes:
            write(tx)

    return apply


def _plus(a: MergeCounts, b: MergeCounts) -> MergeCounts:
    return MergeCounts(a.created + b.created, a.updated + b.updated, a.unchanged + b.unchanged)


def _job(record: ImportJobRecord) -> ImportJob:
    report = ImportReport(
        imported=int(record.imported or 0),
        rejected=int(record.rejected or 0),
        warned=int(record.warned or 0),
        created=int(record.created or 0),
        updated=int(record.updated or 0),
        unchanged=int(record.unchanged or 0),
        rejected_rows=[RejectedRow(int(r.line), r.reason, r.content, r.code) for r in record.rejected_rows or []],
        warnings=[RejectedRow(int(r.line), r.reason) for r in record.warnings or []],
    )
    return ImportJob(
        job_id=record.job_id,
        status=ImportStatus(record.status),
        source=record.source,
        created_at=record.created_at,
        updated_at=record.updated_at,
        report=report,
        error=record.error,
        error_code=record.error_code,
    )


class DynamoAccountQueries:
    """The tenant's campaigns (newest first) and its balance with the ledger (newest first)."""

    def campaigns(self, tenant_id: str, limit: int, start_key: StartKey) -> tuple[list[DispatchView], StartKey]:
        results = DispatchRecord.by_tenant_created.query(
            tenant_id,
            filter_condition=DispatchRecord.test.does_not_exist(),  # test sends are no campaign
            scan_index_forward=False,
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=_typed_key(start_key),
        )
        records: list[DispatchRecord] = list(results)
        if len(records) <= limit:
            return [dispatch_view(r) for r in with_shards(records, consistent_read=False)], None
        page = records[:limit]
        last = page[-1]
        stored = DispatchRecord.created_at.serialize(last.created_at)
        return [dispatch_view(r) for r in with_shards(page, consistent_read=False)], {
            "tenant_id": tenant_id,
            "created_at": stored,
            "queue_id": last.queue_id,
        }

    def balance(self, tenant_id: str) -> int | None:
        try:
            return int(TenantRecord.get(tenant_id, consistent_read=True, attributes_to_get=["credits"]).credits)
        except TenantRecord.DoesNotExist:
            return None

    def tenant_summary(self, tenant_id: str) -> tuple[str, int, str | None, str | None] | None:
        try:
            tenant = TenantRecord.get(
                tenant_id,
                consistent_read=True,
                attributes_to_get=["name", "credits", "default_country", "credit_price_cop"],
            )
        except TenantRecord.DoesNotExist:
            return None
        return str(tenant.name), int(tenant.credits), tenant.default_country, tenant.credit_price_cop

    def ledger(self, tenant_id: str, limit: int, start_key: StartKey) -> tuple[list[LedgerRecord], StartKey]:
        results = LedgerRecord.query(
            tenant_id,
            scan_index_forward=False,
            consistent_read=True,
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=_typed_key(start_key),
        )
        records: list[LedgerRecord] = list(results)
        if len(records) <= limit:
            return records, None
        page = records[:limit]
        return page, {"tenant_id": tenant_id, "entry_id": page[-1].entry_id}
