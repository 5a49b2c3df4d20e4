"""The preview of an audience above MaxSyncRecipients, on moto: an estimate from the send request's bounded read.

Reading 1,000,000 tag members takes about 90 s, so a preview that read them all would end in API Gateway's 504.
Above MaxSyncRecipients distinct contacts the preview reads what the send request reads (MaxSyncRecipients + 1
contacts) and the same share of every tag (about MaxSyncRecipients members, by contact id), screens and prices that
share, scales it to the tags' contact counts and says `estimated: true`; it writes, queues and debits nothing.
Up to the limit it is exactly the preview it always was (preview == charge).
"""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.connection.base import Connection

from smscore.dal.tables import DispatchRecord, LedgerRecord, MessageRecord, TagMemberRecord
from smsdev.admin_store import ContactInput
from tests.integration.test_planned_fanout import Fanout, numbers
from tests.integration.test_planned_fanout import fanout as fanout
from tests.integration.test_planning import planned as planned
from tests.integration.test_planning import post, run, status
from tests.integration.test_preview_and_resend import call

PREVIEW = "/api/messages/sms/tags/preview"
TEXT = "Flash sale today"  # as tests.integration.test_planning posts it


class MemberReads:
    """Every Query of the tag-members table and the items it returned (whatever code path reads them)."""

    def __init__(self) -> None:
        self.queries = 0
        self.items = 0


@pytest.fixture
def member_reads(monkeypatch: pytest.MonkeyPatch) -> MemberReads:
    reads = MemberReads()
    real = Connection.dispatch

    def counting(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = real(self, operation_name, operation_kwargs)
        if operation_name == "Query" and operation_kwargs.get("TableName") == TagMemberRecord.Meta.table_name:
            reads.queries += 1
            reads.items += len(answer.get("Items", []))
        return answer

    monkeypatch.setattr(Connection, "dispatch", counting)
    return reads


def preview(fanout: Fanout, tag_ids: list[str]) -> tuple[int, dict[str, Any]]:
    return call(fanout.campaign, PREVIEW, {"message": TEXT, "tagIds": tag_ids})


def nothing_written(fanout: Fanout, balance: int) -> None:
    assert fanout.campaign.balance() == fanout.campaign.ledger_sum() == balance
    assert list(DispatchRecord.scan()) == []
    assert list(MessageRecord.scan()) == []
    assert fanout.tasks() == []


def test_a_preview_above_max_sync_recipients_is_an_estimate_from_a_bounded_read(
    planned: Fanout, member_reads: MemberReads
) -> None:
    # Given MaxSyncRecipients 20 and 30 contacts under one tag
    # When the tag is previewed
    code, shown = preview(planned, [planned.tag_id])
    # Then 200 with the figures scaled from the share of the tag it read, marked as an estimate
    assert code == 200, shown
    assert shown["estimated"] is True
    assert (shown["recipients"], shown["creditsRequired"], shown["segments"]) == (30, 30, 1)
    assert (shown["skippedInvalid"], shown["skippedOptedOut"], shown["duplicatesRemoved"]) == (0, 0, 0)
    assert shown["creditsAvailable"] == 100_000
    assert [s["recipient"] for s in shown["samples"]] == sorted(s["recipient"] for s in shown["samples"])
    assert len(shown["samples"]) == 3
    # And it read the send request's bounded read (MaxSyncRecipients + 1 = 21 members) and a sample of about
    # MaxSyncRecipients (at most twice), never the whole tag in one read
    assert member_reads.items <= 21 + 40
    assert member_reads.queries <= 4
    # And nothing was recorded, queued, written or debited
    nothing_written(planned, 100_000)

    # When the same body is sent (202) and planned by the workers
    code, body, _ = post(planned)
    assert code == 202, body
    run(planned)
    # Then the exact debit the planning status gives is the one the estimate announced (no skips to extrapolate)
    final = status(planned, body["queueId"])
    assert (final["totalMessages"], final["creditsDebited"]) == (30, 30)


def test_a_preview_above_the_limit_extrapolates_the_skips_of_what_it_read(
    planned: Fanout, member_reads: MemberReads
) -> None:
    # Given 30 valid contacts under "all" and 30 contacts under "mixed", every third of them opted out
    admin = planned.campaign.admin
    tenant = planned.campaign.tenant_id
    admin.add_contacts(
        tenant,
        [ContactInput(phone=f"+57311{n:07d}", tag_names=["mixed"], opted_out=n % 3 == 0) for n in range(30)],
    )
    mixed = next(t.tag_id for t in admin.tags(tenant) if t.name == "mixed")
    # When "mixed" is previewed
    code, shown = preview(planned, [mixed])
    # Then the figures are the members read, scaled: estimated, adding up to the tag's 30 contacts
    assert code == 200, shown
    assert shown["estimated"] is True
    assert shown["recipients"] + shown["skippedOptedOut"] in (29, 30, 31)  # each rounded on its own
    assert 0 < shown["skippedOptedOut"] < 30
    assert shown["creditsRequired"] == shown["recipients"]
    assert member_reads.items <= 21 + 40
    nothing_written(planned, 100_000)


def test_an_estimate_sees_the_contacts_the_tags_share(planned: Fanout, member_reads: MemberReads) -> None:
    # Given "a" and "b" with 30 contacts each, 20 of them in both: 60 memberships, 40 distinct numbers
    admin = planned.campaign.admin
    tenant = planned.campaign.tenant_id
    admin.add_contacts(tenant, [ContactInput(phone=f"+57314{n:07d}", tag_names=["a", "b"]) for n in range(20)])
    admin.add_contacts(tenant, [ContactInput(phone=f"+57315{n:07d}", tag_names=["a"]) for n in range(10)])
    admin.add_contacts(tenant, [ContactInput(phone=f"+57316{n:07d}", tag_names=["b"]) for n in range(10)])
    tags = {t.name: t.tag_id for t in admin.tags(tenant)}
    # When both are previewed
    code, shown = preview(planned, [tags["a"], tags["b"]])
    # Then the estimate reads the same share of both tags (by contact id), so it sees the shared contacts: duplicates
    # removed, and recipients near the 40 distinct numbers, not the 60 memberships the send's first read would give
    assert code == 200, shown
    assert shown["estimated"] is True
    assert shown["duplicatesRemoved"] > 0
    assert 20 <= shown["recipients"] < 60
    assert shown["recipients"] + shown["duplicatesRemoved"] in (59, 60, 61)  # each rounded on its own
    assert member_reads.items <= 21 + 40
    nothing_written(planned, 100_000)


def test_a_preview_at_or_under_the_limit_is_exact_and_unchanged(planned: Fanout, member_reads: MemberReads) -> None:
    # Given 15 contacts under both "a" and "b": 30 memberships (above MaxSyncRecipients 20), 15 distinct contacts,
    # and 10 contacts under "small"
    admin = planned.campaign.admin
    tenant = planned.campaign.tenant_id
    admin.add_contacts(tenant, [ContactInput(phone=f"+57312{n:07d}", tag_names=["a", "b"]) for n in range(15)])
    admin.add_contacts(tenant, [ContactInput(phone=f"+57313{n:07d}", tag_names=["small"]) for n in range(10)])
    tags = {t.name: t.tag_id for t in admin.tags(tenant)}
    for tag_ids, recipients, duplicates in (([tags["a"], tags["b"]], 15, 15), ([tags["small"]], 10, 0)):
        # When they are previewed
        code, shown = preview(planned, tag_ids)
        # Then the preview is exact, without `estimated`, the same fields as always
        assert code == 200, shown
        assert "estimated" not in shown
        assert (shown["recipients"], shown["duplicatesRemoved"], shown["creditsRequired"]) == (
            recipients,
            duplicates,
            recipients,
        )
    nothing_written(planned, 100_000)
    # And a send of the same body debits exactly what it said (201, as always)
    code, sent, _ = post(planned, key=None, tag_ids=[tags["a"], tags["b"]])
    assert (code, len(sent["messages"])) == (201, 15)
    assert planned.campaign.balance() == planned.campaign.ledger_sum() == 100_000 - 15
    assert [e.amount for e in LedgerRecord.query(tenant) if e.kind == "DEBIT"] == [-15]
    assert numbers(1)[0] not in {m["recipient"] for m in sent["messages"]}
