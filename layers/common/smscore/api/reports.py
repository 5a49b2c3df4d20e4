"""GET /api/reports/usage, and the delivery rate and failure reasons a campaign's status carries."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from smscore.domain.reports import FailureTally, UsageSource, day_range, usage_by_day


class _Dto(BaseModel):
    model_config = ConfigDict(
        defer_build=True, alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


class UsageDayDto(_Dto):
    day: date = Field(description="A calendar day in Bogotá (America/Bogota)")
    sends: int = Field(description="Messages of the campaigns created that day")
    delivered: int
    undelivered: int
    failed: int
    failures_by_code: dict[str, int] = Field(description="FAILED and UNDELIVERED messages by provider or our code")
    failures_uncounted: int = Field(
        description="FAILED and UNDELIVERED messages not in failuresByCode: of campaigns sent before failures were "
        "counted by code, refunded without a delivery attempt, or whose count a crash lost (docs/integrations.md)"
    )
    credits_spent: int = Field(description="Credits debited that day")
    credits_refunded: int = Field(description="Credits refunded that day")


class UsageTotalsDto(_Dto):
    sends: int
    delivered: int
    undelivered: int
    failed: int
    failures_by_code: dict[str, int]
    failures_uncounted: int
    credits_spent: int
    credits_refunded: int


class UsageReportDto(_Dto):
    from_: date = Field(alias="from")
    to: date
    granularity: str = "day"
    time_zone: str = "America/Bogota"
    days: list[UsageDayDto]
    totals: UsageTotalsDto


class UsageReports:
    def __init__(self, source: UsageSource, failures: FailureTally) -> None:
        self._source = source
        self._failures = failures

    def usage(self, tenant_id: str, start: date, end: date) -> UsageReportDto:
        begin, finish = day_range(start, end)
        campaigns = self._source.campaigns(tenant_id, begin, finish)
        codes = self._failures.codes(tenant_id, [c.queue_id for c in campaigns]) if campaigns else {}
        days = usage_by_day(start, end, campaigns, codes, self._source.ledger(tenant_id, begin, finish))
        rows = [
            UsageDayDto(
                day=d.day,
                sends=d.sends,
                delivered=d.delivered,
                undelivered=d.undelivered,
                failed=d.failed,
                failures_by_code=dict(sorted(d.failures_by_code.items())),
                failures_uncounted=d.failures_uncounted,
                credits_spent=d.credits_spent,
                credits_refunded=d.credits_refunded,
            )
            for d in days
        ]
        all_codes: dict[str, int] = {}
        for d in days:
            for code, n in d.failures_by_code.items():
                all_codes[code] = all_codes.get(code, 0) + n
        totals = UsageTotalsDto(
            sends=sum(r.sends for r in rows),
            delivered=sum(r.delivered for r in rows),
            undelivered=sum(r.undelivered for r in rows),
            failed=sum(r.failed for r in rows),
            failures_by_code=dict(sorted(all_codes.items())),
            failures_uncounted=sum(r.failures_uncounted for r in rows),
            credits_spent=sum(r.credits_spent for r in rows),
            credits_refunded=sum(r.credits_refunded for r in rows),
        )
        return UsageReportDto(**{"from": start}, to=end, days=rows, totals=totals)

    def failure_reasons(self, tenant_id: str, queue_id: str) -> dict[str, int]:
        return dict(sorted(self._failures.codes(tenant_id, [queue_id]).get(queue_id, {}).items()))
