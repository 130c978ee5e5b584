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
