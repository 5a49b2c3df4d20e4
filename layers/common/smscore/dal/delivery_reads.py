"""What delivery's frequency re-check reads besides the counters (smscore.domain.frequency_recheck): each tenant's
cap and when each campaign was counted for, cached per execution environment (a record's messages share both, so
one GetItem per tenant a minute and one per campaign, not one per message)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from smscore.dal.tables import DispatchRecord, TenantRecord
from smscore.dal.tenant_settings import stored_compliance
from smscore.domain.model import MarketingFrequency


class TenantCaps:
    """A tenant's marketing cap: its `marketingFrequency`, else the platform default; cached `ttl_seconds`."""

    def __init__(
        self, default: MarketingFrequency, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._default = default
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, MarketingFrequency]] = {}

    def __call__(self, tenant_id: str) -> MarketingFrequency:
        now = self._clock()
        cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            record = TenantRecord.get(tenant_id, attributes_to_get=["tenant_id", "name", "compliance"])
            stored = stored_compliance(record)
        except TenantRecord.DoesNotExist:
            stored = None
        cap = stored.frequency if stored is not None else self._default
        self._cache[tenant_id] = (now, cap)
        return cap


class CampaignCountedAt:
    """When a campaign's frequency counters were written for: its sendAt, else when it was accepted (the send path
    counts `bogota_day(sendAt)`, else today). Never changes, so cached for the environment's life (bounded)."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._cache: dict[str, datetime | None] = {}
        self._max = max_entries

    def __call__(self, queue_id: str) -> datetime | None:
        if queue_id in self._cache:
            return self._cache[queue_id]
        try:
            record = DispatchRecord.get(queue_id, attributes_to_get=["queue_id", "send_at", "created_at"])
            send_at: datetime | None = record.send_at or record.created_at
        except DispatchRecord.DoesNotExist:
            send_at = None
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[queue_id] = send_at
        return send_at
