"""`/v1/partnerAccounts/{id}/tenants`, `/v1/partnerAccounts/{id}/members` and
`/v1/me/partnerAccounts`: who works in a partner account, and the accounts one acts for."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import (
    Principal,
    actor_of,
    current_principal,
    get_catalog,
    get_db,
    get_read_db,
    no_store,
)
from tenantry.directory import flows as directory_flows
from tenantry.directory.dependencies import list_params, next_link
from tenantry.directory.query import ListParams
from tenantry.partner import access, acting, links, members, roster
from tenantry.partner.router import account_id_of, caller_language
from tenantry.partner.schemas import (
    LinkedTenantList,
    LinkedTenantView,
    MemberPageView,
    MemberRolesUpdate,
    MembersAdd,
    MembersAdded,
    MemberView,
    PartnerMembershipList,
    TenantLinkCreate,
    TenantUserPage,
    linked_tenant_view,
    member_view,
    membership_view,
    tenant_user_view,
)

router = APIRouter(tags=["partner"], responses=ERROR_RESPONSES)

ACCOUNT = "/v1/partnerAccounts/{partner_account_id}"


async def _reader(
    db_session: AsyncSession, principal: Principal, partner_account_id: str, language: str
) -> access.Access:
    """The account for a member or an operator; 404 for anyone else."""
    return await access.resolve(
        db_session=db_session,
        account_id=account_id_of(partner_account_id, language),
        tenant_id=principal.tenant.id,
        user_id=principal.user.id,
        language=language,
    )


# --- the caller's accounts -----------------------------------------------------------------


@router.get("/v1/me/partnerAccounts", response_model=PartnerMembershipList)
async def my_partner_accounts(
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db),
) -> dict[str, Any]:
    """The partner accounts you belong to in your organization, with your roles in each
    (your own and your groups')."""
    found = await acting.accounts_of(
        db_session=db_session, tenant_id=principal.tenant.id, user_id=principal.user.id
    )
    return {"value": [membership_view(membership) for membership in found]}


# --- linked tenants ------------------------------------------------------------------------


@router.get(f"{ACCOUNT}/tenants", response_model=LinkedTenantList)
async def list_tenants(
    partner_account_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db),
) -> dict[str, Any]:
    """The tenants linked to the account, the enrolling one first (its members, operators)."""
    rights = await _reader(
        db_session, principal, partner_account_id, caller_language(request, principal)
    )
    found = await links.list_linked(db_session=db_session, account=rights.account)
    return {"value": [linked_tenant_view(linked) for linked in found]}


@router.post(f"{ACCOUNT}/tenants", status_code=201, response_model=LinkedTenantView)
async def link_tenant(
    partner_account_id: str,
    body: TenantLinkCreate,
    request: Request,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """Link another tenant (an Owner or Manager, who shows they are a Global Administrator of
    it); nothing in its directory changes."""
    language = caller_language(request, principal)
    _, linked = await links.link(
        db_session=db_session,
        account_id=account_id_of(partner_account_id, language),
        tenant_id=_uuid_or_none(body.tenant_id),
        actor=actor_of(request, principal),
        administrator_token=body.tenant_administrator_token,
        language=language,
    )
    return linked_tenant_view(linked)


@router.delete(f"{ACCOUNT}/tenants/{{tenant_id}}", status_code=204)
async def unlink_tenant(
    partner_account_id: str,
    tenant_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> Response:
    """Unlink a tenant (not the enrolling one): its users and groups leave the account, their
    tenant accounts stay."""
    language = caller_language(request, principal)
    await links.unlink(
        db_session=db_session,
        account_id=account_id_of(partner_account_id, language),
        tenant_id=_uuid_or_none(tenant_id),
        actor=actor_of(request, principal),
        language=language,
    )
    return Response(status_code=204)


def _uuid_or_none(value: str) -> uuid.UUID | None:
    """A tenant id from the request; anything else names no tenant (the service refuses)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@router.get(f"{ACCOUNT}/tenants/{{tenant_id}}/users", response_model=TenantUserPage)
async def list_tenant_users(
    partner_account_id: str,
    tenant_id: str,
    request: Request,
    params: ListParams = Depends(list_params),
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db),
) -> dict[str, Any]:
    """A linked tenant's users, for an Owner or Manager to pick members from: `$search`,
    `$filter`, `$orderby`, `$top`, `@odata.nextLink` as `GET /v1/users`."""
    language = caller_language(request, principal)
    found = await links.tenant_users(
        db_session=db_session,
        account_id=account_id_of(partner_account_id, language),
        tenant_id=_uuid_or_none(tenant_id),
        actor=actor_of(request, principal),
        language=language,
        params=params,
    )
    view: dict[str, Any] = {"value": [tenant_user_view(user) for user in found.items]}
    link = next_link(request, found.next_skip_token)
    if link is not None:
        view["@odata.nextLink"] = link
    if found.count is not None:
        view["@odata.count"] = found.count
    return view


# --- members -------------------------------------------------------------------------------


@router.get(f"{ACCOUNT}/members", response_model=MemberPageView)
async def list_members(
    partner_account_id: str,
    request: Request,
    filter_: str | None = Query(None, alias="$filter", max_length=2000),
    top: int = Query(roster.DEFAULT_TOP, alias="$top", ge=1, le=roster.MAX_TOP),
    skiptoken: str | None = Query(None, alias="$skiptoken", max_length=2000),
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db),
) -> dict[str, Any]:
    """The account's members in the order they were added, with their roles: `$filter`
    (`tenantId eq`, `memberType eq`, `role eq`), `$top`, `@odata.nextLink`."""
    rights = await _reader(
        db_session, principal, partner_account_id, caller_language(request, principal)
    )
    page = await roster.list_members(
        db_session=db_session, rights=rights, filter_text=filter_, top=top, skip_token=skiptoken
    )
    view: dict[str, Any] = {"value": [member_view(entry) for entry in page.items]}
    link = next_link(request, page.next_skip_token)
    if link is not None:
        view["@odata.nextLink"] = link
    return view


@router.post(
    f"{ACCOUNT}/members",
    status_code=201,
    response_model=MembersAdded,
    response_model_exclude_unset=True,
    dependencies=[Depends(no_store)],  # new users' temporary passwords
)
async def add_members(
    partner_account_id: str,
    body: MembersAdd,
    request: Request,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_db, scope="function"),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """Add users and groups of the linked tenants, and new users of your own tenant (Global
    Administrator), all with the same roles (an Owner or Manager); all or nothing."""
    language = caller_language(request, principal)
    account_id = account_id_of(partner_account_id, language)
    new_users = []
    for new_user in body.new_users:
        # Hashed before the unit of work writes anything: no lock waits on a hash.
        password_hash, generated = await directory_flows.prepare_password(None)
        assert generated is not None
        new_users.append(
            members.NewUser(
                user_principal_name=new_user.user_principal_name,
                display_name=new_user.display_name,
                usage_location=new_user.usage_location,
                password_hash=password_hash,
                temporary_password=generated,
            )
        )
    added = await members.add(
        db_session=db_session,
        catalog=catalog,
        account_id=account_id,
        actor=actor_of(request, principal),
        language=language,
        roles=body.roles,
        user_keys=body.user_ids,
        group_ids=body.group_ids,
        new_users=new_users,
    )
    return {
        "value": [member_view(entry) for entry in added.members],
        "added": added.added,
        "alreadyMembers": added.already_members,
    }


@router.get(
    f"{ACCOUNT}/members/{{member_id}}",
    response_model=MemberView,
    response_model_exclude_unset=True,
)
async def get_member(
    partner_account_id: str,
    member_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db),
) -> dict[str, Any]:
    """A member, by their user's or group's id, or their sign-in address."""
    language = caller_language(request, principal)
    rights = await _reader(db_session, principal, partner_account_id, language)
    entry = await roster.get_member(
        db_session=db_session, rights=rights, key=member_id, language=language
    )
    return member_view(entry)


@router.patch(
    f"{ACCOUNT}/members/{{member_id}}",
    response_model=MemberView,
    response_model_exclude_unset=True,
)
async def set_member_roles(
    partner_account_id: str,
    member_id: str,
    body: MemberRolesUpdate,
    request: Request,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> dict[str, Any]:
    """Replace a member's roles (an Owner or Manager; the Owner role: an Owner)."""
    language = caller_language(request, principal)
    entry = await members.set_roles(
        db_session=db_session,
        account_id=account_id_of(partner_account_id, language),
        key=member_id,
        roles=body.roles,
        actor=actor_of(request, principal),
        language=language,
    )
    return member_view(entry)


@router.delete(f"{ACCOUNT}/members/{{member_id}}", status_code=204)
async def remove_member(
    partner_account_id: str,
    member_id: str,
    request: Request,
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_db, scope="function"),
) -> Response:
    """Take a member out of the account; their tenant account stays as it is."""
    language = caller_language(request, principal)
    await members.remove(
        db_session=db_session,
        account_id=account_id_of(partner_account_id, language),
        key=member_id,
        actor=actor_of(request, principal),
        language=language,
    )
    return Response(status_code=204)
