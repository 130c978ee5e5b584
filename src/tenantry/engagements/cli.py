"""`tenantry engagement …`: engagements from a terminal, over the API (`tick` on the server)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import typer

from tenantry.cli.support import JsonOption, api_client, check, console, emit, fail

engagement_app = typer.Typer(
    help="Engagements: create, list, members, access requests and their decisions.",
    no_args_is_help=True,
)


def _engagement_row(engagement: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": engagement["id"],
        "name": engagement["displayName"],
        "joinPolicy": engagement["joinPolicy"],
        "state": engagement["state"],
        "myRoles": ", ".join(engagement["myRoles"]),
        "request": (engagement.get("myAccessRequest") or {}).get("state", ""),
    }


def _request_row(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": request["id"],
        "engagement": request["engagementDisplayName"],
        "requester": request["requester"]["displayName"],
        "organization": request["organization"],
        "state": request["state"],
        "deadline": request["expirationDateTime"][:10],
        "justification": request["justification"][:60],
    }


@engagement_app.command("create")
def engagement_create(
    name: str = typer.Argument(..., help="The engagement's display name."),
    description: str = typer.Option("", "--description"),
    terms_file: Path | None = typer.Option(
        None, "--terms-file", exists=True, dir_okay=False, help="Its own terms of use (UTF-8)."
    ),
    join_policy: str = typer.Option(
        "approvalRequired", "--join-policy", help="open or approvalRequired."
    ),
    all_partners: bool = typer.Option(
        False, "--all-partner-accounts", help="Open to every active partner account."
    ),
    partner_accounts: list[str] = typer.Option(
        [], "--partner-account", help="A partner account it is open to (repeatable)."
    ),
    timeout_days: int = typer.Option(14, "--request-timeout-days", min=1, max=365),
    inactivity_days: int = typer.Option(180, "--inactivity-days", min=2, max=3650),
    program: str | None = typer.Option(None, "--program", help="The program's id."),
    as_json: bool = JsonOption,
) -> None:
    """Operator: create an engagement (you become its owner)."""
    terms = None
    if terms_file is not None:
        try:
            terms = terms_file.read_text("utf-8")
        except UnicodeDecodeError:
            fail(f"{terms_file} is not UTF-8 text")
    body = {
        "displayName": name,
        "description": description,
        "termsOfUse": terms,
        "joinPolicy": join_policy,
        "audience": {"allPartnerAccounts": all_partners, "partnerAccountIds": partner_accounts},
        "requestTimeoutDays": timeout_days,
        "inactivityDays": inactivity_days,
        "programId": program,
    }
    with api_client() as client:
        engagement = check(client.post("/v1/engagements", json=body))
    emit(engagement if as_json else _engagement_row(engagement), as_json=as_json)


@engagement_app.command("list")
def engagement_list(
    available: bool = typer.Option(
        False, "--available", help="Those open to you that you have not joined."
    ),
    search: str | None = typer.Option(None, "--search"),
    as_json: bool = JsonOption,
) -> None:
    """Your engagements (or, with --available, those you may join or request)."""
    params: dict[str, Any] = {"available": str(available).lower()}
    if search:
        params["search"] = search
    with api_client() as client:
        found = check(client.get("/v1/engagements", params=params))["value"]
    emit(
        found if as_json else [_engagement_row(e) for e in found],
        as_json=as_json,
        title="Engagements",
    )


@engagement_app.command("members")
def engagement_members(
    engagement_id: str = typer.Argument(..., help="The engagement's id."),
    role: str | None = typer.Option(None, "--role", help="participant, powerUser, owner…"),
    search: str | None = typer.Option(None, "--search", help="Start of a name or address."),
    as_csv: bool = typer.Option(False, "--csv", help="The list as CSV (the export)."),
    as_json: bool = JsonOption,
) -> None:
    """Owners and Power Users: the engagement's members and their last access."""
    params: dict[str, Any] = {}
    if role:
        params["role"] = role
    if search:
        params["search"] = search
    with api_client() as client:
        if as_csv:
            answer = client.get(
                f"/v1/engagements/{engagement_id}/members", params=params | {"format": "csv"}
            )
            if answer.status_code >= 400:
                check(answer)
            sys.stdout.write(answer.text)
            return
        found = check(client.get(f"/v1/engagements/{engagement_id}/members", params=params))
    if as_json:
        emit(found, as_json=True)
        return
    emit(
        [
            {
                "name": m["displayName"],
                "mail": m["mail"],
                "organization": m["organization"] or "",
                "roles": ", ".join(m["roles"]),
                "lastAccess": m["lastAccessDateTime"][:10],
            }
            for m in found["value"]
        ],
        as_json=False,
        title="Members",
    )
    for organization in found["organizations"]:
        console.print(f"{organization['displayName']}: {organization['memberCount']} member(s)")


@engagement_app.command("requests")
def engagement_requests(
    state: str | None = typer.Option(
        "pendingApproval", "--state", help="pendingApproval (default), delivered, denied…"
    ),
    engagement: str | None = typer.Option(None, "--engagement", help="One engagement's id."),
    mine: bool = typer.Option(False, "--mine", help="Your own requests instead."),
    as_json: bool = JsonOption,
) -> None:
    """The access requests you may decide (or, with --mine, your own)."""
    params: dict[str, Any] = {"state": state} if state else {}
    with api_client() as client:
        if mine:
            found = check(client.get("/v1/me/accessRequests", params=params))["value"]
        else:
            if engagement:
                params["engagementId"] = engagement
            found = check(client.get("/v1/accessRequests", params=params))["value"]
    emit(
        found if as_json else [_request_row(r) for r in found],
        as_json=as_json,
        title="Access requests",
    )


def _decide(request_id: str, action: str, note: str | None, as_json: bool) -> None:
    with api_client() as client:
        decided = check(
            client.post(f"/v1/accessRequests/{request_id}/{action}", json={"justification": note})
        )
    if as_json:
        emit(decided, as_json=True)
    else:
        console.print(
            f"{decided['requester']['displayName']}'s request for "
            f"{decided['engagementDisplayName']}: {decided['state']}."
        )


@engagement_app.command("approve")
def engagement_approve(
    request_id: str = typer.Argument(..., help="The access request's id."),
    note: str | None = typer.Option(None, "--note", help="Shown to the requester."),
    as_json: bool = JsonOption,
) -> None:
    """Approve an access request (owners; Power Users for their organization)."""
    _decide(request_id, "approve", note, as_json)


@engagement_app.command("deny")
def engagement_deny(
    request_id: str = typer.Argument(..., help="The access request's id."),
    note: str | None = typer.Option(None, "--note", help="Shown to the requester."),
    as_json: bool = JsonOption,
) -> None:
    """Deny an access request (owners; Power Users for their organization)."""
    _decide(request_id, "deny", note, as_json)


@engagement_app.command("tick")
def engagement_tick(as_json: bool = JsonOption) -> None:
    """Operator, on the server: run the timed round now (reminders, expiry, inactivity); the
    server runs it every TENANTRY_ENGAGEMENT_TICK_SECONDS."""
    from tenantry.core.config import get_settings
    from tenantry.core.db import Database
    from tenantry.engagements.scheduled import tick

    settings = get_settings()

    async def run() -> dict[str, int]:
        database = Database(settings.database_url)
        try:
            return await tick(database, base_url=settings.base_url)
        finally:
            await database.dispose()

    result = asyncio.run(run())
    if as_json:
        emit(result, as_json=True)
        return
    console.print(
        f"{result['reminded']} request(s) reminded, {result['expired']} expired, "
        f"{result['inactivityWarnings']} inactivity warning(s), "
        f"{result['removedForInactivity']} member(s) removed for inactivity."
    )
