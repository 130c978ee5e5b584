"""Partner program helpers: an enrollment body, a Global Administrator ready to enroll."""

from __future__ import annotations

from typing import Any

import httpx

from tenantry.partner.service import DEFAULT_AGREEMENT_VERSION


def enrollment(publisher: str = "Contoso Labs", **changes: Any) -> dict[str, Any]:
    """The body of `POST /v1/partnerAccounts` as the wizard sends it; `changes` replace parts."""
    body: dict[str, Any] = {
        "countryOrRegion": "FR",
        "accountType": "company",
        "publisherDisplayName": publisher,
        "contact": {
            "name": "Ariane Dupont",
            "email": "ariane@contoso.com",
            "phone": "+33 1 42 68 53 00",
        },
        "approver": {
            "name": "Jean Martin",
            "email": "jean@contoso.com",
            "phone": "+33 6 12 34 56 78",
        },
        "agreement": {"version": DEFAULT_AGREEMENT_VERSION, "accepted": True},
    }
    body.update(changes)
    return body


def enroll(api: httpx.Client, publisher: str = "Contoso Labs", **changes: Any) -> dict[str, Any]:
    """Enroll the caller's organization; the new account."""
    answer = api.post("/v1/partnerAccounts", json=enrollment(publisher, **changes))
    assert answer.status_code == 201, answer.text
    return answer.json()


def add_person(admin: httpx.Client, email: str, name: str) -> dict[str, Any]:
    """A user of the admin's organization, with the stories' password (signs in at once)."""
    from tests.support.stories import PASSWORD

    answer = admin.post(
        "/v1/users", json={"userPrincipalName": email, "displayName": name, "password": PASSWORD}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def members(api: httpx.Client, account_id: str, **params: Any) -> list[dict[str, Any]]:
    """Every member of a partner account, page after page."""
    found: list[dict[str, Any]] = []
    answer = api.get(f"/v1/partnerAccounts/{account_id}/members", params=params)
    while True:
        assert answer.status_code == 200, answer.text
        found += answer.json()["value"]
        link = answer.json().get("@odata.nextLink")
        if not link:
            return found
        answer = api.get(link)


def roles_by_address(api: httpx.Client, account_id: str) -> dict[str, list[str]]:
    """Each user member's roles, by sign-in address (groups by display name)."""
    return {
        member.get("userPrincipalName") or member["displayName"]: member["roles"]
        for member in members(api, account_id)
    }


# --- the pages -------------------------------------------------------------------------------

ENROLL = "/partner/enroll"
STEP_TWO = {
    "contact_phone": "+33 1 42 68 53 00",
    "approver_name": "Jean Martin",
    "approver_email": "jean@contoso.com",
    "approver_phone": "+33 6 12 34 56 78",
}


def wizard_fields(page: httpx.Response) -> dict[str, str]:
    """What the wizard's form would send as it stands (hidden values of the other steps too)."""
    from tests.support.routes import forms_of

    forms = [form for form in forms_of(page.text) if form.action == ENROLL]
    assert forms, page.text
    return {name: values[0] if values else "" for name, values in forms[0].fields.items()}


def wizard_step(
    client: httpx.Client, page: httpx.Response, go: str, **changes: str
) -> httpx.Response:
    """Press `go` (check, next, back, finish) on the wizard page shown, with `changes` typed."""
    fields = wizard_fields(page)
    fields.update(changes)
    return client.post(ENROLL, data={**fields, "go": go})


def walk_to_review(client: httpx.Client, publisher: str = "Contoso Labs") -> httpx.Response:
    """Steps 1 and 2 filled in as Ariane does; the review step."""
    first = client.get(ENROLL)
    assert first.status_code == 200, first.text
    second = wizard_step(client, first, "next", country="FR", publisher_name=publisher)
    assert 'data-test="step-2"' in second.text, second.text
    third = wizard_step(client, second, "next", **STEP_TWO)
    assert 'data-test="step-3"' in third.text, third.text
    return third
