"""The messages function through its handler, with MessagesDeps holding an in-memory MessageQueries (no AWS).

The seam at work: the handler takes `deps`, and the read use case only ever sees plain views.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.messages import app as messages_app
from smscore.domain.model import MessageStatus
from smscore.domain.views import DispatchView, MessageFilters, MessagePage, MessageView, PageScope, StatusChangeView
from smscore.wiring import MessagesDeps
from tests.conftest import LambdaContextStub, load_event

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("aws_env")  # metrics and tracing off, no real AWS


def message(n: int, tenant_id: str = "t-1", status: MessageStatus = MessageStatus.SENT) -> MessageView:
    return MessageView(
        message_id=f"m-{n:03d}",
        tenant_id=tenant_id,
        queue_id="q-1",
        contact_id=f"c-{n}",
        recipient=f"+5730012300{n:02d}",
        body="Hola",
        encoding="GSM-7",
        status=status,
        provider="sandbox",
        segments=1,
        credits=1,
        created_at=T0 + timedelta(minutes=n),
        updated_at=T0 + timedelta(minutes=n),
        history=(StatusChangeView(status="QUEUED", at=T0), StatusChangeView(status=status.value, at=T0, code="x")),
    )


@dataclass
class InMemoryMessageQueries:
    """The MessageQueries port over a list, newest first, on one index keyed by (tenant, created, id)."""

    messages: list[MessageView] = field(default_factory=list)
    dispatches: dict[str, DispatchView] = field(default_factory=dict)
    asked: list[tuple[MessageFilters, int, dict[str, str] | None]] = field(default_factory=list)

    def tenant_country(self, tenant_id: str) -> str | None:
        return "CO"

    def dispatch(self, tenant_id: str, queue_id: str) -> DispatchView | None:
        found = self.dispatches.get(queue_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def message(self, tenant_id: str, message_id: str) -> MessageView | None:
        return next((m for m in self.messages if m.message_id == message_id and m.tenant_id == tenant_id), None)

    def page_scope(self, tenant_id: str, filters: MessageFilters) -> PageScope:
        return PageScope(
            "by_tenant_created", frozenset({"tenant_id", "created_key", "message_id"}), {"tenant_id": tenant_id}
        )

    def list_messages(
        self, tenant_id: str, filters: MessageFilters, limit: int, start_key: dict[str, str] | None = None
    ) -> MessagePage:
        self.asked.append((filters, limit, start_key))
        mine = sorted((m for m in self.messages if m.tenant_id == tenant_id), key=_created_key, reverse=True)
        if start_key is not None:
            mine = [m for m in mine if _created_key(m) < start_key["created_key"]]
        page = mine[:limit]
        more = len(mine) > limit
        last = page[-1] if page else None
        next_key = (
            {"tenant_id": tenant_id, "created_key": _created_key(last), "message_id": last.message_id}
            if more and last
            else None
        )
        return MessagePage(items=page, next_key=next_key)


def _created_key(view: MessageView) -> str:
    return f"{view.created_at.isoformat()}#{view.message_id}"


def get(deps: MessagesDeps, path: str, query: dict[str, str] | None = None, tenant_id: str = "t-1") -> tuple[int, Any]:
    event = copy.deepcopy(load_event("apigw_list_messages.json"))
    event["path"] = path
    event["requestContext"]["path"] = f"/dev{path}"
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["requestContext"]["authorizer"].update(tenantId=tenant_id, memberId="member-1", principalId="member-1")
    response = messages_app.lambda_handler(event, LambdaContextStub(), deps=deps)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def queries() -> InMemoryMessageQueries:
    return InMemoryMessageQueries(messages=[message(n) for n in range(5)] + [message(9, tenant_id="t-2")])


def test_a_message_is_answered_from_the_view_in_camel_case(queries: InMemoryMessageQueries) -> None:
    status, body = get(MessagesDeps(queries=queries), "/api/messages/m-001")
    assert status == 200
    assert body["id"] == "m-001"
    assert body["queueId"] == "q-1"
    assert body["providerMessageId"] is None
    assert [h["status"] for h in body["history"]] == ["QUEUED", "SENT"]


def test_another_tenants_message_is_404(queries: InMemoryMessageQueries) -> None:
    status, body = get(MessagesDeps(queries=queries), "/api/messages/m-009")
    assert (status, body["code"]) == (404, "NOT_FOUND")


def test_pages_follow_the_cursor_to_the_end(queries: InMemoryMessageQueries) -> None:
    deps = MessagesDeps(queries=queries)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        status, body = get(deps, "/api/messages", {"limit": "2"} | ({"cursor": cursor} if cursor else {}))
        assert status == 200
        seen += [item["id"] for item in body["items"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == ["m-004", "m-003", "m-002", "m-001", "m-000"]


def test_a_cursor_for_other_filters_is_refused_before_any_query(queries: InMemoryMessageQueries) -> None:
    deps = MessagesDeps(queries=queries)
    _, first = get(deps, "/api/messages", {"limit": "2"})
    asked = len(queries.asked)
    status, body = get(deps, "/api/messages", {"limit": "2", "channel": "sms", "cursor": first["nextCursor"]})
    assert (status, body["details"][0]["field"]) == (400, "cursor")
    assert len(queries.asked) == asked


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "0001-01-01T00:00:00+01:00"}, "from"),
        ({"to": "9999-12-31T23:59:59-01:00"}, "to"),
    ],
)
def test_dates_utc_cannot_hold_are_400_and_query_nothing(
    queries: InMemoryMessageQueries, query: dict[str, str], field: str
) -> None:
    status, body = get(MessagesDeps(queries=queries), "/api/messages", query)
    assert (status, body["code"]) == (400, "VALIDATION_ERROR")
    assert any(field in detail["field"] for detail in body["details"])
    assert queries.asked == []


def test_offsets_are_read_as_the_same_instant_in_utc(queries: InMemoryMessageQueries) -> None:
    status, _ = get(MessagesDeps(queries=queries), "/api/messages", {"from": "2026-11-27T10:00:00+01:00"})
    assert status == 200
    filters, _, _ = queries.asked[-1]
    assert filters.created_from == T0


def test_the_queue_status_counts_come_from_the_view(queries: InMemoryMessageQueries) -> None:
    counts = dict.fromkeys(MessageStatus, 0) | {MessageStatus.SENT: 4, MessageStatus.FAILED: 1}
    queries.dispatches["q-1"] = DispatchView(
        queue_id="q-1",
        tenant_id="t-1",
        created_at=T0,
        body="Hola",
        tag_ids=("tag-1",),
        country="CO",
        total_messages=5,
        segments_per_message=1,
        counts=counts,
        credits_debited=5,
        credits_refunded=1,
    )
    status, body = get(MessagesDeps(queries=queries), "/api/messages/queues/q-1")
    assert status == 200
    assert body["counts"] == {
        "SCHEDULED": 0,
        "QUEUED": 0,
        "SENDING": 0,
        "SENT": 4,
        "DELIVERED": 0,
        "UNDELIVERED": 0,
        "FAILED": 1,
        "CANCELLED": 0,
    }
    assert (body["tagIds"], body["creditsRefunded"]) == (["tag-1"], 1)
    assert get(MessagesDeps(queries=replace(queries, dispatches={})), "/api/messages/queues/q-1")[0] == 404
