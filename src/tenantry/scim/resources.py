"""The SCIM resources Tenantry serves, and how they map onto its users and groups (RFC 7643).

The models are scim2-models' own, with two changes where Tenantry stores less than
the standard schema allows, so that what /Schemas publishes is what the server does:
the enterprise extension's `manager` takes a bare id (as Entra sends it) and needs no
`$ref`, and a group member's `display` is read-only (members are users; their names
are Tenantry's).

The mapping (docs/api.md, "Directory sync"):

| SCIM | Tenantry |
|---|---|
| `id` | the user's or group's id |
| `userName` | `userPrincipalName` (stored form; on a verified domain of the tenant) |
| `active` | `accountEnabled` |
| `displayName` | `displayName` (else `name.formatted`, given and family name, the address) |
| `name.givenName`, `name.familyName` | `givenName`, `surname` |
| `emails` (primary, else work, else first) `value` | `mail` (else the user name) |
| `addresses[type eq "work"].country` | `usageLocation`, when it is an ISO 3166-1 alpha-2 code |
| `password` | the password (write-only) |
| `externalId`, every other attribute | kept as the client sent it (`scim_users`) |
| Group `displayName`, `members` | the group's name, its direct members (users only) |
"""

# No `from __future__ import annotations` here: scim2-models reads the models' annotations
# (mutability, case) at class creation, and strings would hide them.

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field, field_validator
from scim2_models import (
    CaseExact,
    ComplexAttribute,
    Context,
    Mutability,
    Reference,
    Required,
    Resource,
    ResourceType,
    ScimPolicy,
    User,
)
from scim2_models import (
    EnterpriseUser as _EnterpriseUser,
)
from scim2_models.urn import URN

from tenantry.directory.constants import USAGE_LOCATIONS
from tenantry.directory.exceptions import InvalidValue
from tenantry.scim.constants import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

if TYPE_CHECKING:
    from tenantry.directory.models import Group as DirectoryGroup
    from tenantry.directory.models import User as DirectoryUser
    from tenantry.scim.models import ScimGroup, ScimUser


class Manager(ComplexAttribute):
    """The user's manager: the id of another user (`$ref` optional, unlike RFC 7643 §4.3)."""

    value: Annotated[str | None, CaseExact.true] = None
    ref: Annotated[Reference[User] | None, Mutability.read_write] = Field(  # type: ignore[type-arg]
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    display_name: Annotated[str | None, Mutability.read_only] = None


class EnterpriseUser(_EnterpriseUser):
    """The enterprise user extension (RFC 7643 §4.3) with a manager Entra can send."""

    __schema__ = URN(ENTERPRISE_SCHEMA)

    manager: Manager | None = None

    @field_validator("manager", mode="before")
    @classmethod
    def _bare_manager_id(cls, value: Any) -> Any:
        """Entra sends the manager as its id alone, sometimes in a one-element list."""
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, str):
            return {"value": value} if value else None
        return value


class Member(ComplexAttribute):
    """A member of a group: a user of the tenant (groups do not nest)."""

    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = None
    ref: Annotated[
        Reference[Union["User", "Group"]] | None,  # type: ignore[type-arg]
        Mutability.immutable,
    ] = Field(None, serialization_alias="$ref", validation_alias="$ref")
    type: Annotated[str | None, Mutability.immutable] = Field(None, examples=["User"])
    display: Annotated[str | None, Mutability.read_only] = None


class Group(Resource[Any]):
    """A group (RFC 7643 §4.2); its members are users."""

    __schema__ = URN(GROUP_SCHEMA)

    display_name: Annotated[str | None, Required.true] = None
    members: list[Member] | None = None


UserResource = User[EnterpriseUser]
GroupResource = Group
USER_TYPE = ResourceType.from_resource(UserResource)
GROUP_TYPE = ResourceType.from_resource(GroupResource)

# What Tenantry tolerates from clients: attributes it does not know are dropped (Entra
# sends its own extension schemas), a remove may carry the value it removes and an
# add or replace through a filter that matches nothing creates the entry (both Entra's).
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

# Attributes with a Tenantry column or a place of their own: not kept in `attributes`.
# `active` is kept (as a marker): a user whose client never sent it, or removed it, is
# enabled and shows no `active`, so that a client reads back what it wrote.
_OWN_USER_KEYS = {"id", "meta", "schemas", "userName", "externalId", "password", "groups"}


def location(base_url: str, resource_type: str, resource_id: object) -> str:
    """The URL of a resource (`meta.location`, `$ref`)."""
    return f"{base_url}/{resource_type}s/{resource_id}"


def etag(document: dict[str, Any]) -> str:
    """A weak ETag of a representation: changes with any attribute (RFC 7644 §3.14)."""
    digest = hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
    return f'W/"{digest[:20]}"'


def _timestamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


# --- Tenantry → SCIM ----------------------------------------------------------------------


def user_view(
    user: "DirectoryUser", scim_row: "ScimUser | None", *, base_url: str
) -> dict[str, Any]:
    """The SCIM representation of a user (synced or not), with `meta.version`."""
    if scim_row is not None:
        document: dict[str, Any] = json.loads(json.dumps(scim_row.attributes))
        if scim_row.external_id is not None:
            document["externalId"] = scim_row.external_id
        modified = scim_row.updated_at
    else:
        # A user Tenantry made itself: what its own columns say.
        document = {"displayName": user.display_name}
        name = {
            key: value
            for key, value in (("givenName", user.given_name), ("familyName", user.surname))
            if value
        }
        if name:
            document["name"] = name
        if user.mail:
            document["emails"] = [{"value": user.mail, "type": "work", "primary": True}]
        if user.usage_location:
            document["addresses"] = [{"type": "work", "country": user.usage_location}]
        modified = user.created_at
    document["userName"] = user.user_principal_name
    if scim_row is None or "active" in document or not user.account_enabled:
        document["active"] = user.account_enabled
    schemas = [USER_SCHEMA]
    if document.get(ENTERPRISE_SCHEMA):
        schemas.append(ENTERPRISE_SCHEMA)
    else:
        document.pop(ENTERPRISE_SCHEMA, None)
    document["schemas"] = schemas
    document["id"] = str(user.id)
    document["meta"] = {
        "resourceType": "User",
        "created": _timestamp(user.created_at),
        "lastModified": _timestamp(max(modified, user.created_at)),
        "location": location(base_url, "User", user.id),
    }
    document["meta"]["version"] = etag(document)
    return document


def group_view(
    group: "DirectoryGroup",
    scim_row: "ScimGroup | None",
    member_ids: list[uuid.UUID] | None,
    *,
    base_url: str,
) -> dict[str, Any]:
    """The SCIM representation of a group; `member_ids` None leaves `members` out
    (`excludedAttributes=members`) without changing the ETag."""
    document: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.id),
        "displayName": group.display_name,
    }
    if scim_row is not None and scim_row.external_id is not None:
        document["externalId"] = scim_row.external_id
    modified = scim_row.updated_at if scim_row is not None else group.created_at
    meta = {
        "resourceType": "Group",
        "created": _timestamp(group.created_at),
        "lastModified": _timestamp(max(modified, group.created_at)),
        "location": location(base_url, "Group", group.id),
    }
    # The members count in the ETag through their counter, so that a group's version is
    # known without reading thousands of members.
    meta["version"] = etag(
        {**document, "membersVersion": scim_row.members_version if scim_row else 0}
    )
    document["meta"] = meta
    if member_ids is not None:
        document["members"] = [
            {"value": str(user_id), "$ref": location(base_url, "User", user_id), "type": "User"}
            for user_id in member_ids
        ]
    return document


def stored_attributes(resource: User[Any]) -> dict[str, Any]:
    """What a validated user resource keeps in `scim_users.attributes`: every attribute the
    client sent but those with a place of their own, in SCIM's own names."""
    document = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    kept = {key: value for key, value in document.items() if key not in _OWN_USER_KEYS}
    if "\\u0000" in json.dumps(kept):  # PostgreSQL cannot read it back as text
        raise InvalidValue("Attributes cannot contain the NUL character (U+0000).")
    return kept


# --- SCIM → Tenantry ----------------------------------------------------------------------


@dataclass
class UserFields:
    """What a user resource says of the Tenantry user's own columns."""

    principal_name: str
    display_name: str
    given_name: str | None
    surname: str | None
    account_enabled: bool
    mail: str | None
    # The ISO code of the work address (None: no valid one); `from_scim`: one was given.
    usage_location: str | None
    usage_location_from_scim: bool
    external_id: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    password: str | None = None


_ADDRESS = re.compile(r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f.]+(\.[^@\s\x00-\x1f.]+)+$")


def _mail(resource: User[Any]) -> str | None:
    """The address Tenantry writes to (`mail`): the primary email, else the work one, else the
    first; None when it is not an address (the user name then serves)."""
    emails = resource.emails or []
    chosen = (
        next((email for email in emails if email.primary), None)
        or next((email for email in emails if str(email.type or "").lower() == "work"), None)
        or (emails[0] if emails else None)
    )
    if chosen is None or not chosen.value:
        return None
    address = str(chosen.value).strip().lower()
    return address if len(address) <= 320 and _ADDRESS.match(address) else None


def _work_country(resource: User[Any]) -> tuple[str | None, bool]:
    """The usage location a work address gives: (code, True); (None, False) without one."""
    for address in resource.addresses or []:
        if str(address.type or "").lower() == "work" and address.country:
            code = str(address.country).strip().upper()
            if code in USAGE_LOCATIONS:
                return code, True
    return None, False


def _display_name(resource: User[Any]) -> str:
    if resource.display_name and resource.display_name.strip():
        return resource.display_name.strip()[:256]
    name = resource.name
    if name is not None:
        if name.formatted and name.formatted.strip():
            return name.formatted.strip()[:256]
        joined = " ".join(part for part in (name.given_name, name.family_name) if part)
        if joined.strip():
            return joined.strip()[:256]
    return str(resource.user_name or "").split("@", 1)[0][:256] or "user"


def external_id(value: Any) -> str | None:
    """A client's externalId as Tenantry keeps it (at most 256 characters, no U+0000)."""
    if value is None:
        return None
    text = str(value)
    if len(text) > 256 or "\x00" in text:
        raise InvalidValue(
            "externalId takes at most 256 characters, none of them U+0000.", target="externalId"
        )
    return text


def user_fields(resource: User[Any]) -> UserFields:
    """The Tenantry columns a (validated) user resource sets, and what SCIM keeps beside them."""
    name = resource.name
    country, from_scim = _work_country(resource)
    return UserFields(
        principal_name=str(resource.user_name or ""),
        display_name=_display_name(resource),
        given_name=(name.given_name or None) if name else None,
        surname=(name.family_name or None) if name else None,
        account_enabled=True if resource.active is None else bool(resource.active),
        mail=_mail(resource),
        usage_location=country,
        usage_location_from_scim=from_scim,
        external_id=external_id(resource.external_id),
        attributes=stored_attributes(resource),
        password=resource.password,
    )
