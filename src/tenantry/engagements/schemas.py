"""Engagements' request and response shapes (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from tenantry.core.schemas import ApiModel
from tenantry.engagements import service
from tenantry.engagements.access_requests import RequestRow
from tenantry.engagements.members import MemberRow, Organization
from tenantry.engagements.models import (
    AccessRequest,
    Engagement,
    EngagementMember,
    Program,
)

EngagementRole = Literal["participant", "powerUser", "contentPublisher", "owner"]
ProgramRoleName = Literal["owner", "engagementCreator", "contentPublisher"]
RequestState = Literal["pendingApproval", "delivered", "denied", "canceled", "expired"]


# --- programs ---------------------------------------------------------------------------------


class ProgramCreate(ApiModel):
    display_name: str = Field(max_length=1000)
    description: str = Field(default="", max_length=20_000)


class ProgramUpdate(ApiModel):
    display_name: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=20_000)


class ProgramView(ApiModel):
    id: str
    display_name: str
    description: str
    my_roles: list[str]
    created_date_time: datetime
    engagements: list[EngagementView] | None = None


class ProgramMembersAdd(ApiModel):
    user_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    role: ProgramRoleName


class ProgramMemberView(ApiModel):
    user_id: str
    display_name: str
    user_principal_name: str
    role: str


def program_view(
    program: Program, roles: set[str], engagements: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "id": str(program.id),
        "displayName": program.display_name,
        "description": program.description,
        "myRoles": sorted(roles),
        "createdDateTime": program.created_at,
        "engagements": engagements,
    }


# --- engagements ------------------------------------------------------------------------------


class AudienceBody(ApiModel):
    all_partner_accounts: bool = False
    partner_account_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)

    def audience(self) -> service.Audience:
        return service.Audience(self.all_partner_accounts, list(self.partner_account_ids))


class EngagementCreate(ApiModel):
    program_id: uuid.UUID | None = None
    display_name: str = Field(max_length=1000)
    description: str = Field(default="", max_length=20_000)
    terms_of_use: str | None = Field(default=None, max_length=300_000)
    join_policy: Literal["open", "approvalRequired"] = "approvalRequired"
    audience: AudienceBody = Field(default_factory=AudienceBody)
    request_timeout_days: int = Field(default=14, ge=1, le=365)
    inactivity_days: int = Field(default=180, ge=2, le=3650)

    def fields(self) -> service.EngagementFields:
        return service.EngagementFields(
            display_name=self.display_name,
            description=self.description,
            terms_of_use=self.terms_of_use,
            terms_given=True,
            join_policy=self.join_policy,
            audience=self.audience.audience(),
            request_timeout_days=self.request_timeout_days,
            inactivity_days=self.inactivity_days,
            program_id=self.program_id,
        )


class EngagementUpdate(ApiModel):
    display_name: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=20_000)
    terms_of_use: str | None = Field(default=None, max_length=300_000)
    join_policy: Literal["open", "approvalRequired"] | None = None
    audience: AudienceBody | None = None
    request_timeout_days: int | None = Field(default=None, ge=1, le=365)
    inactivity_days: int | None = Field(default=None, ge=2, le=3650)

    def fields(self) -> service.EngagementFields:
        return service.EngagementFields(
            display_name=self.display_name,
            description=self.description,
            terms_of_use=self.terms_of_use,
            terms_given="terms_of_use" in self.model_fields_set,
            join_policy=self.join_policy,
            audience=self.audience.audience() if self.audience is not None else None,
            request_timeout_days=self.request_timeout_days,
            inactivity_days=self.inactivity_days,
        )


class JoinBody(ApiModel):
    accept_terms_of_use: bool = False


class PartnerAccountRef(ApiModel):
    id: str
    display_name: str


class AudienceView(ApiModel):
    all_partner_accounts: bool
    partner_accounts: list[PartnerAccountRef]


class MyRequestView(ApiModel):
    id: str
    state: str
    expiration_date_time: datetime


class EngagementView(ApiModel):
    id: str
    program_id: str | None = None
    display_name: str
    description: str
    join_policy: str
    state: str
    request_timeout_days: int
    inactivity_days: int
    terms_of_use: str | None = None
    terms_of_use_version: str
    has_own_terms_of_use: bool
    my_roles: list[str]
    my_access_request: MyRequestView | None = None
    audience: AudienceView | None = None
    created_date_time: datetime
    closed_date_time: datetime | None = None


class EngagementList(ApiModel):
    value: list[EngagementView]


def engagement_view(
    engagement: Engagement,
    *,
    language: str,
    roles: list[str],
    with_terms: bool = False,
    pending: AccessRequest | None = None,
    audience: list[tuple[uuid.UUID, str]] | None = None,
    show_audience: bool = False,
) -> dict[str, Any]:
    """An engagement as the caller sees it (the audience for its owners only)."""
    terms, version = service.terms_of(engagement, language)
    view: dict[str, Any] = {
        "id": str(engagement.id),
        "programId": str(engagement.program_id) if engagement.program_id else None,
        "displayName": engagement.display_name,
        "description": engagement.description,
        "joinPolicy": engagement.join_policy,
        "state": engagement.state,
        "requestTimeoutDays": engagement.request_timeout_days,
        "inactivityDays": engagement.inactivity_days,
        "termsOfUse": terms if with_terms else None,
        "termsOfUseVersion": version,
        "hasOwnTermsOfUse": engagement.terms_of_use is not None,
        "myRoles": roles,
        "myAccessRequest": None,
        "audience": None,
        "createdDateTime": engagement.created_at,
        "closedDateTime": engagement.closed_at,
    }
    if pending is not None:
        view["myAccessRequest"] = {
            "id": str(pending.id),
            "state": pending.state,
            "expirationDateTime": pending.expires_at,
        }
    if show_audience:
        view["audience"] = {
            "allPartnerAccounts": engagement.all_partner_accounts,
            "partnerAccounts": [
                {"id": str(account_id), "displayName": name} for account_id, name in audience or []
            ],
        }
    return view


# --- access requests --------------------------------------------------------------------------


class AccessRequestCreate(ApiModel):
    justification: str | None = Field(default=None, max_length=10_000)
    accept_terms_of_use: bool = False


class DecisionBody(ApiModel):
    justification: str | None = Field(default=None, max_length=10_000)


class PersonRef(ApiModel):
    id: str
    display_name: str
    mail: str


class AccessRequestView(ApiModel):
    id: str
    state: str
    engagement_id: str
    engagement_display_name: str
    requester: PersonRef
    organization: str
    justification: str
    terms_of_use_version: str
    created_date_time: datetime
    expiration_date_time: datetime
    completed_date_time: datetime | None = None
    approver_justification: str | None = None


class AccessRequestList(ApiModel):
    value: list[AccessRequestView]
    next_link: str | None = Field(default=None, alias="@odata.nextLink")


def request_view(row: RequestRow) -> dict[str, Any]:
    request, requester = row.request, row.requester
    return {
        "id": str(request.id),
        "state": request.state,
        "engagementId": str(request.engagement_id),
        "engagementDisplayName": row.engagement.display_name,
        "requester": {
            "id": str(requester.id),
            "displayName": requester.display_name,
            "mail": requester.mail or requester.user_principal_name,
        },
        "organization": row.organization,
        "justification": request.justification,
        "termsOfUseVersion": request.terms_version,
        "createdDateTime": request.created_at,
        "expirationDateTime": request.expires_at,
        "completedDateTime": request.decided_at,
        "approverJustification": request.decision_justification,
    }


# --- members ----------------------------------------------------------------------------------


class MembersAdd(ApiModel):
    user_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    role: EngagementRole = "participant"
    send_invitation: bool = False


class MemberView(ApiModel):
    user_id: str
    display_name: str
    mail: str
    organization: str | None = None
    roles: list[str]
    added_date_time: datetime
    last_access_date_time: datetime


class OrganizationCount(ApiModel):
    partner_account_id: str | None = None
    display_name: str | None = None
    member_count: int


class MemberList(ApiModel):
    value: list[MemberView]
    organizations: list[OrganizationCount]
    next_link: str | None = Field(default=None, alias="@odata.nextLink")


class MembersAdded(ApiModel):
    value: list[MemberView]


class CandidateView(ApiModel):
    id: str
    display_name: str
    mail: str
    organization: str
    roles: list[str]


class CandidateList(ApiModel):
    value: list[CandidateView]


def member_view(row: MemberRow) -> dict[str, Any]:
    member, user = row.member, row.user
    return {
        "userId": str(user.id),
        "displayName": user.display_name,
        "mail": user.mail or user.user_principal_name,
        "organization": row.organization,
        "roles": member.roles(),
        "addedDateTime": member.added_at,
        "lastAccessDateTime": member.last_access_at,
    }


def organizations_view(
    organizations: list[Organization], *, owner: bool, own_account: uuid.UUID | None
) -> list[dict[str, Any]]:
    """Each organization's member count; a Power User sees the others by name only."""
    return [
        {
            "partnerAccountId": str(o.partner_account_id)
            if owner or o.partner_account_id == own_account
            else None,
            "displayName": o.display_name,
            "memberCount": o.member_count,
        }
        for o in organizations
        if o.partner_account_id is not None or owner
    ]


def roles_of(member: EngagementMember | None) -> list[str]:
    return member.roles() if member is not None else []


ProgramView.model_rebuild()
