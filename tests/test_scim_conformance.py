"""scim2-tester, the field's RFC 7643/7644 conformance checker, against the live server.

The checker fills every attribute the server publishes with random values and expects
them back. Tenantry refuses a `userName` that is not an address on one of the
organization's verified domains (its contract), so the checker is told the one thing it
cannot guess from /Schemas: what a valid userName looks like (fresh addresses at
contoso.com). Everything else it reads from the server's own discovery endpoints.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import httpx2
import scim2_models
from pydantic import Field
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Required, ScimProvider, Uniqueness
from scim2_tester import Status, check_server

from tenantry.scim.resources import GROUP_TYPE, USER_TYPE, EnterpriseUser, Group
from tests.support.scim import provisioning


class _FreshAddresses(list):
    """Examples the checker picks user names from: a new address at each pick."""

    def __len__(self) -> int:
        return 1_000_000

    def __getitem__(self, index):  # type: ignore[override]
        return f"user.{uuid.uuid4().hex[:12]}@contoso.com"


class User(scim2_models.User):
    user_name: Annotated[str | None, Uniqueness.server, Required.true] = Field(
        None, examples=_FreshAddresses()
    )


def test_scim2_tester_passes_every_check_it_runs(stories, database):
    setup = provisioning(stories, database)
    with httpx2.Client(
        base_url=f"{stories.server.url}/scim/v2/",
        headers={"Authorization": f"Bearer {setup.token}"},
        timeout=60,
    ) as http:
        client = SyncSCIMClient(
            http,
            provider=ScimProvider(
                models=[User, EnterpriseUser, Group], resource_types=[USER_TYPE, GROUP_TYPE]
            ),
        )
        results = check_server(client)
    failed = [
        f"{result.title} [{result.resource_type}]: {result.reason}"
        for result in results
        if result.status in (Status.ERROR, Status.CRITICAL)
    ]
    ran = [result for result in results if result.status != Status.SKIPPED]
    assert failed == [], "\n".join(failed)
    assert len(ran) > 50, [result.title for result in results]
