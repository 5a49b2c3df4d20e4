"""/api/keys at the HTTP edge: request and response shapes over smscore.domain.api_keys.ApiKeys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from smscore.domain.api_keys import MAX_KEY_NAME_LENGTH, ApiKey, ApiKeys, KeyCaller, NewKey
from smscore.domain.auth import Scope


class _Dto(BaseModel):
    model_config = ConfigDict(
        defer_build=True, alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


class KeyRequest(_Dto):
    """POST /api/keys. Unknown fields are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="ignore")

    name: Annotated[str, Field(min_length=1, max_length=MAX_KEY_NAME_LENGTH, description="What the key is for")]
    scope: Scope = Field(default=Scope.FULL, description="full: every route; read: GET only (writes are 403)")
    expires_at: AwareDatetime | None = Field(
        default=None, description="ISO 8601 with an offset; from then on the key is refused (401). At most 3 years"
    )


class KeyDto(_Dto):
    id: str
    name: str
    prefix: str = Field(description="The first 12 characters of the token: enough to recognise it, not to use it")
    scope: Scope
    member_id: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = Field(default=None, description="To the hour")


class NewKeyDto(KeyDto):
    token: str = Field(description="The bearer token. Shown only in this answer: only its hash is stored")


class KeyListDto(_Dto):
    items: list[KeyDto]


def key_dto(key: ApiKey) -> KeyDto:
    return KeyDto(
        id=key.key_id,
        name=key.name,
        prefix=key.prefix,
        scope=key.scope,
        member_id=key.member_id,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
    )


def new_key_dto(new: NewKey) -> NewKeyDto:
    return NewKeyDto(**key_dto(new.key).model_dump(), token=new.token)


class KeysApi:
    def __init__(self, keys: ApiKeys) -> None:
        self._keys = keys

    def create(self, caller: KeyCaller, request: KeyRequest, now: datetime | None = None) -> NewKeyDto:
        expires = request.expires_at.astimezone(UTC) if request.expires_at else None
        return new_key_dto(self._keys.create(caller, request.name, request.scope, expires, now or datetime.now(UTC)))

    def list(self, caller: KeyCaller) -> KeyListDto:
        return KeyListDto(items=[key_dto(k) for k in self._keys.list(caller)])

    def revoke(self, caller: KeyCaller, key_id: str, now: datetime | None = None) -> None:
        self._keys.revoke(caller, key_id, now or datetime.now(UTC))
