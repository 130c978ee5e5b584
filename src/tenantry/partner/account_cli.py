"""`tenantry partner enroll|show|members|link-tenant|unlink-tenant`: a partner account, from a
terminal.

These are API clients of the server `tenantry login` signed in to, like the directory's
commands (the operator's `tenantry partner agreement|reserved` work on the server's database
instead). Without `--account`, a command works on the partner account the signed-in token
acts for, else the only one the person belongs to. `--json` prints what the API returned.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import typer

from tenantry.cli.support import JsonOption, api_client, check, console, emit, err_console, fail
from tenantry.directory.cli import find_group
from tenantry.partner.access import ROLES

members_app = typer.Typer(help="Members of a partner account and their roles.")

MEMBER_COLUMNS = ["displayName", "userPrincipalName", "memberType", "roles"]
AccountOption = typer.Option(
    None, "--account", help="The partner account's id (default: the one you act for)."
)
RoleOption = typer.Option(..., "--role", help="A role (repeatable): " + ", ".join(ROLES) + ".")


def register(partner_app: typer.Typer) -> None:
    """Add these commands to `tenantry partner`."""
    partner_app.command("enroll")(enroll)
    partner_app.command("show")(show)
    partner_app.command("invite")(invite)
    partner_app.command("link-tenant")(link_tenant)
    partner_app.command("unlink-tenant")(unlink_tenant)
    partner_app.add_typer(members_app, name="members")


def _account_id(client: httpx.Client, given: str | None) -> str:
    """The account named, else the one the token acts for, else the only one of yours."""
    if given:
        return given
    acting = check(client.get("/v1/me")).get("partnerAccount")
    if acting:
        return str(acting["id"])
    mine = check(client.get("/v1/me/partnerAccounts"))["value"]
    if len(mine) == 1:
        return str(mine[0]["id"])
    if not mine:
        fail("you are not a member of any partner account")
    names = ", ".join(f"{a['publisherDisplayName']} ({a['id']})" for a in mine)
    fail(f"you belong to several partner accounts: give --account (one of {names})")


def _rows(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [member | {"roles": ", ".join(member["roles"])} for member in members]


# --- enrollment ----------------------------------------------------------------------------


def _ask(value: str | None, label: str, default: str | None = None) -> str:
    if value is not None:
        return value
    return typer.prompt(label, default=default, err=True)


def _publisher_name(client: httpx.Client, given: str | None) -> str:
    """The name given, or one typed until it is free (the wizard's live check)."""
    if given is not None:
        return given
    while True:
        name = typer.prompt("Publisher display name (50 characters or fewer)", err=True)
        free = check(
            client.get("/v1/partnerAccounts/availability", params={"publisherDisplayName": name})
        )
        if free["isAvailable"]:
            return name
        err_console.print(f"[yellow]{name!r} cannot be used ({free['reason']}).[/yellow]")


def enroll(
    country: str | None = typer.Option(
        None, "--country", help="ISO 3166-1 code (e.g. FR): it can never change."
    ),
    account_type: str = typer.Option("company", "--account-type", help="Only company."),
    publisher_name: str | None = typer.Option(None, "--publisher-name"),
    contact_name: str | None = typer.Option(None, "--contact-name"),
    contact_email: str | None = typer.Option(None, "--contact-email"),
    contact_phone: str | None = typer.Option(
        None, "--contact-phone", help="With its country code, no extension."
    ),
    approver_name: str | None = typer.Option(None, "--approver-name"),
    approver_email: str | None = typer.Option(None, "--approver-email"),
    approver_phone: str | None = typer.Option(None, "--approver-phone"),
    accept_agreement: bool = typer.Option(
        False, "--accept-agreement", help="Accept the current agreement without being asked."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Enroll your organization (Global Administrator); asks what is not given."""
    with api_client() as client:
        me = check(client.get("/v1/me"))
        if country is None:
            err_console.print("The country or region can never be changed later.")
        values = {
            "countryOrRegion": _ask(country, "Country or region", me.get("usageLocation")),
            "accountType": account_type,
            "publisherDisplayName": _publisher_name(client, publisher_name),
            "contact": {
                "name": _ask(contact_name, "Contact name", me["displayName"]),
                "email": _ask(contact_email, "Contact email", me.get("mail")),
                "phone": _ask(contact_phone, "Contact phone (e.g. +33 1 42 68 53 00)"),
            },
            "approver": {
                "name": _ask(approver_name, "Name of who approves the company's account"),
                "email": _ask(approver_email, "Approver's email"),
                "phone": _ask(approver_phone, "Approver's phone"),
            },
        }
        agreement = check(client.get("/v1/partnerAgreements/current"))
        if not accept_agreement:
            err_console.print(
                f"\nCollaboration agreement, version {agreement['version']}:\n", markup=False
            )
            err_console.print(agreement["text"], markup=False)
            if not typer.confirm("\nDo you accept the agreement?", err=True):
                fail("not enrolled: the agreement was not accepted")
        body = values | {"agreement": {"version": agreement["version"], "accepted": True}}
        account = check(client.post("/v1/partnerAccounts", json=body))
    if as_json:
        emit(account, as_json=True)
        return
    console.print(
        f"Enrolled {account['publisherDisplayName']} ({account['id']}): waiting for approval "
        f"by {account['approver']['name']} <{account['approver']['email']}>, who got an email."
    )


# --- reading -------------------------------------------------------------------------------


def _all_members(client: httpx.Client, account_id: str, params: dict[str, Any]) -> Any:
    body = check(client.get(f"/v1/partnerAccounts/{account_id}/members", params=params))
    found = list(body["value"])
    while body.get("@odata.nextLink"):
        link = urlsplit(body["@odata.nextLink"])
        body = check(client.get(f"{link.path}?{link.query}"))
        found += body["value"]
    return found


def show(
    account: str | None = typer.Argument(None, help="The partner account's id."),
    as_json: bool = JsonOption,
) -> None:
    """A partner account: its state, linked tenants and members."""
    with api_client() as client:
        account_id = _account_id(client, account)
        found = check(client.get(f"/v1/partnerAccounts/{account_id}"))
        tenants = check(client.get(f"/v1/partnerAccounts/{account_id}/tenants"))["value"]
        members = _all_members(client, account_id, {})
    if as_json:
        emit(found | {"tenants": tenants, "members": members}, as_json=True)
        return
    console.print(f"[bold]{found['publisherDisplayName']}[/bold] ({found['id']})")
    console.print(f"  state:    {found['state']}")
    console.print(f"  country:  {found['countryOrRegion']}   type: {found['accountType']}")
    contact = found["contact"]
    console.print(f"  contact:  {contact['name']} <{contact['email']}> {contact['phone']}")
    emit(
        [t | {"enrolling": "yes" if t["isEnrollingTenant"] else ""} for t in tenants],
        as_json=False,
        columns=["displayName", "tenantId", "enrolling", "linkedDateTime"],
        title="Linked tenants",
    )
    emit(_rows(members), as_json=False, columns=MEMBER_COLUMNS, title="Members")


@members_app.command("list")
def members_list(
    account: str | None = AccountOption,
    role: str | None = typer.Option(None, "--role", help="Only members holding this role."),
    tenant: str | None = typer.Option(None, "--tenant", help="Only members of this tenant."),
    as_json: bool = JsonOption,
) -> None:
    """The account's members and their roles (every page)."""
    conditions = []
    if role:
        conditions.append(f"role eq '{role}'")
    if tenant:
        conditions.append(f"tenantId eq '{tenant}'")
    params = {"$filter": " and ".join(conditions)} if conditions else {}
    with api_client() as client:
        members = _all_members(client, _account_id(client, account), params)
    if as_json:
        emit(members, as_json=True)
    else:
        emit(_rows(members), as_json=False, columns=MEMBER_COLUMNS, title="Members")


# --- changing ------------------------------------------------------------------------------


def _new_user(value: str) -> dict[str, str]:
    address, _, name = value.partition(",")
    if not address.strip() or not name.strip():
        fail(f"--new-user takes 'address,Display Name', not {value!r}")
    return {"userPrincipalName": address.strip(), "displayName": name.strip()}


@members_app.command("add")
def members_add(
    users: list[str] = typer.Argument(None, help="Users of a linked tenant: ids or addresses."),
    roles: list[str] = RoleOption,
    groups: list[str] = typer.Option(
        [], "--group", help="A group of a linked tenant, by id (or by name in yours); repeatable."
    ),
    new_users: list[str] = typer.Option(
        [],
        "--new-user",
        help="'address,Display Name' of a user to create in your organization (Global "
        "Administrator); repeatable.",
    ),
    account: str | None = AccountOption,
    as_json: bool = JsonOption,
) -> None:
    """Add several people (and groups) at once, all with the same roles; all or nothing."""
    body = {
        "roles": roles,
        "userIds": list(users or []),
        "newUsers": [_new_user(value) for value in new_users],
    }
    with api_client() as client:
        account_id = _account_id(client, account)
        body["groupIds"] = [_group_id(client, group) for group in groups]
        added = check(client.post(f"/v1/partnerAccounts/{account_id}/members", json=body))
    if as_json:
        emit(added, as_json=True)
        return
    console.print(
        f"{added['added']} added, {added['alreadyMembers']} already members "
        f"(they keep their roles and gain {', '.join(roles)})."
    )
    for member in added["value"]:
        if member.get("temporaryPassword"):
            console.print(
                f"Temporary password of {member['userPrincipalName']} (shown once): "
                f"[bold]{member['temporaryPassword']}[/bold]"
            )


def _group_id(client: httpx.Client, key: str) -> str:
    """A group id as given, or the id of the group of yours with that name."""
    if len(key) == 36 and key.count("-") == 4:
        return key
    return str(find_group(client, key)["id"])


@members_app.command("set-roles")
def members_set_roles(
    member: str = typer.Argument(..., help="The member's user or group id, or address."),
    roles: list[str] = RoleOption,
    account: str | None = AccountOption,
    as_json: bool = JsonOption,
) -> None:
    """Replace a member's roles."""
    with api_client() as client:
        account_id = _account_id(client, account)
        changed = check(
            client.patch(
                f"/v1/partnerAccounts/{account_id}/members/{member}", json={"roles": roles}
            )
        )
    if as_json:
        emit(changed, as_json=True)
    else:
        console.print(f"{changed['displayName']}: {', '.join(changed['roles'])}.")


@members_app.command("remove")
def members_remove(
    member: str = typer.Argument(..., help="The member's user or group id, or address."),
    account: str | None = AccountOption,
    as_json: bool = JsonOption,
) -> None:
    """Take a member out of the account (their account in their organization stays)."""
    with api_client() as client:
        account_id = _account_id(client, account)
        check(client.delete(f"/v1/partnerAccounts/{account_id}/members/{member}"))
    if as_json:
        emit({"removed": member}, as_json=True)
    else:
        console.print(f"{member} is no longer a member of the partner account.")


# --- linked tenants ------------------------------------------------------------------------


def link_tenant(
    tenant_id: str = typer.Argument(..., help="The id of the tenant to link."),
    admin_username: str | None = typer.Option(
        None, "--admin-username", help="A Global Administrator of that tenant (asked if left out)."
    ),
    admin_password: str | None = typer.Option(None, "--admin-password"),
    account: str | None = AccountOption,
    as_json: bool = JsonOption,
) -> None:
    """Link another tenant (Owner or Manager; one of its Global Administrators signs in)."""
    if admin_username is None:
        err_console.print("Sign in as a Global Administrator of the tenant to link.")
        admin_username = typer.prompt("Email address", err=True)
    if admin_password is None:
        admin_password = typer.prompt("Password", hide_input=True, err=True)
    with api_client() as client:
        account_id = _account_id(client, account)
        proof = check(
            client.post(
                "/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": admin_username,
                    "password": admin_password,
                },
            )
        )["access_token"]
        try:
            linked = check(
                client.post(
                    f"/v1/partnerAccounts/{account_id}/tenants",
                    json={"tenantId": tenant_id, "tenantAdministratorToken": proof},
                )
            )
        finally:
            # The administrator's token served once: sign it out.
            client.post("/v1/auth/revoke", headers={"Authorization": f"Bearer {proof}"})
    if as_json:
        emit(linked, as_json=True)
    else:
        console.print(f"Linked {linked['displayName']} ({linked['tenantId']}).")


def unlink_tenant(
    tenant_id: str = typer.Argument(..., help="The id of the linked tenant."),
    account: str | None = AccountOption,
    as_json: bool = JsonOption,
) -> None:
    """Unlink a tenant: its users and groups leave the account (their accounts stay)."""
    with api_client() as client:
        account_id = _account_id(client, account)
        check(client.delete(f"/v1/partnerAccounts/{account_id}/tenants/{tenant_id}"))
    if as_json:
        emit({"unlinked": tenant_id}, as_json=True)
    else:
        console.print(f"Unlinked {tenant_id}; its members left the partner account.")


MAX_INVITES = 10


def invite(
    emails: list[str] = typer.Argument(..., help="Up to 10 addresses of people from outside."),
    roles: list[str] = RoleOption,
    no_mail: bool = typer.Option(
        False, "--no-mail", help="Send no email: print the redeem links to pass on yourself."
    ),
    account: str | None = AccountOption,
    as_json: bool = JsonOption,
) -> None:
    """Invite people from outside as guests of your organization (`POST /v1/invitations`)
    and make them members of the partner account with the same roles; they show
    "Invitation pending" until they accept. A pending guest invited again gets a new link."""
    if len(emails) > MAX_INVITES:
        fail(f"invite at most {MAX_INVITES} people at once")
    with api_client() as client:
        account_id = _account_id(client, account)
        invited = []
        for email in emails:
            invited.append(
                check(
                    client.post(
                        "/v1/invitations",
                        json={
                            "invitedUserEmailAddress": email,
                            "inviteRedirectUrl": str(client.base_url).rstrip("/") + "/partner",
                            "sendInvitationMessage": not no_mail,
                        },
                    )
                )
            )
        guest_ids = [item["invitedUser"]["id"] for item in invited]
        added = check(
            client.post(
                f"/v1/partnerAccounts/{account_id}/members",
                json={"roles": roles, "userIds": guest_ids},
            )
        )
    rows = [
        {
            "address": item["invitedUserEmailAddress"],
            "guest": item["invitedUser"]["id"],
            "status": item["status"],
            "redeemUrl": item["inviteRedeemUrl"] if no_mail else "",
        }
        for item in invited
    ]
    emit(
        {"invitations": invited, "members": added} if as_json else rows,
        as_json=as_json,
        title=f"Invited ({', '.join(roles)})",
    )
