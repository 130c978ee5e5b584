"""`tenantry subscription …` and `tenantry license …`: buy and give licenses from a terminal."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from tenantry.cli.support import JsonOption, api_client, check, console, emit, fail

subscription_app = typer.Typer(help="Subscriptions: buy, add or remove licenses, lifecycle.")
license_app = typer.Typer(help="Licenses of users: assign, remove, list.")
catalog_app = typer.Typer(help="What this server sells.")

IdempotencyOption = typer.Option(
    None, "--idempotency-key", help="Reuse the key of a failed attempt to retry it safely."
)


def _subscription_row(subscription: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": subscription["id"],
        "sku": subscription["skuPartNumber"],
        "status": subscription["status"],
        "licenses": subscription["totalLicenses"],
        "autoRenew": subscription["autoRenew"],
        "next": (subscription["nextLifecycleDateTime"] or "")[:19],
    }


def _show_subscription(subscription: dict[str, Any], *, as_json: bool) -> None:
    emit(subscription if as_json else _subscription_row(subscription), as_json=as_json)


def _sku_rows(skus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for sku in skus:
        units = sku["prepaidUnits"]
        assignable = units["enabled"] + units["warning"]
        rows.append(
            {
                "sku": sku["skuPartNumber"],
                "skuId": sku["skuId"],
                "status": sku["capabilityStatus"],
                "enabled": units["enabled"],
                "warning": units["warning"],
                "suspended": units["suspended"],
                "consumed": sku["consumedUnits"],
                "available": max(0, assignable - sku["consumedUnits"]),
            }
        )
    return rows


# --- catalog ------------------------------------------------------------------------------


@catalog_app.command("list")
def catalog_list(as_json: bool = JsonOption) -> None:
    """The products that can be bought (`tenantry subscription buy SKU QUANTITY`)."""
    with api_client() as client:
        skus = check(client.get("/v1/catalog/skus"))["value"]
    rows = [
        {
            "sku": sku["skuPartNumber"],
            "name": sku["displayName"],
            "plans": ", ".join(plan["servicePlanName"] for plan in sku["servicePlans"]),
            "entitlements": ", ".join(f"{k}={v}" for k, v in sku["entitlements"].items()),
        }
        for sku in skus
    ]
    emit(skus if as_json else rows, as_json=as_json, title="Products")


# --- subscriptions ------------------------------------------------------------------------


@subscription_app.command("list")
def subscription_list(as_json: bool = JsonOption) -> None:
    """The organization's subscriptions."""
    with api_client() as client:
        subscriptions = check(client.get("/v1/subscriptions"))["value"]
    emit(
        subscriptions if as_json else [_subscription_row(s) for s in subscriptions],
        as_json=as_json,
        title="Subscriptions",
    )


@subscription_app.command("skus")
def subscription_skus(as_json: bool = JsonOption) -> None:
    """Licenses per product: prepaid by state, consumed, available (Graph subscribedSkus)."""
    with api_client() as client:
        skus = check(client.get("/v1/subscribedSkus"))["value"]
    emit(skus if as_json else _sku_rows(skus), as_json=as_json, title="Licenses")


@subscription_app.command("buy")
def subscription_buy(
    sku: str = typer.Argument(..., help="Product part number, e.g. BUSINESS_PREMIUM."),
    quantity: int = typer.Argument(..., min=1, help="How many licenses."),
    idempotency_key: str | None = IdempotencyOption,
    as_json: bool = JsonOption,
) -> None:
    """Buy a subscription (retried safely with the same --idempotency-key)."""
    key = idempotency_key or str(uuid.uuid4())
    with api_client() as client:
        subscription = check(
            client.post(
                "/v1/subscriptions",
                json={"skuPartNumber": sku, "quantity": quantity},
                headers={"Idempotency-Key": key},
            )
        )
    _show_subscription(subscription, as_json=as_json)


@subscription_app.command("add-licenses")
def subscription_add(
    subscription_id: str = typer.Argument(..., help="The subscription's id."),
    quantity: int = typer.Argument(..., min=1),
    idempotency_key: str | None = IdempotencyOption,
    as_json: bool = JsonOption,
) -> None:
    """Buy more licenses on a subscription."""
    key = idempotency_key or str(uuid.uuid4())
    with api_client() as client:
        subscription = check(
            client.post(
                f"/v1/subscriptions/{subscription_id}/addLicenses",
                json={"quantity": quantity},
                headers={"Idempotency-Key": key},
            )
        )
    _show_subscription(subscription, as_json=as_json)


@subscription_app.command("remove-licenses")
def subscription_remove(
    subscription_id: str = typer.Argument(..., help="The subscription's id."),
    quantity: int = typer.Argument(..., min=1),
    as_json: bool = JsonOption,
) -> None:
    """Remove licenses from a subscription (never below those assigned)."""
    with api_client() as client:
        subscription = check(
            client.post(
                f"/v1/subscriptions/{subscription_id}/removeLicenses",
                json={"quantity": quantity},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
        )
    _show_subscription(subscription, as_json=as_json)


@subscription_app.command("auto-renew")
def subscription_auto_renew(
    subscription_id: str = typer.Argument(..., help="The subscription's id."),
    enabled: bool = typer.Option(..., "--on/--off", help="Renew at the end of each term?"),
    as_json: bool = JsonOption,
) -> None:
    """Turn recurring billing on or off (off: the subscription expires at the end of its term)."""
    with api_client() as client:
        subscription = check(
            client.patch(f"/v1/subscriptions/{subscription_id}", json={"autoRenew": enabled})
        )
    _show_subscription(subscription, as_json=as_json)


@subscription_app.command("cancel")
def subscription_cancel(
    subscription_id: str = typer.Argument(..., help="The subscription's id."),
    as_json: bool = JsonOption,
) -> None:
    """Cancel now: users lose access; reactivate before it is deleted to undo."""
    with api_client() as client:
        subscription = check(client.post(f"/v1/subscriptions/{subscription_id}/cancel"))
    _show_subscription(subscription, as_json=as_json)


@subscription_app.command("reactivate")
def subscription_reactivate(
    subscription_id: str = typer.Argument(..., help="The subscription's id."),
    as_json: bool = JsonOption,
) -> None:
    """Reactivate an expired or suspended subscription for a new term."""
    with api_client() as client:
        subscription = check(client.post(f"/v1/subscriptions/{subscription_id}/reactivate"))
    _show_subscription(subscription, as_json=as_json)


@subscription_app.command("tick")
def subscription_tick(as_json: bool = JsonOption) -> None:
    """Operator: move due subscriptions along their lifecycle and send the free offers'
    step-down notices now (the server does it regularly)."""
    from tenantry import catalog
    from tenantry.core.config import get_settings
    from tenantry.core.db import Database
    from tenantry.licensing.scheduled import tick

    settings = get_settings()

    async def run() -> dict[str, Any]:
        database = Database(settings.database_url)
        try:
            return await tick(database, catalog.load(settings.catalog_path), settings)
        finally:
            await database.dispose()

    result = asyncio.run(run())
    if as_json:
        emit(result, as_json=True)
        return
    for transition in result["transitions"]:
        change = (
            "renewed" if transition["renewed"] else f"{transition['from']} → {transition['to']}"
        )
        console.print(f"subscription {transition['id']}: {change}")
    console.print(
        f"{len(result['transitions'])} transition(s), "
        f"{result['purgedIdempotencyKeys']} expired idempotency key(s) purged, "
        f"{result['offerStepDownNotices']} offer step-down notice(s) sent."
    )


# --- licenses -----------------------------------------------------------------------------


def find_sku(client: httpx.Client, name: str) -> dict[str, Any]:
    """The organization's subscribed SKU named by part number or skuId."""
    skus = check(client.get("/v1/subscribedSkus"))["value"]
    for sku in skus:
        if name.upper() == sku["skuPartNumber"] or name.lower() == sku["skuId"]:
            return sku
    fail(
        f"Your organization has no subscription to {name}. It has: "
        + (", ".join(s["skuPartNumber"] for s in skus) or "none")
        + "."
    )


def plan_ids(sku: dict[str, Any], names: list[str]) -> list[str]:
    """The ids of a subscribed SKU's service plans named by name or id (`--disable`)."""
    by_name = {p["servicePlanName"]: p["servicePlanId"] for p in sku["servicePlans"]}
    ids = set(by_name.values())
    result = []
    for name in names:
        plan_id = by_name.get(name.upper()) or (name.lower() if name.lower() in ids else None)
        if plan_id is None:
            fail(f"{name} is not a service plan of {sku['skuPartNumber']}: {', '.join(by_name)}.")
        result.append(plan_id)
    return result


def _change_for_users(
    users: list[str],
    body: Callable[[httpx.Client], dict[str, Any]],
    *,
    as_json: bool,
    doing: str,
) -> None:
    """POST assignLicense for each user, with a progress bar; a failure never stops the rest."""
    outcomes: list[dict[str, Any]] = []
    with (
        api_client() as client,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            disable=as_json or len(users) < 2,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task(doing, total=len(users))
        for user in users:
            response = client.post(f"/v1/users/{user}/assignLicense", json=body(client))
            if response.status_code == 200:
                outcomes.append({"user": user, "outcome": "ok", "code": None, "message": None})
            else:
                try:
                    error = response.json()["error"]
                except (ValueError, KeyError):
                    error = {"code": str(response.status_code), "message": response.text[:200]}
                outcomes.append(
                    {
                        "user": user,
                        "outcome": "failed",
                        "code": error.get("code"),
                        "message": error.get("message"),
                    }
                )
            progress.advance(task)
    emit(outcomes, as_json=as_json, columns=["user", "outcome", "code", "message"])
    if any(o["outcome"] != "ok" for o in outcomes):
        raise typer.Exit(1)


@license_app.command("assign")
def license_assign(
    users: list[str] = typer.Argument(..., help="Users, by sign-in address or id."),
    sku: str = typer.Option(..., "--sku", help="Product part number or skuId."),
    disable: list[str] = typer.Option([], "--disable", help="A service plan to switch off."),
    as_json: bool = JsonOption,
) -> None:
    """Give users a license directly (each needs a usage location)."""
    resolved: dict[str, Any] = {}

    def body(client: httpx.Client) -> dict[str, Any]:
        if not resolved:
            found = find_sku(client, sku)
            resolved["body"] = {
                "addLicenses": [
                    {"skuId": found["skuId"], "disabledPlans": plan_ids(found, disable)}
                ],
                "removeLicenses": [],
            }
        return resolved["body"]

    _change_for_users(users, body, as_json=as_json, doing=f"Assigning {sku}")


@license_app.command("remove")
def license_remove(
    users: list[str] = typer.Argument(..., help="Users, by sign-in address or id."),
    sku: str = typer.Option(..., "--sku", help="Product part number or skuId."),
    as_json: bool = JsonOption,
) -> None:
    """Take a direct license away from users; the licenses become available again."""
    resolved: dict[str, Any] = {}

    def body(client: httpx.Client) -> dict[str, Any]:
        if not resolved:
            found = find_sku(client, sku)
            resolved["body"] = {"addLicenses": [], "removeLicenses": [found["skuId"]]}
        return resolved["body"]

    _change_for_users(users, body, as_json=as_json, doing=f"Removing {sku}")


@license_app.command("list")
def license_list(
    user: str | None = typer.Argument(None, help="A user (address or id); none: the organization."),
    as_json: bool = JsonOption,
) -> None:
    """A user's licenses with their service plans, or the organization's license counts."""
    with api_client() as client:
        if user is None:
            skus = check(client.get("/v1/subscribedSkus"))["value"]
            emit(skus if as_json else _sku_rows(skus), as_json=as_json, title="Licenses")
            return
        details = check(client.get(f"/v1/users/{user}/licenseDetails"))["value"]
    if as_json:
        emit(details, as_json=True)
        return
    rows = [
        {
            "sku": detail["skuPartNumber"],
            "plans": ", ".join(
                plan["servicePlanName"]
                + ("" if plan["provisioningStatus"] == "Success" else " (off)")
                for plan in detail["servicePlans"]
            ),
        }
        for detail in details
    ]
    emit(rows, as_json=False, title=f"Licenses of {user}")
