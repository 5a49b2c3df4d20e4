"""The one interface every SMS provider implements, and the two ways a send can fail.

A provider turns one message into one call to a carrier-facing API and reports back in provider-neutral
terms: `Accepted` (with the provider's id, and price/segments when the provider tells them at send time),
`PermanentFailure` (retrying cannot help: invalid number, opted out, blocked; the message is refunded) or
`TransientFailure` (throttling, 5xx, timeouts, network; the message is retried, possibly elsewhere).

Providers never see the database; they get everything they need in `SmsRequest`. No boto3 here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class SmsRequest:
    message_id: str  # our id: idempotency key where the provider honours one, and the correlation id it echoes
    tenant_id: str
    recipient: str  # E.164
    body: str
    segments: int


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str
    price: str | None = None  # decimal string in `price_unit`, only when the provider reports it at send time
    price_unit: str | None = None
    segments: int | None = None
    provider_status: str | None = None


class ProviderFailure(Exception):
    """A send the provider did not accept. `code` is the provider's own code (e.g. Twilio 21211)."""

    permanent: ClassVar[bool] = False

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class PermanentFailure(ProviderFailure):
    """Retrying cannot help (invalid or unreachable number, opted out, blocked): FAILED and refunded."""

    permanent = True


class TransientFailure(ProviderFailure):
    """Worth retrying later or on another provider (throttling, 5xx, timeout, network, credentials lookup)."""

    permanent = False


class OutcomeUnknown(TransientFailure):
    """The request may have reached the provider but no answer came back (read timeout, dropped connection).

    Retried like any transient failure; for a provider that is not idempotent this is the window in which a
    retry can duplicate an SMS (see smscore.domain.delivery).
    """


class CredentialsUnavailable(Exception):
    """The provider's credentials could not be read (parameter missing, malformed, or the lookup failed)."""


class SmsProvider(ABC):
    """One carrier-facing API.

    Class attributes are the provider's declared facts: `name` is what TenantRecord.provider and
    DEFAULT_PROVIDER refer to, `character_limit` is the longest body it accepts (the API refuses longer
    ones up front), `idempotent` says whether sending the same message id twice reaches the handset once.
    """

    name: ClassVar[str]
    character_limit: ClassVar[int]
    idempotent: ClassVar[bool] = False
    reports_price_at_send: ClassVar[bool] = False

    @abstractmethod
    def send(self, request: SmsRequest) -> Accepted:
        """Hand one SMS to the provider. Raises PermanentFailure or TransientFailure; never anything else
        for a provider-side problem (programming errors still propagate)."""
