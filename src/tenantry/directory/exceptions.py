"""Directory errors, each with its own stable code."""

from __future__ import annotations

from tenantry.core.errors import Conflict, Forbidden, InvalidRequest, NotFound, TenantryError


class UserAlreadyExists(Conflict):
    code = "userAlreadyExists"


class ConfusableUserName(UserAlreadyExists):
    """An address that looks like one of the organization's (Unicode UTS #39 skeletons)."""

    code = "confusableUserName"


class InvalidUserPrincipalName(InvalidRequest):
    code = "invalidUserPrincipalName"


class InvitationRequired(InvalidRequest):
    """Guests are invited (`POST /v1/invitations`), never created as users."""

    code = "invitationRequired"

    def __init__(self) -> None:
        super().__init__(
            "Guests are invited: send an invitation (POST /v1/invitations) to their address.",
            target="source",
        )


class UnverifiedDomain(InvalidRequest):
    code = "invalidUserPrincipalNameDomain"


class InvalidCountryCode(InvalidRequest):
    """A `usageLocation` that is not an ISO 3166-1 alpha-2 code.

    Not licensing's `invalidUsageLocation`, which refuses a license to a user
    who has no usage location.
    """

    code = "invalidCountryCode"


class InvalidValue(InvalidRequest):
    code = "invalidValue"


class PropertyManagedBySync(InvalidRequest):
    code = "propertyManagedBySync"


class InvalidCurrentPassword(InvalidRequest):
    code = "invalidCurrentPassword"


class PasswordChangedMeanwhile(Conflict):
    code = "passwordChangedMeanwhile"

    def __init__(self) -> None:
        super().__init__(
            "Your password was changed a moment ago, in another session. "
            "Use the new password, or ask an administrator to reset it."
        )


class InvalidFilter(InvalidRequest):
    code = "invalidFilter"


class InvalidSearch(InvalidRequest):
    code = "invalidSearch"


class InvalidOrderBy(InvalidRequest):
    code = "invalidOrderBy"


class InvalidSkipToken(InvalidRequest):
    code = "invalidSkipToken"


class LastGlobalAdministrator(Conflict):
    code = "lastGlobalAdministrator"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "The organization must keep at least one Global Administrator who can sign in. "
            "Make someone else Global Administrator first."
        )


class AdministratorProtected(Forbidden):
    """Only a Global Administrator may change, block or delete another administrator.

    Its own code, not `accessDenied`: the caller holds the role the route needs,
    but the user they act on is protected.
    """

    code = "adminProtected"

    def __init__(self) -> None:
        super().__init__(
            "This user is an administrator: only a Global Administrator can change, block, "
            "delete or reset the password of an administrator."
        )


class UnknownRole(NotFound):
    code = "roleNotFound"

    def __init__(self, role_id: str) -> None:
        super().__init__(f"There is no directory role {role_id!r}.", target="roleId")


class UsersNotFound(NotFound):
    code = "userNotFound"

    def __init__(self, user_ids: list[str]) -> None:
        super().__init__(
            "These users do not exist in your organization: " + ", ".join(user_ids[:10]),
            target="userIds",
            details={"userIds": user_ids},
        )


class NotAMember(NotFound):
    code = "memberNotFound"


class TooManyMembers(InvalidRequest):
    code = "tooManyMembers"


class InvalidCsv(InvalidRequest):
    code = "invalidCsv"


class TooManyRows(InvalidRequest):
    code = "tooManyRows"


class RequestTooLarge(TenantryError):
    status_code = 413
    code = "requestTooLarge"


class UnsupportedMediaType(TenantryError):
    status_code = 415
    code = "unsupportedMediaType"
