"""`/v1/engagements`: create and change (operators), find, open, join, request access, members."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.exc import IntegrityError

from tenantry.core.clock import clock
from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import Principal, current_principal, get_database, get_settings
from tenantry.directory.dependencies import next_link
from tenantry.engagements import access, access_requests, members, service
from tenantry.engagements.dependencies import (
    caller_in,
    caller_language,
    engagement_id_of,
    user_id_of,
)
from tenantry.engagements.schemas import (
    AccessRequestCreate,
    AccessRequestView,
    CandidateList,
    EngagementCreate,
    EngagementList,
    EngagementUpdate,
    EngagementView,
    JoinBody,
    MemberList,
    MembersAdd,
    MembersAdded,
    engagement_view,
    member_view,
    organizations_view,
    request_view,
)

router = APIRouter(tags=["engagements"], responses=ERROR_RESPONSES)
ROLE_QUERY = Query(None, pattern="^(participant|powerUser|contentPublisher|owner)$")


@router.post("/v1/engagements", status_code=201, response_model=EngagementView)
async def create_engagement(
    body: EngagementCreate,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """Operator: a new engagement, in a program where they may create one or alone; they
    become its Engagement Owner."""
    async with database.unit_of_work() as db_session:
        caller = await caller_in(db_session, request, principal)
        engagement = await service.create(
            db_session=db_session, caller=caller, fields=body.fields()
        )
        audience = await service.audience_of(db_session, [engagement.id])
        return engagement_view(
            engagement,
            language=caller.language,
            roles=["owner"],
            with_terms=True,
            audience=audience.get(engagement.id),
            show_audience=True,
        )


@router.get("/v1/engagements", response_model=EngagementList)
async def list_engagements(
    request: Request,
    available: bool = Query(False),
    search: str | None = Query(None, max_length=200),
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """The caller's engagements; with `available=true`, those open to their partner account
    that they have not joined ("Join engagements")."""
    async with database.unit_of_work(readonly=True) as db_session:
        caller = await caller_in(db_session, request, principal)
        if available:
            found = await service.list_available(
                db_session=db_session, caller=caller, search=search
            )
            pending = {
                row.request.engagement_id: row.request
                for row in await access_requests.of_requester(
                    db_session=db_session, caller=caller, state="pendingApproval"
                )
            }
            return {
                "value": [
                    engagement_view(
                        engagement,
                        language=caller.language,
                        roles=[],
                        pending=pending.get(engagement.id),
                    )
                    for engagement in found
                ]
            }
        mine = await service.list_mine(db_session=db_session, caller=caller, search=search)
        views = []
        for engagement, member, program_owner in mine:
            roles = member.roles() if member is not None else []
            if program_owner and "owner" not in roles:
                roles.append("owner")
            views.append(engagement_view(engagement, language=caller.language, roles=roles))
        return {"value": views}


@router.get("/v1/engagements/{engagement_id}", response_model=EngagementView)
async def get_engagement(
    engagement_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """An engagement: description, terms of use, the caller's roles and pending request.
    Opening it counts as the member's access (inactivity starts again)."""
    language = caller_language(request, principal)
    key = engagement_id_of(engagement_id, language)
    async with database.unit_of_work(readonly=True) as db_session:
        caller = await caller_in(db_session, request, principal)
        seen = await access.access_to(db_session, caller, key)
        pending = await service.pending_request_of(db_session, caller, key)
        audience = await service.audience_of(db_session, [key]) if seen.is_owner else {}
        view = engagement_view(
            seen.engagement,
            language=language,
            roles=seen.roles(),
            with_terms=True,
            pending=pending,
            audience=audience.get(key),
            show_audience=seen.is_owner,
        )
    now = clock.now()
    if seen.member is not None and (
        seen.member.inactivity_warning is not None
        or (now - seen.member.last_access_at).total_seconds() > 3600
    ):
        async with database.unit_of_work() as db_session:
            await service.record_access(
                db_session=db_session, caller=caller, engagement_id=key, now=now
            )
    return view


@router.patch("/v1/engagements/{engagement_id}", response_model=EngagementView)
async def update_engagement(
    engagement_id: str,
    body: EngagementUpdate,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """Owners: change the engagement (new terms of use are a new version)."""
    key = engagement_id_of(engagement_id, caller_language(request, principal))
    async with database.unit_of_work() as db_session:
        caller = await caller_in(db_session, request, principal)
        engagement = await service.update(
            db_session=db_session, caller=caller, engagement_id=key, fields=body.fields()
        )
        audience = await service.audience_of(db_session, [key])
        return engagement_view(
            engagement,
            language=caller.language,
            roles=["owner"],
            with_terms=True,
            audience=audience.get(key),
            show_audience=True,
        )


@router.post("/v1/engagements/{engagement_id}/close", response_model=EngagementView)
async def close_engagement(
    engagement_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """Owners: close the engagement; it takes no one new and its pending requests end."""
    key = engagement_id_of(engagement_id, caller_language(request, principal))
    async with database.unit_of_work() as db_session:
        caller = await caller_in(db_session, request, principal)
        engagement = await service.close(db_session=db_session, caller=caller, engagement_id=key)
        return engagement_view(engagement, language=caller.language, roles=["owner"])


@router.post("/v1/engagements/{engagement_id}/join", status_code=201, response_model=EngagementView)
async def join_engagement(
    engagement_id: str,
    body: JoinBody,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """Join an engagement that needs no approval, accepting its terms of use; 409
    `approvalRequired` for one that does."""
    key = engagement_id_of(engagement_id, caller_language(request, principal))
    async for attempt in database.attempts(retry_on=IntegrityError):
        async with attempt as db_session:
            caller = await caller_in(db_session, request, principal)
            engagement, member = await service.join(
                db_session=db_session,
                caller=caller,
                engagement_id=key,
                accept_terms=body.accept_terms_of_use,
            )
            view = engagement_view(
                engagement, language=caller.language, roles=member.roles(), with_terms=True
            )
    return view


@router.post(
    "/v1/engagements/{engagement_id}/accessRequests",
    status_code=201,
    response_model=AccessRequestView,
)
async def request_access(
    engagement_id: str,
    body: AccessRequestCreate,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """Ask for access to an engagement that needs approval, with a justification and the
    terms of use accepted; its owners and your organization's Power Users are emailed."""
    key = engagement_id_of(engagement_id, caller_language(request, principal))
    async for attempt in database.attempts(retry_on=IntegrityError):
        async with attempt as db_session:
            caller = await caller_in(db_session, request, principal)
            submitted = await access_requests.submit(
                db_session=db_session,
                caller=caller,
                engagement_id=key,
                justification=body.justification,
                accept_terms=body.accept_terms_of_use,
                requester=principal.user,
                base_url=settings.base_url,
            )
            view = request_view(await access_requests.row_of(db_session, submitted))
    return view


# --- members ----------------------------------------------------------------------------------


CSV_COLUMNS = ("displayName", "mail", "organization", "roles", "lastAccessDateTime")


def _csv(views: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for view in views:
        writer.writerow(
            [
                view["displayName"],
                view["mail"],
                view["organization"] or "",
                " ".join(view["roles"]),
                view["lastAccessDateTime"].isoformat(timespec="seconds"),
            ]
        )
    return out.getvalue()


@router.get(
    "/v1/engagements/{engagement_id}/members",
    response_model=MemberList,
    responses={200: {"content": {"text/csv": {}}}},
)
async def list_members(
    engagement_id: str,
    request: Request,
    role: str | None = ROLE_QUERY,
    search: str | None = Query(None, max_length=200),
    format: str | None = Query(None, pattern="^(json|csv)$"),
    top: int = Query(100, alias="$top", ge=1, le=10_000),
    skiptoken: str | None = Query(None, alias="$skiptoken", max_length=500),
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> Any:
    """Owners: every member with name, organization, roles and last access; a Power User:
    their own organization's, and the other organizations by name and count. Search by the
    start of a name or address; `format=csv` exports the list."""
    key = engagement_id_of(engagement_id, caller_language(request, principal))
    async with database.unit_of_work(readonly=True) as db_session:
        caller = await caller_in(db_session, request, principal)
        seen, rows, organizations, token = await members.list_members(
            db_session=db_session,
            caller=caller,
            engagement_id=key,
            role=role,
            search=search,
            top=top if format != "csv" else 10_000,
            skip_token=skiptoken,
        )
    views = [member_view(row) for row in rows]
    if format == "csv":
        return Response(
            _csv(views),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="members.csv"'},
        )
    own = seen.power_user_account
    return {
        "value": views,
        "organizations": organizations_view(organizations, owner=seen.is_owner, own_account=own),
        "@odata.nextLink": next_link(request, token),
    }


@router.post(
    "/v1/engagements/{engagement_id}/members", status_code=201, response_model=MembersAdded
)
async def add_members(
    engagement_id: str,
    body: MembersAdd,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """Owners and Power Users: give several people one role at once, optionally emailing them
    an invitation with the engagement's link."""
    key = engagement_id_of(engagement_id, caller_language(request, principal))
    async for attempt in database.attempts(retry_on=IntegrityError):
        async with attempt as db_session:
            caller = await caller_in(db_session, request, principal)
            rows = await members.add(
                db_session=db_session,
                caller=caller,
                engagement_id=key,
                user_ids=body.user_ids,
                role=body.role,
                send_invitation=body.send_invitation,
                inviter=principal.user,
                base_url=settings.base_url,
            )
            views = [member_view(row) for row in rows]
    return {"value": views}


@router.delete("/v1/engagements/{engagement_id}/members/{user_id}", status_code=204)
async def remove_member(
    engagement_id: str,
    user_id: str,
    request: Request,
    role: str | None = ROLE_QUERY,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> Response:
    """Take a role (or every role the caller manages) from a member; their partner account
    and their organization's account stay as they are."""
    language = caller_language(request, principal)
    key = engagement_id_of(engagement_id, language)
    member_id = user_id_of(user_id, language)
    async with database.unit_of_work() as db_session:
        caller = await caller_in(db_session, request, principal)
        await members.remove(
            db_session=db_session, caller=caller, engagement_id=key, user_id=member_id, role=role
        )
    return Response(status_code=204)


@router.get("/v1/engagements/{engagement_id}/memberCandidates", response_model=CandidateList)
async def member_candidates(
    engagement_id: str,
    request: Request,
    search: str | None = Query(None, max_length=200),
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """People the caller may add, by the start of a name or address: a Power User's own
    organization, an owner's engagement organizations (at most 50)."""
    key = engagement_id_of(engagement_id, caller_language(request, principal))
    async with database.unit_of_work(readonly=True) as db_session:
        caller = await caller_in(db_session, request, principal)
        found, held = await members.candidates(
            db_session=db_session, caller=caller, engagement_id=key, search=search
        )
    return {
        "value": [
            {
                "id": str(user.id),
                "displayName": user.display_name,
                "mail": user.mail or user.user_principal_name,
                "organization": account.publisher_display_name,
                "roles": held[user.id].roles() if user.id in held else [],
            }
            for user, account in found
        ]
    }
