"""Environment of every function, parsed once into typed settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TableNames(BaseSettings):
    """Physical names of the DynamoDB tables; template.yaml passes them in as environment variables."""

    model_config = SettingsConfigDict(frozen=True)

    tenants_table: str
    members_table: str
    tokens_table: str
    settings_table: str
    contacts_table: str
    tags_table: str
    tag_members_table: str
    messages_table: str
    dispatches_table: str
    ledger_table: str
    idempotency_table: str
    outbox_table: str


class Settings(TableNames):
    """Everything a function reads from its environment."""

    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    delivery_queue_url: str
    default_provider: str = "sandbox"
    max_recipients: int = Field(default=50_000, gt=0)
    recipients_per_queue_message: int = Field(default=50, ge=1, le=500)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    write_workers: int = Field(default=8, ge=1, le=64)
    idempotency_ttl_seconds: int = Field(default=24 * 3600, gt=0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process; parsed on first use, not at import."""
    return Settings()
