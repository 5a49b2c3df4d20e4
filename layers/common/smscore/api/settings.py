"""GET/PUT /api/settings: a tenant's compliance settings and quiet hours at the HTTP edge (smscore.domain.compliance).

PUT changes only the fields the body names (a field sent as null resets it: `senderName` null clears the sender
name, after which a marketing send to CO gets 409 SENDER_NAME_REQUIRED; `optOutText` null restores the default;
`quietHours` null removes them). Writes pass the contacts function's fresh access check (token, member, terms)
before routing, like every write.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from smscore.domain.compliance import (
    DEFAULT_FREQUENCY,
    DEFAULT_OPT_OUT_TEXT,
    MAX_PER_DAY_LIMIT,
    MAX_PER_WEEK_LIMIT,
    OPT_OUT_TEXT_MAX,
    SENDER_NAME_MAX,
    SENDER_NAME_MIN,
    checked_frequency,
    checked_opt_out_text,
    checked_sender_name,
    default_sender_name,
    opt_out_text_of,
    settings_of,
)
from smscore.domain.errors import FieldIssue, InvalidCharacter, InvalidRequest, TenantNotFound
from smscore.domain.model import MarketingFrequency, QuietHours, Tenant
from smscore.domain.ports import TenantSettingsStore
from smscore.domain.windows import parse_quiet_hours, quiet_hours_json

CREDITS_LOW_THRESHOLD_MAX = 1_000_000_000


class _Dto(BaseModel):
    model_config = ConfigDict(
        defer_build=True, alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


class MarketingFrequencyDto(_Dto):
    max_per_day: int = Field(
        ge=0, le=MAX_PER_DAY_LIMIT, description="Marketing messages per number per day (0 = no cap)"
    )
    max_per_week: int = Field(
        ge=0, le=MAX_PER_WEEK_LIMIT, description="Marketing messages per number per week, Monday-Sunday (0 = no cap)"
    )


class QuietHoursDto(_Dto):
    start: str = Field(description="HH:MM, local time", examples=["21:00"])
    end: str = Field(description="HH:MM, local time; before start = spans midnight", examples=["08:00"])
    time_zone: str = Field(default="America/Bogota", description="IANA time zone")


class SettingsDto(_Dto):
    """The tenant's settings for the Colombian marketing rules (docs/compliance-co.md)."""

    sender_name: str | None = Field(
        description="Starts every marketing SMS to CO as `{senderName}: ` (CRC Res. 6522 de 2022); null: cleared, "
        "marketing sends to CO are refused (409 SENDER_NAME_REQUIRED)"
    )
    default_sender_name: str | None = Field(description="The tenant's name: what senderName is until it is set")
    opt_out_text: str = Field(description="Ends every marketing SMS to CO on a two-way route (names SALIR by default)")
    default_opt_out_text: str = Field(description="The text used while optOutText is not set")
    marketing_frequency: MarketingFrequencyDto
    consent_required: bool = Field(description="Marketing skips contacts without granted consent")
    quiet_hours: QuietHoursDto | None = Field(description="The tenant's own daily pause for marketing; null: none")
    credits_low_threshold: int | None = Field(
        default=None,
        description="Webhooks get credits.low once each time the balance goes under this many credits "
        "(docs/integrations.md); null: never",
    )


class SettingsUpdate(_Dto):
    """PUT /api/settings: only the fields present change."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    sender_name: str | None = Field(
        default=None, description=f"{SENDER_NAME_MIN}-{SENDER_NAME_MAX} characters; null clears it"
    )
    opt_out_text: str | None = Field(
        default=None, description=f"1-{OPT_OUT_TEXT_MAX} characters; null restores the default"
    )
    marketing_frequency: MarketingFrequencyDto | None = None
    consent_required: bool | None = None
    quiet_hours: QuietHoursDto | None = Field(default=None, description="null removes them")
    credits_low_threshold: int | None = Field(
        default=None, ge=1, le=CREDITS_LOW_THRESHOLD_MAX, description="Credits; null: no credits.low events"
    )

    @field_validator("sender_name")
    @classmethod
    def _sender_name(cls, value: str | None) -> str | None:
        return None if value is None else _cleaned(checked_sender_name, value)

    @field_validator("opt_out_text")
    @classmethod
    def _opt_out_text(cls, value: str | None) -> str | None:
        return None if value is None else _cleaned(checked_opt_out_text, value)


def _cleaned(check: Any, value: str) -> str:
    """InvalidCharacter goes through pydantic to the error handler (400 INVALID_CHARACTER); the other refusals are
    field errors (400 VALIDATION_ERROR)."""
    try:
        cleaned: str = check(value)
    except InvalidCharacter:
        raise
    except InvalidRequest as exc:
        raise ValueError(exc.details[0].message) from exc
    return cleaned


def settings_dto(tenant: Tenant, default_frequency: MarketingFrequency = DEFAULT_FREQUENCY) -> SettingsDto:
    settings = settings_of(tenant, default_frequency)
    quiet = tenant.quiet_hours
    return SettingsDto(
        sender_name=settings.sender_name,
        default_sender_name=default_sender_name(tenant.name),
        opt_out_text=opt_out_text_of(settings),
        default_opt_out_text=DEFAULT_OPT_OUT_TEXT,
        marketing_frequency=MarketingFrequencyDto(
            max_per_day=settings.frequency.max_per_day, max_per_week=settings.frequency.max_per_week
        ),
        consent_required=settings.consent_required,
        quiet_hours=QuietHoursDto.model_validate(quiet_hours_json(quiet)) if quiet else None,
        credits_low_threshold=tenant.credits_low_threshold,
    )


def _quiet_hours(dto: QuietHoursDto) -> QuietHours:
    try:
        return parse_quiet_hours(dto.model_dump(by_alias=True))
    except ValueError as exc:
        raise InvalidRequest(
            f"Invalid request: quietHours: {exc}", details=[FieldIssue("quietHours", str(exc))]
        ) from exc


class SettingsApi:
    def __init__(self, store: TenantSettingsStore, default_frequency: MarketingFrequency = DEFAULT_FREQUENCY) -> None:
        """`default_frequency`: the platform's (MarketingMaxPerDayDefault) for tenants that never set their own."""
        self._store = store
        self._default_frequency = default_frequency

    def get(self, tenant_id: str) -> SettingsDto:
        tenant = self._store.read_settings(tenant_id)
        if tenant is None:
            raise TenantNotFound("The token's tenant no longer exists")
        return settings_dto(tenant, self._default_frequency)

    def put(self, tenant_id: str, update: SettingsUpdate) -> SettingsDto:
        """Validate everything first, then one conditional write: a refused body changes nothing."""
        tenant = self._store.read_settings(tenant_id)
        if tenant is None:
            raise TenantNotFound("The token's tenant no longer exists")
        given = update.model_fields_set
        settings = settings_of(tenant, self._default_frequency)
        quiet = tenant.quiet_hours
        if "sender_name" in given:
            settings = replace(settings, sender_name=update.sender_name)
        if "opt_out_text" in given:
            settings = replace(settings, opt_out_text=update.opt_out_text)
        if "marketing_frequency" in given:
            if update.marketing_frequency is None:
                raise InvalidRequest(
                    "Invalid request: marketingFrequency: send maxPerDay and maxPerWeek (0 = no cap)",
                    details=[FieldIssue("marketingFrequency", "an object with maxPerDay and maxPerWeek")],
                )
            frequency = update.marketing_frequency
            settings = replace(settings, frequency=checked_frequency(frequency.max_per_day, frequency.max_per_week))
        if "consent_required" in given:
            if update.consent_required is None:
                raise InvalidRequest(
                    "Invalid request: consentRequired: true or false",
                    details=[FieldIssue("consentRequired", "true or false")],
                )
            settings = replace(settings, consent_required=update.consent_required)
        if "quiet_hours" in given:
            quiet = None if update.quiet_hours is None else _quiet_hours(update.quiet_hours)
        threshold = tenant.credits_low_threshold
        if "credits_low_threshold" in given:
            threshold = update.credits_low_threshold
        reset = "credits_low_threshold" in given  # a threshold set anew may be crossed anew
        if not self._store.write_settings(
            tenant_id, settings, quiet, credits_low_threshold=threshold, credits_low_reset=reset
        ):
            raise TenantNotFound("The token's tenant no longer exists")
        return settings_dto(
            replace(tenant, compliance=settings, quiet_hours=quiet, credits_low_threshold=threshold),
            self._default_frequency,
        )
