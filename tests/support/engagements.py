"""Engagement stories' cast: an operator, partner organizations with active accounts and people,
engagements made through the API, the timed round run by hand."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from typer.testing import CliRunner

from tenantry.cli.main import app as cli_app
from tests.support.admin import make_global_admin
from tests.support.partner import enroll
from tests.support.stories import Stories


def cli(database, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
    """`tenantry …` on the test database (in-process: it shares the test clock); its JSON when
    `--json` is given, else what it printed."""
    result = CliRunner().invoke(
        cli_app,
        list(args),
        env={"TENANTRY_DATABASE_URL": database.url, **(env or {})},
        catch_exceptions=False,
    )
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if "--json" in args and code == 0 else result.output


def tick(database) -> dict[str, int]:
    """One timed round (reminders, expiry, inactivity), as `tenantry engagement tick` runs it."""
    return cli(database, "engagement", "tick", "--json")


def ok(response: httpx.Response, *statuses: int) -> Any:
    assert response.status_code in (statuses or (200,)), (
        response.request.method,
        str(response.request.url),
        response.status_code,
        response.text,
    )
    return response.json() if response.content else None


@dataclass
class PartnerOrganization:
    """A tenant with an active partner account and its people (`email` → API client)."""

    publisher: str
    account_id: str
    tenant_id: str
    admin_email: str
    emails: dict[str, str] = field(default_factory=dict)  # display name → address
    user_ids: dict[str, str] = field(default_factory=dict)  # address → user id
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, stories: Stories, email: str) -> httpx.Client:
        if email not in self.clients:
            self.clients[email] = stories.client_for(email)
        return self.clients[email]


def make_operator(stories: Stories, database, email: str, name: str) -> httpx.Client:
    """Sign `email` up and make them a platform operator; their API client."""
    stories.sign_up(email, name)
    cli(database, "operator", "add", email)
    return stories.client_for(email)


def partner_organization(
    stories: Stories,
    database,
    operator: httpx.Client,
    *,
    domain: str,
    publisher: str,
    admin: tuple[str, str],
    people: list[tuple[str, str]],
) -> PartnerOrganization:
    """`admin` and `people` ((local part, display name)) sign up at `domain`; the admin becomes
    Global Administrator and enrolls `publisher`, which the operator approves."""
    user_ids: dict[str, str] = {}
    emails: dict[str, str] = {}
    for local, name in [admin, *people]:
        email = f"{local}@{domain}"
        signed_up = stories.sign_up(email, name)
        user_ids[email] = signed_up["user"]["id"]
        emails[name] = email
    admin_email = f"{admin[0]}@{domain}"
    make_global_admin(database, admin_email)
    admin_client = stories.client_for(admin_email)
    account = enroll(admin_client, publisher)
    ok(operator.post(f"/v1/partnerAccounts/{account['id']}/approve"))
    organization = PartnerOrganization(
        publisher=publisher,
        account_id=account["id"],
        tenant_id=account["tenantId"],
        admin_email=admin_email,
        emails=emails,
        user_ids=user_ids,
    )
    organization.clients[admin_email] = admin_client
    return organization


def create_engagement(operator: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    """An engagement open to every active partner account unless `audience` says otherwise."""
    body: dict[str, Any] = {
        "displayName": name,
        "description": f"About {name}.",
        "joinPolicy": "approvalRequired",
        "audience": {"allPartnerAccounts": True, "partnerAccountIds": []},
    }
    body.update(fields)
    return ok(operator.post("/v1/engagements", json=body), 201)


def request_access(client: httpx.Client, engagement_id: str, why: str) -> dict[str, Any]:
    return ok(
        client.post(
            f"/v1/engagements/{engagement_id}/accessRequests",
            json={"justification": why, "acceptTermsOfUse": True},
        ),
        201,
    )


def mail_about(smtp, address: str, subject: str, *, count: int = 1, timeout: float = 15.0):
    """The messages to `address` whose subject holds `subject`, once `count` have arrived."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in smtp.to(address) if subject in m.subject]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no {count} message(s) about {subject!r} to {address}")
        time.sleep(0.05)


def open_engagements(stories: Stories, database, organizations: list[Any]) -> None:
    """For each `tests.support.organizations.Organization`: an operator approves its partner
    account and opens it a program and an engagement of its own, where its admin is Power
    User and its first member asks for access (the ids are set on the organization)."""
    olga = make_operator(stories, database, "olga@tenantry-ops.com", "Olga Operator")
    for organization in organizations:
        ok(olga.post(f"/v1/partnerAccounts/{organization.partner_account_id}/approve"))
        stem = organization.domain.split(".")[0].capitalize()
        program = ok(
            olga.post("/v1/programs", json={"displayName": f"{stem} Program", "description": ""}),
            201,
        )
        engagement = create_engagement(
            olga,
            f"{stem} Preview",
            programId=program["id"],
            audience={
                "allPartnerAccounts": False,
                "partnerAccountIds": [organization.partner_account_id],
            },
        )
        ok(
            olga.post(
                f"/v1/engagements/{engagement['id']}/members",
                json={"userIds": [organization.admin_id], "role": "powerUser"},
            ),
            201,
        )
        member = stories.client_for(organization.member_emails[0])
        asked = request_access(member, engagement["id"], f"{stem} needs it.")
        member.close()
        organization.program_id, organization.program_name = program["id"], program["displayName"]
        organization.engagement_id = engagement["id"]
        organization.engagement_name = engagement["displayName"]
        organization.access_request_id = asked["id"]
    olga.close()
