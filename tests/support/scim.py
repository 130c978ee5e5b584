"""Steps the directory sync tests share: an organization, its provisioning token, a SCIM client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.databases import TestDatabase
from tests.support.licensing import Admin, global_admin
from tests.support.stories import Stories

SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Provisioning:
    """A Global Administrator, the provisioning token they created, and a SCIM client with it."""

    admin: Admin
    token: str
    token_id: str
    scim: httpx.Client


def scim_client(base_url: str, token: str) -> httpx.Client:
    """A SCIM client as identity providers are: the base URL and the secret token."""
    return httpx.Client(
        base_url=f"{base_url}/scim/v2",
        headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON},
        timeout=60,
    )


def provisioning(
    stories: Stories, database: TestDatabase, email: str = "ariane@contoso.com"
) -> Provisioning:
    """Sign `email` up, make them Global Administrator, create a token (as on the page)."""
    admin = global_admin(stories, database, email)
    created = admin.api.post("/v1/scimTokens", json={"displayName": "Microsoft Entra ID"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    return Provisioning(admin, token, created.json()["id"], scim_client(stories.server.url, token))


def entra_user(user_name: str, external_id: str, **extra: Any) -> dict[str, Any]:
    """A user as Entra's provisioning service creates one (its documented request)."""
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "roles": [],
        **extra,
    }


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}
