"""Partner program request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from tenantry.core.schemas import ApiModel
from tenantry.partner.accounts import Enrollment, Person
from tenantry.partner.models import PartnerAccount


class AgreementView(ApiModel):
    version: str
    language: str
    text: str


class PersonBody(ApiModel):
    name: str = Field(max_length=1000)
    email: str = Field(max_length=1000)
    phone: str = Field(max_length=100)

    def person(self) -> Person:
        return Person(name=self.name, email=self.email, phone=self.phone)


class AgreementAcceptance(ApiModel):
    version: str = Field(max_length=100)
    accepted: bool


class PartnerAccountCreate(ApiModel):
    country_or_region: str = Field(max_length=100)
    account_type: str = Field(max_length=100)
    # Longer names are refused by the service with `publisherNameTooLong`, in the caller's
    # language; this bound only keeps absurd bodies out.
    publisher_display_name: str = Field(max_length=1000)
    contact: PersonBody
    approver: PersonBody
    agreement: AgreementAcceptance

    def enrollment(self) -> Enrollment:
        return Enrollment(
            country_or_region=self.country_or_region,
            account_type=self.account_type,
            publisher_display_name=self.publisher_display_name,
            contact=self.contact.person(),
            approver=self.approver.person(),
            agreement_version=self.agreement.version,
            agreement_accepted=self.agreement.accepted,
        )


class PersonView(ApiModel):
    name: str
    email: str
    phone: str


class AgreementAcceptanceView(ApiModel):
    version: str
    accepted_date_time: datetime


class PartnerAccountView(ApiModel):
    id: str
    tenant_id: str
    state: str
    country_or_region: str
    account_type: str
    publisher_display_name: str
    contact: PersonView
    approver: PersonView
    agreement: AgreementAcceptanceView
    created_date_time: datetime


class Availability(ApiModel):
    publisher_display_name: str
    is_available: bool
    reason: str | None = None


def account_view(account: PartnerAccount) -> dict[str, Any]:
    """The API's view of a partner account."""
    return {
        "id": str(account.id),
        "tenantId": str(account.tenant_id),
        "state": account.state,
        "countryOrRegion": account.country_or_region,
        "accountType": account.account_type,
        "publisherDisplayName": account.publisher_display_name,
        "contact": {
            "name": account.contact_name,
            "email": account.contact_email,
            "phone": account.contact_phone,
        },
        "approver": {
            "name": account.approver_name,
            "email": account.approver_email,
            "phone": account.approver_phone,
        },
        "agreement": {
            "version": account.agreement_version,
            "acceptedDateTime": account.agreement_accepted_at,
        },
        "createdDateTime": account.created_at,
    }


class PartnerAccountUpdate(ApiModel):
    publisher_display_name: str | None = Field(default=None, max_length=1000)
    contact: PersonBody | None = None
    # Never changeable: accepted here only to be refused with their own codes.
    country_or_region: str | None = Field(default=None, max_length=100)
    account_type: str | None = Field(default=None, max_length=100)


class ApprovalView(ApiModel):
    publisher_display_name: str
    country_or_region: str
    contact_name: str
    state: str
    expires_date_time: datetime | None = None


def approval_view(account: PartnerAccount) -> dict[str, Any]:
    """What the approver sees behind the link: the account to confirm, nothing else."""
    return {
        "publisherDisplayName": account.publisher_display_name,
        "countryOrRegion": account.country_or_region,
        "contactName": account.contact_name,
        "state": account.state,
        "expiresDateTime": account.approval_expires_at,
    }
