"""Races on a partner account's members, settled by the database: Owners stepping down at the
same moment leave exactly one, and one tenant linked twice at once is linked once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from tests.support.admin import make_global_admin
from tests.support.partner import add_person, enroll, roles_by_address

OWNERS = 6


def race(server, tokens: list[str], act: Callable[[httpx.Client, int], httpx.Response]):
    """Each token's request sent at the same moment; the answers."""
    start = threading.Barrier(len(tokens))
    answers: list[httpx.Response] = []

    def run(token: str, number: int) -> None:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            start.wait()
            answers.append(act(client, number))

    threads = [threading.Thread(target=run, args=(t, n)) for n, t in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_owners_stepping_down_at_once_leave_exactly_one(stories, database, server):
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    make_global_admin(database, "ariane@contoso.com")
    ariane = stories.client_for("ariane@contoso.com")
    account = enroll(ariane)
    others = [f"owner{number}@contoso.com" for number in range(1, OWNERS)]
    for email in others:
        add_person(ariane, email, email.split("@")[0])
    path = f"/v1/partnerAccounts/{account['id']}"
    ariane.post(f"{path}/members", json={"userIds": others, "roles": ["owner"]}).raise_for_status()
    emails = ["ariane@contoso.com", *others]
    tokens = [stories.token(email) for email in emails]

    answers = race(
        server,
        tokens,
        lambda client, number: client.patch(
            f"{path}/members/{emails[number]}", json={"roles": ["manager"]}
        ),
    )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * (OWNERS - 1) + [409], [a.text for a in answers]
    refused = [answer for answer in answers if answer.status_code == 409]
    assert refused[0].json()["error"]["code"] == "lastOwner"
    # Everyone is still a member (Manager or Owner): exactly one of them is an Owner.
    roles = roles_by_address(ariane, account["id"])
    assert len(roles) == OWNERS
    assert sum("owner" in held for held in roles.values()) == 1


def test_one_tenant_linked_twice_at_once_is_linked_once(stories, database, server):
    for email in ("ariane@contoso.com", "bruno@fabrikam.com"):
        stories.sign_up(email, email.split("@")[0])
        make_global_admin(database, email)
    ariane = stories.client_for("ariane@contoso.com")
    account = enroll(ariane)
    add_person(ariane, "alain@contoso.com", "Alain Martin")
    path = f"/v1/partnerAccounts/{account['id']}"
    ariane.post(
        f"{path}/members", json={"userIds": ["alain@contoso.com"], "roles": ["manager"]}
    ).raise_for_status()
    bruno = stories.client_for("bruno@fabrikam.com")
    fabrikam = bruno.get("/v1/organization").json()["id"]
    proof = stories.token("bruno@fabrikam.com")

    answers = race(
        server,
        [stories.token("ariane@contoso.com"), stories.token("alain@contoso.com")],
        lambda client, _: client.post(
            f"{path}/tenants", json={"tenantId": fabrikam, "tenantAdministratorToken": proof}
        ),
    )

    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["error"]["code"] == "tenantAlreadyLinked"
    assert database.scalar("SELECT count(*) FROM partner_account_tenants") == 2
