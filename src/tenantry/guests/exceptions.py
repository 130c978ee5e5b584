"""Invitation and redemption errors, each with its own stable code.

Codes, attempts and resends of the one-time code are sign-up's (`invalidCode`,
`codeExpired`, `tooManyAttempts`, `resendThrottled`, `passwordTooWeak`:
`tenantry.signup.exceptions`), so a client handles them once.
"""

from __future__ import annotations

from tenantry.core.errors import Conflict, Forbidden, Gone, InvalidRequest, NotFound

EMAIL = "invitedUserEmailAddress"


class InvalidInvitedAddress(InvalidRequest):
    code = "invalidInvitedUserEmailAddress"

    def __init__(self, message: str) -> None:
        super().__init__(message, target=EMAIL)


class AddressInOwnDomain(InvalidRequest):
    code = "invitedAddressInOwnDomain"

    def __init__(self, domain: str) -> None:
        super().__init__(
            f"{domain} is a verified domain of your organization: add its people as members "
            "(POST /v1/users) rather than inviting them as guests.",
            target=EMAIL,
            details={"domain": domain},
        )


class CannotInviteYourself(InvalidRequest):
    code = "cannotInviteYourself"

    def __init__(self) -> None:
        super().__init__("You cannot invite your own address.", target=EMAIL)


class InvitedUserIsMember(Conflict):
    code = "invitedUserIsMember"

    def __init__(self) -> None:
        super().__init__(
            "A member of your organization already signs in with this address.", target=EMAIL
        )


class InvitedUserTypeNotSupported(InvalidRequest):
    code = "invitedUserTypeNotSupported"

    def __init__(self) -> None:
        super().__init__(
            "Only guests are invited here (invitedUserType Guest): add members with "
            "POST /v1/users.",
            target="invitedUserType",
        )


class ResetRedemptionNotSupported(InvalidRequest):
    code = "resetRedemptionNotSupported"

    def __init__(self) -> None:
        super().__init__(
            "Resetting a guest's redemption is not supported: delete the guest and invite "
            "the address again.",
            target="resetRedemption",
        )


class InvalidRedirectUrl(InvalidRequest):
    code = "invalidInviteRedirectUrl"

    def __init__(self) -> None:
        super().__init__(
            "inviteRedirectUrl must be an absolute http or https address, such as "
            "https://myapp.contoso.com.",
            target="inviteRedirectUrl",
        )


class InvalidCcRecipients(InvalidRequest):
    code = "invalidCcRecipients"

    def __init__(self, message: str) -> None:
        super().__init__(message, target="invitedUserMessageInfo.ccRecipients")


class InvalidMessage(InvalidRequest):
    code = "invalidInvitationMessage"

    def __init__(self, message: str) -> None:
        super().__init__(message, target="invitedUserMessageInfo.customizedMessageBody")


class GuestNotFound(NotFound):
    code = "guestNotFound"

    def __init__(self) -> None:
        super().__init__("This user is not a guest of your organization.", target="id")


class InvitationAlreadyAccepted(Conflict):
    code = "invitationAlreadyAccepted"

    def __init__(self) -> None:
        super().__init__("This guest has already accepted the invitation.")


class InvitationLinkInvalid(NotFound):
    code = "invitationLinkInvalid"

    def __init__(self) -> None:
        super().__init__(
            "This invitation link is not valid: it was replaced by a newer invitation, or the "
            "guest was removed. Ask the person who invited you to send it again."
        )


class InvitationLinkExpired(Gone):
    code = "invitationLinkExpired"

    def __init__(self) -> None:
        super().__init__(
            "This invitation link has expired. Ask the person who invited you to send it again."
        )


class InvitationForAnotherAccount(Forbidden):
    code = "invitationForAnotherAccount"

    def __init__(self) -> None:
        super().__init__(
            "This invitation is for another address: sign in with the invited address, or "
            "prove it with a code sent there."
        )


class AddressHasAccount(Conflict):
    code = "invitedAddressHasAccount"

    def __init__(self) -> None:
        super().__init__(
            "This address already has a Tenantry account: sign in with it to accept the invitation."
        )


class CodeNotSent(InvalidRequest):
    code = "codeNotSent"

    def __init__(self) -> None:
        super().__init__("Ask for a code first: it is sent to the invited address.")
