"""Reading request bodies as scim2-models' resources and messages, and the passwords in them.

Passwords are hashed before the unit of work opens (argon2id takes a core for about
200 ms; no transaction waits on it), so the password a body carries is found here,
before the operations are applied.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, InvalidSyntaxException, PatchOp, Resource

from tenantry.core.security import hash_password
from tenantry.scim.exceptions import ScimError, from_validation
from tenantry.scim.resources import POLICY, GroupResource, UserResource


def parse_json(raw: bytes) -> Any:
    """The JSON of a body; 400 invalidSyntax otherwise."""
    if not raw:
        raise InvalidSyntaxException(detail="The request has no body.")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidSyntaxException(detail="The request body is not valid JSON.") from None


def _validated(model: type[Any], payload: Any, context: Context) -> Any:
    if not isinstance(payload, dict):
        raise InvalidSyntaxException(detail="The request body is a JSON object.")
    try:
        return model.model_validate(payload, scim_ctx=context, scim_policy=POLICY)
    except ValidationError as exc:
        error = from_validation(exc)
        raise ScimError(
            status=error.status or 400, scim_type=error.scim_type, detail=error.detail or ""
        ) from None


def user(payload: Any, *, replacing: bool = False) -> UserResource:
    """A user resource of a POST or PUT."""
    context = (
        Context.RESOURCE_REPLACEMENT_REQUEST if replacing else Context.RESOURCE_CREATION_REQUEST
    )
    resource: UserResource = _validated(UserResource, payload, context)
    if not resource.user_name:
        raise ScimError(status=400, scim_type="invalidValue", detail="userName is required.")
    return resource


def group(payload: Any, *, replacing: bool = False) -> GroupResource:
    """A group resource of a POST or PUT."""
    context = (
        Context.RESOURCE_REPLACEMENT_REQUEST if replacing else Context.RESOURCE_CREATION_REQUEST
    )
    resource: GroupResource = _validated(GroupResource, payload, context)
    return resource


def patch(model: type[Resource[Any]], payload: Any) -> PatchOp[Any]:
    """The operations of a PATCH (RFC 7644 §3.5.2), checked against the resource's model."""
    if isinstance(payload, dict) and "Operations" not in payload:
        # Some clients write the member in lower case ("operations").
        for key in list(payload):
            if key.lower() == "operations":
                payload = {**payload, "Operations": payload[key]}
    return _validated(PatchOp[model], payload, Context.RESOURCE_PATCH_REQUEST)  # type: ignore[valid-type]


def patch_password(payload: Any) -> str | None:
    """The password a PATCH body sets, if any (`path: password`, or in a path-less value)."""
    if not isinstance(payload, dict):
        return None
    found = None
    for operation in payload.get("Operations") or payload.get("operations") or []:
        if not isinstance(operation, dict) or str(operation.get("op", "")).lower() == "remove":
            continue
        path = str(operation.get("path") or "").lower()
        value = operation.get("value")
        if path in ("password", "urn:ietf:params:scim:schemas:core:2.0:user:password"):
            found = value if isinstance(value, str) else found
        elif not path and isinstance(value, dict):
            for key, item in value.items():
                if key.lower() == "password" and isinstance(item, str):
                    found = item
    return found


async def password_hash(password: str | None) -> str | None:
    """The argon2id hash of a provisioned password (the other directory's rules apply to it)."""
    if password is None:
        return None
    if not password or len(password) > 256:
        raise ScimError(
            status=400, scim_type="invalidValue", detail="password takes 1 to 256 characters."
        )
    return await hash_password(password)
