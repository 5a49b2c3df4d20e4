"""Public request and response bodies of the REST API (the seed contract's names, camelCase on the wire)."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_TAGS = 100


# Categories that print nothing: control (Cc), format (Cf: zero-width joiners, BOM...) and separators (Z*).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
# Line breaks are part of GSM-7 and of every provider's text; every other control character is refused.
ALLOWED_CONTROLS = frozenset("\n\r")


def checked_message_text(text: str) -> str:
    """A message must show the recipient something, and carry no control codes a handset would mangle.

    A text of zero-width or other invisible characters is blank to the recipient but would be charged;
    control characters (other than line breaks) are refused rather than silently dropped, so the text
    the client sees in its request is the text that is sent and priced.
    """
    for position, char in enumerate(text):
        category = unicodedata.category(char)
        if category == "Cc" and char not in ALLOWED_CONTROLS:
            raise ValueError(f"message contains the control character U+{ord(char):04X} at position {position}")
        if category == "Cs":  # a lone surrogate, from a JSON escape such as \ud800: not a character at all
            raise ValueError(f"message contains an unpaired surrogate U+{ord(char):04X} at position {position}")
    if not any(not char.isspace() and unicodedata.category(char) not in INVISIBLE_CATEGORIES for char in text):
        raise ValueError("message must contain at least one visible character")
    return text


class SmsTagsMessagePayload(BaseModel):
    """POST /api/messages/sms/tags body. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    message: Annotated[str, Field(min_length=1, description="SMS text; at most the provider's character limit")]
    tagIds: Annotated[list[UUID], Field(min_length=1, max_length=MAX_TAGS, description="Tag UUIDs")]  # noqa: N815
    type: Literal["SMS"] = Field(default="SMS", description="Message type; only SMS is valid on this channel")
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 code used to read national numbers")

    @field_validator("message")
    @classmethod
    def _visible_text(cls, value: str) -> str:
        return checked_message_text(value)

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from smscore.domain.phone import is_supported_country  # phonenumbers only when a country is given

        if len(value) != 2 or not value.isalpha() or not is_supported_country(value):
            raise ValueError("country must be an ISO 3166-1 alpha-2 code, such as CO")
        return value.upper()

    def unique_tag_ids(self) -> list[str]:
        """Tag ids in request order, duplicates dropped."""
        return list(dict.fromkeys(str(tag) for tag in self.tagIds))


class EnqueuedMessage(BaseModel):
    id: str
    recipient: str


class MessageEnqueueResultDto(BaseModel):
    queueId: str  # noqa: N815
    channel: Literal["sms"] = "sms"
    messages: list[EnqueuedMessage]


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error the API returns has this shape; `code` is stable, `message` is for people."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)

    @classmethod
    def of(cls, code: str, message: str, details: list[ErrorDetail] | None = None, **extra: Any) -> ErrorBody:
        return cls(code=code, message=message, details=details or [], **extra)
