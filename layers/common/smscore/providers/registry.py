"""Which provider sends a message: built lazily by name, once per process, from the settings.

A message carries the provider chosen when it was created (the tenant's TenantRecord.provider, else
DEFAULT_PROVIDER); a failover moves it to FAILOVER_PROVIDER. Credentials are read through Powertools
parameters (SSM Parameter Store when the name starts with "/", Secrets Manager otherwise), cached for
five minutes, never from code or plain environment variables.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from smscore.domain.ports import CredentialsUnavailable, SmsProvider
from smscore.providers.aws_sms import AwsSmsConfig, AwsSmsProvider
from smscore.providers.sandbox import SandboxProvider
from smscore.providers.twilio import TwilioConfig, TwilioCredentials, TwilioProvider

if TYPE_CHECKING:
    from smscore.settings import Settings

PROVIDER_CLASSES: tuple[type[SmsProvider], ...] = (SandboxProvider, AwsSmsProvider, TwilioProvider)
CREDENTIALS_MAX_AGE_SECONDS = 300


class UnknownProvider(LookupError):
    pass


class ProviderRegistry:
    """Providers by name, each built on first use (so an unused provider needs no configuration)."""

    def __init__(self, factories: Mapping[str, Callable[[], SmsProvider]]) -> None:
        self._factories = dict(factories)
        self._built: dict[str, SmsProvider] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(self._factories)

    def get(self, name: str) -> SmsProvider:
        provider = self._built.get(name)
        if provider is not None:
            return provider
        with self._lock:
            if name not in self._built:
                factory = self._factories.get(name)
                if factory is None:
                    raise UnknownProvider(name)
                self._built[name] = factory()
            return self._built[name]


def read_secret_json(name: str) -> dict[str, Any]:
    """A JSON secret through Powertools parameters: SSM (SecureString) for '/...' names, else Secrets Manager."""
    from aws_lambda_powertools.utilities import parameters

    value: Any
    if name.startswith("/"):
        value = parameters.get_parameter(name, decrypt=True, transform="json", max_age=CREDENTIALS_MAX_AGE_SECONDS)
    else:
        value = parameters.get_secret(name, transform="json", max_age=CREDENTIALS_MAX_AGE_SECONDS)
    if not isinstance(value, dict):
        raise ValueError(f"secret {name} is not a JSON object")
    return value


def twilio_credentials_from(name: str) -> Callable[[], TwilioCredentials]:
    def read() -> TwilioCredentials:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

        try:
            return TwilioCredentials.from_json(read_secret_json(name))
        except (GetParameterError, TransformParameterError, KeyError, ValueError) as exc:
            raise CredentialsUnavailable(f"{name}: {type(exc).__name__}") from exc

    return read


def default_registry(settings: Settings, outbox_factory: Callable[[], Any] | None = None) -> ProviderRegistry:
    """The three real providers, configured from settings."""

    def sandbox() -> SmsProvider:
        if outbox_factory is None:
            from smscore.dal.outbox_store import DynamoOutbox

            outbox = DynamoOutbox()
        else:
            outbox = outbox_factory()
        capacity = None
        if settings.sandbox_capacity_mps and settings.senders_table:
            import boto3

            from smscore.dal.outbox_store import DynamoCarrierCapacity

            # The carrier's capacity spans the fleet, as a real carrier's does: counted in the Senders table.
            capacity = DynamoCarrierCapacity(
                boto3.client("dynamodb", region_name=settings.aws_region), settings.senders_table
            )
        return SandboxProvider(
            outbox,
            latency_ms=settings.sandbox_latency_ms,
            timeout_seconds=settings.sandbox_timeout_seconds,
            capacity_mps=settings.sandbox_capacity_mps,
            capacity=capacity,
        )

    def aws_sms() -> SmsProvider:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "pinpoint-sms-voice-v2",
            region_name=settings.aws_sms_region or settings.aws_region,
            config=Config(
                retries={"mode": "standard", "max_attempts": 1},
                connect_timeout=2,
                read_timeout=settings.provider_timeout_seconds,
                max_pool_connections=settings.delivery_workers,
            ),
        )
        return AwsSmsProvider(
            client,
            AwsSmsConfig(
                origination_identity=settings.aws_sms_origination_identity,
                configuration_set=settings.aws_sms_configuration_set,
                max_price=settings.aws_sms_max_price,
                time_to_live_seconds=settings.aws_sms_ttl_seconds,
                message_type=settings.aws_sms_message_type,
            ),
        )

    def twilio() -> SmsProvider:
        return TwilioProvider(
            TwilioConfig(
                api_base_url=settings.twilio_api_base_url,
                messaging_service_sid=settings.twilio_messaging_service_sid,
                from_number=settings.twilio_from_number,
                status_callback_url=settings.twilio_status_callback_url,
                timeout_seconds=settings.provider_timeout_seconds,
                max_connections=settings.delivery_workers,
            ),
            twilio_credentials_from(settings.twilio_credentials_parameter),
        )

    return ProviderRegistry({"sandbox": sandbox, "aws_sms": aws_sms, "twilio": twilio})
