"""Domain request and response shapes (Microsoft Graph `domain`)."""

from __future__ import annotations

from pydantic import Field

from tenantry.core.schemas import ApiModel
from tenantry.tenants.schemas import DomainView


class DomainCreate(ApiModel):
    id: str = Field(min_length=1, max_length=1000, description="The domain name, e.g. contoso.com")


class DomainUpdate(ApiModel):
    is_default: bool | None = None


class ForceDelete(ApiModel):
    disable_user_accounts: bool = True


class VerificationDnsRecord(ApiModel):
    id: str
    record_type: str
    label: str
    text: str
    ttl: int
    is_optional: bool
    supported_service: str


class VerificationDnsRecords(ApiModel):
    value: list[VerificationDnsRecord]


class DomainList(ApiModel):
    value: list[DomainView]


class VerifiedDomain(DomainView):
    availability_status: str
    moved_users: int
