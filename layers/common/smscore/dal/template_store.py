"""TemplateStore on the Templates table (tenant_id, template_id): one Query lists a tenant's templates."""

from __future__ import annotations

from collections.abc import Sequence

from pynamodb.exceptions import DeleteError, PutError

from smscore.dal.tables import TemplateRecord
from smscore.domain.gsm import EncodingOption
from smscore.domain.model import Purpose
from smscore.domain.templates import SavedTemplate

CONDITION_FAILED = "ConditionalCheckFailedException"


def _template(record: TemplateRecord) -> SavedTemplate:
    return SavedTemplate(
        tenant_id=record.tenant_id,
        template_id=record.template_id,
        name=record.name,
        text=record.text,
        purpose=Purpose(record.purpose),
        encoding=EncodingOption(record.encoding),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _record(template: SavedTemplate) -> TemplateRecord:
    return TemplateRecord(
        template.tenant_id,
        template.template_id,
        name=template.name,
        text=template.text,
        purpose=template.purpose.value,
        encoding=template.encoding.value,
        created_at=template.created_at,
        updated_at=template.updated_at,
    )


class DynamoTemplateStore:
    def create_template(self, template: SavedTemplate, limit: int) -> bool:
        """The count is read first (one Query, keys only): two creates racing at the limit may both pass, so a
        tenant can end one or two over it; the limit bounds the list's size, it is not money."""
        if TemplateRecord.count(template.tenant_id) >= limit:
            return False
        _record(template).save(condition=TemplateRecord.template_id.does_not_exist())
        return True

    def get_template(self, tenant_id: str, template_id: str) -> SavedTemplate | None:
        try:
            return _template(TemplateRecord.get(tenant_id, template_id))
        except TemplateRecord.DoesNotExist:
            return None

    def list_templates(self, tenant_id: str) -> Sequence[SavedTemplate]:
        return [_template(record) for record in TemplateRecord.query(tenant_id)]

    def replace_template(self, template: SavedTemplate) -> bool:
        try:
            _record(template).save(condition=TemplateRecord.template_id.exists())
        except PutError as exc:
            if exc.cause_response_code == CONDITION_FAILED:
                return False
            raise
        return True

    def delete_template(self, tenant_id: str, template_id: str) -> bool:
        try:
            TemplateRecord(tenant_id, template_id).delete(condition=TemplateRecord.template_id.exists())
        except DeleteError as exc:
            if exc.cause_response_code == CONDITION_FAILED:
                return False
            raise
        return True
