"""The error body every API answer shares, apart from the other bodies (smscore.api.models): functions that only
answer errors (webhooks, links) import this and not the whole contract's models at init."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    model_config = ConfigDict(defer_build=True)

    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error the API returns has this shape; `code` is stable, `message` is for people."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)

    @classmethod
    def of(cls, code: str, message: str, details: list[ErrorDetail] | None = None, **extra: Any) -> ErrorBody:
        return cls(code=code, message=message, details=details or [], **extra)
