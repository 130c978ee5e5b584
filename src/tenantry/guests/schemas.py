"""Graph's invitation resource: the body `POST /v1/invitations` takes, and what it answers."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tenantry.core.schemas import ApiModel
from tenantry.guests.invitations import InvitationResult, MessageInfo, Recipient

ODATA_TYPE = Field(default=None, alias="@odata.type", max_length=100)


class EmailAddress(ApiModel):
    odata_type: str | None = ODATA_TYPE
    address: str = Field(max_length=320)
    name: str | None = Field(default=None, max_length=256)


class RecipientBody(ApiModel):
    odata_type: str | None = ODATA_TYPE
    email_address: EmailAddress


class InvitedUserMessageInfo(ApiModel):
    odata_type: str | None = ODATA_TYPE
    cc_recipients: list[RecipientBody] = Field(
        default_factory=list,
        max_length=10,
        description="One at most (Graph: only one additional recipient is supported).",
    )
    customized_message_body: str | None = Field(default=None, max_length=20_000)
    message_language: str | None = Field(
        default=None, max_length=20, description="ISO 639, e.g. `fr-FR`: en, fr or nl; else en."
    )

    def info(self) -> MessageInfo:
        return MessageInfo(
            body=self.customized_message_body,
            language=self.message_language,
            cc=tuple(
                Recipient(r.email_address.address, r.email_address.name) for r in self.cc_recipients
            ),
        )


class InvitationCreate(ApiModel):
    odata_type: str | None = ODATA_TYPE
    invited_user_email_address: str = Field(max_length=320)
    invite_redirect_url: str = Field(max_length=2048)
    invited_user_display_name: str | None = Field(default=None, max_length=256)
    send_invitation_message: bool = False
    invited_user_message_info: InvitedUserMessageInfo | None = None
    invited_user_type: str = Field(default="Guest", max_length=20)
    reset_redemption: bool = False


class InvitedUser(ApiModel):
    id: str


class EmailAddressView(ApiModel):
    address: str
    name: str | None = None


class RecipientView(ApiModel):
    email_address: EmailAddressView


class MessageInfoView(ApiModel):
    cc_recipients: list[RecipientView]
    customized_message_body: str | None = None
    message_language: str


class InvitationView(ApiModel):
    id: str
    invited_user_display_name: str | None = None
    invited_user_email_address: str
    invited_user_type: str
    invite_redeem_url: str
    invite_redirect_url: str
    reset_redemption: bool
    send_invitation_message: bool
    status: str = Field(description="`PendingAcceptance`, or `Completed` for an accepted guest.")
    invited_user_message_info: MessageInfoView
    invited_user: InvitedUser


def invitation_view(result: InvitationResult) -> dict[str, Any]:
    """Graph's invitation, as `POST /v1/invitations` answers it."""
    guest = result.guest
    return {
        "id": str(result.id),
        "invitedUserDisplayName": guest.display_name,
        "invitedUserEmailAddress": guest.mail,
        "invitedUserType": "Guest",
        "inviteRedeemUrl": result.redeem_url,
        "inviteRedirectUrl": result.redirect_url,
        "resetRedemption": False,
        "sendInvitationMessage": result.send_message,
        "status": result.status,
        "invitedUserMessageInfo": {
            "ccRecipients": [
                {"emailAddress": {"address": r.address, "name": r.name}} for r in result.cc
            ],
            "customizedMessageBody": result.message_body,
            "messageLanguage": result.language,
        },
        "invitedUser": {"id": str(guest.id)},
    }
