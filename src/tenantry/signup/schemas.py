"""Sign-up request and response shapes."""

from __future__ import annotations

import uuid

from pydantic import Field

from tenantry.core.schemas import ApiModel
from tenantry.directory.schemas import UserView
from tenantry.tenants.schemas import OrganizationView


class SignupRequest(ApiModel):
    email: str = Field(min_length=3, max_length=320)
    display_name: str = Field(min_length=1, max_length=256)
    offer: str | None = Field(default=None, max_length=64)


class SignupStarted(ApiModel):
    signup_id: uuid.UUID
    email: str
    expires_in_seconds: int


class VerifyRequest(ApiModel):
    code: str = Field(min_length=1, max_length=12)
    password: str = Field(min_length=1, max_length=256)


class SignupVerified(ApiModel):
    user: UserView
    tenant: OrganizationView


class UserRealm(ApiModel):
    login: str
    domain_name: str
    tenant_exists: bool
    state: str | None
    is_viral: bool
    name_space_type: str
    signup_allowed: bool
    reason: str | None = None
