"""Base for API schemas: camelCase on the wire, like Microsoft Graph."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

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
