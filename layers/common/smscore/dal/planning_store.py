"""PynamoDB implementation of the workers' planning (smscore.domain.planning): the dispatch's planning attributes,
the tag members page by page, the exact debit; and the fan-out queue's planning tasks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.connection import Connection
from pynamodb.constants import QUERY
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from smscore.dal.campaign_store import FANOUT_OPEN, DynamoCampaignStore, condition_failed, write_transaction
from smscore.dal.plan_store import read_chunk_recipients, write_plan
from smscore.dal.raw_reads import _projection
from smscore.dal.tables import DispatchRecord, LedgerRecord, TagMemberRecord, TagRecord, TenantRecord, ledger_entry_id
from smscore.domain.campaign import CampaignRequest, FanoutState
from smscore.domain.errors import InsufficientCredits
from smscore.domain.gsm import EncodingOption
from smscore.domain.model import LedgerKind, Purpose, TagRecipient, Tenant
from smscore.domain.plan import PlanChunk
from smscore.domain.planning import MemberPage, MembersRead, PlanCursor, PlanningState, PlanningStatus, PlanTask

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MEMBER_ATTRIBUTES = ["contact_id", "phone", "opted_out", "consent_granted", "contact_name"]
_FALSE: dict[str, Any] = {"BOOL": False}


def _member(item: dict[str, Any]) -> TagRecipient:
    return TagRecipient(
        contact_id=item["contact_id"]["S"],
        phone=item["phone"]["S"],
        opted_out=bool(item.get("opted_out", _FALSE).get("BOOL")),
        consent_granted=bool(item.get("consent_granted", _FALSE).get("BOOL")),
        name=item["contact_name"]["S"] if "contact_name" in item else None,
    )


def _query_page(
    tenant_id: str, tag_id: str, after: str | None, limit: int, below: str | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """One Query of a tag's members after contact id `after` (and before `below`); whether the tag has more."""
    connection = TagMemberRecord._get_connection().connection
    request: dict[str, Any] = {
        "TableName": TagMemberRecord.Meta.table_name,
        "KeyConditionExpression": "#k = :k" if below is None else "#k = :k AND #c < :below",
        "Limit": limit,
        **_projection(MEMBER_ATTRIBUTES),
    }
    tag_key = TagMemberRecord.key_for(tenant_id, tag_id)
    request["ExpressionAttributeNames"]["#k"] = "tag_key"
    request["ExpressionAttributeValues"] = {":k": {"S": tag_key}}
    if below is not None:
        request["ExpressionAttributeNames"]["#c"] = "contact_id"
        request["ExpressionAttributeValues"][":below"] = {"S": below}
    if after is not None:
        request["ExclusiveStartKey"] = {"tag_key": {"S": tag_key}, "contact_id": {"S": after}}
    page = connection.dispatch(QUERY, request)
    return page.get("Items", []), bool(page.get("LastEvaluatedKey"))


def planning_state(record: DispatchRecord) -> PlanningState:
    request = CampaignRequest(
        tenant_id=record.tenant_id,
        member_id=record.member_id,
        message=record.body,
        tag_ids=list(record.tag_ids),
        country=record.country,
        purpose=Purpose(record.purpose or Purpose.MARKETING.value),
        send_at=record.send_at,
        encoding=EncodingOption(record.encoding) if record.encoding else EncodingOption.AUTO,
        template_id=record.template_id,
        opt_out_base=record.planning_opt_out_base or "",
    )
    assert record.planning_prefix is not None
    assert record.fanout_deadline is not None
    assert record.planning_messages_deadline is not None
    return PlanningState(
        queue_id=record.queue_id,
        tenant_id=record.tenant_id,
        request=request,
        created_at=record.created_at,
        prefix=record.planning_prefix,
        deadline=record.fanout_deadline,
        messages_deadline=record.planning_messages_deadline,
        status=PlanningStatus(record.planning_status),
        cursor=PlanCursor.from_json(record.planning_cursor),
        chunks=int(record.planning_chunks or 0),
        messages=int(record.planning_messages or 0),
        credits=int(record.planning_credits or 0),
        scheduled=int(record.planning_scheduled or 0),
        segments=int(record.planning_segments or 0),
        contacts_read=int(record.planning_contacts_read or 0),
        skipped=dict(record.planning_skipped or {}),
        scheduled_for=record.scheduled_for,
        scheduled_reason=record.scheduled_reason,
        estimate=int(record.planning_estimate or 0),
    )


class DynamoPlanningStore:
    """Both sides: the request's intake (counts, the bounded read, the record) and the planners' store."""

    def __init__(self, campaigns: DynamoCampaignStore, region: str, host: str | None = None) -> None:
        self._campaigns = campaigns
        self._connection = Connection(region=region, host=host)

    # -- the request --------------------------------------------------------------------------------------------
    def tag_contacts(self, tenant_id: str, tag_ids: Sequence[str]) -> int:
        keys = [(tenant_id, tag_id) for tag_id in tag_ids]
        return sum(int(tag.contact_count or 0) for tag in TagRecord.batch_get(keys))

    def members_upto(self, tenant_id: str, tag_ids: Sequence[str], limit: int) -> MembersRead:
        members: list[TagRecipient] = []
        distinct: set[str] = set()
        for tag_id in tag_ids:
            after: str | None = None
            while True:
                # never more items than could still be new contacts: at most `limit` + 1 plus the tags' overlap
                items, more = _query_page(tenant_id, tag_id, after, limit + 1 - len(distinct))
                for item in items:
                    member = _member(item)
                    members.append(member)
                    distinct.add(member.contact_id)
                if len(distinct) > limit:
                    return MembersRead(False, members)
                if not more or not items:
                    break
                after = items[-1]["contact_id"]["S"]
        return MembersRead(True, members)

    def members_below(self, tenant_id: str, tag_ids: Sequence[str], below: str, limit: int) -> MembersRead:
        members: list[TagRecipient] = []
        for tag_id in tag_ids:
            after: str | None = None
            while True:
                items, more = _query_page(tenant_id, tag_id, after, limit - len(members), below)
                members.extend(_member(item) for item in items)
                if len(members) >= limit:
                    return MembersRead(False, members)
                if not more or not items:
                    break
                after = items[-1]["contact_id"]["S"]
        return MembersRead(True, members)

    def record(self, state: PlanningState, request_hash: str | None) -> bool:
        request = state.request
        record = DispatchRecord(
            state.queue_id,
            tenant_id=state.tenant_id,
            member_id=request.member_id,
            body=request.message,
            tag_ids=list(request.tag_ids),
            country=request.country,
            total_messages=0,
            segments_per_message=0,
            credits_debited=0,
            created_at=state.created_at,
            purpose=request.purpose.value,
            send_at=request.send_at,
            encoding=None if request.encoding is EncodingOption.AUTO else request.encoding.value,
            template_id=request.template_id,
            fanout=FanoutState.PLANNING.value,
            fanout_due=FANOUT_OPEN,
            fanout_deadline=state.deadline,
            request_hash=request_hash,
            planning_status=PlanningStatus.PLANNING.value,
            planning_estimate=state.estimate,
            planning_prefix=state.prefix,
            planning_messages_deadline=state.messages_deadline,
            planning_opt_out_base=request.opt_out_base or None,
            planning_cursor=state.cursor.as_json(),
            planning_chunks=0,
            planning_messages=0,
            planning_credits=0,
        )
        try:
            record.save(condition=DispatchRecord.queue_id.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- the planners -------------------------------------------------------------------------------------------
    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self._campaigns.get_tenant(tenant_id)

    def merge_values(self, tenant_id: str, contact_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        return self._campaigns.merge_values(tenant_id, contact_ids)

    def claim(self, queue_id: str, owner: str, now: datetime, lease_until: datetime) -> PlanningState | None:
        record = DispatchRecord(queue_id)
        try:
            record.update(
                actions=[DispatchRecord.planning_owner.set(owner), DispatchRecord.planning_lease.set(lease_until)],
                condition=(DispatchRecord.fanout == FanoutState.PLANNING.value)
                & (DispatchRecord.planning_lease.does_not_exist() | (DispatchRecord.planning_lease < now))
                & (DispatchRecord.fanout_deadline > lease_until),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            return self._planned(queue_id)
        return planning_state(record)

    def _planned(self, queue_id: str) -> PlanningState | None:
        """A campaign its planner debited whose fan-out is still open: its chunks may be handed over again."""
        try:
            record = DispatchRecord.get(queue_id, consistent_read=True)
        except DispatchRecord.DoesNotExist:
            return None
        if record.planning_status != PlanningStatus.PLANNED.value or record.fanout != FanoutState.PENDING.value:
            return None
        return planning_state(record)

    def member_page(self, tenant_id: str, tag_ids: Sequence[str], cursor: PlanCursor, limit: int) -> MemberPage:
        members: list[TagRecipient] = []
        tag, after = cursor.tag, cursor.after
        while tag < len(tag_ids) and len(members) < limit:
            items, more = _query_page(tenant_id, tag_ids[tag], after, limit - len(members))
            members += [_member(item) for item in items]
            if more and items:
                after = items[-1]["contact_id"]["S"]
            else:
                tag, after = tag + 1, None
        return MemberPage(members, PlanCursor(tag, after, done=tag >= len(tag_ids)))

    def write_chunks(self, chunks: Sequence[PlanChunk]) -> None:
        write_plan(chunks)

    def planned_recipients(self, prefix: str, count: int) -> list[tuple[str, str]]:
        return read_chunk_recipients(prefix, count)

    def checkpoint(self, state: PlanningState, owner: str) -> bool:
        try:
            DispatchRecord(state.queue_id).update(
                actions=[
                    DispatchRecord.planning_cursor.set(state.cursor.as_json()),
                    DispatchRecord.planning_chunks.set(state.chunks),
                    DispatchRecord.planning_messages.set(state.messages),
                    DispatchRecord.planning_credits.set(state.credits),
                    DispatchRecord.planning_scheduled.set(state.scheduled),
                    DispatchRecord.planning_segments.set(state.segments),
                    DispatchRecord.planning_contacts_read.set(state.contacts_read),
                    DispatchRecord.planning_skipped.set(dict(state.skipped)),
                    *_scheduled_actions(state),
                ],
                condition=(DispatchRecord.fanout == FanoutState.PLANNING.value)
                & (DispatchRecord.planning_owner == owner),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def debit(self, state: PlanningState, owner: str, fanout_deadline: datetime) -> bool:
        cost = state.credits
        now = datetime.now(state.created_at.tzinfo)
        entry = LedgerRecord(
            state.tenant_id,
            ledger_entry_id(now),
            kind=LedgerKind.DEBIT.value,
            amount=-cost,
            queue_id=state.queue_id,
            reason=(
                f"{state.messages} messages x {state.segments} segments"
                if cost == state.messages * state.segments
                else f"{state.messages} messages, {cost} segments in all (merge fields)"
            ),
            created_at=now,
        )

        def build(tx: TransactWrite) -> None:
            tx.update(
                TenantRecord(state.tenant_id),
                actions=[TenantRecord.credits.add(-cost)],
                condition=TenantRecord.credits >= cost,
            )
            tx.save(entry)
            tx.update(
                DispatchRecord(state.queue_id),
                actions=[
                    DispatchRecord.fanout.set(FanoutState.PENDING.value),
                    DispatchRecord.fanout_deadline.set(fanout_deadline),
                    DispatchRecord.total_messages.set(state.messages),
                    DispatchRecord.segments_per_message.set(state.segments),
                    DispatchRecord.credits_debited.set(cost),
                    DispatchRecord.count_queued.set(state.messages - state.scheduled),
                    DispatchRecord.count_scheduled.set(state.scheduled),
                    DispatchRecord.plan_prefix.set(state.prefix),
                    DispatchRecord.plan_chunks.set(state.chunks),
                    DispatchRecord.fanout_chunks_done.set(0),
                    DispatchRecord.planning_status.set(PlanningStatus.PLANNED.value),
                    DispatchRecord.planning_owner.remove(),
                    DispatchRecord.planning_lease.remove(),
                    *_scheduled_actions(state),
                ],
                condition=(DispatchRecord.fanout == FanoutState.PLANNING.value)
                & (DispatchRecord.planning_owner == owner),
            )

        try:
            write_transaction(self._connection, build)
        except TransactWriteError as exc:
            if not condition_failed(exc):
                raise
            # The balance's condition or the lease's (which one failed is not reliably itemised everywhere):
            # still holding the lease means the balance was short.
            record = DispatchRecord.get(state.queue_id, consistent_read=True)
            if record.fanout != FanoutState.PLANNING.value or record.planning_owner != owner:
                return False
            tenant = self.get_tenant(state.tenant_id)
            raise InsufficientCredits(required=cost, available=tenant.credits if tenant else 0) from exc
        return True

    def finish_empty(self, state: PlanningState, owner: str) -> bool:
        return self._end(
            state.queue_id,
            [
                DispatchRecord.fanout.set(FanoutState.COMPLETE.value),
                DispatchRecord.planning_status.set(PlanningStatus.PLANNED.value),
                DispatchRecord.fanout_enqueued.set(0),
                DispatchRecord.fanout_refunded.set(0),
                DispatchRecord.fanout_refunded_credits.set(0),
            ],
            DispatchRecord.planning_owner == owner,
        )

    def fail(self, queue_id: str, owner: str | None, code: str, message: str, now: datetime) -> bool:
        fenced = DispatchRecord.planning_owner == owner if owner else DispatchRecord.fanout_deadline <= now
        return self._end(
            queue_id,
            [
                DispatchRecord.fanout.set(FanoutState.FAILED.value),
                DispatchRecord.planning_status.set(PlanningStatus.FAILED.value),
                DispatchRecord.planning_error.set({"code": code, "message": message}),
            ],
            fenced,
        )

    def _end(self, queue_id: str, actions: list[Any], fenced: Any) -> bool:
        try:
            DispatchRecord(queue_id).update(
                actions=[
                    *actions,
                    DispatchRecord.fanout_due.remove(),
                    DispatchRecord.planning_owner.remove(),
                    DispatchRecord.planning_lease.remove(),
                ],
                condition=(DispatchRecord.fanout == FanoutState.PLANNING.value) & fenced,
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, queue_id: str, owner: str) -> None:
        try:
            DispatchRecord(queue_id).update(
                actions=[DispatchRecord.planning_lease.remove()], condition=DispatchRecord.planning_owner == owner
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise


def _scheduled_actions(state: PlanningState) -> list[Any]:
    if state.scheduled_for is None:
        return [DispatchRecord.scheduled_for.remove(), DispatchRecord.scheduled_reason.remove()]
    return [
        DispatchRecord.scheduled_for.set(state.scheduled_for),
        DispatchRecord.scheduled_reason.set(state.scheduled_reason)
        if state.scheduled_reason is not None
        else DispatchRecord.scheduled_reason.remove(),
    ]


class PlanningAbandoner:
    """The reconciler's part (smscore.domain.reconciler): a campaign still PLANNING past its deadline ends FAILED."""

    def __init__(self, store: DynamoPlanningStore) -> None:
        self._store = store

    def abandon(self, queue_id: str, now: datetime) -> bool:
        return self._store.fail(
            queue_id,
            None,
            "PLANNING_NOT_FINISHED",
            "Planning did not finish before the campaign's deadline: nothing was charged or sent",
            now,
        )


def encode_plan_task(task: PlanTask) -> str:
    return json.dumps({"plan": True, "tenantId": task.tenant_id, "queueId": task.queue_id})


class SqsPlanTasks:
    """Planning tasks on the fan-out queue (one SendMessage, retried)."""

    def __init__(self, client: SQSClient, queue_url: str, attempts: int = 4) -> None:
        self._client = client
        self._queue_url = queue_url
        self._attempts = attempts

    def submit_plan(self, task: PlanTask) -> bool:
        from smscore.dal.plan_store import SUBMIT_BACKOFF

        for _attempt in SUBMIT_BACKOFF.attempts(self._attempts):
            try:
                self._client.send_message(QueueUrl=self._queue_url, MessageBody=encode_plan_task(task))
            except (ClientError, BotoCoreError):
                continue
            return True
        return False
