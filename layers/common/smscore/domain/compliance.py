"""Colombian marketing rules beyond send hours (issue 22): a tenant's compliance settings and their defaults.

Sources (docs/compliance-co.md maps each rule to its feature): Ley 2300 de 2023 (RNE consultation, art. 5;
frequency, art. 3 as secondary sources read it), CRC Resolución 6522 de 2022 as reported (the sender's name in every
commercial SMS), Ley 1581 de 2012 and Decreto 1377 de 2013 (consent and its proof). Nothing here reads a clock or a
table: the send path passes what it read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from smscore.domain.errors import (
    FieldIssue,
    InvalidCharacter,
    InvalidRequest,
    OptOutLinkUnavailable,
    SenderNameRequired,
)
from smscore.domain.exclusions import DEFAULT_MAX_AGE_DAYS, ExclusionList, ExclusionSnapshot, require_fresh
from smscore.domain.frequency import COUNTER_LIFETIME, Count, FrequencyCounters, capped
from smscore.domain.model import ComplianceSettings, MarketingFrequency, Purpose, Tenant
from smscore.domain.names import refused_character
from smscore.domain.opt_out_links import DEFAULT_TWO_WAY, TwoWayRoutes, link_footer

BOGOTA = ZoneInfo("America/Bogota")

COMPLIANCE_COUNTRY = "CO"
SENDER_NAME_MIN = 2
SENDER_NAME_MAX = 20
OPT_OUT_TEXT_MAX = 80
MAX_PER_DAY_LIMIT = 10
MAX_PER_WEEK_LIMIT = 50
# GSM-7 only (no accents: one accent would turn a whole campaign into UCS-2 and double its segments), names SALIR,
# the opt-out keyword every route of ours understands (OptOutKeywords).
DEFAULT_OPT_OUT_TEXT = "Responde SALIR para no recibir mas"
DEFAULT_FREQUENCY = MarketingFrequency(max_per_day=1, max_per_week=0)


def default_sender_name(tenant_name: str) -> str | None:
    """The tenant's name as its sender name (the default, for tenants created before the setting too): trimmed to
    SENDER_NAME_MAX characters; None when what is left is shorter than SENDER_NAME_MIN."""
    name = " ".join(tenant_name.split())[:SENDER_NAME_MAX].strip()
    return name if len(name) >= SENDER_NAME_MIN else None


def settings_of(tenant: Tenant, default_frequency: MarketingFrequency = DEFAULT_FREQUENCY) -> ComplianceSettings:
    """The tenant's settings with every default applied (`default_frequency`: the platform's, MarketingMaxPerDayDefault,
    for a tenant that never set its own)."""
    if tenant.compliance is not None:
        return tenant.compliance
    return ComplianceSettings(sender_name=default_sender_name(tenant.name), frequency=default_frequency)


def opt_out_text_of(settings: ComplianceSettings) -> str:
    return settings.opt_out_text or DEFAULT_OPT_OUT_TEXT


def _checked_text(field: str, value: str, minimum: int, maximum: int) -> str:
    refused = refused_character(value)
    if refused is not None:
        message = refused.sentence(field)
        raise InvalidCharacter(
            f"Invalid request: {field}: {message}",
            details=[FieldIssue(field, message)],
            codePoint=refused.code_point,
            position=refused.position,
        )
    text = " ".join(value.split())
    if not minimum <= len(text) <= maximum:
        message = f"must have {minimum}-{maximum} characters"
        raise InvalidRequest(f"Invalid request: {field}: {message}", details=[FieldIssue(field, message)])
    return text


def checked_sender_name(value: str) -> str:
    """A sender name as stored: inner whitespace collapsed, 2-20 characters, no control or invisible character."""
    return _checked_text("senderName", value, SENDER_NAME_MIN, SENDER_NAME_MAX)


def checked_opt_out_text(value: str) -> str:
    return _checked_text("optOutText", value, 1, OPT_OUT_TEXT_MAX)


def checked_frequency(max_per_day: int, max_per_week: int) -> MarketingFrequency:
    issues = []
    if not 0 <= max_per_day <= MAX_PER_DAY_LIMIT:
        issues.append(FieldIssue("marketingFrequency.maxPerDay", f"0-{MAX_PER_DAY_LIMIT} (0 = no daily cap)"))
    if not 0 <= max_per_week <= MAX_PER_WEEK_LIMIT:
        issues.append(FieldIssue("marketingFrequency.maxPerWeek", f"0-{MAX_PER_WEEK_LIMIT} (0 = no weekly cap)"))
    if issues:
        raise InvalidRequest("marketingFrequency is out of range", details=issues)
    return MarketingFrequency(max_per_day=max_per_day, max_per_week=max_per_week)


def is_colombian(e164: str) -> bool:
    """+57 is Colombia's alone: no number parsing on the send path's hot loop."""
    return e164.startswith("+57")


def bogota_today() -> date:
    return datetime.now(BOGOTA).date()


@dataclass(frozen=True)
class Screened:
    """The audience after the compliance rules, and who each rule left out."""

    recipients: list[tuple[str, str]]
    excluded: int = 0  # on the RNE snapshot
    snapshot: ExclusionSnapshot | None = None
    # Marketing with Colombian recipients: the text carries the sender's name and the opt-out (`framing`)
    settings: ComplianceSettings | None = None
    capped: int = 0  # at the tenant's frequency cap (smscore.domain.frequency)
    counts: FrequencyPlan | None = None  # what the fan-out writes once the campaign is paid


@dataclass(frozen=True)
class CompliancePolicy:
    """The rules the send path (and the preview: the same `plan_campaign`) applies to a marketing campaign with
    recipients in Colombia, before pricing: a sender name must be set (SenderNameRequired), the RNE snapshot must be
    current (ExclusionListStale) and its numbers are skipped. Transactional campaigns are exempt."""

    exclusions: ExclusionList
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    today: Callable[[], date] = bogota_today
    frequency: FrequencyCounters | None = None  # None: no cap applied (tests of other rules)
    default_frequency: MarketingFrequency = DEFAULT_FREQUENCY
    two_way: TwoWayRoutes = DEFAULT_TWO_WAY  # where a reply reaches us (TwoWaySmsCountries)
    link_base: str | None = None  # a fixed opt-out link base (tests); the API passes the request's (opt_out_base)

    def framing(self, text: str, settings: ComplianceSettings, provider: str, link_base: str = "") -> tuple[str, str]:
        """`framing` with this stack's routes; `link_base` the request's opt-out base (else the policy's)."""
        return framing(text, settings, provider, self.two_way, link_base or self.link_base)

    def screen(
        self,
        purpose: Purpose,
        tenant: Tenant,
        recipients: list[tuple[str, str]],
        *,
        day: date | None = None,
        resend: bool = False,
    ) -> Screened:
        """`day`: the Bogota day the campaign is for (its sendAt's, else today): what the frequency cap counts. A
        resend re-attempts messages already counted: not capped again."""
        if purpose is not Purpose.MARKETING:
            return Screened(recipients)
        colombian = [e164 for e164, _ in recipients if is_colombian(e164)]
        if not colombian:
            return Screened(recipients)
        settings = settings_of(tenant, self.default_frequency)
        if settings.sender_name is None:
            raise SenderNameRequired(
                "Marketing to Colombia carries the sender's name: set senderName (PUT /api/settings) first"
            )
        snapshot = require_fresh(self.exclusions.current(), self.today(), self.max_age_days)
        listed = self.exclusions.listed(snapshot, colombian)
        kept = [r for r in recipients if r[0] not in listed] if listed else recipients
        excluded = len(recipients) - len(kept)
        cap = settings.frequency
        if self.frequency is None or resend or not (cap.max_per_day or cap.max_per_week):
            return Screened(kept, excluded=excluded, snapshot=snapshot, settings=settings)
        day = day or self.today()
        numbers = [e164 for e164, _ in kept if is_colombian(e164)]
        counts = self.frequency.counts(tenant.tenant_id, numbers, day)
        over = capped(cap, counts)
        if over:
            kept = [r for r in kept if r[0] not in over]
        plan = FrequencyPlan(
            tenant.tenant_id, day, {n: counts.get(n, Count()) for n in numbers if n not in over}, self.frequency
        )
        return Screened(kept, excluded=excluded, snapshot=snapshot, settings=settings, capped=len(over), counts=plan)


# -- the sender's name and the opt-out instruction (CRC Res. 6522 de 2022; Ley 2300 de 2023, art. 5 par. 2) --------

FOOTER_SEPARATOR = "\n"


def has_two_way(provider: str, country: str, routes: TwoWayRoutes = DEFAULT_TWO_WAY) -> bool:
    """Whether a reply to `provider`'s sender in `country` reaches us (the routes are data: `TwoWaySmsCountries`)."""
    return routes.has_two_way(provider, country)


def sender_prefix(text: str, sender_name: str) -> str:
    """`{senderName}: `, or "" when the text already starts with the name and a colon (any case)."""
    if text.lstrip().casefold().startswith(f"{sender_name}:".casefold()):
        return ""
    return f"{sender_name}: "


def framing(
    text: str,
    settings: ComplianceSettings,
    provider: str,
    routes: TwoWayRoutes = DEFAULT_TWO_WAY,
    link_base: str | None = None,
) -> tuple[str, str]:
    """(prefix, footer) of a marketing SMS to CO: the sender's name first, the opt-out instruction last; the send
    path composes `prefix + rendered text + footer` (smscore.domain.compose) and prices that.

    The instruction is `optOutText` (names SALIR by default) where a reply reaches us; on a route without two-way SMS
    in Colombia (AWS) it is the opt-out link `{link_base}/o/{code}` (smscore.domain.opt_out_links: a placeholder of
    the code's fixed length here, the message's own code put in at delivery). Without a link base such a route
    cannot carry an opt-out: OptOutLinkUnavailable, before anything is written or debited."""
    assert settings.sender_name is not None, "CompliancePolicy.screen refuses a cleared sender name first"
    prefix = sender_prefix(text, settings.sender_name)
    if has_two_way(provider, COMPLIANCE_COUNTRY, routes):
        return prefix, FOOTER_SEPARATOR + opt_out_text_of(settings)
    if not link_base:
        raise OptOutLinkUnavailable(
            f"Provider {provider} has no two-way SMS in Colombia, so marketing there ends with an opt-out link, and "
            "no LinkBaseUrl is configured: send through a two-way route or set LinkBaseUrl",
            provider=provider,
        )
    return prefix, link_footer(link_base)


@dataclass(frozen=True)
class FrequencyPlan:
    """The counts a campaign read for its Colombian recipients under the cap: written back plus one once it is paid
    (`record`, from the fan-out), for the recipients actually sent to."""

    tenant_id: str
    day: date
    counts: dict[str, Count]
    counters: FrequencyCounters

    def record(self, numbers: Sequence[str], now: datetime) -> None:
        mine = {n: self.counts[n] for n in numbers if n in self.counts}
        if mine:
            self.counters.record(self.tenant_id, mine, self.day, now + COUNTER_LIFETIME)
