"""Base for API schemas: camelCase on the wire, like Microsoft Graph."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

# Every string of a body, list items included, is bounded. The bound also makes Pydantic
# check that each one is text: JSON's `"\ud800"` escape decodes to a lone surrogate, which
# can be neither stored nor written back in an answer (it is refused with 400 instead).
MAX_STRING_LENGTH = 1_000_000


class ApiModel(BaseModel):
    """A request or response body with camelCase field names."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_max_length=MAX_STRING_LENGTH,
    )

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
