"""Base for API schemas: camelCase on the wire, like Microsoft Graph; numbers and booleans
strict."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema, PydanticCustomError

# Every string of a body, list items included, is bounded. The bound also makes Pydantic
# check that each one is text: JSON's `"\ud800"` escape decodes to a lone surrogate, which
# can be neither stored nor written back in an answer (it is refused with 400 instead).
MAX_STRING_LENGTH = 1_000_000


_STRICT_TYPES = frozenset({"int", "bool", "float"})
_NOT_SCHEMAS = frozenset({"metadata", "serialization", "ref"})


def _strict_scalars(schema: Any) -> None:
    """Mark every int, bool and float of a model's core schema strict, in unions, lists and
    optional fields too (nested models of their own are left to themselves)."""
    if isinstance(schema, dict):
        if schema.get("type") in _STRICT_TYPES:
            schema["strict"] = True
            return
        for key, value in schema.items():
            if key not in _NOT_SCHEMAS:
                _strict_scalars(value)
    elif isinstance(schema, list):
        for item in schema:
            _strict_scalars(item)


class ApiModel(BaseModel):
    """A request or response body with camelCase field names."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_max_length=MAX_STRING_LENGTH,
    )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # Numbers and booleans strict, everything else as Pydantic reads JSON (ids, dates
        # and enums arrive as strings): by default `{"quantity": true}` bought one license,
        # and `"3"`, `2.0`, `"yes"` or `1` passed for a number or a boolean.
        schema = handler(source)
        _strict_scalars(schema)
        return schema

    @field_validator("*", mode="after", check_fields=False)
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold U+0000 (the write or even the comparison fails), and no
        # name, address or id has one: refused with 400 on every database alike.
        if _has_nul(value):
            raise PydanticCustomError("string_nul", "Text cannot contain the NUL character.")
        return value


def _has_nul(value: Any) -> bool:
    """Whether a field's value is, or lists, a string holding U+0000 (nested models check
    their own fields)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set):
        return any(isinstance(item, str) and "\x00" in item for item in value)
    return False


class ErrorDetail(BaseModel):
    code: str
    message: str
    target: str | None = None


class ErrorBody(BaseModel):
    """The one error shape of every 4xx and 5xx answer."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 429)
}
