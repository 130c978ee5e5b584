"""`POST /v1/invitations`: Microsoft Graph's invitation manager."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from tenantry.core.config import Settings
from tenantry.core.db import Database
from tenantry.core.schemas import ERROR_RESPONSES
from tenantry.dependencies import (
    Principal,
    actor_of,
    get_database,
    get_settings,
    no_store,
    require_role,
)
from tenantry.directory.constants import USER_MANAGERS
from tenantry.guests import flows
from tenantry.guests.exceptions import InvitedUserTypeNotSupported, ResetRedemptionNotSupported
from tenantry.guests.schemas import InvitationCreate, InvitationView, invitation_view

router = APIRouter(prefix="/v1", tags=["guests"], responses=ERROR_RESPONSES)

# Entra's strictest guest-invite setting: admins who manage users (and Global Administrators).
invite_guests = require_role(*USER_MANAGERS)


@router.post(
    "/invitations",
    status_code=201,
    response_model=InvitationView,
    dependencies=[Depends(no_store)],  # the redeem link is a credential
)
async def create_invitation(
    body: InvitationCreate,
    request: Request,
    principal: Principal = Depends(invite_guests),
    database: Database = Depends(get_database),
    settings: Settings = Depends(get_settings),
) -> dict[str, Any]:
    """Invite someone from outside as a guest of your organization (Graph's invitation).

    The guest user exists at once (`userType` Guest, `externalUserState`
    PendingAcceptance); the person accepts through `inviteRedeemUrl`, emailed to them when
    `sendInvitationMessage` is true. Inviting a pending address again sends a new link (the
    old one stops working); an accepted guest answers `Completed`.
    """
    if body.invited_user_type.strip().lower() != "guest":
        raise InvitedUserTypeNotSupported()
    if body.reset_redemption:
        raise ResetRedemptionNotSupported()
    info = body.invited_user_message_info
    result = await flows.invite(
        database,
        base_url=settings.base_url,
        actor=actor_of(request, principal),
        tenant=principal.tenant,
        inviter=principal.user,
        email=body.invited_user_email_address,
        redirect_url=body.invite_redirect_url,
        display_name=body.invited_user_display_name,
        send_message=body.send_invitation_message,
        message=info.info() if info else None,
    )
    return invitation_view(result)
