"""A message's status history stored compactly (issue 20, item 9): one string per change, maps still read.

Each status write costs write units by the item's size (1 per KB): the compact history keeps a delivered message's
item under 1 KB, where maps with ISO times pushed it past (2 units for the SENT and DELIVERED writes).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import ListAttribute
from pynamodb.expressions.update import Update

from smscore.dal.tables import MessageRecord, StatusChange, StatusHistoryAttribute

AT = datetime(2026, 12, 6, 12, 47, 20, 427000, tzinfo=UTC)  # kept to the millisecond


def changes() -> list[StatusChange]:
    return [
        StatusChange(status="QUEUED", at=AT),
        StatusChange(status="SENDING", at=AT, detail="attempt 1 via twilio"),
        StatusChange(status="SENT", at=AT, detail="twilio"),
        StatusChange(status="UNDELIVERED", at=AT, code="30005", detail="twilio: undelivered | unknown handset"),
    ]


def as_tuples(history: list[StatusChange]) -> list[tuple[str, datetime, str | None, str | None]]:
    return [(c.status, c.at, c.code, c.detail) for c in history]


def test_each_change_is_stored_as_one_string_and_read_back_exactly() -> None:
    # Given a history with a code, a detail holding the separator, and milliseconds
    attribute = StatusHistoryAttribute()

    # When it is serialised and read back
    stored = attribute.serialize(changes())
    read = attribute.deserialize(stored)

    # Then each change is one string, and every field comes back as it was
    assert all(set(value) == {"S"} for value in stored)
    assert stored[0] == {"S": f"QUEUED|{int(AT.timestamp()) * 1_000 + 427}||"}
    assert as_tuples(read) == as_tuples(changes())


def test_a_history_written_as_maps_before_is_still_read_with_new_strings_after_it() -> None:
    # Given an item written before (maps with ISO times) to which a compact change was appended
    old = ListAttribute(of=StatusChange)  # the attribute as it was: a list of maps
    stored = old.serialize(changes()[:2]) + StatusHistoryAttribute().serialize(changes()[2:])
    assert [next(iter(value)) for value in stored] == ["M", "M", "S", "S"]

    # When the history is read
    read = StatusHistoryAttribute().deserialize(stored)

    # Then all four changes read as they were
    assert as_tuples(read) == as_tuples(changes())


def test_an_append_writes_the_compact_form() -> None:
    # Given the update a status change makes (list_append of one change)
    action = MessageRecord.history.set(MessageRecord.history.append([StatusChange(status="SENT", at=AT)]))

    # When it is serialised for UpdateItem
    values: dict[str, object] = {}
    Update(action).serialize({}, values)

    # Then the appended element is a string, not a map
    assert {"L": [{"S": f"SENT|{int(AT.timestamp()) * 1_000 + 427}||"}]} in values.values()
