"""`smsctl names check [--tenant T] [--fix]`: stored tag and contact names against the name rules.

Names written before the rules (smscore.domain.names) may hold characters the API now refuses (`vi\\u200bp`,
`abc\\u202egnp.exe`, NUL, U+FFFF...), and tags may carry a uniqueness key computed the former way
(`strip().casefold()`): the same as the new key for every ASCII name, different where NFKC changes the name
(full-width letters, ligatures, decomposed accents). A tag whose stored key differs is not found by a create of
the same name in another form until its key moves; two tags whose new keys are equal (full-width
`\\uff36\\uff29\\uff30` beside `vip`) are one name under the new rule.

The check reads every tag and contact of a tenant (Queries on the tenant's partition; every tenant: a Scan of
the Tenants table) and reports each finding. `--fix` applies what is safe, through the contacts API's own
store (race-safe renames, contact updates):
- a tag's key moves to the new key (the name stays) when no other tag holds it;
- a name loses its refused characters when something visible remains and, for a tag, the result is no other
  tag's name; a contact name with nothing visible left is cleared;
- everything else (two tags that are now one name, a tag name with nothing visible) needs a person: rename, or
  move the contacts and delete one tag. Nothing is merged or deleted automatically.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smscore.dal.tables import ContactRecord, TagRecord, TenantRecord
from smscore.domain.contacts import ContactChange, clean_contact_name, clean_tag_name, tag_name_key
from smscore.domain.errors import InvalidRequest, TagExists
from smscore.domain.names import refused_character, without_refused_characters
from smsdev.admin_store import DynamoAdminStore

FIXED, FIXABLE, BY_HAND = "fixed", "fixable", "needs a person"


@dataclass(frozen=True)
class StoredTag:
    tag_id: str
    name: str
    stored_key: str


@dataclass
class Finding:
    kind: str  # "tag" | "contact"
    item_id: str
    name: str
    problem: str
    fix: str | None = None  # the name --fix writes (a contact: None clears the name)
    status: str = BY_HAND

    def as_json(self, tenant_id: str) -> dict[str, Any]:
        fix = {"fix": self.fix} if self.status != BY_HAND else {}
        found = {"tenantId": tenant_id, "kind": self.kind, "id": self.item_id, "name": self.name}
        return {**found, "problem": self.problem, **fix, "status": self.status}


def _clean_proposal(name: str) -> tuple[str | None, str | None]:
    """(the tag name without its refused characters, or None, and why not)."""
    try:
        return clean_tag_name(without_refused_characters(name)), None
    except InvalidRequest as refused:
        return None, refused.details[0].message


def plan_tags(tags: Iterable[StoredTag]) -> list[Finding]:
    """What the rules say of a tenant's stored tags, and the fix of each where one is safe (no I/O)."""
    tags = list(tags)
    proposed: dict[str, str | None] = {}  # tag id -> the name it would have after a fix (None: no fix)
    findings: dict[str, Finding] = {}
    for tag in tags:
        refused = refused_character(tag.name)
        if refused is None:
            proposed[tag.tag_id] = tag.name
            if tag.stored_key != tag_name_key(tag.name):
                problem = f"its stored key {tag.stored_key!r} is not the name's key {tag_name_key(tag.name)!r}"
                findings[tag.tag_id] = Finding("tag", tag.tag_id, tag.name, problem, tag.name, FIXABLE)
            continue
        proposal, why_not = _clean_proposal(tag.name)
        proposed[tag.tag_id] = proposal
        problem = refused.sentence("tag name")
        if proposal is None:
            findings[tag.tag_id] = Finding("tag", tag.tag_id, tag.name, f"{problem}; without it: {why_not}")
        else:
            findings[tag.tag_id] = Finding("tag", tag.tag_id, tag.name, problem, proposal, FIXABLE)
    holders: dict[str, list[StoredTag]] = defaultdict(list)
    for tag in tags:
        name = proposed[tag.tag_id]
        if name is not None:
            holders[tag_name_key(name)].append(tag)
    for key, group in holders.items():
        if len(group) < 2:
            continue
        for tag in group:
            others = ", ".join(f"{other.name!r} ({other.tag_id})" for other in group if other is not tag)
            problem = f"its name is one with {others} under the name rule (key {key!r}): rename one, or move the "
            problem += "contacts and delete one"
            known = findings.get(tag.tag_id)
            findings[tag.tag_id] = Finding(
                "tag", tag.tag_id, tag.name, f"{known.problem}; {problem}" if known else problem
            )
    return [findings[tag.tag_id] for tag in tags if tag.tag_id in findings]


def plan_contact(contact_id: str, name: str | None) -> Finding | None:
    refused = refused_character(name or "")
    if name is None or refused is None:
        return None
    proposal = clean_contact_name(without_refused_characters(name))
    return Finding("contact", contact_id, name, refused.sentence("name"), proposal, FIXABLE)


def check_tenant(admin: DynamoAdminStore, tenant_id: str, fix: bool) -> tuple[int, int, list[Finding]]:
    """(tags read, contacts read, findings) of one tenant; with `fix`, the fixable ones applied."""
    store = admin.contact_store()
    tags = [StoredTag(t.tag_id, t.name, t.name_key) for t in TagRecord.query(tenant_id)]
    findings = plan_tags(tags)
    contacts = 0
    for record in ContactRecord.query(tenant_id, attributes_to_get=["contact_id", "name"]):
        contacts += 1
        found = plan_contact(record.contact_id, record.name)
        if found is not None:
            findings.append(found)
    if fix:
        for found in (f for f in findings if f.status == FIXABLE):
            at = datetime.now(UTC)
            if found.kind == "contact":
                change = ContactChange(name=found.fix, clear_name=found.fix is None)
                store.update_contact(tenant_id, found.item_id, change, at)
            else:
                try:
                    store.rename_tag(tenant_id, found.item_id, found.fix or found.name, at)
                except TagExists as exists:  # taken since the plan was made
                    found.problem += f"; its fix {found.fix!r} is now the name of tag {exists.existing_id}"
                    found.status = BY_HAND
                    continue
            found.status = FIXED
    return len(tags), contacts, findings


def check_names(admin: DynamoAdminStore, tenant_id: str | None, fix: bool) -> dict[str, Any]:
    """The report of `smsctl names check`."""
    if tenant_id is not None:
        admin.tenant(tenant_id)  # NotFound for an unknown tenant
    tenant_ids = (
        [tenant_id] if tenant_id else sorted(t.tenant_id for t in TenantRecord.scan(attributes_to_get=["tenant_id"]))
    )
    tags = contacts = 0
    report: list[dict[str, Any]] = []
    for tenant in tenant_ids:
        tenant_tags, tenant_contacts, findings = check_tenant(admin, tenant, fix)
        tags, contacts = tags + tenant_tags, contacts + tenant_contacts
        report.extend(found.as_json(tenant) for found in findings)
    by_status = {status: sum(f["status"] == status for f in report) for status in (FIXED, FIXABLE, BY_HAND)}
    return {
        "tenants": len(tenant_ids),
        "tagsChecked": tags,
        "contactsChecked": contacts,
        "fixed": by_status[FIXED],
        "fixable": by_status[FIXABLE],
        "needsAPerson": by_status[BY_HAND],
        "findings": report,
    }
