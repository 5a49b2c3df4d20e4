"""Events for webhooks out: one port (`EventSink`), and the stores that emit through it.

An event is `{id, type, createdAt, tenantId, data}`. Its id is derived from the state change it reports (uuid5
of type and subject), so it is the same on every retry, replay or re-emission. State-change code gains no call
of its own: the stores that record the changes are wrapped (`EmittingMessageStore`, `EmittingReceiptStore`), and
they publish only when their conditional write took effect, so each change is reported once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from smscore.domain.model import MessageState, MessageStatus, Receipt, StoredMessage
from smscore.domain.ports import Accepted, FailedSend, ProviderFailure
from smscore.domain.webhooks import EventType

_EVENT_NAMESPACE = uuid.UUID("0f6a3c52-8a53-4d4e-9b1f-3c1d2b9e5a77")


@dataclass(frozen=True)
class Event:
    event_id: str
    event_type: str
    created_at: datetime
    tenant_id: str
    data: dict[str, Any]

    def body(self) -> str:
        """The JSON a receiver gets, byte for byte the same on every attempt (keys in a fixed order)."""
        return json.dumps(
            {
                "id": self.event_id,
                "type": self.event_type,
                "createdAt": iso(self.created_at),
                "tenantId": self.tenant_id,
                "data": self.data,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @staticmethod
    def from_body(body: str) -> Event:
        raw = json.loads(body)
        return Event(
            event_id=str(raw["id"]),
            event_type=str(raw["type"]),
            created_at=datetime.fromisoformat(str(raw["createdAt"])),
            tenant_id=str(raw["tenantId"]),
            data=dict(raw["data"]),
        )


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_id(event_type: str, subject: str) -> str:
    """Stable: the same state change always has the same id."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{event_type}:{subject}"))


def new_event(event_type: EventType, tenant_id: str, subject: str, at: datetime, data: dict[str, Any]) -> Event:
    return Event(event_id(event_type.value, subject), event_type.value, at, tenant_id, data)


class EventSink(Protocol):
    def publish(self, events: Sequence[Event]) -> None:
        """Hand the events on for delivery. Never raises for a transport problem (it logs and counts it): the
        state change they report is recorded already and must not be undone or retried for them."""
        ...


class NoEvents:
    """The sink of a deployment, or a test, without webhooks."""

    def publish(self, events: Sequence[Event]) -> None:
        return None


# ---------------------------------------------------------------------------------------------- message events


def _message_data(message: StoredMessage, status: MessageStatus, **extra: Any) -> dict[str, Any]:
    return {
        "messageId": message.message_id,
        "queueId": message.queue_id,
        "recipient": message.recipient,
        "status": status.value,
        "segments": message.segments,
        "credits": message.credits,
        **extra,
    }


def sent_event(message: StoredMessage, accepted: Accepted, at: datetime) -> Event:
    data = _message_data(message, MessageStatus.SENT, providerMessageId=accepted.provider_message_id, sentAt=iso(at))
    return new_event(EventType.MESSAGE_SENT, message.tenant_id, message.message_id, at, data)


def failed_event(message: StoredMessage, code: str, at: datetime) -> Event:
    data = _message_data(message, MessageStatus.FAILED, errorCode=code, failedAt=iso(at))
    return new_event(EventType.MESSAGE_FAILED, message.tenant_id, message.message_id, at, data)


def receipt_event(state: MessageState, receipt: Receipt) -> Event | None:
    kinds = {
        MessageStatus.DELIVERED: EventType.MESSAGE_DELIVERED,
        MessageStatus.UNDELIVERED: EventType.MESSAGE_UNDELIVERED,
    }
    kind = kinds.get(receipt.status)
    if kind is None:
        return None
    data = {
        "messageId": state.message_id,
        "queueId": state.queue_id,
        "status": receipt.status.value,
        "errorCode": receipt.error_code,
        "reportedAt": iso(receipt.reported_at),
    }
    return new_event(kind, state.tenant_id, state.message_id, receipt.reported_at, data)


class FailureCounter(Protocol):
    def count(self, tenant_id: str, queue_id: str, message_id: str, code: str) -> None: ...


class CampaignTouched(Protocol):
    def touched(self, tenant_id: str, queue_id: str) -> None:
        """One of the campaign's messages left the pending states (smscore.domain.completion)."""
        ...


class EmittingMessageStore:
    """A MessageStore (smscore.domain.ports) that publishes message.sent / message.failed for each SENT or FAILED
    write that took effect, counts each failure's code (smscore.domain.reports) and tells `completion` which
    campaigns moved (campaign.completed). Everything else is the wrapped store's."""

    def __init__(
        self,
        inner: Any,
        sink: EventSink,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        failures: FailureCounter | None = None,
        completion: CampaignTouched | None = None,
    ) -> None:
        self._inner = inner
        self._sink = sink
        self._now = now
        self._failures = failures
        self._completion = completion

    def _touched(self, messages: Sequence[StoredMessage]) -> None:
        if self._completion is None:
            return
        for tenant_id, queue_id in dict.fromkeys((m.tenant_id, m.queue_id) for m in messages):
            self._completion.touched(tenant_id, queue_id)

    def _count(self, events: Sequence[Event]) -> None:
        if self._failures is None:
            return
        for event in events:
            data = event.data
            self._failures.count(
                event.tenant_id, data["queueId"], data["messageId"], data.get("errorCode") or "UNKNOWN"
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def mark_sent(self, message: StoredMessage, provider: str, accepted: Accepted, now: datetime) -> bool:
        recorded: bool = self._inner.mark_sent(message, provider, accepted, now)
        if recorded:
            self._sink.publish([sent_event(message, accepted, now)])
            self._touched([message])
        return recorded

    def mark_failed(self, message: StoredMessage, provider: str, failure: ProviderFailure, now: datetime) -> bool:
        recorded: bool = self._inner.mark_failed(message, provider, failure, now)
        if recorded:
            events = [failed_event(message, str(failure.code), now)]
            self._sink.publish(events)
            self._count(events)
            self._touched([message])
        return recorded

    def fail_all(self, failures: Sequence[FailedSend], now: datetime) -> list[str]:
        failed: list[str] = self._inner.fail_all(failures, now)
        done = set(failed)
        events = [failed_event(f.message, str(f.failure.code), now) for f in failures if f.message.message_id in done]
        if events:
            self._sink.publish(events)
            self._count(events)
            self._touched([f.message for f in failures if f.message.message_id in done])
        return failed


class EmittingReceiptStore:
    """A ReceiptStore that publishes message.delivered / message.undelivered for each receipt applied."""

    def __init__(self, inner: Any, sink: EventSink, failures: FailureCounter | None = None) -> None:
        self._inner = inner
        self._sink = sink
        self._failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def find(self, receipt: Receipt) -> MessageState | None:
        found: MessageState | None = self._inner.find(receipt)
        return found

    def transition(self, state: MessageState, receipt: Receipt) -> bool:
        moved: bool = self._inner.transition(state, receipt)
        event = receipt_event(state, receipt) if moved else None
        if event is not None:
            self._sink.publish([event])
            if self._failures is not None and receipt.status is MessageStatus.UNDELIVERED:
                code = receipt.error_code or "UNKNOWN"
                self._failures.count(state.tenant_id, state.queue_id, state.message_id, code)
        return moved


# ---------------------------------------------------------------------------------------------- contact events


def consent_event(tenant_id: str, contact_id: str, phone: str, opted_out: bool, source: str, at: datetime) -> Event:
    """The one shape of contact.opted_out / contact.opted_in, whichever write emits it (smscore.domain.consent_events
    says which): the id is the type's, the contact's and the change's time, so a re-emission has the same id."""
    kind = EventType.CONTACT_OPTED_OUT if opted_out else EventType.CONTACT_OPTED_IN
    data = {"contactId": contact_id, "phone": phone, "optedOut": opted_out, "source": source, "at": iso(at)}
    return new_event(kind, tenant_id, f"{contact_id}:{iso(at)}", at, data)


class EmittingContactStore:
    """A ContactStore (smscore.domain.contacts) that publishes contact.opted_out / contact.opted_in when a write of
    the contact's own opt-out (set_opted_out, the one way it changes) moved what the contact shows: the flag changed
    and, with `suppressed`, the number is not opted out of the tenant's sender besides (then it showed opted out
    before and after; smscore.domain.consent_events says what counts as a change). Both are read before the write:
    one GetItem, and one read of the suppression list when the flag is about to change."""

    def __init__(self, inner: Any, sink: EventSink, suppressed: Callable[[str, str], bool] | None = None) -> None:
        self._inner = inner
        self._sink = sink
        self._suppressed = suppressed  # (tenant id, number) -> opted out of the sender the tenant sends through

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _shown_moves(self, tenant_id: str, before: Any, opted_out: bool) -> bool:
        if before is None or bool(before.opted_out) == bool(opted_out):
            return False  # unknown contact (the write raises NotFound), or the flag stays as it is
        return self._suppressed is None or not self._suppressed(tenant_id, before.phone)

    def set_opted_out(self, tenant_id: str, contact_id: str, opted_out: bool, source: str, at: datetime) -> Any:
        before = self._inner.get_contact(tenant_id, contact_id)
        moves = self._shown_moves(tenant_id, before, opted_out)
        after = self._inner.set_opted_out(tenant_id, contact_id, opted_out, source, at)
        if moves:
            self._sink.publish([consent_event(tenant_id, contact_id, after.phone, opted_out, source, at)])
        return after
