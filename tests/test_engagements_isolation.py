"""What a caller may not see does not exist: every engagements route, aimed at another partner
account's engagement, program, access request or member, answers 404 and changes nothing.

The routes come from the app's own OpenAPI document (every operation tagged `engagements`), so
a route added later is walked too; a path parameter this walk does not know fails it. Two
walkers: Paul, the Power User of Fabrikam's own engagement, and Oscar, an operator who owns
nothing. What they aim at belongs to Contoso: an engagement open to Contoso only, in a program
of its own, with a Power User, a member and a pending request.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.support.engagements import (
    create_engagement,
    make_operator,
    ok,
    partner_organization,
    request_access,
)
from tests.support.routes import fill_path, operations, path_parameters

BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/v1/engagements/{engagement_id}"): {"displayName": "Walked"},
    ("POST", "/v1/engagements/{engagement_id}/join"): {"acceptTermsOfUse": True},
    ("POST", "/v1/engagements/{engagement_id}/accessRequests"): {
        "justification": "Walking",
        "acceptTermsOfUse": True,
    },
    ("PATCH", "/v1/programs/{program_id}"): {"displayName": "Walked"},
    ("POST", "/v1/accessRequests/{access_request_id}/approve"): {"justification": "Walked"},
    ("POST", "/v1/accessRequests/{access_request_id}/deny"): {"justification": "Walked"},
    ("POST", "/v1/accessRequests/{access_request_id}/cancel"): None,
}
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("DELETE", "/v1/programs/{program_id}/members/{user_id}"): {"role": "owner"},
}


def member_body(template: str, other: dict[str, str]) -> dict[str, Any]:
    """Add members: the other's member, in a role the route knows."""
    role = "contentPublisher" if template.startswith("/v1/programs") else "participant"
    return {"userIds": [other["user_id"]], "role": role}


@pytest.fixture()
def world(stories, database):
    olga = make_operator(stories, database, "olga@tenantry-ops.com", "Olga Operator")
    oscar = make_operator(stories, database, "oscar@tenantry-ops.com", "Oscar Operator")
    fabrikam = partner_organization(
        stories,
        database,
        olga,
        domain="fabrikam.com",
        publisher="Fabrikam Labs",
        admin=("fatima", "Fatima Admin"),
        people=[("paul", "Paul Power"), ("kim", "Kim Akers")],
    )
    contoso = partner_organization(
        stories,
        database,
        olga,
        domain="contoso.com",
        publisher="Contoso Partners",
        admin=("carla", "Carla Admin"),
        people=[("chris", "Chris Contoso"), ("cora", "Cora Contoso"), ("cyd", "Cyd Contoso")],
    )
    ids: dict[str, dict[str, str]] = {}
    for organization, stem, power_user, member, requester in (
        (fabrikam, "Fabrikam", "paul@fabrikam.com", "kim@fabrikam.com", "fatima@fabrikam.com"),
        (contoso, "Contoso", "chris@contoso.com", "cyd@contoso.com", "cora@contoso.com"),
    ):
        program = ok(olga.post("/v1/programs", json={"displayName": f"{stem} Program"}), 201)
        engagement = create_engagement(
            olga,
            f"{stem} Preview",
            programId=program["id"],
            audience={"allPartnerAccounts": False, "partnerAccountIds": [organization.account_id]},
        )
        path = f"/v1/engagements/{engagement['id']}/members"
        ok(
            olga.post(
                path, json={"userIds": [organization.user_ids[power_user]], "role": "powerUser"}
            ),
            201,
        )
        ok(
            olga.post(
                path, json={"userIds": [organization.user_ids[member]], "role": "participant"}
            ),
            201,
        )
        asked = request_access(
            organization.client(stories, requester), engagement["id"], f"{stem} wants in."
        )
        ids[stem] = {
            "engagement_id": engagement["id"],
            "program_id": program["id"],
            "access_request_id": asked["id"],
            "user_id": organization.user_ids[member],
        }
    paul = fabrikam.client(stories, "paul@fabrikam.com")
    chris = contoso.client(stories, "chris@contoso.com")
    cora = contoso.client(stories, "cora@contoso.com")
    return olga, oscar, paul, chris, cora, ids


def snapshot(olga: httpx.Client, chris: httpx.Client, cora: httpx.Client, ids: dict) -> Any:
    """Contoso's engagement as its owner, its Power User and its requester read it."""
    engagement = f"/v1/engagements/{ids['engagement_id']}"
    return {
        "engagement": ok(olga.get(engagement)) | {"myRoles": None},
        "members": ok(olga.get(f"{engagement}/members")),
        "requests": ok(olga.get("/v1/accessRequests")),
        "powerUser": ok(chris.get("/v1/accessRequests")),
        "program": ok(olga.get(f"/v1/programs/{ids['program_id']}")),
        "programMembers": ok(olga.get(f"/v1/programs/{ids['program_id']}/members")),
        "requester": ok(cora.get("/v1/me/accessRequests")),
    }


def settle(database) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and database.scalar(
        "SELECT count(*) FROM outbox_messages WHERE status = 'pending'"
    ):
        time.sleep(0.05)


def test_every_engagements_route_aimed_at_another_accounts_ids_is_not_found(
    world, server, smtp, database
):
    olga, oscar, paul, chris, cora, ids = world
    own, other = ids["Fabrikam"], ids["Contoso"]
    openapi = paul.get("/openapi.json").json()
    walked = [
        o
        for o in operations(openapi)
        if "engagements" in o.spec.get("tags", []) and path_parameters(o.template)
    ]
    assert len(walked) >= 15
    settle(database)
    before = snapshot(olga, chris, cora, other)
    mails = len(smtp.messages)

    findings: list[str] = []
    sent = 0
    for walker_name, walker in (("Paul", paul), ("Oscar", oscar)):
        for operation in walked:
            names = path_parameters(operation.template)
            unknown = [name for name in names if name not in other]
            assert not unknown, f"{operation.template}: which ids go into {unknown}?"
            # The other's object first in the path; and, where the route also names a
            # member, the walker's own engagement with the other's member.
            aims = [{name: other[name] for name in names}]
            if names[0] == "engagement_id" and "user_id" in names:
                aims.append({"engagement_id": own["engagement_id"], "user_id": other["user_id"]})
            route = (operation.method, operation.template)
            for aim in aims:
                if walker_name == "Oscar" and aim.get("engagement_id") == own["engagement_id"]:
                    continue  # Oscar does not see Fabrikam's engagement either: nothing to aim
                path = fill_path(operation.template, aim)
                answer = walker.request(
                    operation.method,
                    path,
                    params=QUERIES.get(route),
                    json=BODIES.get(route, member_body(operation.template, other))
                    if operation.method in ("POST", "PATCH")
                    else None,
                )
                sent += 1
                text = answer.text.lower()
                leaked = [
                    word
                    for word in ("contoso", other["user_id"], "cora", "cyd", "chris")
                    if word.lower() in text
                ]
                if answer.status_code != 404 or leaked:
                    findings.append(
                        f"{walker_name}: {operation.method} {path} -> {answer.status_code} "
                        f"{answer.text[:200]} leaked={leaked}"
                    )
    assert not findings, "\n".join(findings)

    # Lists filtered by the other's engagement show nothing of it.
    for walker in (paul, oscar):
        assert (
            ok(walker.get("/v1/accessRequests", params={"engagementId": other["engagement_id"]}))[
                "value"
            ]
            == []
        )
        listed = json.dumps(
            [
                ok(walker.get("/v1/engagements", params={"available": flag}))
                for flag in ("true", "false")
            ]
            + [ok(walker.get("/v1/programs"))]
        ).lower()
        assert "contoso" not in listed

    settle(database)
    assert snapshot(olga, chris, cora, other) == before, f"{sent} requests changed Contoso's data"
    assert len(smtp.messages) == mails, "the walk sent mail"
