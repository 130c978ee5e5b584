"""`/v1/accessRequests`, `/v1/me/accessRequests` (deciding and following requests) and
`/v1/programs`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.exc import IntegrityError

from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import Principal, current_principal, get_database, get_settings
from tenantry.directory.dependencies import next_link
from tenantry.engagements import access_requests, programs
from tenantry.engagements.dependencies import (
    caller_in,
    caller_language,
    engagement_id_of,
    program_id_of,
    request_id_of,
    user_id_of,
)
from tenantry.engagements.schemas import (
    AccessRequestList,
    AccessRequestView,
    DecisionBody,
    ProgramCreate,
    ProgramMembersAdd,
    ProgramMemberView,
    ProgramUpdate,
    ProgramView,
    RequestState,
    engagement_view,
    program_view,
    request_view,
)

router = APIRouter(tags=["engagements"], responses=ERROR_RESPONSES)


# --- access requests --------------------------------------------------------------------------


@router.get("/v1/accessRequests", response_model=AccessRequestList)
async def list_requests(
    request: Request,
    state: RequestState | None = Query(None),
    engagement_id: str | None = Query(None, alias="engagementId", max_length=100),
    top: int = Query(100, alias="$top", ge=1, le=999),
    skiptoken: str | None = Query(None, alias="$skiptoken", max_length=500),
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """The requests the caller may decide (owners: their engagements'; a Power User: their
    own organization's), oldest first; `state=pendingApproval` for the approvals to do."""
    language = caller_language(request, principal)
    key = engagement_id_of(engagement_id, language) if engagement_id else None
    async with database.unit_of_work(readonly=True) as db_session:
        caller = await caller_in(db_session, request, principal)
        rows, token = await access_requests.to_decide(
            db_session=db_session,
            caller=caller,
            state=state,
            engagement_id=key,
            top=top,
            skip_token=skiptoken,
        )
    return {
        "value": [request_view(row) for row in rows],
        "@odata.nextLink": next_link(request, token),
    }


@router.get("/v1/me/accessRequests", response_model=AccessRequestList)
async def my_requests(
    request: Request,
    state: RequestState | None = Query(None),
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """The caller's own requests, newest first."""
    async with database.unit_of_work(readonly=True) as db_session:
        caller = await caller_in(db_session, request, principal)
        rows = await access_requests.of_requester(db_session=db_session, caller=caller, state=state)
    return {"value": [request_view(row) for row in rows]}


@router.get("/v1/accessRequests/{access_request_id}", response_model=AccessRequestView)
async def get_request(
    access_request_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """A request, for its requester and its deciders."""
    key = request_id_of(access_request_id, caller_language(request, principal))
    async with database.unit_of_work(readonly=True) as db_session:
        caller = await caller_in(db_session, request, principal)
        found = await access_requests.get(db_session=db_session, caller=caller, request_id=key)
        return request_view(await access_requests.row_of(db_session, found))


def _decision_route(action: str) -> None:
    async def handler(
        access_request_id: str,
        request: Request,
        body: DecisionBody | None = None,
        principal: Principal = Depends(current_principal),
        database: Database = Depends(get_database),
        settings: Settings = Depends(get_settings),
    ) -> dict[str, Any]:
        key = request_id_of(access_request_id, caller_language(request, principal))
        async for attempt in database.attempts(retry_on=IntegrityError):
            async with attempt as db_session:
                caller = await caller_in(db_session, request, principal)
                if action == "cancel":
                    found = await access_requests.cancel(
                        db_session=db_session, caller=caller, request_id=key
                    )
                else:
                    found = await access_requests.decide(
                        db_session=db_session,
                        caller=caller,
                        request_id=key,
                        approve=action == "approve",
                        justification=body.justification if body is not None else None,
                        base_url=settings.base_url,
                    )
                view = request_view(await access_requests.row_of(db_session, found))
        return view

    handler.__name__ = f"{action}_request"
    handler.__doc__ = {
        "approve": "An owner or a Power User of the requester's organization approves: the "
        "requester becomes a Participant and is emailed (with the note, if any).",
        "deny": "An owner or a Power User of the requester's organization denies; the "
        "requester is emailed (with the note, if any) and may ask again.",
        "cancel": "The requester withdraws a pending request.",
    }[action]
    router.post(
        f"/v1/accessRequests/{{access_request_id}}/{action}", response_model=AccessRequestView
    )(handler)


for _action in ("approve", "deny", "cancel"):
    _decision_route(_action)


# --- programs ---------------------------------------------------------------------------------


@router.post("/v1/programs", status_code=201, response_model=ProgramView)
async def create_program(
    body: ProgramCreate,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """Operator: a new program; they become its Program Owner."""
    async with database.unit_of_work() as db_session:
        caller = await caller_in(db_session, request, principal)
        program = await programs.create(
            db_session=db_session,
            caller=caller,
            display_name=body.display_name,
            description=body.description,
        )
        return program_view(program, {"owner"}, [])


@router.get("/v1/programs", response_model=list[ProgramView])
async def list_programs(
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> list[dict[str, Any]]:
    """The programs the caller holds a role in or takes part in."""
    async with database.unit_of_work(readonly=True) as db_session:
        caller = await caller_in(db_session, request, principal)
        found = await programs.list_visible(db_session=db_session, caller=caller)
        return [
            program_view(program, await programs.roles_in(db_session, caller, program.id))
            for program in found
        ]


@router.get("/v1/programs/{program_id}", response_model=ProgramView)
async def get_program(
    program_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """A program's landing page: its description and the caller's engagements in it."""
    key = program_id_of(program_id, caller_language(request, principal))
    async with database.unit_of_work(readonly=True) as db_session:
        caller = await caller_in(db_session, request, principal)
        program, roles = await programs.get(db_session=db_session, caller=caller, program_id=key)
        engagements = await programs.engagements_of(
            db_session=db_session, caller=caller, program=program, roles=roles
        )
        return program_view(
            program,
            roles,
            [engagement_view(e, language=caller.language, roles=[]) for e in engagements],
        )


@router.patch("/v1/programs/{program_id}", response_model=ProgramView)
async def update_program(
    program_id: str,
    body: ProgramUpdate,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> dict[str, Any]:
    """Program Owners: change its name or description."""
    key = program_id_of(program_id, caller_language(request, principal))
    async with database.unit_of_work() as db_session:
        caller = await caller_in(db_session, request, principal)
        program = await programs.update(
            db_session=db_session,
            caller=caller,
            program_id=key,
            display_name=body.display_name,
            description=body.description,
        )
        return program_view(program, await programs.roles_in(db_session, caller, key))


@router.get("/v1/programs/{program_id}/members", response_model=list[ProgramMemberView])
async def program_members(
    program_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> list[dict[str, Any]]:
    """Who holds which role in the program (for its role holders)."""
    key = program_id_of(program_id, caller_language(request, principal))
    async with database.unit_of_work(readonly=True) as db_session:
        caller = await caller_in(db_session, request, principal)
        rows = await programs.members(db_session=db_session, caller=caller, program_id=key)
    return [
        {
            "userId": str(role.user_id),
            "displayName": name,
            "userPrincipalName": address,
            "role": role.role,
        }
        for role, name, address in rows
    ]


@router.post("/v1/programs/{program_id}/members", status_code=204)
async def add_program_members(
    program_id: str,
    body: ProgramMembersAdd,
    request: Request,
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> Response:
    """Program Owners: give operators a role in the program (`engagementCreator`: may create
    engagements in it; `contentPublisher`; `owner`)."""
    key = program_id_of(program_id, caller_language(request, principal))
    async for attempt in database.attempts(retry_on=IntegrityError):
        async with attempt as db_session:
            caller = await caller_in(db_session, request, principal)
            await programs.add_member(
                db_session=db_session,
                caller=caller,
                program_id=key,
                user_ids=body.user_ids,
                role=body.role,
            )
    return Response(status_code=204)


@router.delete("/v1/programs/{program_id}/members/{user_id}", status_code=204)
async def remove_program_member(
    program_id: str,
    user_id: str,
    request: Request,
    role: str = Query(pattern="^(owner|engagementCreator|contentPublisher)$"),
    principal: Principal = Depends(current_principal),
    database: Database = Depends(get_database),
) -> Response:
    """Program Owners: take a role in the program from someone (never the last owner)."""
    language = caller_language(request, principal)
    key = program_id_of(program_id, language)
    member_id = user_id_of(user_id, language)
    async with database.unit_of_work() as db_session:
        caller = await caller_in(db_session, request, principal)
        await programs.remove_member(
            db_session=db_session, caller=caller, program_id=key, user_id=member_id, role=role
        )
    return Response(status_code=204)
