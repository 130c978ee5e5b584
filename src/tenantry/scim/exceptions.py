"""SCIM's errors (RFC 7644 §3.12): scim2-models' exceptions, and Tenantry's errors in their shape.

Services raise scim2-models' `SCIMException`s where SCIM names the case (`uniqueness`,
`mutability`, `invalidValue`, 412 …); what the directory and licensing refuse (a
TenantryError with its own code) keeps its status and message, and gets the `scimType`
RFC 7644 gives that kind of refusal.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from scim2_models import Error, SCIMException

from tenantry.core.errors import TenantryError
from tenantry.directory.exceptions import (
    InvalidCountryCode,
    InvalidUserPrincipalName,
    InvalidValue,
    PropertyManagedBySync,
    UnverifiedDomain,
    UserAlreadyExists,
    UsersNotFound,
)

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(SCIMException):
    """A refusal with a status and scimType scim2-models has no class for."""

    def __init__(self, *, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail=detail)
        self.status = status
        self.scim_type = scim_type


def from_tenantry(error: TenantryError) -> ScimError:
    """A Tenantry refusal as SCIM words it."""
    if isinstance(error, UserAlreadyExists):
        return ScimError(status=409, scim_type="uniqueness", detail=error.message)
    if isinstance(error, PropertyManagedBySync):
        return ScimError(status=400, scim_type="mutability", detail=error.message)
    if isinstance(
        error,
        InvalidUserPrincipalName
        | UnverifiedDomain
        | InvalidValue
        | InvalidCountryCode
        | UsersNotFound,
    ):
        return ScimError(status=400, scim_type="invalidValue", detail=error.message)
    scim_type = "invalidValue" if error.status_code == 400 else None
    return ScimError(status=error.status_code, scim_type=scim_type, detail=error.message)


def from_validation(error: ValidationError) -> Error:
    """The first problem pydantic found in a payload, as scim2-models words it."""
    errors = Error.from_validation_errors(error)
    if errors:
        return errors[0]
    return Error(status=400, scim_type="invalidSyntax", detail="The request is not valid.")


def body(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    """The error response body (RFC 7644 §3.12): `status` a string, as the RFC's examples."""
    document: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        document["scimType"] = scim_type
    return document


def of_exception(error: SCIMException) -> tuple[int, dict[str, Any]]:
    """The status and body of a SCIM exception."""
    return error.status, body(error.status, error.detail, error.scim_type)
