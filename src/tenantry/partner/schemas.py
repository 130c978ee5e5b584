"""Partner program request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from tenantry.core.schemas import ApiModel
from tenantry.directory.models import User
from tenantry.partner.access import ROLES
from tenantry.partner.accounts import Enrollment, Person
from tenantry.partner.acting import Membership
from tenantry.partner.links import LinkedTenant
from tenantry.partner.members import MAX_MEMBERS_PER_REQUEST, MAX_NEW_USERS_PER_REQUEST
from tenantry.partner.models import PartnerAccount
from tenantry.partner.roster import GROUP, USER, MemberEntry


class AgreementView(ApiModel):
    version: str
    language: str
    text: str


class PersonBody(ApiModel):
    name: str = Field(max_length=1000)
    email: str = Field(max_length=1000)
    phone: str = Field(max_length=100)

    def person(self) -> Person:
        return Person(name=self.name, email=self.email, phone=self.phone)


class AgreementAcceptance(ApiModel):
    version: str = Field(max_length=100)
    accepted: bool


class PartnerAccountCreate(ApiModel):
    country_or_region: str = Field(max_length=100)
    account_type: str = Field(max_length=100)
    # Longer names are refused by the service with `publisherNameTooLong`, in the caller's
    # language; this bound only keeps absurd bodies out.
    publisher_display_name: str = Field(max_length=1000)
    contact: PersonBody
    approver: PersonBody
    agreement: AgreementAcceptance

    def enrollment(self) -> Enrollment:
        return Enrollment(
            country_or_region=self.country_or_region,
            account_type=self.account_type,
            publisher_display_name=self.publisher_display_name,
            contact=self.contact.person(),
            approver=self.approver.person(),
            agreement_version=self.agreement.version,
            agreement_accepted=self.agreement.accepted,
        )


class PersonView(ApiModel):
    name: str
    email: str
    phone: str


class AgreementAcceptanceView(ApiModel):
    version: str
    accepted_date_time: datetime


class PartnerAccountView(ApiModel):
    id: str
    tenant_id: str
    state: str
    country_or_region: str
    account_type: str
    publisher_display_name: str
    contact: PersonView
    approver: PersonView
    agreement: AgreementAcceptanceView
    created_date_time: datetime


class Availability(ApiModel):
    publisher_display_name: str
    is_available: bool
    reason: str | None = None


def account_view(account: PartnerAccount) -> dict[str, Any]:
    """The API's view of a partner account."""
    return {
        "id": str(account.id),
        "tenantId": str(account.tenant_id),
        "state": account.state,
        "countryOrRegion": account.country_or_region,
        "accountType": account.account_type,
        "publisherDisplayName": account.publisher_display_name,
        "contact": {
            "name": account.contact_name,
            "email": account.contact_email,
            "phone": account.contact_phone,
        },
        "approver": {
            "name": account.approver_name,
            "email": account.approver_email,
            "phone": account.approver_phone,
        },
        "agreement": {
            "version": account.agreement_version,
            "acceptedDateTime": account.agreement_accepted_at,
        },
        "createdDateTime": account.created_at,
    }


class PartnerAccountUpdate(ApiModel):
    publisher_display_name: str | None = Field(default=None, max_length=1000)
    contact: PersonBody | None = None
    # Never changeable: accepted here only to be refused with their own codes.
    country_or_region: str | None = Field(default=None, max_length=100)
    account_type: str | None = Field(default=None, max_length=100)


class ApprovalView(ApiModel):
    publisher_display_name: str
    country_or_region: str
    contact_name: str
    state: str
    expires_date_time: datetime | None = None


def approval_view(account: PartnerAccount) -> dict[str, Any]:
    """What the approver sees behind the link: the account to confirm, nothing else."""
    return {
        "publisherDisplayName": account.publisher_display_name,
        "countryOrRegion": account.country_or_region,
        "contactName": account.contact_name,
        "state": account.state,
        "expiresDateTime": account.approval_expires_at,
    }


# --- linked tenants, members, the acting account -----------------------------------------

RoleName = Annotated[str, Field(max_length=40, json_schema_extra={"enum": list(ROLES)})]
RoleList = Annotated[
    list[RoleName],
    Field(
        min_length=1,
        max_length=len(ROLES),
        description="Partner account roles: " + ", ".join(ROLES) + ".",
    ),
]


class TenantLinkCreate(ApiModel):
    tenant_id: str = Field(max_length=100, description="The id of the tenant to link.")
    tenant_administrator_token: str | None = Field(
        default=None,
        max_length=200,
        description=(
            "An access token of a Global Administrator of that tenant (from POST "
            "/v1/auth/token), when the caller is not one: it is only read, never kept."
        ),
    )


class LinkedTenantView(ApiModel):
    tenant_id: str
    display_name: str
    is_enrolling_tenant: bool
    linked_date_time: datetime


class LinkedTenantList(ApiModel):
    value: list[LinkedTenantView]


def linked_tenant_view(linked: LinkedTenant) -> dict[str, Any]:
    """A tenant linked to a partner account."""
    return {
        "tenantId": str(linked.tenant_id),
        "displayName": linked.display_name,
        "isEnrollingTenant": linked.is_enrolling,
        "linkedDateTime": linked.linked_at,
    }


class TenantUserView(ApiModel):
    id: str
    display_name: str
    user_principal_name: str
    mail: str | None = None
    account_enabled: bool


class TenantUserPage(ApiModel):
    value: list[TenantUserView]
    odata_next_link: str | None = Field(default=None, alias="@odata.nextLink")
    odata_count: int | None = Field(default=None, alias="@odata.count")


def tenant_user_view(user: User) -> dict[str, Any]:
    """A linked tenant's user as an account's managers see them: who they are, no more."""
    return {
        "id": str(user.id),
        "displayName": user.display_name,
        "userPrincipalName": user.user_principal_name,
        "mail": user.mail,
        "accountEnabled": user.account_enabled,
    }


class NewUserBody(ApiModel):
    user_principal_name: str = Field(min_length=3, max_length=320)
    display_name: str = Field(min_length=1, max_length=256)
    usage_location: str | None = Field(default=None, max_length=10)


class MembersAdd(ApiModel):
    """Users and groups of the linked tenants (and new users of the caller's tenant) to add,
    all with the same roles."""

    roles: RoleList
    user_ids: list[Annotated[str, Field(max_length=320)]] = Field(
        default_factory=list,
        max_length=MAX_MEMBERS_PER_REQUEST,
        description="Users of a linked tenant, by id or sign-in address.",
    )
    group_ids: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list,
        max_length=MAX_MEMBERS_PER_REQUEST,
        description="Groups of a linked tenant, by id.",
    )
    new_users: list[NewUserBody] = Field(
        default_factory=list,
        max_length=MAX_NEW_USERS_PER_REQUEST,
        description=(
            "Users to create in the caller's tenant (Global Administrator only), each with a "
            "temporary password shown once in the answer."
        ),
    )


class MemberRolesUpdate(ApiModel):
    roles: RoleList


class MemberView(ApiModel):
    id: str = Field(description="The user's or the group's id.")
    member_type: str = Field(description="user or group")
    tenant_id: str
    display_name: str
    user_principal_name: str | None = None
    roles: list[str]
    added_date_time: datetime
    temporary_password: str | None = Field(
        default=None, description="A new user's temporary password, shown once."
    )


class MemberPageView(ApiModel):
    value: list[MemberView]
    odata_next_link: str | None = Field(default=None, alias="@odata.nextLink")


class MembersAdded(ApiModel):
    value: list[MemberView]
    added: int = Field(description="How many of them were not members before.")
    already_members: int = Field(description="How many were, and gained the roles.")


def member_view(entry: MemberEntry) -> dict[str, Any]:
    """A member of a partner account."""
    member = entry.member
    view: dict[str, Any] = {
        "id": str(member.user_id or member.group_id),
        "memberType": USER if member.user_id else GROUP,
        "tenantId": str(member.tenant_id),
        "displayName": (
            entry.user.display_name
            if entry.user
            else entry.group.display_name
            if entry.group
            else ""
        ),
        "roles": entry.roles,
        "addedDateTime": member.created_at,
    }
    if entry.user is not None:
        view["userPrincipalName"] = entry.user.user_principal_name
    if entry.temporary_password is not None:
        view["temporaryPassword"] = entry.temporary_password
    return view


class PartnerMembershipView(ApiModel):
    id: str
    publisher_display_name: str
    state: str
    roles: list[str] = Field(description="The caller's roles: their own and their groups'.")


class PartnerMembershipList(ApiModel):
    value: list[PartnerMembershipView]


def membership_view(membership: Membership | None) -> dict[str, Any] | None:
    """`{id, publisherDisplayName, state, roles}` of an account one belongs to, or None."""
    if membership is None:
        return None
    return {
        "id": str(membership.account.id),
        "publisherDisplayName": membership.account.publisher_display_name,
        "state": membership.account.state,
        "roles": membership.roles,
    }
