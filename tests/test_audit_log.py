"""The audit log: every change leaves an event; admins search it by actor, action and date."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.admin import make_global_admin
from tests.support.stories import become_admin
from tests.test_web_admin_takeover import sign_in
from tests.test_web_pages import submit


def test_admin_searches_the_audit_log(stories, dns_zone):
    stories.sign_up("ariane@contoso.com", "Ariane")
    stories.sign_up("alain@contoso.com", "Alain")
    ariane = stories.client_for("ariane@contoso.com")
    assert become_admin(ariane, dns_zone, quantity=2).status_code == 200
    ariane.post("/v1/domains", json={"id": "fabrikam.com"})

    everything = ariane.get("/v1/auditLogs/directoryAudits").json()["value"]
    actions = [e["activityDisplayName"] for e in everything]
    for expected in (
        "Complete sign-up",
        "Start become-the-admin",
        "Confirm domain ownership (become-the-admin)",
        "Become the admin (internal takeover)",
        "Add unverified domain",
    ):
        assert expected in actions
    newest = everything[0]
    assert newest["activityDisplayName"] == "Add unverified domain"
    assert newest["initiatedBy"]["user"]["userPrincipalName"] == "ariane@contoso.com"
    assert newest["targetResources"][0]["id"] == "fabrikam.com"

    by_alain = ariane.get(
        "/v1/auditLogs/directoryAudits", params={"actor": "alain@contoso.com"}
    ).json()["value"]
    assert by_alain and all(
        e["initiatedBy"]["user"]["userPrincipalName"] == "alain@contoso.com" for e in by_alain
    )
    domains_only = ariane.get("/v1/auditLogs/directoryAudits", params={"action": "Add*"}).json()[
        "value"
    ]
    assert {e["activityDisplayName"] for e in domains_only} <= {
        "Add unverified domain",
        "Add member to role",
        "Add user",
        "Add license",
        "Add subscription",
    }
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert ariane.get("/v1/auditLogs/directoryAudits", params={"from": tomorrow}).json() == {
        "value": []
    }

    # Paging: one event per page until the end.
    seen, url, params = [], "/v1/auditLogs/directoryAudits", {"$top": 1}
    while url:
        page = ariane.get(url, params=params).json()
        seen.extend(e["id"] for e in page["value"])
        url, params = page.get("@odata.nextLink"), None
    assert seen == [e["id"] for e in everything]

    bad = ariane.get("/v1/auditLogs/directoryAudits", params={"$skiptoken": "garbage"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalidSkipToken"


def test_members_cannot_read_the_audit_log(stories, dns_zone):
    stories.sign_up("ariane@contoso.com")
    stories.sign_up("alain@contoso.com")
    ariane = stories.client_for("ariane@contoso.com")
    assert become_admin(ariane, dns_zone, quantity=2).status_code == 200
    alain = stories.client_for("alain@contoso.com")
    refused = alain.get("/v1/auditLogs/directoryAudits")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "accessDenied"


def test_signing_out_is_recorded_for_the_api_and_the_pages(stories, server, database):
    stories.sign_up("ariane@contoso.com", "Ariane")
    make_global_admin(database, "ariane@contoso.com")
    with stories.client_for("ariane@contoso.com") as leaving:
        assert leaving.post("/v1/auth/revoke").status_code == 204
        assert leaving.get("/v1/me").status_code == 401
    with sign_in(server, "ariane@contoso.com") as tab:
        assert submit(tab, "/", "/signout").status_code == 303

    with stories.client_for("ariane@contoso.com") as ariane:
        me = ariane.get("/v1/me").json()
        events = ariane.get("/v1/auditLogs/directoryAudits", params={"action": "Sign out"}).json()[
            "value"
        ]
    assert [e["additionalDetails"] for e in events] == [
        [{"key": "kind", "value": "web"}],
        [{"key": "kind", "value": "api"}],
    ]
    for event in events:
        assert event["initiatedBy"]["user"]["userPrincipalName"] == "ariane@contoso.com"
        assert event["initiatedBy"]["user"]["ipAddress"] == "127.0.0.1"
        assert event["targetResources"] == [{"id": me["id"], "type": "user"}]


def test_an_actor_or_activity_holding_a_nul_character_finds_nothing(stories, database):
    stories.sign_up("ariane@contoso.com", "Ariane")
    make_global_admin(database, "ariane@contoso.com")
    with stories.client_for("ariane@contoso.com") as ariane:
        for params in ({"actor": "ariane@contoso.com\x00"}, {"action": "Complete sign-up\x00"}):
            found = ariane.get("/v1/auditLogs/directoryAudits", params=params)
            assert found.status_code == 200 and found.json() == {"value": []}, found.text


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("params", "code", "target"),
    [
        # Times without a UTC equivalent: past year 9999, or before year 1.
        ({"from": "9999-12-31T23:59:59-23:59"}, "invalidRequest", "from"),
        ({"to": "0001-01-01T00:00:00+23:59"}, "invalidRequest", "to"),
        # Tokens the log never gave: JSON nested too deep to read, an id that is not text,
        # a time without a UTC equivalent.
        ({"$skiptoken": _token("[" * 1500)}, "invalidSkipToken", "$skiptoken"),
        (
            {"$skiptoken": _token('{"t": "2025-01-01T00:00:00", "i": []}')},
            "invalidSkipToken",
            "$skiptoken",
        ),
        (
            {"$skiptoken": _token('{"t": "0001-01-01T00:00:00+05:00", "i": "%s"}' % ("0" * 32))},
            "invalidSkipToken",
            "$skiptoken",
        ),
    ],
)
def test_bad_dates_and_tokens_are_refused(stories, database, params, code, target):
    stories.sign_up("ariane@contoso.com", "Ariane")
    make_global_admin(database, "ariane@contoso.com")
    with stories.client_for("ariane@contoso.com") as ariane:
        refused = ariane.get("/v1/auditLogs/directoryAudits", params=params)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == code
    assert refused.json()["error"]["target"] == target
