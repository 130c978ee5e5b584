"""Steps the licensing tests share: an admin, users in bulk, purchases, the lifecycle job."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from tenantry.catalog import load
from tenantry.cli.main import app as cli_app
from tenantry.core.clock import clock
from tenantry.directory.models import User
from tests.support.admin import make_global_admin
from tests.support.databases import TestDatabase
from tests.support.stories import Stories

CATALOG = load()
ESSENTIALS = CATALOG.sku("BUSINESS_ESSENTIALS")
PREMIUM = CATALOG.sku("BUSINESS_PREMIUM")
assert ESSENTIALS is not None and PREMIUM is not None


@dataclass
class Admin:
    """A Global Administrator of a managed tenant, signed in to the API."""

    email: str
    user_id: str
    tenant_id: str
    api: httpx.Client


def global_admin(
    stories: Stories, database: TestDatabase, email: str = "ariane@contoso.com"
) -> Admin:
    """Sign `email` up and make them Global Administrator of their (now managed) tenant."""
    signed_up = stories.sign_up(email, "Ariane Dupont")
    make_global_admin(database, email)
    return Admin(
        email=email,
        user_id=signed_up["user"]["id"],
        tenant_id=signed_up["tenant"]["id"],
        api=stories.client_for(email),
    )


def add_users(
    database: TestDatabase,
    tenant_id: str,
    count: int,
    *,
    usage_location: str | None = "FR",
    source: str = "cloud",
    domain: str = "contoso.com",
) -> list[str]:
    """Insert `count` users straight into the tenant (arrangement only); returns their ids."""
    now = clock.now()
    tag = uuid.uuid4().hex[:6]
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": uuid.UUID(tenant_id),
            "user_principal_name": f"user{index}.{tag}@{domain}",
            "mail": f"user{index}.{tag}@{domain}",
            "display_name": f"User {index}",
            "source": source,
            "usage_location": usage_location,
            "account_enabled": True,
            "must_change_password": False,
            "failed_sign_ins": 0,
            "created_at": now,
        }
        for index in range(count)
    ]
    with database.engine.begin() as connection:
        connection.execute(insert(User), rows)
    return [str(row["id"]) for row in rows]


def set_usage_location(database: TestDatabase, email: str, country: str) -> None:
    """Give a signed-up user a usage location (arrangement; the admin API owns the real path)."""
    with database.engine.begin() as connection:
        connection.execute(
            update(User).where(User.user_principal_name == email).values(usage_location=country)
        )


def user_id_of(database: TestDatabase, email: str) -> str:
    with database.engine.connect() as connection:
        return str(
            connection.execute(
                select(User.id).where(User.user_principal_name == email)
            ).scalar_one()
        )


def buy(api: httpx.Client, sku: str, quantity: int, *, key: str | None = None) -> dict[str, Any]:
    """Buy a subscription through the API; returns it."""
    response = api.post(
        "/v1/subscriptions",
        json={"skuPartNumber": sku, "quantity": quantity},
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()


def assign(api: httpx.Client, user: str, sku_id: object, **extra: Any) -> httpx.Response:
    return api.post(
        f"/v1/users/{user}/assignLicense",
        json={"addLicenses": [{"skuId": str(sku_id), **extra}], "removeLicenses": []},
    )


def sku_view(api: httpx.Client, part_number: str) -> dict[str, Any]:
    skus = api.get("/v1/subscribedSkus")
    assert skus.status_code == 200, skus.text
    (found,) = [s for s in skus.json()["value"] if s["skuPartNumber"] == part_number]
    return found


def cli(database: TestDatabase, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run `tenantry …` in-process (it shares the test clock) and return its JSON output."""
    result = CliRunner().invoke(
        cli_app, [*args, "--json"], env={"TENANTRY_DATABASE_URL": database.url, **(env or {})}
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def tick(database: TestDatabase) -> list[dict[str, Any]]:
    """Run the lifecycle job once, as an operator would: `tenantry subscription tick`."""
    return cli(database, "subscription", "tick")["transitions"]
