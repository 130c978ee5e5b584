"""`tenantry user invite`: invite someone from outside as a guest, from a terminal."""

from __future__ import annotations

from typing import Any

import typer

from tenantry.cli.support import JsonOption, api_client, check, console, emit


def invite(
    email: str = typer.Argument(..., help="The address to invite, e.g. kim@fabrikam.com."),
    name: str | None = typer.Option(None, "--name", help="The guest's display name."),
    no_mail: bool = typer.Option(
        False, "--no-mail", help="Send no email: print the redeem link to pass on yourself."
    ),
    message: str | None = typer.Option(None, "--message", help="Your own words in the email."),
    language: str | None = typer.Option(None, "--language", help="en, fr or nl (default en)."),
    cc: str | None = typer.Option(None, "--cc", help="One address to send a copy to."),
    redirect_url: str | None = typer.Option(
        None,
        "--redirect-url",
        help="Where the guest goes once they accept (default: this server's home page).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Invite a guest (POST /v1/invitations); inviting a pending guest again sends a new link."""
    with api_client() as client:
        info: dict[str, Any] = {}
        if message is not None:
            info["customizedMessageBody"] = message
        if language is not None:
            info["messageLanguage"] = language
        if cc is not None:
            info["ccRecipients"] = [{"emailAddress": {"address": cc}}]
        body: dict[str, Any] = {
            "invitedUserEmailAddress": email,
            "inviteRedirectUrl": redirect_url or str(client.base_url).rstrip("/") + "/",
            "sendInvitationMessage": not no_mail,
        }
        if name is not None:
            body["invitedUserDisplayName"] = name
        if info:
            body["invitedUserMessageInfo"] = info
        invitation = check(client.post("/v1/invitations", json=body))
    if as_json:
        emit(invitation, as_json=True)
        return
    guest = invitation["invitedUser"]["id"]
    if invitation["status"] == "Completed":
        console.print(f"{email} is already a guest of your organization ({guest}).", soft_wrap=True)
        return
    sent = "emailed to them" if invitation["sendInvitationMessage"] else "not emailed: pass it on"
    console.print(f"Invited {email} as guest {guest}; the invitation is pending.", soft_wrap=True)
    # Never wrapped: the link is copied as it is.
    console.print(f"Redeem link ({sent}): {invitation['inviteRedeemUrl']}", soft_wrap=True)
