"""The seat invariant while groups are processed and licenses are given directly, all at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.group_licensing import assign_group, create_group, wait_processed
from tests.support.licensing import PREMIUM, add_users, assign, buy, global_admin, sku_view

SEATS = 40


def test_groups_and_direct_assignments_never_overshoot_the_seats(stories, database, server):
    ariane = global_admin(stories, database)
    api = ariane.api
    buy(api, "BUSINESS_PREMIUM", SEATS)
    users = sorted(add_users(database, ariane.tenant_id, 90))
    sales = create_group(api, "Sales", users[:50])
    support = create_group(api, "Support", users[35:70])  # 15 in both groups
    direct = users[30:90]  # some also in one or both groups

    with ThreadPoolExecutor(max_workers=16) as pool:
        groups = [
            pool.submit(assign_group, api, group["id"], [(PREMIUM.sku_id, [])])
            for group in (sales, support)
        ]
        directs = list(pool.map(lambda user: assign(api, user, PREMIUM.sku_id), direct))
    assert [g.result().status_code for g in groups] == [202, 202]
    assert {r.status_code for r in directs} <= {200, 409}
    assert all(
        r.json()["error"]["code"] == "CountViolation" for r in directs if r.status_code == 409
    )
    wait_processed(api, sales["id"])
    wait_processed(api, support["id"])

    consumed = sku_view(api, "BUSINESS_PREMIUM")["consumedUnits"]
    holders = database.scalar(
        "SELECT count(DISTINCT user_id) FROM license_assignments "
        "WHERE state IN ('Active', 'ActiveWithError')"
    )
    assert consumed == holders == SEATS
    # Every direct success and every group member is accounted for: licensed or CountViolation.
    errors = database.scalar(
        "SELECT count(*) FROM license_assignments "
        "WHERE state = 'Error' AND error = 'CountViolation'"
    )
    group_rows = database.scalar(
        "SELECT count(*) FROM license_assignments WHERE assigned_by_group IS NOT NULL"
    )
    assert group_rows == 50 + 35
    assert errors > 0
