"""An in-memory PlanningStore and plan-task queue (smscore.domain.planning) for unit tests: the same leases,
checkpoints and exact debit as smscore.dal.planning_store, on dicts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from smscore.domain.errors import InsufficientCredits
from smscore.domain.fanout import ChunkTask
from smscore.domain.model import TagRecipient, Tenant
from smscore.domain.plan import PlanChunk
from smscore.domain.planning import MemberPage, PlanCursor, PlanningState, PlanningStatus, PlanTask


@dataclass
class FakePlanningStore:
    tenant: Tenant
    tags: dict[str, list[TagRecipient]]  # tag id -> members (sorted by contact id, as a Query returns them)
    states: dict[str, PlanningState] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    leases: dict[str, datetime] = field(default_factory=dict)
    chunks: dict[tuple[str, int], PlanChunk] = field(default_factory=dict)
    ledger: list[tuple[str, int]] = field(default_factory=list)
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    lose_lease_at_checkpoint: int | None = None  # the n-th checkpoint finds another owner (1-based)
    checkpoints: int = 0

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenant if tenant_id == self.tenant.tenant_id else None

    def merge_values(self, tenant_id: str, contact_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        return {}

    def claim(self, queue_id: str, owner: str, now: datetime, lease_until: datetime) -> PlanningState | None:
        state = self.states.get(queue_id)
        if state is None:
            return None
        if state.status is PlanningStatus.PLANNED:
            return state
        if state.status is not PlanningStatus.PLANNING or state.deadline <= lease_until:
            return None
        if queue_id in self.leases and self.leases[queue_id] >= now:
            return None
        self.owners[queue_id], self.leases[queue_id] = owner, lease_until
        return state

    def member_page(self, tenant_id: str, tag_ids: Sequence[str], cursor: PlanCursor, limit: int) -> MemberPage:
        members: list[TagRecipient] = []
        tag, after = cursor.tag, cursor.after
        while tag < len(tag_ids) and len(members) < limit:
            remaining = [m for m in self.tags.get(tag_ids[tag], []) if after is None or m.contact_id > after]
            taken = remaining[: limit - len(members)]
            members += taken
            if len(taken) < len(remaining):
                after = taken[-1].contact_id
            else:
                tag, after = tag + 1, None
        return MemberPage(members, PlanCursor(tag, after, done=tag >= len(tag_ids)))

    def write_chunks(self, chunks: Sequence[PlanChunk]) -> None:
        for chunk in chunks:
            self.chunks[(chunk.prefix, chunk.number)] = chunk

    def planned_chunks(self, prefix: str, count: int) -> list[PlanChunk]:
        return [self.chunks[(prefix, n)] for n in range(count) if (prefix, n) in self.chunks]

    def planned_recipients(self, prefix: str, count: int) -> list[tuple[str, str]]:
        return [(m.recipient, m.contact_id) for chunk in self.planned_chunks(prefix, count) for m in chunk.messages]

    def _holds(self, queue_id: str, owner: str) -> bool:
        state = self.states[queue_id]
        return state.status is PlanningStatus.PLANNING and self.owners.get(queue_id) == owner

    def checkpoint(self, state: PlanningState, owner: str) -> bool:
        self.checkpoints += 1
        if self.checkpoints == self.lose_lease_at_checkpoint:
            self.owners[state.queue_id] = "another planner"
        if not self._holds(state.queue_id, owner):
            return False
        self.states[state.queue_id] = state
        return True

    def debit(self, state: PlanningState, owner: str, fanout_deadline: datetime) -> bool:
        if not self._holds(state.queue_id, owner):
            return False
        if self.tenant.credits < state.credits:
            raise InsufficientCredits(required=state.credits, available=self.tenant.credits)
        self.tenant = replace(self.tenant, credits=self.tenant.credits - state.credits)
        self.ledger.append(("DEBIT", -state.credits))
        self.states[state.queue_id] = replace(state, status=PlanningStatus.PLANNED)
        return True

    def finish_empty(self, state: PlanningState, owner: str) -> bool:
        if not self._holds(state.queue_id, owner):
            return False
        self.states[state.queue_id] = replace(state, status=PlanningStatus.PLANNED)
        return True

    def fail(self, queue_id: str, owner: str | None, code: str, message: str, now: datetime) -> bool:
        state = self.states[queue_id]
        if state.status is not PlanningStatus.PLANNING:
            return False
        if owner is not None and self.owners.get(queue_id) != owner:
            return False
        if owner is None and state.deadline > now:
            return False
        self.states[queue_id] = replace(state, status=PlanningStatus.FAILED)
        self.errors[queue_id] = (code, message)
        return True

    def release(self, queue_id: str, owner: str) -> None:
        if self.owners.get(queue_id) == owner:
            self.leases.pop(queue_id, None)


@dataclass
class FakeTasks:
    """The fan-out queue: planning tasks and chunk tasks, in the order submitted."""

    plans: list[PlanTask] = field(default_factory=list)
    chunks: list[ChunkTask] = field(default_factory=list)

    def submit_plan(self, task: PlanTask) -> bool:
        self.plans.append(task)
        return True

    def submit(self, tasks: Sequence[ChunkTask]) -> list[ChunkTask]:
        self.chunks += tasks
        return []
