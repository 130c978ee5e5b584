"""Partner program errors."""

from __future__ import annotations

from typing import Any

from tenantry.core.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidRequest,
    NotFound,
    TenantryError,
)
from tenantry.core.i18n import DEFAULT_LANGUAGE, translate


def _translated(
    error: TenantryError,
    language: str,
    target: str | None,
    *,
    details: dict[str, Any] | None = None,
    **params: str,
) -> None:
    key = f"error.{error.message_key or error.code}"
    TenantryError.__init__(
        error, translate(language, key, **params), target=target, details=details
    )


class UserNotFound(NotFound):
    code = "userNotFound"

    def __init__(self, email: str) -> None:
        super().__init__(f"No user signs in as {email}.", target="email")


class NotAnOperator(NotFound):
    code = "operatorNotFound"

    def __init__(self, email: str) -> None:
        super().__init__(f"{email} is not an operator.", target="email")


class AlreadyAnOperator(Conflict):
    code = "operatorAlreadyExists"

    def __init__(self, email: str) -> None:
        super().__init__(f"{email} is already an operator.", target="email")


class UnsupportedLanguage(InvalidRequest):
    code = "unsupportedLanguage"


class AgreementVersionExists(Conflict):
    code = "agreementVersionExists"


class InvalidAgreement(InvalidRequest):
    code = "invalidAgreement"


class PublisherNameTooLong(InvalidRequest):
    code = "publisherNameTooLong"

    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        _translated(self, language, "publisherDisplayName")


class PublisherNameRequired(InvalidRequest):
    code = "publisherNameRequired"

    def __init__(self) -> None:
        super().__init__("Enter a publisher display name.", target="publisherDisplayName")


class ReservedNameExists(Conflict):
    code = "reservedNameExists"


class ReservedNameNotFound(NotFound):
    code = "reservedNameNotFound"


# --- enrollment refusals ---------------------------------------------------------------------


class NotGlobalAdministrator(Forbidden):
    code = "notGlobalAdministrator"

    def __init__(self, language: str) -> None:
        _translated(self, language, None)


class PublisherNameTaken(Conflict):
    code = "publisherNameTaken"

    def __init__(self, language: str) -> None:
        _translated(self, language, "publisherDisplayName")


class PublisherNameReserved(InvalidRequest):
    code = "publisherNameReserved"

    def __init__(self, language: str) -> None:
        _translated(self, language, "publisherDisplayName")


class AccountTypeNotSupported(InvalidRequest):
    code = "accountTypeNotSupported"

    def __init__(self, language: str) -> None:
        _translated(self, language, "accountType")


class InvalidCountryOrRegion(InvalidRequest):
    code = "invalidCountryOrRegion"

    def __init__(self, language: str) -> None:
        _translated(self, language, "countryOrRegion")


class InvalidPhoneNumber(InvalidRequest):
    code = "invalidPhoneNumber"

    def __init__(self, language: str, field: str) -> None:
        _translated(self, language, field, field=field)


class InvalidContactEmail(InvalidRequest):
    code = "invalidEmail"

    def __init__(self, language: str, field: str) -> None:
        _translated(self, language, field)


class AgreementNotAccepted(InvalidRequest):
    code = "agreementNotAccepted"

    def __init__(self, language: str) -> None:
        _translated(self, language, "agreement")


class PartnerAccountExists(Conflict):
    code = "partnerAccountExists"

    def __init__(self, language: str) -> None:
        _translated(self, language, None)


class PartnerAccountNotFound(NotFound):
    code = "partnerAccountNotFound"

    def __init__(self, language: str) -> None:
        _translated(self, language, "id")


class CountryImmutable(InvalidRequest):
    code = "countryImmutable"

    def __init__(self, language: str) -> None:
        _translated(self, language, "countryOrRegion")


class AccountTypeImmutable(InvalidRequest):
    code = "accountTypeImmutable"

    def __init__(self, language: str) -> None:
        _translated(self, language, "accountType")


class ApprovalLinkInvalid(NotFound):
    code = "approvalLinkInvalid"

    def __init__(self, language: str) -> None:
        _translated(self, language, "token")


class ApprovalLinkExpired(Gone):
    code = "approvalLinkExpired"

    def __init__(self, language: str) -> None:
        _translated(self, language, "token")


class NotOperator(Forbidden):
    code = "notOperator"

    def __init__(self, language: str) -> None:
        _translated(self, language, None)


class PartnerAccountStateConflict(Conflict):
    code = "partnerAccountStateConflict"

    def __init__(self, language: str, state: str, next_state: str) -> None:
        _translated(self, language, "state", state=state, next_state=next_state)


# --- members, linked tenants, the acting account ---------------------------------------------


class PartnerRoleRequired(Forbidden):
    code = "partnerRoleRequired"

    def __init__(self, language: str) -> None:
        _translated(self, language, None)


class OwnerRoleRequired(Forbidden):
    code = "ownerRoleRequired"

    def __init__(self, language: str) -> None:
        _translated(self, language, "roles")


class LastOwner(Conflict):
    code = "lastOwner"

    def __init__(self, language: str) -> None:
        _translated(self, language, None)


class InvalidPartnerRole(InvalidRequest):
    code = "invalidPartnerRole"

    def __init__(self, language: str, roles: str) -> None:
        _translated(self, language, "roles", roles=roles)


class NoMembersGiven(InvalidRequest):
    code = "noMembersGiven"

    def __init__(self, language: str) -> None:
        _translated(self, language, None)


class TooManyPartnerMembers(InvalidRequest):
    code = "tooManyMembers"
    message_key = "partnerTooManyMembers"

    def __init__(self, language: str, limit: int) -> None:
        _translated(self, language, None, limit=str(limit))


class PartnerUsersNotFound(NotFound):
    """Users that are not users of a tenant linked to the account: unknown ids and another
    organization's users alike, so nothing says which is which."""

    code = "userNotFound"
    message_key = "partnerUserNotFound"

    def __init__(self, language: str, missing: list[str]) -> None:
        _translated(
            self,
            language,
            "userIds",
            details={"userIds": missing},
            users=", ".join(missing[:10]),
        )


class PartnerGroupsNotFound(NotFound):
    code = "groupNotFound"
    message_key = "partnerGroupNotFound"

    def __init__(self, language: str, missing: list[str]) -> None:
        _translated(
            self,
            language,
            "groupIds",
            details={"groupIds": missing},
            groups=", ".join(missing[:10]),
        )


class MemberNotFound(NotFound):
    code = "memberNotFound"
    message_key = "partnerMemberNotFound"

    def __init__(self, language: str) -> None:
        _translated(self, language, "id")


class TenantAlreadyLinked(Conflict):
    code = "tenantAlreadyLinked"

    def __init__(self, language: str) -> None:
        _translated(self, language, "tenantId")


class TenantNotLinked(NotFound):
    code = "tenantNotLinked"

    def __init__(self, language: str) -> None:
        _translated(self, language, "tenantId")


class EnrollingTenantUnlink(InvalidRequest):
    code = "cannotUnlinkEnrollingTenant"

    def __init__(self, language: str) -> None:
        _translated(self, language, "tenantId")


class NotTenantGlobalAdministrator(Forbidden):
    """The caller cannot show that they are a Global Administrator of the tenant to link.

    The same for a tenant that does not exist, an unmanaged one or another's: nothing says
    which."""

    code = "notTenantGlobalAdministrator"

    def __init__(self, language: str) -> None:
        _translated(self, language, "tenantId")


class NotPartnerAccountMember(Forbidden):
    """Acting for an account one is not a member of (or that does not exist: the same)."""

    code = "notPartnerAccountMember"

    def __init__(self, language: str) -> None:
        _translated(self, language, "partnerAccountId")


class GuestInviterRequired(Forbidden):
    code = "guestInviterRequired"

    def __init__(self, language: str) -> None:
        _translated(self, language, None)


class TooManyGuests(InvalidRequest):
    code = "tooManyGuests"

    def __init__(self, language: str, limit: int) -> None:
        _translated(self, language, "guests", limit=str(limit))


class NoGuestsGiven(InvalidRequest):
    code = "noGuestsGiven"

    def __init__(self, language: str) -> None:
        _translated(self, language, "guests")
