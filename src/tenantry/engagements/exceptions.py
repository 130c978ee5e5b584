"""Engagement errors: each a stable code, its message in the caller's language (`error.<code>`)."""

from __future__ import annotations

from tenantry.core.errors import Conflict, Forbidden, InvalidRequest, NotFound, TenantryError
from tenantry.core.i18n import translate


class _Translated(TenantryError):
    target_name: str | None = None

    def __init__(self, language: str, **params: str) -> None:
        super().__init__(
            translate(language, f"error.{self.code}", **params), target=self.target_name
        )


# --- 404: what the caller may not see does not exist ------------------------------------------


class EngagementNotFound(_Translated, NotFound):
    code = "engagementNotFound"
    target_name = "id"


class ProgramNotFound(_Translated, NotFound):
    code = "programNotFound"
    target_name = "id"


class AccessRequestNotFound(_Translated, NotFound):
    code = "accessRequestNotFound"
    target_name = "id"


class MemberNotFound(_Translated, NotFound):
    code = "engagementMemberNotFound"
    target_name = "userId"


# --- 403: seen, but not theirs to do ----------------------------------------------------------


class NotOperator(_Translated, Forbidden):
    code = "notOperator"


class NotEngagementCreator(_Translated, Forbidden):
    code = "notEngagementCreator"
    target_name = "programId"


class NotProgramOwner(_Translated, Forbidden):
    code = "notProgramOwner"


class NotEngagementOwner(_Translated, Forbidden):
    code = "notEngagementOwner"


class NotEngagementManager(_Translated, Forbidden):
    code = "notEngagementManager"


class CannotDecideOwnRequest(_Translated, Forbidden):
    code = "cannotDecideOwnRequest"


class NotRequester(_Translated, Forbidden):
    code = "notRequester"


class NotAllowedToDecide(_Translated, Forbidden):
    code = "notAllowedToDecide"


class MemberOutsideYourOrganization(_Translated, Forbidden):
    code = "memberOutsideYourOrganization"
    target_name = "userIds"


class MemberOutsideEngagement(_Translated, Forbidden):
    code = "memberOutsideEngagement"
    target_name = "userIds"


class RoleNotYours(_Translated, Forbidden):
    code = "engagementRoleNotYours"
    target_name = "role"


# --- 400 --------------------------------------------------------------------------------------


class TermsNotAccepted(_Translated, InvalidRequest):
    code = "termsNotAccepted"
    target_name = "acceptTermsOfUse"


class JustificationRequired(_Translated, InvalidRequest):
    code = "justificationRequired"
    target_name = "justification"


class JustificationTooLong(_Translated, InvalidRequest):
    code = "justificationTooLong"
    target_name = "justification"


class OperatorRoleRequired(_Translated, InvalidRequest):
    code = "operatorRoleRequired"
    target_name = "userIds"


class UnknownPartnerAccount(_Translated, InvalidRequest):
    code = "unknownPartnerAccount"
    target_name = "audience.partnerAccountIds"


class InvalidEngagementText(_Translated, InvalidRequest):
    code = "invalidEngagementText"


# --- 409 --------------------------------------------------------------------------------------


class ApprovalRequired(_Translated, Conflict):
    code = "approvalRequired"


class ApprovalNotRequired(_Translated, Conflict):
    code = "approvalNotRequired"


class AlreadyParticipant(_Translated, Conflict):
    code = "alreadyParticipant"


class RequestAlreadyPending(_Translated, Conflict):
    code = "requestAlreadyPending"


class RequestAlreadyDecided(_Translated, Conflict):
    code = "requestAlreadyDecided"

    def __init__(self, language: str, state: str) -> None:
        super().__init__(language, state=state)
        self.details = {"state": state}


class EngagementClosed(_Translated, Conflict):
    code = "engagementClosed"


class LastEngagementOwner(_Translated, Conflict):
    code = "lastEngagementOwner"
