"""A tenant's own settings that other paths read: its quiet hours (send path, delivery, smsctl) and its compliance
settings (GET/PUT /api/settings, the send path)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from smscore.dal.tables import TenantRecord
from smscore.domain.compliance import DEFAULT_FREQUENCY, default_sender_name
from smscore.domain.model import ComplianceSettings, MarketingFrequency, QuietHours, Tenant
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


def stored_compliance(record: TenantRecord) -> ComplianceSettings | None:
    """The tenant's compliance settings as stored, or None when never set (every default applies).

    Stored as {"senderName": "..." ("" once cleared; absent: the tenant's name), "optOutText": "..." (absent: the
    default), "maxPerDay": n, "maxPerWeek": n, "consentRequired": bool}."""
    if not record.compliance:
        return None
    raw: dict[str, Any] = dict(record.compliance.as_dict())
    sender = raw.get("senderName")
    return ComplianceSettings(
        sender_name=default_sender_name(record.name) if sender is None else (str(sender) or None),
        opt_out_text=str(raw["optOutText"]) if raw.get("optOutText") else None,
        frequency=MarketingFrequency(
            max_per_day=int(raw.get("maxPerDay", DEFAULT_FREQUENCY.max_per_day)),
            max_per_week=int(raw.get("maxPerWeek", DEFAULT_FREQUENCY.max_per_week)),
        ),
        consent_required=bool(raw.get("consentRequired", False)),
    )


def compliance_json(settings: ComplianceSettings) -> dict[str, Any]:
    """The stored form (see `stored_compliance`): the sender name is always written, "" when cleared."""
    stored: dict[str, Any] = {
        "senderName": settings.sender_name or "",
        "maxPerDay": settings.frequency.max_per_day,
        "maxPerWeek": settings.frequency.max_per_week,
        "consentRequired": settings.consent_required,
    }
    if settings.opt_out_text:
        stored["optOutText"] = settings.opt_out_text
    return stored


def tenant_of(record: TenantRecord) -> Tenant:
    return Tenant(
        tenant_id=record.tenant_id,
        name=record.name,
        credits=int(record.credits),
        default_country=record.default_country,
        provider=record.provider,
        quiet_hours=stored_quiet_hours(record),
        compliance=stored_compliance(record),
        merge_fields=tuple(record.merge_fields or ()),
        credits_low_threshold=None if record.credits_low_threshold is None else int(record.credits_low_threshold),
        credits_low_at=record.credits_low_at,
    )


class DynamoTenantSettings:
    """TenantSettingsStore on the Tenants table."""

    def read_settings(self, tenant_id: str) -> Tenant | None:
        try:
            return tenant_of(TenantRecord.get(tenant_id, consistent_read=True))
        except TenantRecord.DoesNotExist:
            return None

    def write_settings(
        self,
        tenant_id: str,
        compliance: ComplianceSettings,
        quiet_hours: QuietHours | None,
        credits_low_threshold: int | None = None,
        credits_low_reset: bool = False,
    ) -> bool:
        from pynamodb.exceptions import UpdateError
        from pynamodb.expressions.update import Action

        quiet_field = TenantRecord.quiet_hours
        threshold_field = TenantRecord.credits_low_threshold
        actions: list[Action] = [
            TenantRecord.compliance.set(compliance_json(compliance)),
            quiet_field.remove() if quiet_hours is None else quiet_field.set(quiet_hours_json(quiet_hours)),
            threshold_field.remove() if credits_low_threshold is None else threshold_field.set(credits_low_threshold),
        ]
        if credits_low_reset:  # a threshold set anew starts afresh: credits.low may be emitted again
            actions.append(TenantRecord.credits_low_at.remove())
        try:
            TenantRecord(tenant_id).update(actions=actions, condition=TenantRecord.tenant_id.exists())
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True
