"""Steps the directory tests share: an organization with a Global Administrator, users."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.admin import make_global_admin
from tests.support.databases import TestDatabase
from tests.support.stories import Stories


def admin_api(stories: Stories, database: TestDatabase, email: str, name: str) -> httpx.Client:
    """Sign `email` up, make them Global Administrator of their (now managed) tenant, sign in."""
    stories.sign_up(email, name)
    make_global_admin(database, email)
    return stories.client_for(email)


def add_user(api: httpx.Client, upn: str, name: str, **fields: Any) -> dict[str, Any]:
    """Add a user through the API (a generated password unless one is given)."""
    response = api.post("/v1/users", json={"userPrincipalName": upn, "displayName": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def error_code(response: httpx.Response) -> str:
    """The `error.code` of a failed response."""
    return response.json()["error"]["code"]
