"""Usage reports and campaign outcomes: sends, deliveries, failures by code, credits spent and refunded.

Failures by code are counted as they happen (`FailureTally`, fed by the emitting stores of smscore.domain.events
for every FAILED or UNDELIVERED write that took effect), per campaign in a few shards, so that neither a report
nor a campaign's status ever reads its messages. Days are calendar days in Bogotá (zoneinfo), the tenants' zone.

The tally is not every failure: campaigns sent before it existed have none, messages the fan-out or the reconciler
refunded without a delivery attempt never reach the emitting stores, and a crash between a failure's write and its
count loses that count. Reports say so with a number instead of hiding it: `failures_uncounted`, the campaign's
FAILED + UNDELIVERED messages (its status counts, which are complete) less those its tally holds, so the codes and
the uncounted always add up to the failures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from smscore.domain.errors import FieldIssue, InvalidRequest
from smscore.domain.model import LedgerKind, MessageStatus
from smscore.domain.views import DispatchView

REPORT_ZONE = ZoneInfo("America/Bogota")
MAX_REPORT_DAYS = 366
UNKNOWN_CODE = "UNKNOWN"


class FailureTally(Protocol):
    def count(self, tenant_id: str, queue_id: str, message_id: str, code: str) -> None:
        """One more failure with this code in this campaign (called once per FAILED / UNDELIVERED write)."""
        ...

    def codes(self, tenant_id: str, queue_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """queue id -> code -> count, for the campaigns asked (absent: none counted)."""
        ...


@dataclass(frozen=True)
class LedgerMovement:
    at: datetime
    kind: LedgerKind
    amount: int  # signed, as the ledger holds it


class UsageSource(Protocol):
    def campaigns(self, tenant_id: str, start: datetime, end: datetime) -> list[DispatchView]:
        """The tenant's campaigns created in [start, end), with their counts."""
        ...

    def ledger(self, tenant_id: str, start: datetime, end: datetime) -> list[LedgerMovement]: ...


@dataclass
class DayUsage:
    day: date
    sends: int = 0
    delivered: int = 0
    undelivered: int = 0
    failed: int = 0
    failures_by_code: Counter[str] = field(default_factory=Counter)
    failures_uncounted: int = 0
    credits_spent: int = 0
    credits_refunded: int = 0


def delivery_rate(counts: Mapping[MessageStatus, int]) -> float | None:
    """Delivered among the messages the carrier has answered for or we gave up on (None before any)."""
    settled = sum(counts.get(s, 0) for s in (MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED))
    return round(counts.get(MessageStatus.DELIVERED, 0) / settled, 4) if settled else None


def uncounted_failures(counts: Mapping[MessageStatus, int], codes: Mapping[str, int]) -> int:
    """The campaign's FAILED + UNDELIVERED messages that its failure tally does not hold (see the module)."""
    failures = counts.get(MessageStatus.FAILED, 0) + counts.get(MessageStatus.UNDELIVERED, 0)
    return max(0, failures - sum(codes.values()))


def day_range(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end + 1 day 00:00) in Bogotá, refusing reversed or over-long ranges."""
    if end < start:
        raise InvalidRequest("`to` is before `from`", details=[FieldIssue("to", "before from")])
    if (end - start).days + 1 > MAX_REPORT_DAYS:
        raise InvalidRequest(
            f"At most {MAX_REPORT_DAYS} days per report", details=[FieldIssue("to", f"at most {MAX_REPORT_DAYS} days")]
        )
    begin = datetime.combine(start, datetime.min.time(), REPORT_ZONE)
    return begin, datetime.combine(end + timedelta(days=1), datetime.min.time(), REPORT_ZONE)


def usage_by_day(
    start: date,
    end: date,
    campaigns: Sequence[DispatchView],
    failure_codes: Mapping[str, Mapping[str, int]],
    ledger: Sequence[LedgerMovement],
) -> list[DayUsage]:
    """Every day of the range (empty days included): campaigns by their creation day, credits by movement day."""
    days = {start + timedelta(days=n): DayUsage(start + timedelta(days=n)) for n in range((end - start).days + 1)}
    for campaign in campaigns:
        usage = days.get(campaign.created_at.astimezone(REPORT_ZONE).date())
        if usage is None:
            continue
        usage.sends += campaign.total_messages
        usage.delivered += campaign.counts.get(MessageStatus.DELIVERED, 0)
        usage.undelivered += campaign.counts.get(MessageStatus.UNDELIVERED, 0)
        usage.failed += campaign.counts.get(MessageStatus.FAILED, 0)
        codes = failure_codes.get(campaign.queue_id, {})
        usage.failures_by_code.update(codes)
        usage.failures_uncounted += uncounted_failures(campaign.counts, codes)
    for movement in ledger:
        usage = days.get(movement.at.astimezone(REPORT_ZONE).date())
        if usage is None:
            continue
        if movement.kind is LedgerKind.DEBIT:
            usage.credits_spent += abs(movement.amount)
        elif movement.kind is LedgerKind.REFUND:
            usage.credits_refunded += abs(movement.amount)
    return [days[d] for d in sorted(days)]
