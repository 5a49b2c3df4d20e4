"""GET /api/contacts/{contactId}/export: what the tenant holds about one person (Ley 1581 de 2012, art. 8: the right
to know it), as one JSON document: the contact with its consent as shown, its tags, its keyword opt-outs, and every
message the tenant sent to its number (newest first), each with its status history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from smscore.api.contacts import ContactDto, ContactsApi, MarketingConsentDto, OptOutCauseDto, marketing_consent_dto
from smscore.domain.consent import OptOutReason
from smscore.domain.contacts import ContactStore


class _Dto(BaseModel):
    model_config = ConfigDict(
        defer_build=True, alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


class ExportedTagDto(_Dto):
    id: str
    name: str


class ExportedStatusDto(_Dto):
    status: str
    at: datetime
    detail: str | None = None


class ExportedMessageDto(_Dto):
    id: str
    queue_id: str
    status: str
    purpose: str
    body: str
    segments: int
    created_at: datetime
    history: list[ExportedStatusDto]


class ContactExportDto(_Dto):
    """Everything the tenant holds about one contact and its number."""

    exported_at: datetime
    contact: ContactDto = Field(description="The contact, with its consent as every send applies it")
    tags: list[ExportedTagDto]
    opt_outs: list[OptOutCauseDto] = Field(description="Its number's opt-outs: the tenant's and keyword replies")
    messages: list[ExportedMessageDto] = Field(description="Every message to its number still kept, newest first")
    consent_history: list[MarketingConsentDto] = Field(
        default_factory=list, description="Every marketing consent change, oldest first (append-only)"
    )


class MessageHistory(Protocol):
    def messages_to(self, tenant_id: str, e164: str) -> Sequence[dict[str, Any]]:
        """Every message item of the tenant to the number (all pages of the by-recipient index)."""
        ...

    def erase_number(self, tenant_id: str, e164: str, masked: str) -> tuple[int, int]:
        """Mask the number in the tenant's finished messages: (masked, left pending for delivery)."""
        ...


class DataSubjectApi:
    def __init__(self, contacts: ContactsApi, store: ContactStore, history: MessageHistory) -> None:
        self._contacts = contacts
        self._store = store
        self._history = history

    def export(self, tenant_id: str, contact_id: str, now: datetime) -> ContactExportDto:
        contact = self._contacts.get_contact(tenant_id, contact_id)  # NotFound for another tenant's, like a read
        tags = [tag for tag in (self._store.get_tag(tenant_id, tag_id) for tag_id in contact.tag_ids) if tag]
        messages = sorted(self._history.messages_to(tenant_id, contact.phone), key=lambda m: m["created_at"])
        return ContactExportDto(
            exported_at=now,
            contact=contact,
            tags=[ExportedTagDto(id=tag.tag_id, name=tag.name) for tag in tags],
            opt_outs=[
                cause
                for cause in contact.consent.reasons
                if cause.reason in (OptOutReason.KEYWORD, OptOutReason.TENANT_OPT_OUT)
            ],
            messages=[ExportedMessageDto.model_validate(m) for m in reversed(messages)],
            consent_history=[
                dto
                for dto in map(marketing_consent_dto, self._store.consent_history(tenant_id, contact_id))
                if dto is not None
            ],
        )

    def erase(self, tenant_id: str, contact_id: str) -> tuple[int, int]:
        """Delete the contact (and its memberships), then mask its number in the tenant's message history (Ley 1581,
        art. 8: deletion). Returns (messages masked, messages still to be delivered, which keep the number)."""
        from smscore.domain.masking import mask

        contact = self._contacts.get_contact(tenant_id, contact_id)
        self._contacts.delete_contact(tenant_id, contact_id)
        return self._history.erase_number(tenant_id, contact.phone, mask(contact.phone))
