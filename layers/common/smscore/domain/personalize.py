"""Merge fields: `{nombre}` in a message becomes each recipient's own value.

Syntax: `{field}` or `{field|fallback}`. A field name is a letter followed by letters, digits or underscores,
read case-insensitively; `nombre` and `name` are the contact's name, any other must be one of the tenant's
declared custom fields (GET/PUT /api/contacts/fields, at most MAX_CUSTOM_FIELDS). The fallback is everything up
to the closing brace and is used when the recipient has no value (none, or only spaces). Anything else in braces
(`{ }`, `{50% off}`) is text, as are `{{` and `}}`, which write one brace each.

A text that names a field without a fallback is refused when some recipients lack it (MergeFieldMissing), so no
one receives "Hola ,"; the preview counts them instead (`mergeFieldsMissing`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from smscore.domain.errors import FieldIssue, InvalidRequest, UnknownMergeField

BUILT_IN_FIELDS = frozenset({"nombre", "name"})  # both the contact's name
MAX_CUSTOM_FIELDS = 20
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,29}")
MAX_FIELD_VALUE_CHARS = 200
_TOKEN = re.compile(r"\{\{|\}\}|\{\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\|([^{}]*))?\}")


@dataclass(frozen=True)
class Placeholder:
    field: str  # lower case
    fallback: str | None


@dataclass(frozen=True)
class MessageTemplate:
    """A message split into literal text and placeholders (alternating: text, placeholder, text, ...)."""

    texts: tuple[str, ...]
    placeholders: tuple[Placeholder, ...]

    @property
    def personal(self) -> bool:
        return bool(self.placeholders)

    @property
    def fields(self) -> list[str]:
        """Field names in order of first use."""
        return list(dict.fromkeys(p.field for p in self.placeholders))

    @property
    def required(self) -> list[str]:
        """Fields used at least once without a fallback."""
        return list(dict.fromkeys(p.field for p in self.placeholders if p.fallback is None))

    def render(self, values: Mapping[str, str]) -> str:
        """The text for one recipient; `values` by lower-case field name (a blank value counts as missing, and a
        missing one without fallback renders empty: the caller refuses those, see `missing`)."""
        out = [self.texts[0]]
        for placeholder, text in zip(self.placeholders, self.texts[1:], strict=True):
            value = values.get(placeholder.field, "").strip()
            out.append(value or (placeholder.fallback or ""))
            out.append(text)
        return "".join(out)

    def missing(self, values: Mapping[str, str]) -> list[str]:
        """The fields of this template, in order, that this recipient has no value for."""
        return [name for name in self.fields if not values.get(name, "").strip()]


def parse(message: str) -> MessageTemplate:
    texts: list[str] = []
    placeholders: list[Placeholder] = []
    current: list[str] = []
    end = 0
    for match in _TOKEN.finditer(message):
        current.append(message[end : match.start()])
        end = match.end()
        token = match.group()
        if token in ("{{", "}}"):
            current.append(token[0])
            continue
        texts.append("".join(current))
        current = []
        fallback = match.group(2)
        placeholders.append(Placeholder(match.group(1).lower(), fallback.strip() if fallback is not None else None))
    current.append(message[end:])
    texts.append("".join(current))
    return MessageTemplate(tuple(texts), tuple(placeholders))


def check_fields(template: MessageTemplate, declared: Iterable[str]) -> None:
    """UnknownMergeField (400) for the first field that is neither built in nor declared."""
    known = BUILT_IN_FIELDS | set(declared)
    for name in template.fields:
        if name not in known:
            raise UnknownMergeField(
                f"The message uses the merge field {{{name}}}, which is not a contact field: declare it with PUT "
                "/api/contacts/fields, or use {nombre}",
                details=[FieldIssue("message", f"unknown merge field {name}")],
                field=name,
            )


def recipient_values(name: str | None, fields: Mapping[str, str] | None) -> dict[str, str]:
    """A contact's merge values: its custom fields, and its name under both built-in names."""
    values = dict(fields or {})
    if name:
        values["nombre"] = values["name"] = name
    return values


def checked_field_names(names: Iterable[str]) -> list[str]:
    """A declaration of custom fields: distinct names of FIELD_NAME, none built in, at most MAX_CUSTOM_FIELDS."""
    checked: list[str] = []
    for position, name in enumerate(names):
        where = f"fields[{position}].name"
        if not FIELD_NAME.fullmatch(name):
            raise InvalidRequest(
                f"{name!r} is not a field name: a lower-case letter, then letters, digits or _, at most 30",
                details=[FieldIssue(where, "a lower-case letter, then a-z, 0-9 or _, at most 30 characters")],
            )
        if name in BUILT_IN_FIELDS:
            raise InvalidRequest(
                f"{name} is built in (the contact's name)", details=[FieldIssue(where, "built in: nombre, name")]
            )
        if name in checked:
            raise InvalidRequest(f"{name} is declared twice", details=[FieldIssue(where, "declared twice")])
        checked.append(name)
    if len(checked) > MAX_CUSTOM_FIELDS:
        raise InvalidRequest(
            f"At most {MAX_CUSTOM_FIELDS} custom fields per tenant",
            details=[FieldIssue("fields", f"at most {MAX_CUSTOM_FIELDS}")],
        )
    return checked
