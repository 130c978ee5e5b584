"""User shapes (Microsoft Graph `user` names)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from tenantry.core.schemas import ApiModel
from tenantry.directory.models import User


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
    preferred_language: str | None = None
    tenant_id: uuid.UUID
    created_date_time: datetime


class MeView(UserView):
    roles: list[str]
    entitlements: dict[str, int | str]
    service_plans: list[str]
    user: UserView


class UserCreate(ApiModel):
    display_name: str = Field(min_length=1, max_length=256)
    user_principal_name: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)
    given_name: str | None = Field(default=None, max_length=128)
    surname: str | None = Field(default=None, max_length=128)
    usage_location: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    account_enabled: bool = True


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
        "preferredLanguage": user.preferred_language,
        "tenantId": str(user.tenant_id),
        "createdDateTime": user.created_at.isoformat(),
    }
