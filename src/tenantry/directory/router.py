"""`/v1/me` and `/v1/users` routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.core.security import hash_password
from tenantry.dependencies import (
    Principal,
    actor_of,
    current_principal,
    get_catalog,
    get_db,
    get_read_db,
    require_role,
)
from tenantry.directory import service as directory_service
from tenantry.directory.constants import Role
from tenantry.directory.schemas import MeView, UserCreate, UserView, user_view
from tenantry.licensing import service as licensing_service
from tenantry.signup.flows import check_password_strength

router = APIRouter(prefix="/v1", tags=["directory"], responses=ERROR_RESPONSES)


@router.get("/me", response_model=MeView)
async def me(
    principal: Principal = Depends(current_principal),
    db_session: AsyncSession = Depends(get_read_db),
    catalog: Catalog = Depends(get_catalog),
) -> dict[str, Any]:
    """The signed-in user, their tenant, roles and effective entitlements."""
    user = principal.user
    roles = await directory_service.roles_of(
        db_session=db_session, tenant_id=user.tenant_id, user_id=user.id
    )
    entitlements = await licensing_service.entitlements_of(
        db_session=db_session, catalog=catalog, user_id=user.id
    )
    view = user_view(user)
    return view | {
        "roles": roles,
        "entitlements": entitlements.limits,
        "servicePlans": entitlements.service_plans,
        "user": view,
    }


@router.post("/users", status_code=201, response_model=UserView)
async def create_user(
    body: UserCreate,
    request: Request,
    principal: Principal = Depends(require_role(Role.USER_ADMINISTRATOR)),
    db_session: AsyncSession = Depends(get_db),
) -> dict[str, Any]:
    """Add a user to the caller's tenant."""
    check_password_strength(body.password, email=body.user_principal_name)
    password_hash = await hash_password(body.password)
    user = await directory_service.create(
        db_session=db_session,
        actor=actor_of(request, principal),
        tenant_id=principal.tenant.id,
        principal_name=body.user_principal_name,
        display_name=body.display_name,
        password_hash=password_hash,
        usage_location=body.usage_location.upper() if body.usage_location else None,
        given_name=body.given_name,
        surname=body.surname,
    )
    return user_view(user)
