"""A large campaign's durable plan: its messages, fixed at plan time, stored as a few chunks instead of one item each.

The send request of a large campaign (more than `inline_max_messages`) does not write one Messages item per
recipient: it writes the planned messages as chunk items (up to PLAN_CHUNK_MESSAGES each, compressed), debits, and
hands each chunk to the fan-out workers (smscore.domain.fanout), which write the message items and enqueue delivery.

A planned message's id says where its plan is: a UUID (version 8) made of the plan's 80-bit prefix, the chunk
number and the position in the chunk. So `GET /api/messages/{id}` can read a message the workers have not written
yet straight from its chunk (one GetItem), and a campaign's ids sort like its messages (by recipient), which lets
`GET /api/messages?queueId=` page through the plan in the index's order.
"""

from __future__ import annotations

import json
import secrets
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from smscore.domain.frequency import Count
from smscore.domain.model import MessageStatus, OutgoingMessage, Purpose

PLAN_CHUNK_MESSAGES = 1_000
# A chunk's encoded plan stays well under DynamoDB's 400 KB item limit, whatever the texts (per-recipient texts
# of 1,600 characters make smaller chunks).
PLAN_CHUNK_BYTES = 300_000
_PREFIX_BITS = 80
_CHUNK_BITS = 20  # up to 1,048,576 chunks
_OFFSET_BITS = 22
_LOW_BITS = _CHUNK_BITS + _OFFSET_BITS


class ChunkState(StrEnum):
    PLANNED = "PLANNED"  # written by the request; no message item yet
    WRITTEN = "WRITTEN"  # its message items are persisted; not (known to be) enqueued yet
    ENQUEUED = "ENQUEUED"  # every QUEUED message of it is on the delivery queue


def new_plan_prefix() -> str:
    """80 random bits, hex: a fresh plan per request, so two attempts of one campaign never share chunks."""
    return f"{secrets.randbits(_PREFIX_BITS):020x}"


def planned_message_id(prefix: str, chunk: int, offset: int) -> str:
    """The id of the `offset`-th message of chunk `chunk`: sorts by (chunk, offset) within a plan."""
    value = int(prefix, 16)
    p_hi, p_mid, p_lo = value >> 32, (value >> 20) & 0xFFF, value & 0xFFFFF
    low = (chunk << _OFFSET_BITS) | offset
    as_int = (p_hi << 80) | (8 << 76) | (p_mid << 64) | (0b10 << 62) | (p_lo << _LOW_BITS) | low
    return str(uuid.UUID(int=as_int))


@dataclass(frozen=True)
class PlannedId:
    prefix: str
    chunk: int
    offset: int


def parse_planned_id(message_id: str) -> PlannedId | None:
    """Where a planned message's plan is; None for any other id (older campaigns, small ones, garbage)."""
    try:
        parsed = uuid.UUID(message_id)
    except ValueError:
        return None
    if parsed.version != 8 or str(parsed) != message_id:
        return None
    value = parsed.int
    prefix = ((value >> 80) << 32) | (((value >> 64) & 0xFFF) << 20) | ((value >> _LOW_BITS) & 0xFFFFF)
    low = value & ((1 << _LOW_BITS) - 1)
    return PlannedId(f"{prefix:020x}", low >> _OFFSET_BITS, low & ((1 << _OFFSET_BITS) - 1))


def message_costs(bodies: Sequence[str]) -> list[int]:
    """Each planned message's bytes in its chunk: a row, plus its text when it is not the plan's first text (the
    one every chunk stores once)."""
    common = bodies[0] if bodies else ""
    return [80 if body == common else 96 + len(body.encode()) for body in bodies]


def chunk_sizes(costs: Sequence[int], limit: int | None = None, budget: int = PLAN_CHUNK_BYTES) -> list[int]:
    """How many messages each chunk takes, in order: at most `limit` (PLAN_CHUNK_MESSAGES), and about `budget`
    bytes."""
    limit = limit or PLAN_CHUNK_MESSAGES
    sizes: list[int] = []
    count = used = 0
    for cost in costs:
        if count and (count == limit or used + cost > budget):
            sizes.append(count)
            count = used = 0
        count += 1
        used += cost
    if count:
        sizes.append(count)
    return sizes


@dataclass(frozen=True)
class ChunkCounts:
    """The marketing frequency counts its worker writes for a chunk's Colombian recipients (issue 22, item 3): each
    number's counts as the request read them, for `day`; the worker stores them plus one (puts of fixed values, so a
    retried chunk writes the same items again instead of counting twice)."""

    day: date
    counts: dict[str, Count]


@dataclass(frozen=True)
class PlanChunk:
    """One chunk of a plan, as stored: the campaign's common fields once, then each message's own."""

    prefix: str
    number: int
    queue_id: str
    tenant_id: str
    messages: tuple[OutgoingMessage, ...]
    state: ChunkState = ChunkState.PLANNED
    frequency: ChunkCounts | None = None

    @property
    def key(self) -> str:
        return chunk_key(self.prefix, self.number)

    def encode(self) -> bytes:
        first = self.messages[0]
        common = {
            "q": self.queue_id,
            "t": self.tenant_id,
            "c": first.created_at.isoformat(),
            "p": first.provider,
            "u": first.purpose.value,
            "b": first.body,
            "s": first.segments,
            "e": first.encoding,
            "k": first.credits,
        }
        rows: list[list[object]] = []
        for m in self.messages:
            row: list[object] = [
                m.recipient,
                m.contact_id,
                "S" if m.status is MessageStatus.SCHEDULED else "Q",
                m.scheduled_for.isoformat() if m.scheduled_for else None,
            ]
            if (m.body, m.segments, m.encoding, m.credits) != (
                first.body,
                first.segments,
                first.encoding,
                first.credits,
            ):
                row += [m.body, m.segments, m.encoding, m.credits]
            rows.append(row)
        stored: dict[str, object] = {**common, "m": rows}
        if self.frequency is not None:
            # [offset, week total, {ISO day: count}] per counted recipient (most of them [offset, 0, {}])
            stored["f"] = {
                "d": self.frequency.day.isoformat(),
                "c": [
                    [offset, count.week, count.days]
                    for offset, m in enumerate(self.messages)
                    if (count := self.frequency.counts.get(m.recipient)) is not None
                ],
            }
        return zlib.compress(json.dumps(stored, separators=(",", ":"), ensure_ascii=False).encode(), 1)

    @classmethod
    def decode(
        cls, prefix: str, number: int, blob: bytes, state: ChunkState = ChunkState.PLANNED, only: int | None = None
    ) -> PlanChunk:
        """The stored chunk; with `only`, just the message at that offset (a read-through of one id)."""
        data = json.loads(zlib.decompress(blob))
        created = datetime.fromisoformat(data["c"])
        purpose = Purpose(data["u"])
        common = (data["b"], data["s"], data["e"], data["k"])
        rows = data["m"]
        offsets = range(len(rows)) if only is None else range(only, min(only + 1, len(rows)))
        messages = []
        for offset in offsets:
            row = rows[offset]
            body, segments, encoding, credits = row[4:8] if len(row) > 4 else common
            messages.append(
                OutgoingMessage(
                    message_id=planned_message_id(prefix, number, offset),
                    tenant_id=data["t"],
                    queue_id=data["q"],
                    recipient=row[0],
                    contact_id=row[1],
                    body=body,
                    segments=segments,
                    encoding=encoding,
                    credits=credits,
                    provider=data["p"],
                    created_at=created,
                    status=MessageStatus.SCHEDULED if row[2] == "S" else MessageStatus.QUEUED,
                    scheduled_for=datetime.fromisoformat(row[3]) if row[3] else None,
                    purpose=purpose,
                )
            )
        frequency = None
        if "f" in data and only is None:
            day = date.fromisoformat(data["f"]["d"])
            frequency = ChunkCounts(
                day,
                {
                    rows[offset][0]: Count(day=days.get(day.isoformat(), 0), week=week, days=days)
                    for offset, week, days in data["f"]["c"]
                },
            )
        return cls(prefix, number, data["q"], data["t"], tuple(messages), state, frequency)


def chunk_recipients(blob: bytes) -> list[tuple[str, str]]:
    """(number, contact id) of each message of a stored chunk, without building the messages (a resumed planner's
    de-duplication: smscore.domain.planning)."""
    return [(row[0], row[1]) for row in json.loads(zlib.decompress(blob))["m"]]


def chunk_key(prefix: str, number: int) -> str:
    """The chunk's key in the Dispatches table (next to the campaigns, in none of its indexes)."""
    return f"plan#{prefix}#{number:06d}"


def split_plan(
    prefix: str,
    queue_id: str,
    tenant_id: str,
    messages: Sequence[OutgoingMessage],
    frequency: ChunkCounts | None = None,
    first_chunk: int = 0,
) -> list[PlanChunk]:
    """The chunks of a plan whose messages carry the ids `planned_ids(prefix, bodies, first_chunk)` gave them, in
    this order; each chunk carries the frequency counts of its own recipients (`frequency`: the campaign's). A plan
    written page by page (smscore.domain.planning) numbers each page's chunks from `first_chunk`."""
    chunks: list[PlanChunk] = []
    start = 0
    for number, size in enumerate(chunk_sizes(message_costs([m.body for m in messages])), start=first_chunk):
        part = tuple(messages[start : start + size])
        counts = None
        if frequency is not None:
            mine = {m.recipient: frequency.counts[m.recipient] for m in part if m.recipient in frequency.counts}
            counts = ChunkCounts(frequency.day, mine) if mine else None
        chunks.append(PlanChunk(prefix, number, queue_id, tenant_id, part, frequency=counts))
        start += size
    return chunks


def planned_ids(prefix: str, bodies: Sequence[str], first_chunk: int = 0) -> list[str]:
    """The ids of a plan's messages, in order, given each message's final text (what decides the chunks), in chunks
    numbered from `first_chunk`."""
    ids: list[str] = []
    for number, size in enumerate(chunk_sizes(message_costs(bodies)), start=first_chunk):
        ids += [planned_message_id(prefix, number, offset) for offset in range(size)]
    return ids
