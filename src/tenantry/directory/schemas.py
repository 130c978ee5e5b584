"""User, group and directory-role shapes (Microsoft Graph names)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from tenantry.core.schemas import ApiModel
from tenantry.directory.constants import (
    ROLE_DESCRIPTIONS,
    ROLE_DISPLAY_NAMES,
    ROLE_TEMPLATE_IDS,
    Role,
    Source,
)
from tenantry.directory.models import Group, User
from tenantry.licensing.schemas import EntitlementChangeView


class UserView(ApiModel):
    id: uuid.UUID
    display_name: str
    given_name: str | None = None
    surname: str | None = None
    user_principal_name: str
    mail: str | None = None
    usage_location: str | None = None
    account_enabled: bool
    source: str
    user_type: str = Field(
        description="Graph's userType: `Guest` for the users of source `guest`, else `Member`."
    )
    external_user_state: str | None = Field(
        default=None,
        description="An invited guest's: `PendingAcceptance`, then `Accepted`; null otherwise.",
    )
    external_user_state_change_date_time: datetime | None = None
    on_premises_sync_enabled: bool = False
    preferred_language: str | None = None
    tenant_id: uuid.UUID
    created_date_time: datetime


class ActingPartnerAccountView(ApiModel):
    id: str
    publisher_display_name: str
    state: str
    roles: list[str]


class CurrentTenantView(ApiModel):
    id: uuid.UUID
    display_name: str
    default_domain: str | None = None


class MeView(UserView):
    tenant: CurrentTenantView = Field(
        description="The organization this token acts in (`GET /v1/me/tenants` lists the others)."
    )
    roles: list[str]
    entitlements: dict[str, int | str]
    entitlement_changes: list[EntitlementChangeView] = Field(
        description="Each entitlement's next change of value, soonest first."
    )
    service_plans: list[str]
    user: UserView
    partner_account: ActingPartnerAccountView | None = Field(
        default=None,
        description="The partner account this token acts for, with your roles in it; or null.",
    )


class UserCreatedView(UserView):
    temporary_password: str | None = Field(
        default=None, description="The generated password, shown once (only when none was given)."
    )


class UserPage(ApiModel):
    value: list[UserView]
    odata_next_link: str | None = Field(default=None, alias="@odata.nextLink")
    odata_count: int | None = Field(default=None, alias="@odata.count")


class AssignedLicense(ApiModel):
    sku_id: uuid.UUID
    disabled_plans: list[str] = Field(default_factory=list, max_length=100)


class UserCreate(ApiModel):
    display_name: str = Field(min_length=1, max_length=256)
    user_principal_name: str = Field(min_length=3, max_length=320)
    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Leave out to get a generated temporary password (changed at first sign-in).",
    )
    force_change_password_next_sign_in: bool = False
    given_name: str | None = Field(default=None, max_length=128)
    surname: str | None = Field(default=None, max_length=128)
    usage_location: str | None = Field(default=None, max_length=8)
    account_enabled: bool = True
    source: Source = Field(
        default=Source.CLOUD,
        description="`cloud`, or `synced` for a user that another directory provides.",
    )
    assigned_licenses: list[AssignedLicense] = Field(
        default_factory=list,
        max_length=20,
        description="Licenses to give at creation (cloud users only; needs a usageLocation).",
    )


class UserUpdate(ApiModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=256)
    given_name: str | None = Field(default=None, max_length=128)
    surname: str | None = Field(default=None, max_length=128)
    usage_location: str | None = Field(default=None, max_length=8)
    account_enabled: bool | None = None


class PasswordReset(ApiModel):
    temporary_password: str
    force_change_password_next_sign_in: bool = True


class PasswordChange(ApiModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class ImportRowError(ApiModel):
    code: str
    message: str


class ImportRowView(ApiModel):
    row: int = Field(description="1 for the first row under the header.")
    user_principal_name: str | None = None
    status: str = Field(description="`created` or `failed`.")
    id: uuid.UUID | None = None
    temporary_password: str | None = None
    error: ImportRowError | None = None


class ImportReport(ApiModel):
    total: int
    created: int
    failed: int
    rows: list[ImportRowView]


class OrganizationMessage(ApiModel):
    subject: str = Field(min_length=1, max_length=250)
    body: str = Field(min_length=1, max_length=50_000)


class OrganizationMessageResult(ApiModel):
    recipients: int


class RoleMemberView(ApiModel):
    id: uuid.UUID
    display_name: str
    user_principal_name: str
    account_enabled: bool


class DirectoryRoleView(ApiModel):
    id: str
    role_template_id: str
    role_name: str
    display_name: str
    description: str
    members: list[RoleMemberView]


class DirectoryRolePage(ApiModel):
    value: list[DirectoryRoleView]


class RoleMemberAdd(ApiModel):
    user_id: str | None = Field(default=None, max_length=400)
    odata_id: str | None = Field(default=None, alias="@odata.id", max_length=400)


class GroupView(ApiModel):
    id: uuid.UUID
    display_name: str
    description: str | None = None
    mail_nickname: str
    mail_enabled: bool
    security_enabled: bool
    group_types: list[str]
    created_date_time: datetime


class GroupPage(ApiModel):
    value: list[GroupView]
    odata_next_link: str | None = Field(default=None, alias="@odata.nextLink")
    odata_count: int | None = Field(default=None, alias="@odata.count")


class GroupCreate(ApiModel):
    display_name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=1024)
    mail_nickname: str | None = Field(default=None, min_length=1, max_length=64)
    # Graph requires these for a security group; other values are refused.
    mail_enabled: bool = False
    security_enabled: bool = True
    group_types: list[str] = Field(default_factory=list, max_length=4)


class GroupUpdate(ApiModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=1024)
    mail_nickname: str | None = Field(default=None, min_length=1, max_length=64)


class GroupMembersAdd(ApiModel):
    user_ids: list[str] = Field(min_length=1)


class GroupMembersAdded(ApiModel):
    added: int
    already_members: int


def user_view(user: User) -> dict[str, Any]:
    """The Graph-style JSON of a user."""
    return {
        "id": str(user.id),
        "displayName": user.display_name,
        "givenName": user.given_name,
        "surname": user.surname,
        "userPrincipalName": user.user_principal_name,
        "mail": user.mail,
        "usageLocation": user.usage_location,
        "accountEnabled": user.account_enabled,
        "source": user.source,
        "userType": "Guest" if user.source == Source.GUEST.value else "Member",
        "externalUserState": user.external_user_state,
        "externalUserStateChangeDateTime": (
            user.external_user_state_changed_at.isoformat()
            if user.external_user_state_changed_at
            else None
        ),
        "onPremisesSyncEnabled": user.source == Source.SYNCED.value,
        "preferredLanguage": user.preferred_language,
        "tenantId": str(user.tenant_id),
        "createdDateTime": user.created_at.isoformat(),
    }


def page_view(
    items: list[dict[str, Any]], *, next_link: str | None, count: int | None
) -> dict[str, Any]:
    """A Graph collection: `value`, and `@odata.nextLink` / `@odata.count` when there are."""
    body: dict[str, Any] = {"value": items}
    if count is not None:
        body["@odata.count"] = count
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    return body


def role_view(role: Role, members: list[User]) -> dict[str, Any]:
    """A directory role of the tenant with its members."""
    return {
        "id": ROLE_TEMPLATE_IDS[role],
        "roleTemplateId": ROLE_TEMPLATE_IDS[role],
        "roleName": role.value,
        "displayName": ROLE_DISPLAY_NAMES[role],
        "description": ROLE_DESCRIPTIONS[role],
        "members": [
            {
                "id": str(member.id),
                "displayName": member.display_name,
                "userPrincipalName": member.user_principal_name,
                "accountEnabled": member.account_enabled,
            }
            for member in members
        ],
    }


def group_view(group: Group) -> dict[str, Any]:
    """The Graph-style JSON of a security group."""
    return {
        "id": str(group.id),
        "displayName": group.display_name,
        "description": group.description,
        "mailNickname": group.mail_nickname,
        "mailEnabled": False,
        "securityEnabled": True,
        "groupTypes": [],
        "createdDateTime": group.created_at.isoformat(),
    }
