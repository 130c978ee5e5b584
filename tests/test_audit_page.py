"""The audit log page reads as people write: activities, categories and detail names in
the page's language, yes/no for true/false, products and users by name, never a Python
value or a bare id where a name is known."""

from __future__ import annotations

import html
import re

from tenantry.catalog import load
from tests.support.licensing import buy, global_admin
from tests.test_web_admin_takeover import sign_in

ESSENTIALS = load().sku("BUSINESS_ESSENTIALS")


def test_the_audit_log_page_is_readable_in_french(stories, database, server):
    ariane = global_admin(stories, database)
    with stories.client_for(ariane.email) as api:
        buy(api, "BUSINESS_ESSENTIALS", 2)
        sales = api.post("/v1/groups", json={"displayName": "Sales"}).json()
        assigned = api.post(
            f"/v1/groups/{sales['id']}/assignLicense",
            json={"addLicenses": [{"skuId": str(ESSENTIALS.sku_id)}], "removeLicenses": []},
        )
        assert assigned.status_code == 202, assigned.text
        # The API's additionalDetails are JSON text, not Python values.
        events = api.get(
            "/v1/auditLogs/directoryAudits", params={"action": "Set group license"}
        ).json()["value"]
        values = {d["key"]: d["value"] for d in events[0]["additionalDetails"]}
        assert values["removedLicenses"] == "[]"
        assert "'" not in values["disabledPlans"]

    with sign_in(server, ariane.email) as tab:
        tab.cookies.set("lang", "fr")
        page = tab.get("/admin/audit")
    assert page.status_code == 200
    text = html.unescape(page.text)
    rows = re.findall(r'<tr data-activity="([^"]+)">(.*?)</tr>', text, re.S)
    by_action = {action: body for action, body in rows}
    assert "Ajouter un groupe" in by_action["Add group"]
    assert "Définir la licence du groupe" in by_action["Set group license"]
    licensed = by_action["Set group license"]
    assert ESSENTIALS.display_name in licensed  # the product's name, not its id
    assert str(ESSENTIALS.sku_id) not in licensed
    assert "Sales" in licensed and "Groupe" in licensed
    for python_value in ("True", "False", "None", "['", "{'"):
        assert python_value not in text, python_value
    # English activity names stay only as data attributes, never shown.
    shown = re.sub(r"<[^>]+>", " ", text)
    for action in by_action:
        assert action not in shown, action
