"""The seat invariant under load: 200 simultaneous assignments for 50 licenses."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.licensing import ESSENTIALS, add_users, buy, global_admin, sku_view


def test_two_hundred_simultaneous_assignments_for_fifty_licenses(stories, database, server):
    ariane = global_admin(stories, database)
    buy(ariane.api, "BUSINESS_ESSENTIALS", 50)
    users = add_users(database, ariane.tenant_id, 200)
    token = ariane.api.headers["Authorization"]

    async def assign_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(
            base_url=server.url, headers={"Authorization": token}, timeout=120, limits=limits
        ) as client:
            start = asyncio.Event()

            async def one(user_id: str) -> httpx.Response:
                await start.wait()
                return await client.post(
                    f"/v1/users/{user_id}/assignLicense",
                    json={"addLicenses": [{"skuId": str(ESSENTIALS.sku_id)}]},
                )

            tasks = [asyncio.create_task(one(user_id)) for user_id in users]
            await asyncio.sleep(0.1)
            start.set()
            return await asyncio.gather(*tasks)

    responses = asyncio.run(assign_all())

    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 50, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(409) == 150
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "CountViolation"
    }
    view = sku_view(ariane.api, "BUSINESS_ESSENTIALS")
    assert view["consumedUnits"] == 50
    assert view["prepaidUnits"]["enabled"] == 50
    assert database.scalar("SELECT count(*) FROM license_assignments") == 50
    licensed = {r.json()["id"] for r in responses if r.status_code == 200}
    assert len(licensed) == 50
