"""credits.low's reads and conditional writes on the tenant item (smscore.domain.credits_low)."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import UpdateError

from smscore.dal.tables import TenantRecord
from smscore.domain.credits_low import Balance

ATTRIBUTES = ["tenant_id", "credits", "credits_low_threshold", "credits_low_at"]


def _applied(update: UpdateError) -> bool:
    if update.cause_response_code == "ConditionalCheckFailedException":
        return False
    raise update


class DynamoCreditsLow:
    def balance(self, tenant_id: str) -> Balance | None:
        try:
            record = TenantRecord.get(tenant_id, consistent_read=True, attributes_to_get=ATTRIBUTES)
        except TenantRecord.DoesNotExist:
            return None
        threshold = record.credits_low_threshold
        return Balance(int(record.credits), None if threshold is None else int(threshold), record.credits_low_at)

    def mark_low(self, tenant_id: str, threshold: int, at: datetime) -> bool:
        try:
            TenantRecord(tenant_id).update(
                actions=[TenantRecord.credits_low_at.set(at)],
                condition=(TenantRecord.credits < threshold)
                & (TenantRecord.credits_low_threshold == threshold)
                & TenantRecord.credits_low_at.does_not_exist(),
            )
        except UpdateError as exc:
            return _applied(exc)
        return True

    def rearm(self, tenant_id: str, threshold: int) -> bool:
        try:
            TenantRecord(tenant_id).update(
                actions=[TenantRecord.credits_low_at.remove()],
                condition=(TenantRecord.credits >= threshold) & TenantRecord.credits_low_at.exists(),
            )
        except UpdateError as exc:
            return _applied(exc)
        return True
