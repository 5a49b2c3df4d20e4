"""Reading a planned campaign's messages (smscore.domain.plan) whether or not the fan-out workers wrote them yet.

Every id in a large campaign's 201 is readable at once: a message item, once written, is the truth; until then the
plan chunk its id points at answers, as QUEUED (or SCHEDULED) at the campaign's creation. A campaign's list pages
through its plan in the index's order (ids sort like the plan), overlaying the items that exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice

from smscore.dal.plan_store import read_chunk
from smscore.dal.tables import WAITING_UNTIL, DispatchRecord, MessageRecord
from smscore.domain.model import MessageStatus, OutgoingMessage
from smscore.domain.plan import parse_planned_id
from smscore.domain.views import MessageFilters, MessagePage, MessageView, StatusChangeView

BATCH_GET_SIZE = 100


def plan_of(queue_id: str) -> tuple[str, int] | None:
    """(prefix, chunks) of a planned campaign; None for a campaign whose request wrote its messages, or none."""
    try:
        record = DispatchRecord.get(queue_id, consistent_read=True, attributes_to_get=["plan_prefix", "plan_chunks"])
    except DispatchRecord.DoesNotExist:
        return None
    if not record.plan_prefix:
        return None
    return record.plan_prefix, int(record.plan_chunks or 0)


def planned_view(message: OutgoingMessage) -> MessageView:
    """A planned message its worker has not written yet, as it will be written."""
    waiting = (
        f"{WAITING_UNTIL}{message.scheduled_for.isoformat(timespec='seconds')}"
        if message.status is MessageStatus.SCHEDULED and message.scheduled_for is not None
        else None
    )
    return MessageView(
        message_id=message.message_id,
        tenant_id=message.tenant_id,
        queue_id=message.queue_id,
        contact_id=message.contact_id,
        recipient=message.recipient,
        body=message.body,
        encoding=message.encoding,
        status=message.status,
        provider=message.provider,
        segments=message.segments,
        credits=message.credits,
        created_at=message.created_at,
        updated_at=message.created_at,
        history=(
            StatusChangeView(
                status=message.status.value,
                at=message.created_at,
                detail=waiting,
                until=message.scheduled_for if waiting else None,
            ),
        ),
        due_at=message.scheduled_for if waiting else None,
        purpose=message.purpose.value,
    )


def planned_message(tenant_id: str, message_id: str) -> MessageView | None:
    """The planned message with this id, from its chunk, when its campaign (this tenant's) was debited."""
    where = parse_planned_id(message_id)
    if where is None:
        return None
    chunk = read_chunk(where.prefix, where.chunk, only=where.offset)
    if chunk is None or chunk.tenant_id != tenant_id or not chunk.messages:
        return None
    plan = plan_of(chunk.queue_id)
    if plan is None or plan[0] != where.prefix:  # a plan whose debit never happened was never answered
        return None
    return planned_view(chunk.messages[0])


def planned_page(
    tenant_id: str,
    queue_id: str,
    prefix: str,
    chunks: int,
    filters: MessageFilters,
    limit: int,
    position: str | None,
    view_of: Callable[[MessageRecord], MessageView],
) -> MessagePage:
    """Up to `limit` messages of a planned campaign, newest id first (the index's order), strictly below `position`."""
    start_chunk = chunks - 1
    below: int | None = None
    if position is not None:
        where = parse_planned_id(position)
        if where is None or where.prefix != prefix:
            return MessagePage(items=[])
        start_chunk, below = where.chunk, where.offset

    def candidates() -> Iterator[OutgoingMessage]:
        for number in range(start_chunk, -1, -1):
            chunk = read_chunk(prefix, number, consistent=False)
            if chunk is None or chunk.tenant_id != tenant_id:
                continue
            messages = chunk.messages if below is None or number != start_chunk else chunk.messages[:below]
            yield from (m for m in reversed(messages) if _matches_plan(m, filters))

    stream = candidates()
    page: list[MessageView] = []
    while len(page) <= limit:
        group = list(islice(stream, BATCH_GET_SIZE if filters.status is not None else limit + 1 - len(page)))
        if not group:
            break
        written = {r.message_id: r for r in MessageRecord.batch_get([m.message_id for m in group])}
        for message in group:
            record = written.get(message.message_id)
            view = view_of(record) if record is not None else planned_view(message)
            if filters.status is None or view.status is filters.status:
                page.append(view)
    if len(page) <= limit:
        return MessagePage(items=page)
    items = page[:limit]
    return MessagePage(items=items, next_key={"queue_id": queue_id, "message_id": items[-1].message_id})


def _matches_plan(message: OutgoingMessage, filters: MessageFilters) -> bool:
    if filters.recipient is not None and message.recipient != filters.recipient:
        return False
    if filters.channel is not None and filters.channel != "sms":
        return False
    if filters.created_from is not None and message.created_at < filters.created_from:
        return False
    return not (filters.created_to is not None and message.created_at > filters.created_to)
