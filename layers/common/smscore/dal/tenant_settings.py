"""A tenant's own settings that other paths read: its quiet hours (send path, delivery, smsctl)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from smscore.dal.tables import TenantRecord
from smscore.domain.model import QuietHours
from smscore.domain.windows import parse_quiet_hours, quiet_hours_json

log = logging.getLogger(__name__)


def stored_quiet_hours(record: TenantRecord) -> QuietHours | None:
    """The tenant's quiet hours as stored (None when unset, or unreadable: logged, never a refusal to send)."""
    if not record.quiet_hours:
        return None
    try:
        return parse_quiet_hours(dict(record.quiet_hours.as_dict()))
    except ValueError:
        log.error("Unreadable quiet hours on the tenant", extra={"tenant_id": record.tenant_id})
        return None


class TenantQuietHours:
    """Delivery's lookup of a tenant's quiet hours, cached per tenant for `ttl_seconds` (one read per tenant per
    minute per execution environment, not one per message)."""

    def __init__(self, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, QuietHours | None]] = {}

    def __call__(self, tenant_id: str) -> QuietHours | None:
        now = self._clock()
        cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            record = TenantRecord.get(tenant_id, attributes_to_get=["tenant_id", "quiet_hours"])
            quiet = stored_quiet_hours(record)
        except TenantRecord.DoesNotExist:
            quiet = None
        self._cache[tenant_id] = (now, quiet)
        return quiet


def set_quiet_hours(tenant_id: str, quiet: QuietHours | None) -> None:
    """Store (or, with None, remove) the tenant's quiet hours; the tenant must exist."""
    field = TenantRecord.quiet_hours
    action = field.remove() if quiet is None else field.set(quiet_hours_json(quiet))
    TenantRecord(tenant_id).update(actions=[action], condition=TenantRecord.tenant_id.exists())
