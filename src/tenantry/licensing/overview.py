"""Read-only license summaries for the admin center's lists and alerts (set-based queries)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.directory.models import User
from tenantry.licensing.models import (
    ACTIVE_WITH_ERROR,
    CONSUMING_STATES,
    ERROR,
    LicenseAssignment,
)

PROBLEM_STATES = (ERROR, ACTIVE_WITH_ERROR)


@dataclass(frozen=True)
class AssignmentProblem:
    """Users of one SKU whose assignments are in error for one reason."""

    sku_id: uuid.UUID
    error: str
    users: int


async def skus_by_user(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The SKUs each of these users holds now (any source, merged), in one query."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = await db_session.execute(
        select(LicenseAssignment.user_id, LicenseAssignment.sku_id)
        .where(
            LicenseAssignment.tenant_id == tenant_id,
            LicenseAssignment.user_id.in_(ids),
            LicenseAssignment.state.in_(CONSUMING_STATES),
        )
        .distinct()
    )
    held: dict[uuid.UUID, list[uuid.UUID]] = {user_id: [] for user_id in ids}
    for user_id, sku_id in rows.all():
        held[user_id].append(sku_id)
    return held


async def problems(*, db_session: AsyncSession, tenant_id: uuid.UUID) -> list[AssignmentProblem]:
    """License assignments in error, counted per SKU and error code (for the home's alerts)."""
    rows = await db_session.execute(
        select(
            LicenseAssignment.sku_id,
            LicenseAssignment.error,
            func.count(LicenseAssignment.user_id.distinct()),
        )
        .where(
            LicenseAssignment.tenant_id == tenant_id,
            LicenseAssignment.state.in_(PROBLEM_STATES),
        )
        .group_by(LicenseAssignment.sku_id, LicenseAssignment.error)
        .order_by(LicenseAssignment.sku_id, LicenseAssignment.error)
    )
    return [
        AssignmentProblem(sku_id=sku_id, error=error or "Other", users=count)
        for sku_id, error, count in rows.all()
    ]


async def users_with_problems(
    *, db_session: AsyncSession, tenant_id: uuid.UUID, limit: int = 5
) -> list[User]:
    """A few users whose license assignments are in error, by name (for links to fix them)."""
    in_error = (
        select(LicenseAssignment.user_id)
        .where(
            LicenseAssignment.tenant_id == tenant_id,
            LicenseAssignment.state.in_(PROBLEM_STATES),
        )
        .distinct()
    )
    query = (
        select(User)
        .where(User.tenant_id == tenant_id, User.id.in_(in_error))
        .order_by(User.display_name_key, User.id)
        .limit(limit)
    )
    return list((await db_session.scalars(query)).all())
