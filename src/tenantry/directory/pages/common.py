"""What the directory's pages share: the user a path names, the checks of a user's names,
the usage locations to choose from, the licenses a form ticked."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.i18n import translate
from tenantry.dependencies import Principal, parse_id
from tenantry.directory import users as directory_users
from tenantry.directory.constants import USAGE_LOCATIONS
from tenantry.directory.models import User

MAX_NAME = 256
MAX_PART_NAME = 128


async def user_of(db_session: AsyncSession, admin: Principal, user_id: str) -> User:
    """The user of the admin's organization whose id the page's path carries (404 otherwise)."""
    return await directory_users.get(
        db_session=db_session, tenant_id=admin.tenant.id, user_id=parse_id(user_id, what="user")
    )


def location_choices() -> list[str]:
    """The usage locations a form offers (two-letter country codes)."""
    return sorted(USAGE_LOCATIONS)


def check_names(language: str, entered: dict[str, Any]) -> str | None:
    """Why the names cannot be used, or None."""
    if not entered["display_name"] or len(entered["display_name"]) > MAX_NAME:
        return translate(language, "web.users.error.display_name", max=MAX_NAME)
    if len(entered["given_name"]) > MAX_PART_NAME or len(entered["surname"]) > MAX_PART_NAME:
        return translate(language, "web.users.error.name_too_long", max=MAX_PART_NAME)
    return None


def sku_ids(values: list[Any]) -> list[uuid.UUID]:
    """The distinct SKU ids among the first 20 values a license form sent (others ignored)."""
    chosen: list[uuid.UUID] = []
    for value in values[:20]:
        try:
            sku_id = uuid.UUID(str(value))
        except ValueError:
            continue
        if sku_id not in chosen:
            chosen.append(sku_id)
    return chosen
