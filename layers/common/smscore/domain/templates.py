"""Saved messages (templates): a tenant's reusable texts, which compose starts from and a campaign records.

A template is only text and defaults (purpose, encoding): it is checked like a message when saved (visible,
no control characters, at most the longest provider limit) and its merge fields are checked when a campaign
sends it, against the fields declared then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from smscore.domain.gsm import EncodingOption
from smscore.domain.model import Purpose

MAX_TEMPLATES = 100  # per tenant: the list answers them all, by name
MAX_TEMPLATE_NAME = 100
MAX_TEMPLATE_TEXT = 1600


@dataclass(frozen=True)
class SavedTemplate:
    tenant_id: str
    template_id: str
    name: str
    text: str
    purpose: Purpose
    encoding: EncodingOption
    created_at: datetime
    updated_at: datetime


class TemplateStore(Protocol):
    """Templates by tenant (smscore.dal.template_store; tests/fakes.py)."""

    def create_template(self, template: SavedTemplate, limit: int) -> bool:
        """Store a new template unless the tenant already has `limit`; False (nothing written) when it has."""
        ...

    def get_template(self, tenant_id: str, template_id: str) -> SavedTemplate | None: ...

    def list_templates(self, tenant_id: str) -> Sequence[SavedTemplate]:
        """Every template of the tenant (at most MAX_TEMPLATES)."""
        ...

    def replace_template(self, template: SavedTemplate) -> bool:
        """Overwrite an existing template (created_at kept); False when it does not exist."""
        ...

    def delete_template(self, tenant_id: str, template_id: str) -> bool: ...
