"""The opt-out link (Ley 2300 de 2023, art. 5 par. 2): an easy way out of marketing where no reply reaches us.

On a route without two-way SMS in the recipient's country (AWS End User Messaging SMS in Colombia: its
supported-countries table) a STOP/SALIR reply never reaches us, so the footer of a marketing SMS is a short link,
`{API URL}/o/{code}` (`opt_out_base`), to a page with one button (functions/optout).

The code is derived, not stored: the message id (16 bytes) and an HMAC-SHA256 of it under a platform secret, cut to
12 bytes (96 bits), both base64url: CODE_LENGTH characters, always the same. So

- no write per message: the send path prices and stores the text with PLACEHOLDER where the code goes (same length,
  same GSM-7 characters, so the same segments), and delivery puts each message's code in right before the provider
  call (`personal_text`);
- the page finds the tenant and the number with one GetItem of the message (the Messages table, keyed by message id:
  no platform-wide hot partition), after checking the MAC: a code nobody was sent cannot be made without the secret.

Plain Python: the secret and the stores are injected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from smscore.domain.consent_records import ConsentOrigin, ConsentStatus, MarketingConsent
from smscore.domain.masking import mask

if TYPE_CHECKING:
    from smscore.domain.consent_events import SuppressionEvents
    from smscore.domain.ports import SuppressionList

log = logging.getLogger(__name__)

MAC_BYTES = 12  # 96 bits: what makes a code unguessable, whoever knows the message id
CODE_LENGTH = 22 + 16  # base64url of 16 + 12 bytes, unpadded
PATH = "/o/"
# Where the code goes until delivery: as long as a code and GSM-7 (one unit a character), so it prices the same.
PLACEHOLDER = "_" * CODE_LENGTH
LABEL = "Baja: "  # "unsubscribe", in GSM-7 (no accents)
LINK_KEYWORD = "LINK"  # what the suppression item names as the "keyword" of an opt-out by link


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class OptOutCodes:
    """Codes of messages under one secret (32 random bytes, smscore.dal.link_secret)."""

    key: bytes

    def _mac(self, message_id: str) -> bytes:
        return hmac.new(self.key, f"opt-out#{message_id}".encode(), hashlib.sha256).digest()[:MAC_BYTES]

    def code_for(self, message_id: str) -> str:
        return _b64(uuid.UUID(message_id).bytes) + _b64(self._mac(message_id))

    def message_id_of(self, code: str) -> str | None:
        """The message a code was made for, or None when it is not one of ours (wrong length, alphabet or MAC)."""
        if len(code) != CODE_LENGTH:
            return None
        try:
            raw_id, mac = _unb64(code[:22]), _unb64(code[22:])
        except (binascii.Error, ValueError):
            return None
        if len(raw_id) != 16 or len(mac) != MAC_BYTES:
            return None
        message_id = str(uuid.UUID(bytes=raw_id))
        if _b64(uuid.UUID(message_id).bytes) != code[:22] or not hmac.compare_digest(mac, self._mac(message_id)):
            return None
        return message_id


def opt_out_base(link_base_url: str, api_url: str) -> str:
    """The base of `{base}/o/{code}`: LinkBaseUrl (shared with the tracked short links, `{public API URL}/l`) without
    its final `/l`; without LinkBaseUrl, the API's public URL as the request reached it. "" when neither is known."""
    from smscore.domain.links import ROUTE_PREFIX  # the short links' module (and its events) only when asked

    configured = link_base_url.rstrip("/")
    if configured:
        return configured.removesuffix(ROUTE_PREFIX)
    return api_url.rstrip("/")


def link_footer(base_url: str) -> str:
    """The footer of a marketing SMS on a route without two-way SMS: a line with the link, its code a PLACEHOLDER."""
    return f"\n{LABEL}{base_url.rstrip('/')}{PATH}{PLACEHOLDER}"


def personal_text(body: str, message_id: str, codes: OptOutCodes | None) -> str:
    """The text a recipient receives: the placeholder at the end of the footer replaced by this message's code.

    Only the end of the text is looked at (the footer always ends it), so a placeholder-looking string the tenant
    wrote stays as written. Without codes (a stack that sends no link) the text is unchanged."""
    marker = PATH + PLACEHOLDER
    if codes is None or not body.endswith(marker):
        return body
    return body[: -len(PLACEHOLDER)] + codes.code_for(message_id)


# -- which routes have two-way SMS where -------------------------------------------------------------------------


@dataclass(frozen=True)
class TwoWayRoutes:
    """Per provider, the countries where a reply reaches us (None: every country). Data, from the template parameter
    `TwoWaySmsCountries`; a provider it does not name has no two-way SMS anywhere."""

    countries: Mapping[str, frozenset[str] | None]

    @classmethod
    def parse(cls, raw: Mapping[str, str]) -> TwoWayRoutes:
        """`{"sandbox": "*", "aws_sms": "AU,CA,GB,US"}`: `*` every country, else ISO codes (comma-separated)."""
        parsed: dict[str, frozenset[str] | None] = {}
        for provider, value in raw.items():
            text = value.strip()
            if text == "*":
                parsed[provider] = None
            else:
                parsed[provider] = frozenset(c.strip().upper() for c in text.split(",") if c.strip())
        return cls(parsed)

    def has_two_way(self, provider: str, country: str) -> bool:
        if provider not in self.countries:
            return False
        countries = self.countries[provider]
        return countries is None or country in countries


# AWS End User Messaging SMS's supported-countries table: two-way SMS in these countries, not in Colombia.
DEFAULT_TWO_WAY = TwoWayRoutes({"sandbox": None, "twilio": None, "aws_sms": frozenset({"AU", "CA", "GB", "US"})})


# -- the page's use case ---------------------------------------------------------------------------------------


class LinkOutcome(StrEnum):
    OPTED_OUT = "OPTED_OUT"  # done now
    ALREADY = "ALREADY"  # done before (this link again): nothing changed
    UNKNOWN = "UNKNOWN"  # not a code of ours, or its message is gone (expired, erased)


@dataclass(frozen=True)
class LinkTarget:
    """What a valid code points at: the message's tenant, its number and the sender it was sent through."""

    message_id: str
    tenant_id: str
    number: str
    sender: str


@dataclass(frozen=True)
class LinkedMessage:
    tenant_id: str
    recipient: str
    provider: str


class LinkContacts:
    """What the page changes on the tenant's contacts with the number (smscore.dal.contact_store), as a port."""

    def contacts_of(self, tenant_id: str, e164: str) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def opt_out(self, tenant_id: str, contact_id: str, consent: MarketingConsent, at: datetime) -> None:
        """The tenant's own opt-out set and a revoked consent record appended to the history (once)."""
        raise NotImplementedError  # pragma: no cover - interface


@dataclass(frozen=True)
class OptOutByLink:
    """GET shows the page for a valid code; POST opts the number out of the tenant's marketing (its contacts with
    the number: their own opt-out and a revoked consent record, source `link`) and of the sender it was sent through
    (the suppression list, like a STOP reply: every tenant of that sender). Idempotent: the contacts' changes are
    no-ops once made, and a number already suppressed for the sender is ALREADY (after a START, the link opts out
    again: the person asked again)."""

    codes: OptOutCodes
    message_of: Callable[[str], LinkedMessage | None]  # by id; None when gone
    sender_of: Callable[[str], str]  # provider -> sender key (smscore.providers.senders.sender_key)
    suppressions: SuppressionList
    contacts: LinkContacts
    # contact.opted_out for the other tenants' contacts the sender's opt-out moved (smscore.domain.consent_events);
    # the tenant's own contacts emit through their own opt-out (`contacts`, an emitting contact store)
    events: SuppressionEvents | None = None

    def resolve(self, code: str) -> LinkTarget | None:
        message_id = self.codes.message_id_of(code)
        if message_id is None:
            return None
        message = self.message_of(message_id)
        if message is None or not message.recipient.startswith("+") or "*" in message.recipient:
            return None  # expired, or its number erased (masked) at the data subject's request
        return LinkTarget(message_id, message.tenant_id, message.recipient, self.sender_of(message.provider))

    def opt_out(self, code: str, now: datetime) -> LinkOutcome:
        # The ports module on the page's first use: the footer above is on every function's import path
        from smscore.domain.ports import ConsentChange, RecordOutcome

        target = self.resolve(code)
        if target is None:
            return LinkOutcome.UNKNOWN
        evidence = f"Opt-out link of message {target.message_id} (sender {target.sender})"
        consent = MarketingConsent(ConsentStatus.REVOKED, ConsentOrigin.LINK, now, evidence)
        for contact_id in self.contacts.contacts_of(target.tenant_id, target.number):
            self.contacts.opt_out(target.tenant_id, contact_id, consent, now)
        if self.suppressions.is_suppressed(target.number, target.sender):
            outcome = LinkOutcome.ALREADY  # this link (or a STOP) again: nothing to change, the same page
        else:
            change = ConsentChange(target.number, target.sender, True, LINK_KEYWORD, now, provider="link")
            watched = self.events.watching(target.number, target.sender) if self.events is not None else []
            recorded = self.suppressions.apply(change)
            outcome = LinkOutcome.OPTED_OUT if recorded.outcome is RecordOutcome.APPLIED else LinkOutcome.ALREADY
            if self.events is not None and recorded.changed:
                self.events.changed(watched, True, ConsentOrigin.LINK.value, now)
        log.info(
            "Opt-out link", extra={"outcome": outcome.value, "number": mask(target.number), "sender": target.sender}
        )
        return outcome
