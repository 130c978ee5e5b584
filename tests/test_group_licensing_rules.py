"""Service plan rules of an operator's catalog (mutually exclusive and dependent plans), as group
processing and direct assignment apply them."""

from __future__ import annotations

import uuid
from importlib import resources

import httpx
import pytest

from tenantry.catalog import parse
from tenantry.core.migrate import upgrade
from tests.support.databases import TestDatabase
from tests.support.group_licensing import (
    assign_group,
    create_group,
    state_of,
    wait_processed,
)
from tests.support.licensing import ESSENTIALS, add_users, assign, buy, global_admin
from tests.support.server import LiveServer
from tests.support.stories import Stories

# Two add-ons: a kiosk mailbox that cannot sit beside a full one, and archiving that
# needs a mailbox (Entra's "Exchange Online Kiosk" and "Exchange Online Archiving").
ADD_ONS = """
[[skus]]
skuId = "8c0bd6d7-13a1-46b5-a5a3-2a0a1c9b0d01"
partNumber = "MAILBOX_KIOSK"
[[skus.servicePlans]]
servicePlanId = "a3d9a4b1-1a0a-4f51-9a0e-5b1f3b9f0e11"
servicePlanName = "MAIL_KIOSK"
mutuallyExclusiveWith = ["MAIL"]

[[skus]]
skuId = "8c0bd6d7-13a1-46b5-a5a3-2a0a1c9b0d02"
partNumber = "ARCHIVING"
[[skus.servicePlans]]
servicePlanId = "a3d9a4b1-1a0a-4f51-9a0e-5b1f3b9f0e12"
servicePlanName = "MAIL_ARCHIVE"
dependsOn = ["MAIL"]
"""
CATALOG_TEXT = resources.files("tenantry.catalog").joinpath("default.toml").read_text() + ADD_ONS
CATALOG = parse(CATALOG_TEXT)
KIOSK = CATALOG.sku("MAILBOX_KIOSK")
ARCHIVING = CATALOG.sku("ARCHIVING")
MAIL = str(ESSENTIALS.plan_named("MAIL").service_plan_id)


@pytest.fixture(scope="module")
def rules_database(tmp_path_factory):
    """A database and server of their own: this server's catalog has the add-ons."""
    isolated = TestDatabase(tmp_path_factory.mktemp("rules"))
    isolated.create()
    upgrade(isolated.url)
    yield isolated
    isolated.drop()


@pytest.fixture(scope="module")
def rules_server(rules_database, settings, tmp_path_factory):
    path = tmp_path_factory.mktemp("catalog") / "catalog.toml"
    path.write_text(CATALOG_TEXT)
    live = LiveServer(
        settings.model_copy(
            update={
                "database_url": rules_database.url,
                "catalog_path": path,
                "data_dir": tmp_path_factory.mktemp("rules-data"),
            }
        )
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture()
def ariane(rules_database, rules_server, smtp):
    rules_database.truncate()
    smtp.clear()
    with httpx.Client(base_url=rules_server.url, timeout=30) as client:
        admin = global_admin(Stories(api=client, smtp=smtp, server=rules_server), rules_database)
        yield admin
        admin.api.close()


def test_a_plan_that_excludes_one_the_user_holds_is_not_given(ariane, rules_database):
    api = ariane.api
    buy(api, "BUSINESS_ESSENTIALS", 5)
    buy(api, "MAILBOX_KIOSK", 5)
    mailbox_owner, newcomer = add_users(rules_database, ariane.tenant_id, 2)
    assert assign(api, mailbox_owner, ESSENTIALS.sku_id).status_code == 200
    kiosk = create_group(api, "Kiosk", [mailbox_owner, newcomer])
    assert assign_group(api, kiosk["id"], add=[(KIOSK.sku_id, [])]).status_code == 202
    wait_processed(api, kiosk["id"])

    assert state_of(api, mailbox_owner, kiosk["id"]) == ("Error", "MutuallyExclusiveViolation")
    assert state_of(api, newcomer, kiosk["id"]) == ("Active", "None")

    # Once the full mailbox is switched off, a reprocess gives the kiosk one.
    assert assign(api, mailbox_owner, ESSENTIALS.sku_id, disabledPlans=[MAIL]).status_code == 200
    reprocessed = api.post(f"/v1/users/{mailbox_owner}/reprocessLicenseAssignment")
    assert reprocessed.status_code == 200, reprocessed.text
    assert state_of(api, mailbox_owner, kiosk["id"]) == ("Active", "None")

    # A group cannot give two licenses whose plans exclude each other.
    both = create_group(api, "Both")
    refused = assign_group(api, both["id"], add=[(ESSENTIALS.sku_id, []), (KIOSK.sku_id, [])])
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "mutuallyExclusiveServicePlans"
    accepted = assign_group(api, both["id"], add=[(ESSENTIALS.sku_id, [MAIL]), (KIOSK.sku_id, [])])
    assert accepted.status_code == 202, accepted.text


def test_a_plan_needs_the_plans_it_depends_on(ariane, rules_database):
    api = ariane.api
    buy(api, "BUSINESS_ESSENTIALS", 5)
    buy(api, "ARCHIVING", 5)
    with_mail, without = sorted(add_users(rules_database, ariane.tenant_id, 2))
    mailboxes = create_group(api, "Mailboxes", [with_mail])
    assign_group(api, mailboxes["id"], add=[(ESSENTIALS.sku_id, [])])
    wait_processed(api, mailboxes["id"])
    archive = create_group(api, "Archive", [with_mail, without])
    assign_group(api, archive["id"], add=[(ARCHIVING.sku_id, [])])
    wait_processed(api, archive["id"])
    assert state_of(api, with_mail, archive["id"]) == ("Active", "None")
    assert state_of(api, without, archive["id"]) == ("Error", "DependencyViolation")
    consumed = {
        s["skuPartNumber"]: s["consumedUnits"]
        for s in api.get("/v1/subscribedSkus").json()["value"]
    }
    assert consumed["ARCHIVING"] == 1

    # The mailbox group switches MAIL off later: the archive stays in effect, with an error,
    # on reprocess (a direct change would have been refused: test_direct_assignment_…).
    assert assign_group(api, mailboxes["id"], add=[(ESSENTIALS.sku_id, [MAIL])]).status_code == 202
    wait_processed(api, mailboxes["id"])
    reprocessed = api.post(f"/v1/users/{with_mail}/reprocessLicenseAssignment").json()
    (from_group,) = [
        s for s in reprocessed["licenseAssignmentStates"] if s["assignedByGroup"] == archive["id"]
    ]
    assert (from_group["state"], from_group["error"]) == ("ActiveWithError", "DependencyViolation")

    # A group giving the mailbox too satisfies the dependency; without it (MAIL off),
    # the archive fails and the group's other license is withheld as well.
    bundle = create_group(api, "Bundle", [without])
    assign_group(api, bundle["id"], add=[(ESSENTIALS.sku_id, [MAIL]), (ARCHIVING.sku_id, [])])
    wait_processed(api, bundle["id"])
    entries = {
        e["skuId"]: (e["state"], e["error"])
        for e in api.get(f"/v1/users/{without}").json()["licenseAssignmentStates"]
        if e["assignedByGroup"] == bundle["id"]
    }
    assert entries == {
        str(ESSENTIALS.sku_id): ("Error", "Other"),
        str(ARCHIVING.sku_id): ("Error", "DependencyViolation"),
    }
    assign_group(api, bundle["id"], add=[(ESSENTIALS.sku_id, [])])
    api.post(f"/v1/groups/{bundle['id']}/reprocessLicenseAssignment")
    wait_processed(api, bundle["id"])
    assert state_of(api, without, bundle["id"]) is not None
    assert {
        e["state"]
        for e in api.get(f"/v1/users/{without}").json()["licenseAssignmentStates"]
        if e["assignedByGroup"] == bundle["id"]
    } == {"Active"}


def _licenses(api, user):
    """(part number, from group?) of what the user holds, and the SKUs' consumed units."""
    skus = {s["skuId"]: s for s in api.get("/v1/subscribedSkus").json()["value"]}
    held = sorted(
        (skus[entry["skuId"]]["skuPartNumber"], entry["assignedByGroup"] is not None)
        for entry in api.get(f"/v1/users/{user}").json()["licenseAssignmentStates"]
        if entry["state"] == "Active"
    )
    return held, {s["skuPartNumber"]: s["consumedUnits"] for s in skus.values()}


def _request(api, user, add=(), remove=()):
    return api.post(
        f"/v1/users/{user}/assignLicense",
        json={
            "addLicenses": [
                {"skuId": str(sku_id), "disabledPlans": plans} for sku_id, plans in add
            ],
            "removeLicenses": [str(sku_id) for sku_id in remove],
        },
    )


def _changes(api):
    found = api.get("/v1/auditLogs/directoryAudits", params={"action": "Change user license"})
    return len(found.json()["value"])


def test_direct_assignment_refuses_mutually_exclusive_plans(ariane, rules_database):
    api = ariane.api
    buy(api, "BUSINESS_ESSENTIALS", 5)
    buy(api, "MAILBOX_KIOSK", 5)
    mailbox_owner, newcomer, member = sorted(add_users(rules_database, ariane.tenant_id, 3))
    assert assign(api, mailbox_owner, ESSENTIALS.sku_id).status_code == 200
    before = _licenses(api, mailbox_owner)
    changes = _changes(api)

    refused = assign(api, mailbox_owner, KIOSK.sku_id)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "MutuallyExclusiveViolation"
    assert error["target"] == "addLicenses"
    assert "MAIL_KIOSK" in error["message"] and "MAIL (BUSINESS_ESSENTIALS)" in error["message"]
    assert (error["servicePlanName"], error["conflictingServicePlanName"]) == ("MAIL_KIOSK", "MAIL")
    assert _licenses(api, mailbox_owner) == before  # nothing given, no unit taken
    assert _changes(api) == changes

    # Two licenses of one request that exclude each other: neither is given.
    both = _request(api, newcomer, add=[(ESSENTIALS.sku_id, []), (KIOSK.sku_id, [])])
    assert both.status_code == 400
    assert both.json()["error"]["code"] == "MutuallyExclusiveViolation"
    assert _licenses(api, newcomer) == ([], before[1])
    # With the full mailbox switched off, they go together.
    apart = _request(api, newcomer, add=[(ESSENTIALS.sku_id, [MAIL]), (KIOSK.sku_id, [])])
    assert apart.status_code == 200, apart.text

    # A full mailbox from a group counts as much as a direct one.
    mail = create_group(api, "Mail", [member])
    assign_group(api, mail["id"], add=[(ESSENTIALS.sku_id, [])])
    wait_processed(api, mail["id"])
    from_group = assign(api, member, KIOSK.sku_id)
    assert from_group.status_code == 400
    assert from_group.json()["error"]["code"] == "MutuallyExclusiveViolation"

    # Swapping in one request (the full mailbox out, the kiosk in) is allowed.
    swapped = _request(api, mailbox_owner, add=[(KIOSK.sku_id, [])], remove=[ESSENTIALS.sku_id])
    assert swapped.status_code == 200, swapped.text
    held, consumed = _licenses(api, mailbox_owner)
    assert held == [("MAILBOX_KIOSK", False)]
    assert consumed == {"BUSINESS_ESSENTIALS": 2, "MAILBOX_KIOSK": 2}


def test_direct_assignment_needs_the_plans_it_depends_on(ariane, rules_database):
    api = ariane.api
    buy(api, "BUSINESS_ESSENTIALS", 5)
    buy(api, "ARCHIVING", 5)
    alone, inherits, mailbox_member = sorted(add_users(rules_database, ariane.tenant_id, 3))

    refused = assign(api, alone, ARCHIVING.sku_id)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "DependencyViolation" and error["target"] == "addLicenses"
    assert (error["servicePlanName"], error["requiredServicePlanName"]) == ("MAIL_ARCHIVE", "MAIL")
    assert "BUSINESS_ESSENTIALS" in error["message"]  # where MAIL can be found
    assert _licenses(api, alone)[1]["ARCHIVING"] == 0

    # The mailbox and the archive in one request: granted together.
    together = _request(api, alone, add=[(ESSENTIALS.sku_id, []), (ARCHIVING.sku_id, [])])
    assert together.status_code == 200, together.text
    changes = _changes(api)

    # The mailbox cannot go from under the archive: not removed, not switched off…
    removed = _request(api, alone, remove=[ESSENTIALS.sku_id])
    assert removed.status_code == 400
    assert removed.json()["error"]["code"] == "DependencyViolation"
    assert removed.json()["error"]["target"] == "removeLicenses"
    assert "MAIL cannot be taken away" in removed.json()["error"]["message"]
    switched_off = assign(api, alone, ESSENTIALS.sku_id, disabledPlans=[MAIL])
    assert switched_off.status_code == 400
    assert switched_off.json()["error"]["target"] == "addLicenses"
    assert _licenses(api, alone) == (
        [("ARCHIVING", False), ("BUSINESS_ESSENTIALS", False)],
        {"BUSINESS_ESSENTIALS": 1, "ARCHIVING": 1},
    )
    assert _changes(api) == changes
    # …unless the archive goes in the same request.
    both = _request(api, alone, remove=[ESSENTIALS.sku_id, ARCHIVING.sku_id])
    assert both.status_code == 200, both.text
    assert _licenses(api, alone) == ([], {"BUSINESS_ESSENTIALS": 0, "ARCHIVING": 0})

    # An archive from a group depends on the direct mailbox just the same.
    assert assign(api, inherits, ESSENTIALS.sku_id).status_code == 200
    archive = create_group(api, "Archive", [inherits])
    assign_group(api, archive["id"], add=[(ARCHIVING.sku_id, [])])
    wait_processed(api, archive["id"])
    kept = _request(api, inherits, remove=[ESSENTIALS.sku_id])
    assert kept.status_code == 400
    assert kept.json()["error"]["code"] == "DependencyViolation"
    assert "group" in kept.json()["error"]["message"]

    # A mailbox from a group satisfies a direct archive.
    mail = create_group(api, "Mail", [mailbox_member])
    assign_group(api, mail["id"], add=[(ESSENTIALS.sku_id, [])])
    wait_processed(api, mail["id"])
    assert assign(api, mailbox_member, ARCHIVING.sku_id).status_code == 200


def test_a_catalog_with_rules_naming_unknown_plans_is_refused():
    with pytest.raises(ValueError, match="NOT_A_PLAN"):
        parse(CATALOG_TEXT.replace('dependsOn = ["MAIL"]', 'dependsOn = ["NOT_A_PLAN"]'))
    extra_mail = (
        f'[[skus.servicePlans]]\nservicePlanId = "{uuid.uuid4()}"\nservicePlanName = "MAIL"'
    )
    clash = CATALOG_TEXT.replace(
        'mutuallyExclusiveWith = ["MAIL"]', f'mutuallyExclusiveWith = ["MAIL"]\n{extra_mail}'
    )
    with pytest.raises(ValueError, match="mutually exclusive"):
        parse(clash)
