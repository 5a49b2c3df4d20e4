"""credits.low: the tenant's webhooks are told once each time its balance goes under its threshold.

The debit is one transaction (smscore.dal.campaign_store) that returns nothing, so the crossing is found right after
it: `CreditsLowWatch` wraps the send path's campaign store and, after a debit, reads the balance (one consistent
GetItem, only for tenants with a threshold). Under the threshold and not yet told: one conditional write marks the
tenant told (`credits_low_at`, on the condition that the balance is still under and nobody marked it meanwhile) and
only the writer of that mark publishes the event, so concurrent debits that cross together emit one event.
The mark is lifted (re-armed) when a read finds the balance back at or above the threshold: the tenant read every
send makes before its debit, or the read after a debit. A top-up followed by a debit that takes the balance straight
under again is therefore seen: the send's own tenant read re-arms first. Refunds and top-ups never emit.
Debits of tenants without a threshold cost nothing more (the send's tenant read shows there is none).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from smscore.domain.events import EventSink, iso, new_event
from smscore.domain.model import Dispatch, Tenant
from smscore.domain.webhooks import EventType

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Balance:
    credits: int
    threshold: int | None
    low_at: datetime | None


class CreditsLowStore(Protocol):
    def balance(self, tenant_id: str) -> Balance | None:
        """The tenant's balance, threshold and mark, read consistently (None: no such tenant)."""
        ...

    def mark_low(self, tenant_id: str, threshold: int, at: datetime) -> bool:
        """Set the mark if the balance is under `threshold` and the tenant is not marked: True for the writer."""
        ...

    def rearm(self, tenant_id: str, threshold: int) -> bool:
        """Lift the mark if the balance is at or above `threshold`: True when lifted."""
        ...


def credits_low_event(tenant_id: str, balance: int, threshold: int, queue_id: str, at: datetime) -> Any:
    data = {"balance": balance, "threshold": threshold, "queueId": queue_id, "at": iso(at)}
    return new_event(EventType.CREDITS_LOW, tenant_id, f"{tenant_id}:{iso(at)}", at, data)


class CreditsLowWatch:
    """A CampaignStore (smscore.domain.ports) that emits credits.low after the debit that takes the balance under
    the tenant's threshold. Everything else is the wrapped store's."""

    def __init__(
        self,
        inner: Any,
        store: CreditsLowStore,
        sink: EventSink,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._inner = inner
        self._store = store
        self._sink = sink
        self._now = now
        # Each tenant's threshold as its last read showed it: a debit of a tenant read without one reads nothing.
        self._thresholds: dict[str, int | None] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        tenant: Tenant | None = self._inner.get_tenant(tenant_id)
        if tenant is not None:
            threshold = tenant.credits_low_threshold
            self._thresholds[tenant_id] = threshold
            if threshold is not None and tenant.credits_low_at is not None and tenant.credits >= threshold:
                self._store.rearm(tenant_id, threshold)
        return tenant

    def debit(self, dispatch: Dispatch) -> None:
        self._inner.debit(dispatch)
        self._after_debit(dispatch)

    def open_fanout(self, dispatch: Dispatch, deadline: datetime, request_hash: str | None) -> None:
        self._inner.open_fanout(dispatch, deadline=deadline, request_hash=request_hash)
        self._after_debit(dispatch)

    def _after_debit(self, dispatch: Dispatch) -> None:
        if dispatch.credits_debited <= 0 or self._thresholds.get(dispatch.tenant_id, 0) is None:
            return
        balance = self._store.balance(dispatch.tenant_id)
        if balance is None or balance.threshold is None:
            return
        if balance.credits >= balance.threshold:
            if balance.low_at is not None:
                self._store.rearm(dispatch.tenant_id, balance.threshold)
            return
        if balance.low_at is not None:
            return  # told already, and the balance has not been back above since
        at = self._now()
        if self._store.mark_low(dispatch.tenant_id, balance.threshold, at):
            event = credits_low_event(dispatch.tenant_id, balance.credits, balance.threshold, dispatch.queue_id, at)
            self._sink.publish([event])
