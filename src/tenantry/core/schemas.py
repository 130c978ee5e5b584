"""Base for API schemas: camelCase on the wire, like Microsoft Graph."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """A request or response body with camelCase field names."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


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
