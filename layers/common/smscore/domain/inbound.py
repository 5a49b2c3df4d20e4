"""Inbound SMS: a recipient's reply that is an opt-out (STOP, BAJA...) or opt-in (START, ALTA...) keyword.

Where the carrier sees it: an opt-out is tied to the recipient's number and the sender it replied to (the
number, Messaging Service or origination identity we send from), so it is recorded in the suppression list
for that (number, sender) and covers every tenant sending through that sender: the send path skips the number
(uncharged) and delivery re-checks it just before sending (FAILED `OPTED_OUT`, refunded). An opt-in lifts it.
An applied opt-out also appends a consent record (revoked, source keyword) to the history of the contacts with the
number of the tenants sending through that sender (smscore.domain.keyword_consent): proof, not a flag. What a
tenant's contact shows (opted out or not) is derived when it is read,
from the tenant's own opt-out and the suppressions of the senders that tenant sends through
(smscore.domain.consent), so a keyword to another sender never reaches it. A keyword that changes the state of its
(number, sender) tells the webhooks of those tenants, for each contact whose shown state it moved
(contact.opted_out / opted_in, smscore.domain.consent_events); a repeated keyword moves nothing and tells nothing.

Replays and order. Each reply is handled once: its provider message id (Twilio MessageSid, AWS
inboundMessageId) is remembered for REPLAY_WINDOW in the same write as the change, so a provider's redelivery,
or a captured signed request posted again, is DUPLICATE and changes nothing (and is not confirmed again). And a
change applies only if it is newer than the stored one (conditional write on its time): the provider's
timestamp where it has one (AWS: the SNS `Timestamp`), our receipt time for Twilio (its webhook carries none),
so an older START delivered late never undoes a newer STOP.

Each provider module turns its own wire format into an `InboundSms` (smscore.providers.twilio for the
webhook, smscore.providers.aws_sms for the two-way SNS payload); plain Python here, stores injected.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from smscore.domain.consent_records import ConsentOrigin
from smscore.domain.keyword_consent import KeywordConsent
from smscore.domain.keywords import KeywordAction, Keywords, fold
from smscore.domain.masking import mask
from smscore.domain.ports import ConsentChange, RecordOutcome, SuppressionList

log = logging.getLogger(__name__)

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

# How long a handled provider message is remembered (its marker's TTL). The longest provider retry window: SNS
# retries a delivery to Lambda for up to 23 days, then Lambda's async queue keeps the event up to 6 hours
# (MaximumEventAgeInSeconds). Twilio retries a webhook only within the request (connection overrides, seconds),
# but a captured signed request carries no time and stays valid: for Twilio the window is what bounds a replay.
# Past it, a replay of the latest applied message still changes nothing (same state); an older one would apply.
REPLAY_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class InboundSms:
    """One reply, provider-neutral. `sender` is the sender key it came in on (smscore.providers.senders).

    `received_at` orders the changes of one number and sender: the provider's timestamp where it has one (AWS: the
    SNS `Timestamp`), else when we received it (Twilio's inbound webhook carries no time).
    """

    provider: str
    sender: str
    from_number: str
    body: str
    received_at: datetime
    reference: str | None = None  # the provider's id of the inbound message: what replays are recognised by


@dataclass(frozen=True)
class Confirmations:
    """The one reply sent back after a keyword, where the provider does not already answer it itself.

    `provider_confirmed` are the folded keywords the provider answers on its own (Twilio's default opt-out and
    opt-in words; AWS's STOP-type keywords): replying too would send the recipient two confirmations.
    """

    opt_out: str
    opt_in: str
    provider_confirmed: frozenset[str] = frozenset()

    def text_for(self, action: KeywordAction, keyword: str | None) -> str | None:
        if action is KeywordAction.NONE or keyword is None or fold(keyword) in self.provider_confirmed:
            return None
        text = self.opt_out if action is KeywordAction.OPT_OUT else self.opt_in
        return text or None


@dataclass(frozen=True)
class InboundResult:
    action: KeywordAction
    keyword: str | None
    number: str | None  # E.164; None when the sender of the reply is not a phone number
    sender: str
    outcome: RecordOutcome | None  # None: not a keyword
    reply: str | None  # the confirmation to send back, if any

    @property
    def applied(self) -> bool:
        return self.outcome is RecordOutcome.APPLIED

    def as_json(self) -> dict[str, object]:
        """What `smsctl inbound` prints and the AWS handler returns (number masked: it may reach logs)."""
        return {
            "action": self.action.value,
            "keyword": self.keyword,
            "number": mask(self.number) if self.number else None,
            "sender": self.sender,
            "applied": self.applied,
            "duplicate": self.outcome is RecordOutcome.DUPLICATE,
            "reply": self.reply,
        }


def e164_of(raw: str) -> str | None:
    """The replying number in E.164, or None (a short code or alphanumeric id cannot be a recipient of ours)."""
    text = raw.strip()
    if not text.startswith("+") or not _E164.match(text):
        return None
    from smscore.domain.phone import valid_e164  # loads phonenumbers: only for a keyword reply

    return valid_e164(text, None) or text


def handle_inbound(
    sms: InboundSms,
    *,
    keywords: Keywords,
    suppressions: SuppressionList,
    confirmations: Confirmations,
    now: datetime,
    consent: KeywordConsent | None = None,
) -> InboundResult:
    """Apply one reply: a keyword changes the suppression list of its sender; anything else changes nothing.

    Only an applied change is confirmed: a duplicate was answered the first time, and a superseded one (older than
    the stored change) was overtaken by a later keyword, which got its own answer.
    """
    match = keywords.match(sms.body)
    number = e164_of(sms.from_number) if match.action is not KeywordAction.NONE else None
    if number is None:
        return InboundResult(KeywordAction.NONE, None, None, sms.sender, None, None)

    keyword = match.keyword or ""
    events = consent.events if consent is not None else None
    watched = events.watching(number, sms.sender) if events is not None else []  # before the write: see its module
    recorded = suppressions.apply(
        ConsentChange(
            number=number,
            sender=sms.sender,
            opted_out=match.action is KeywordAction.OPT_OUT,
            keyword=keyword,
            at=sms.received_at,
            provider=sms.provider,
            reference=sms.reference,
        ),
        remember_until=max(now, sms.received_at) + REPLAY_WINDOW,
    )
    outcome = recorded.outcome
    if consent is not None and outcome is RecordOutcome.APPLIED and match.action is KeywordAction.OPT_OUT:
        consent.revoke(number, sms.sender, keyword, sms.received_at)  # proof in the tenants' consent histories
    if events is not None and recorded.changed:  # once per change of state: a second STOP moves nothing
        events.changed(watched, match.action is KeywordAction.OPT_OUT, ConsentOrigin.KEYWORD.value, sms.received_at)
    log.info(
        _LOG_LINES[outcome],
        extra={"action": match.action.value, "keyword": keyword, "number": mask(number), "sender": sms.sender},
    )
    # A repeated keyword in a new message is APPLIED (and confirmed): the recipient asked, and carriers expect an
    # answer to every STOP.
    reply = confirmations.text_for(match.action, match.keyword) if outcome is RecordOutcome.APPLIED else None
    return InboundResult(match.action, match.keyword, number, sms.sender, outcome, reply)


_LOG_LINES = {
    RecordOutcome.APPLIED: "Keyword reply applied",
    RecordOutcome.SUPERSEDED: "Keyword reply older than the stored change: ignored",
    RecordOutcome.DUPLICATE: "Keyword reply already handled (a redelivery or a replay): ignored",
}
