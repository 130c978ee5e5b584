"""Steps the group-based licensing tests share: groups, their licenses, waiting for processing."""

from __future__ import annotations

import time
from typing import Any

import httpx

PROCESSING_TIMEOUT = 30.0


def create_group(api: httpx.Client, name: str, members: list[str] = ()) -> dict[str, Any]:
    """A security group with these members (user ids)."""
    created = api.post("/v1/groups", json={"displayName": name})
    assert created.status_code == 201, created.text
    group = created.json()
    if members:
        add_members(api, group["id"], members)
    return group


def add_members(api: httpx.Client, group_id: str, members: list[str]) -> None:
    for start in range(0, len(members), 5000):
        added = api.post(
            f"/v1/groups/{group_id}/members", json={"userIds": members[start : start + 5000]}
        )
        assert added.status_code == 200, added.text


def assign_group(
    api: httpx.Client,
    group_id: str,
    add: list[tuple[object, list[str]]] = (),
    remove: list[object] = (),
) -> httpx.Response:
    return api.post(
        f"/v1/groups/{group_id}/assignLicense",
        json={
            "addLicenses": [
                {"skuId": str(sku_id), "disabledPlans": plans} for sku_id, plans in add
            ],
            "removeLicenses": [str(sku_id) for sku_id in remove],
        },
    )


def wait_processed(
    api: httpx.Client, group_id: str, timeout: float = PROCESSING_TIMEOUT
) -> dict[str, Any]:
    """Poll the group until its licenseProcessingState is ProcessingComplete; the group."""
    deadline = time.monotonic() + timeout
    while True:
        group = api.get(f"/v1/groups/{group_id}")
        assert group.status_code == 200, group.text
        state = group.json()["licenseProcessingState"]
        if state and state["state"] == "ProcessingComplete":
            return group.json()
        assert time.monotonic() < deadline, f"still {state} after {timeout} s"
        time.sleep(0.05)


def states(api: httpx.Client, user_id: str) -> list[dict[str, Any]]:
    """A user's licenseAssignmentStates, as GET /v1/users/{id} shows them."""
    user = api.get(f"/v1/users/{user_id}")
    assert user.status_code == 200, user.text
    return user.json()["licenseAssignmentStates"]


def state_of(api: httpx.Client, user_id: str, group_id: str | None) -> tuple[str, str] | None:
    """(state, error) of the user's license from that group (None: direct), or None."""
    for entry in states(api, user_id):
        if entry["assignedByGroup"] == group_id:
            return entry["state"], entry["error"]
    return None


def audit_events(api: httpx.Client, action: str) -> list[dict[str, Any]]:
    """The audit events of one action, newest first, with their details as a dict."""
    found = api.get("/v1/auditLogs/directoryAudits", params={"action": action})
    assert found.status_code == 200, found.text
    return [
        event | {"details": {d["key"]: d["value"] for d in event["additionalDetails"]}}
        for event in found.json()["value"]
    ]
