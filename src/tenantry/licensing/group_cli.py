"""`tenantry group license …`: give a group licenses, follow its processing, see its errors."""

from __future__ import annotations

import time
from typing import Any

import httpx
import typer

from tenantry.cli.support import JsonOption, api_client, check, console, emit, err_console, fail
from tenantry.directory.cli import find_group
from tenantry.licensing.cli import find_sku, plan_ids

group_license_app = typer.Typer(
    help="Licenses of a group: assign, remove, status, reprocess.", no_args_is_help=True
)

GroupArgument = typer.Argument(..., help="Group id or display name.")
SkuOption = typer.Option(..., "--sku", help="Product part number or skuId.")
WaitOption = typer.Option(False, "--wait", help="Wait until processing is complete.")
TimeoutOption = typer.Option(600.0, "--timeout", help="Seconds to wait at most (with --wait).")


def _state(group: dict[str, Any]) -> str | None:
    state = group.get("licenseProcessingState")
    return state["state"] if state else None


def _wait(client: httpx.Client, group_id: str, timeout: float, *, quiet: bool) -> dict[str, Any]:
    """Poll the group until its licenses are processed; the group."""
    deadline = time.monotonic() + timeout
    with err_console.status("Processing the group's licenses…", spinner="dots") as status:
        while True:
            group = check(client.get(f"/v1/groups/{group_id}"))
            state = _state(group)
            if state in (None, "ProcessingComplete"):
                return group
            if not quiet:
                status.update(f"{state}…")
            if time.monotonic() > deadline:
                fail(f"the group is still {state} after {timeout:.0f} s")
            time.sleep(0.5)


def _summary(client: httpx.Client, group: dict[str, Any]) -> dict[str, Any]:
    """The group's licenses by part number, its processing state and its members in error."""
    skus = {s["skuId"]: s for s in check(client.get("/v1/subscribedSkus"))["value"]}
    errors = check(client.get(f"/v1/groups/{group['id']}/membersWithLicenseErrors"))
    return {
        "group": group["displayName"],
        "id": group["id"],
        "licenses": [
            {
                "sku": skus.get(item["skuId"], {}).get("skuPartNumber", item["skuId"]),
                "skuId": item["skuId"],
                "disabledPlans": item["disabledPlans"],
            }
            for item in group["assignedLicenses"]
        ],
        "licenseProcessingState": _state(group),
        "membersWithLicenseErrors": [
            {
                "user": member["userPrincipalName"],
                "id": member["id"],
                "errors": [
                    {
                        "sku": skus.get(e["skuId"], {}).get("skuPartNumber", e["skuId"]),
                        "state": e["state"],
                        "error": e["error"],
                    }
                    for e in member["licenseAssignmentStates"]
                    if e["error"] != "None"
                ],
            }
            for member in errors["value"]
        ],
        # The API sends `"@odata.nextLink": null` on the last page: only a link means more.
        "moreMembersWithErrors": bool(errors.get("@odata.nextLink")),
    }


def _show(summary: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit(summary, as_json=True)
        return
    console.print(
        f"[bold]{summary['group']}[/bold]: {summary['licenseProcessingState'] or 'no licenses'}"
    )
    emit(
        [
            {"sku": item["sku"], "disabledPlans": ", ".join(item["disabledPlans"]) or "-"}
            for item in summary["licenses"]
        ],
        as_json=False,
        title="Licenses",
    )
    if summary["membersWithLicenseErrors"]:
        emit(
            [
                {
                    "user": member["user"],
                    "errors": ", ".join(f"{e['sku']}: {e['error']}" for e in member["errors"]),
                }
                for member in summary["membersWithLicenseErrors"]
            ],
            as_json=False,
            title="Members with license errors",
        )
        if summary["moreMembersWithErrors"]:
            console.print(
                "More members in error: see "
                f"GET /v1/groups/{summary['id']}/membersWithLicenseErrors."
            )


def _change(group: str, body: Any, *, wait: bool, timeout: float, as_json: bool) -> None:
    with api_client() as client:
        found = find_group(client, group)
        changed = check(client.post(f"/v1/groups/{found['id']}/assignLicense", json=body(client)))
        if wait:
            changed = _wait(client, found["id"], timeout, quiet=as_json)
        _show(_summary(client, changed), as_json=as_json)


@group_license_app.command("assign")
def group_license_assign(
    group: str = GroupArgument,
    sku: str = SkuOption,
    disable: list[str] = typer.Option([], "--disable", help="A service plan to switch off."),
    wait: bool = WaitOption,
    timeout: float = TimeoutOption,
    as_json: bool = JsonOption,
) -> None:
    """Give a group's members a license (or change its disabled plans), in the background."""

    def body(client: httpx.Client) -> dict[str, Any]:
        found = find_sku(client, sku)
        return {
            "addLicenses": [{"skuId": found["skuId"], "disabledPlans": plan_ids(found, disable)}],
            "removeLicenses": [],
        }

    _change(group, body, wait=wait, timeout=timeout, as_json=as_json)


@group_license_app.command("remove")
def group_license_remove(
    group: str = GroupArgument,
    sku: str = SkuOption,
    wait: bool = WaitOption,
    timeout: float = TimeoutOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop giving a license through a group (members keep it from other sources)."""

    def body(client: httpx.Client) -> dict[str, Any]:
        return {"addLicenses": [], "removeLicenses": [find_sku(client, sku)["skuId"]]}

    _change(group, body, wait=wait, timeout=timeout, as_json=as_json)


@group_license_app.command("status")
def group_license_status(
    group: str = GroupArgument,
    wait: bool = WaitOption,
    timeout: float = TimeoutOption,
    as_json: bool = JsonOption,
) -> None:
    """A group's licenses, their processing state and the members in error."""
    with api_client() as client:
        found = find_group(client, group)
        if wait:
            found = _wait(client, found["id"], timeout, quiet=as_json)
        else:
            found = check(client.get(f"/v1/groups/{found['id']}"))
        _show(_summary(client, found), as_json=as_json)


@group_license_app.command("reprocess")
def group_license_reprocess(
    group: str = GroupArgument,
    wait: bool = WaitOption,
    timeout: float = TimeoutOption,
    as_json: bool = JsonOption,
) -> None:
    """Process the group's licenses again, retrying errors (e.g. after buying more)."""
    with api_client() as client:
        found = find_group(client, group)
        changed = check(client.post(f"/v1/groups/{found['id']}/reprocessLicenseAssignment"))
        if wait:
            changed = _wait(client, found["id"], timeout, quiet=as_json)
        _show(_summary(client, changed), as_json=as_json)
