"""Senders: what each provider's carrier rate-limits, how fast it may go, and how long a message may wait.

`PROVIDER_RATE_LIMITS` (template parameter `ProviderRateLimits`, JSON `{"twilio": 10}`) is messages/second for
the whole fleet, per sender of that provider. Without it, the real providers get the rate of their slowest
common sender (a US long code: 1 message/second at both Twilio and AWS; see README "Senders and pacing"), the
sandbox is unlimited. The validity period is MESSAGE_VALIDITY_SECONDS, capped by what the provider accepts
(Twilio `ValidityPeriod` <= 36,000 s, AWS `TimeToLive` <= 259,200 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from smscore.domain.pacing import Sender

if TYPE_CHECKING:
    from smscore.settings import Settings

DEFAULT_RATES: dict[str, float] = {"sandbox": 0.0, "twilio": 1.0, "aws_sms": 1.0}
MAX_VALIDITY_SECONDS: dict[str, int] = {"twilio": 36_000, "aws_sms": 259_200}


def sender_key(provider: str, settings: Settings) -> str:
    """The identity the carrier counts against: the From number or Messaging Service, the origination identity."""
    if provider == "twilio":
        return f"twilio:{settings.twilio_messaging_service_sid or settings.twilio_from_number or 'default'}"
    if provider == "aws_sms":
        return f"aws_sms:{settings.aws_sms_origination_identity or 'default'}"
    return provider


def inbound_sender(provider: str, addresses: Sequence[str], settings: Settings) -> str:
    """The sender key a reply belongs to. `addresses` name what received it, most specific first (the Twilio
    Messaging Service the number belongs to, then the number), `provider` is the channel it came in on.

    The opt-out must land on the key the send path and delivery use (`sender_key`): the configured Messaging
    Service, From number or origination identity when one of the addresses is it, else the first address (a
    number we do not send from today). AWS may be configured with a pool, a phone-number id or an ARN instead of
    a number: every reply reaching our two-way topic then belongs to that identity. A reply to the sandbox's
    notional number (the local stack's `smsctl inbound`) is the sandbox's.
    """
    if settings.sandbox_sender_number in addresses:
        return "sandbox"
    configured = sender_key(provider, settings)
    identity = configured.removeprefix(f"{provider}:")
    if identity in addresses or (provider == "aws_sms" and not identity.startswith("+")):
        return configured
    return f"{provider}:{addresses[0]}"


def senders_from(settings: Settings) -> dict[str, Sender]:
    rates = {**DEFAULT_RATES, **settings.provider_rate_limits}
    return {
        provider: Sender(
            key=sender_key(provider, settings),
            rate=max(0.0, float(rate)),
            validity_seconds=min(settings.message_validity_seconds, MAX_VALIDITY_SECONDS.get(provider, 10**9)),
            fairness_window_seconds=settings.sender_fairness_window_seconds,
        )
        for provider, rate in rates.items()
    }
