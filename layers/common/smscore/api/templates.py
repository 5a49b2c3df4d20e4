"""/api/templates: a tenant's saved messages at the HTTP edge (smscore.domain.templates)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from smscore.api.models import checked_message_text
from smscore.domain.contacts import clean_contact_name
from smscore.domain.errors import FieldIssue, InvalidRequest, NotFound
from smscore.domain.gsm import EncodingOption
from smscore.domain.model import Purpose
from smscore.domain.templates import (
    MAX_TEMPLATE_NAME,
    MAX_TEMPLATE_TEXT,
    MAX_TEMPLATES,
    SavedTemplate,
    TemplateStore,
)


class _Dto(BaseModel):
    model_config = ConfigDict(
        defer_build=True, alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


class TemplateDto(_Dto):
    id: str
    name: str
    text: str = Field(description="The message, merge fields included ({nombre|cliente})")
    purpose: Purpose
    encoding: EncodingOption
    created_at: datetime
    updated_at: datetime


class TemplateListDto(_Dto):
    items: list[TemplateDto] = Field(description=f"Every template of the tenant (at most {MAX_TEMPLATES}), by name")


class TemplateRequest(_Dto):
    """POST /api/templates and PUT /api/templates/{templateId} (the whole template)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_alias=True, validate_by_name=False, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=MAX_TEMPLATE_NAME)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEMPLATE_TEXT, description="As a send's message")]
    purpose: Purpose = Purpose.MARKETING
    encoding: EncodingOption = EncodingOption.AUTO

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        cleaned = clean_contact_name(value, "name")
        if cleaned is None:
            raise ValueError("name must not be blank")
        return cleaned

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return checked_message_text(value)


def template_dto(template: SavedTemplate) -> TemplateDto:
    return TemplateDto(
        id=template.template_id,
        name=template.name,
        text=template.text,
        purpose=template.purpose,
        encoding=template.encoding,
        created_at=template.created_at,
        updated_at=template.updated_at,
    )


class TemplatesApi:
    def __init__(
        self,
        store: TemplateStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._store = store
        self._clock = clock
        self._new_id = new_id

    def list(self, tenant_id: str) -> TemplateListDto:
        templates = sorted(self._store.list_templates(tenant_id), key=lambda t: (t.name.casefold(), t.template_id))
        return TemplateListDto(items=[template_dto(t) for t in templates])

    def get(self, tenant_id: str, template_id: str) -> TemplateDto:
        template = self._store.get_template(tenant_id, template_id)
        if template is None:
            raise NotFound("No template with this id")
        return template_dto(template)

    def create(self, tenant_id: str, request: TemplateRequest) -> TemplateDto:
        now = self._clock()
        template = SavedTemplate(
            tenant_id, self._new_id(), request.name, request.text, request.purpose, request.encoding, now, now
        )
        if not self._store.create_template(template, MAX_TEMPLATES):
            raise InvalidRequest(
                f"A tenant keeps at most {MAX_TEMPLATES} templates; delete one first",
                details=[FieldIssue("templates", f"at most {MAX_TEMPLATES}")],
            )
        return template_dto(template)

    def replace(self, tenant_id: str, template_id: str, request: TemplateRequest) -> TemplateDto:
        current = self._store.get_template(tenant_id, template_id)
        if current is None:
            raise NotFound("No template with this id")
        template = SavedTemplate(
            tenant_id,
            template_id,
            request.name,
            request.text,
            request.purpose,
            request.encoding,
            current.created_at,
            self._clock(),
        )
        if not self._store.replace_template(template):
            raise NotFound("No template with this id")
        return template_dto(template)

    def delete(self, tenant_id: str, template_id: str) -> None:
        if not self._store.delete_template(tenant_id, template_id):
            raise NotFound("No template with this id")
