"""The story of seed 003 over HTTP with real mail: Ariane enrolls Contoso Labs, Jean confirms
through the link in his email, Alain is turned away; then the account's life: rejection,
expiry, resend, operators' moves, changes."""

from __future__ import annotations

import re

import httpx
import pytest

from tenantry.core.clock import clock
from tests.support.admin import make_global_admin
from tests.support.partner import enroll, enrollment
from tests.test_partner_operators import run

LINK = re.compile(r"https?://\S+/partner/approvals/(\S+)")


@pytest.fixture()
def ariane(stories, database):
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    stories.sign_up("alain@contoso.com", "Alain Martin")
    make_global_admin(database, "ariane@contoso.com")
    return stories.client_for("ariane@contoso.com")


def approval_token(smtp, count: int = 1) -> str:
    """The token of the newest link Jean received."""
    mail = smtp.wait_for("jean@contoso.com", count=count)[-1]
    match = LINK.search(mail.body)
    assert match, mail.body
    return match.group(1)


def test_ariane_enrolls_jean_confirms_alain_is_turned_away(ariane, stories, smtp, server, database):
    alain = stories.client_for("alain@contoso.com")
    refused = alain.post("/v1/partnerAccounts", json=enrollment())
    assert refused.status_code == 403
    assert refused.json()["error"]["message"].startswith(
        "We couldn't validate your identity as a global administrator"
    )
    assert "find" in refused.json()["error"]["message"]

    account = enroll(ariane, "Contoso Labs")
    assert account["state"] == "pendingApproval"
    # Her mail: the sign-up code, then the enrollment's confirmation.
    enrolled = smtp.wait_for("ariane@contoso.com", count=2)[-1]
    assert "Contoso Labs" in enrolled.subject and "Jean Martin" in enrolled.body

    token = approval_token(smtp)
    anonymous = httpx.Client(base_url=server.url, timeout=30)
    seen = anonymous.get(f"/v1/partnerAccountApprovals/{token}")
    assert seen.json()["publisherDisplayName"] == "Contoso Labs"
    assert seen.json()["state"] == "pendingApproval"
    confirmed = anonymous.post(f"/v1/partnerAccountApprovals/{token}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "active"
    assert ariane.get(f"/v1/partnerAccounts/{account['id']}").json()["state"] == "active"
    approved = smtp.wait_for("ariane@contoso.com", count=3)[-1]
    assert "is active" in approved.subject

    # The link is spent: neither answer works twice.
    again = anonymous.post(f"/v1/partnerAccountApprovals/{token}/reject")
    assert again.status_code == 404 and again.json()["error"]["code"] == "approvalLinkInvalid"
    assert (
        database.scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'partnerAccount.approved'"
        )
        == 1
    )
    # Only the digest of the token is kept.
    assert (
        database.scalar(
            "SELECT count(*) FROM partner_accounts WHERE approval_token_digest IS NOT NULL"
        )
        == 0
    )


def test_the_approver_rejects_in_french(ariane, smtp, server):
    answer = ariane.post(
        "/v1/partnerAccounts", json=enrollment(), headers={"Accept-Language": "fr"}
    )
    assert answer.status_code == 201
    mail = smtp.wait_for("jean@contoso.com")[-1]
    assert mail.subject == "Confirmez le compte partenaire Contoso Labs"
    token = approval_token(smtp)
    anonymous = httpx.Client(base_url=server.url, timeout=30)
    rejected = anonymous.post(f"/v1/partnerAccountApprovals/{token}/reject")
    assert rejected.json()["state"] == "rejected"
    assert ariane.get(f"/v1/partnerAccounts/{answer.json()['id']}").json()["state"] == "rejected"


def test_the_link_lasts_fourteen_days_and_a_resend_replaces_it(ariane, smtp, server):
    account = enroll(ariane)
    first = approval_token(smtp)
    anonymous = httpx.Client(base_url=server.url, timeout=30)

    resent = ariane.post(f"/v1/partnerAccounts/{account['id']}/resendApproval")
    assert resent.status_code == 200, resent.text
    second = approval_token(smtp, count=2)
    assert second != first
    assert anonymous.get(f"/v1/partnerAccountApprovals/{first}").status_code == 404

    clock.advance(days=14, seconds=1)
    expired = anonymous.post(f"/v1/partnerAccountApprovals/{second}/confirm")
    assert expired.status_code == 410 and expired.json()["error"]["code"] == "approvalLinkExpired"
    clock.reset()
    assert ariane.get(f"/v1/partnerAccounts/{account['id']}").json()["state"] == "pendingApproval"


def test_operators_approve_reject_and_suspend_others_may_not(ariane, stories, database, smtp):
    account = enroll(ariane)
    path = f"/v1/partnerAccounts/{account['id']}"
    # Ariane may read her account, not act as an operator on it: 403.
    refused = ariane.post(f"{path}/approve")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "notOperator"

    stories.sign_up("olga@tenantry-ops.com", "Olga Operator")
    olga = stories.client_for("olga@tenantry-ops.com")
    # Before she is an operator, the account does not exist for her.
    assert olga.post(f"{path}/approve").status_code == 404
    run(database, "operator", "add", "olga@tenantry-ops.com")

    assert olga.post(f"{path}/suspend").json()["error"]["code"] == "partnerAccountStateConflict"
    assert olga.post(f"{path}/approve").json()["state"] == "active"
    assert olga.post(f"{path}/suspend").json()["state"] == "suspended"
    assert olga.post(f"{path}/approve").json()["state"] == "active"
    assert olga.post(f"{path}/reject").status_code == 409
    actions = [
        row[0]
        for row in database.rows(
            "SELECT action FROM audit_events WHERE action LIKE 'partnerAccount.%' "
            "ORDER BY occurred_at"
        )
    ]
    assert actions == [
        "partnerAccount.enrolled",
        "partnerAccount.approved",
        "partnerAccount.suspended",
        "partnerAccount.approved",
    ]
    # The link Jean got no longer works once an operator decided.
    token = approval_token(smtp)
    assert olga.post(f"/v1/partnerAccountApprovals/{token}/confirm").status_code == 404


def test_the_owner_changes_name_and_contact_never_country_or_type(ariane, stories, database):
    account = enroll(ariane)
    path = f"/v1/partnerAccounts/{account['id']}"
    changed = ariane.patch(
        path,
        json={
            "publisherDisplayName": "Contoso Studio",
            "contact": {
                "name": "Ariane D.",
                "email": "ariane@contoso.com",
                "phone": "+32 2 555 12 12",
            },
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["publisherDisplayName"] == "Contoso Studio"
    assert changed.json()["contact"]["phone"] == "+3225551212"
    # Its own name in another case is still its own.
    assert ariane.patch(path, json={"publisherDisplayName": "CONTOSO studio"}).status_code == 200

    for body, code in (
        ({"countryOrRegion": "BE"}, "countryImmutable"),
        ({"accountType": "company"}, "accountTypeImmutable"),
        ({"publisherDisplayName": "y" * 51}, "publisherNameTooLong"),
        ({"contact": {"name": "A", "email": "a@contoso.com", "phone": "0"}}, "invalidPhoneNumber"),
    ):
        refused = ariane.patch(path, json=body)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == code

    stories.sign_up("admin@fabrikam.com", "Fabrikam Admin")
    make_global_admin(database, "admin@fabrikam.com")
    fabrikam = stories.client_for("admin@fabrikam.com")
    enroll(fabrikam, "Fabrikam Labs")
    taken = ariane.patch(path, json={"publisherDisplayName": "fabrikam labs"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "publisherNameTaken"
    assert ariane.get(path).json()["publisherDisplayName"] == "CONTOSO studio"

    # Alain (no admin role) cannot read it; another tenant's admin gets 404 everywhere.
    alain = stories.client_for("alain@contoso.com")
    assert alain.patch(path, json={"publisherDisplayName": "Mine"}).status_code == 404
    for method, suffix in (
        ("GET", ""),
        ("PATCH", ""),
        ("POST", "/resendApproval"),
        ("POST", "/approve"),
        ("POST", "/reject"),
        ("POST", "/suspend"),
    ):
        answer = fabrikam.request(
            method,
            f"{path}{suffix}",
            json={"publisherDisplayName": "X"} if method == "PATCH" else None,
        )
        assert answer.status_code == 404, (method, suffix, answer.text)
        assert "contoso" not in answer.text.lower()
