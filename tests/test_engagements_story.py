"""Issue 12's story over HTTP with real mail: Nadia (operator) opens two engagements, Kim of
Fabrikam joins one and asks for the other, Fabrikam's Power User approves; reminders, expiry
and resubmission with the clock moved."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tenantry.core.clock import clock
from tests.support.engagements import (
    create_engagement,
    mail_about,
    make_operator,
    ok,
    partner_organization,
    request_access,
    tick,
)

PREVIEW_TERMS = "Contoso Devices Preview terms: builds stay inside your organization."


@pytest.fixture()
def cast(stories, database):
    nadia = make_operator(stories, database, "nadia@tenantry-ops.com", "Nadia Operator")
    fabrikam = partner_organization(
        stories,
        database,
        nadia,
        domain="fabrikam.com",
        publisher="Fabrikam Labs",
        admin=("fatima", "Fatima Admin"),
        people=[
            ("kim", "Kim Akers"),
            ("paul", "Paul Power"),
            ("felix", "Felix Fabre"),
            ("fiona", "Fiona Faure"),
            ("frank", "Frank Fontaine"),
        ],
    )
    preview = create_engagement(
        nadia,
        "Contoso Devices Preview",
        termsOfUse=PREVIEW_TERMS,
        joinPolicy="approvalRequired",
        requestTimeoutDays=14,
    )
    sdk = create_engagement(nadia, "Public SDK", joinPolicy="open")
    ok(
        nadia.post(
            f"/v1/engagements/{preview['id']}/members",
            json={"userIds": [fabrikam.user_ids["paul@fabrikam.com"]], "role": "powerUser"},
        ),
        201,
    )
    return nadia, fabrikam, preview, sdk


def test_kim_joins_one_requests_the_other_and_the_power_user_approves(
    cast, stories, smtp, database
):
    nadia, fabrikam, preview, sdk = cast
    kim = fabrikam.client(stories, "kim@fabrikam.com")
    paul = fabrikam.client(stories, "paul@fabrikam.com")

    available = ok(kim.get("/v1/engagements", params={"available": "true"}))["value"]
    assert [e["displayName"] for e in available] == ["Contoso Devices Preview", "Public SDK"]
    # The engagement's own terms, and the default terms where it has none.
    assert ok(kim.get(f"/v1/engagements/{preview['id']}"))["termsOfUse"] == PREVIEW_TERMS
    shown = ok(kim.get(f"/v1/engagements/{sdk['id']}"))
    assert shown["hasOwnTermsOfUse"] is False and "confidential" in shown["termsOfUse"]
    assert shown["audience"] is None  # the audience is the owners' business

    refused = kim.post(f"/v1/engagements/{sdk['id']}/join", json={"acceptTermsOfUse": False})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "termsNotAccepted"
    joined = ok(kim.post(f"/v1/engagements/{sdk['id']}/join", json={"acceptTermsOfUse": True}), 201)
    assert joined["myRoles"] == ["participant"]
    again = kim.post(f"/v1/engagements/{sdk['id']}/join", json={"acceptTermsOfUse": True})
    assert again.status_code == 409 and again.json()["error"]["code"] == "alreadyParticipant"
    mine = ok(kim.get("/v1/engagements"))["value"]
    assert [(e["displayName"], e["myRoles"]) for e in mine] == [("Public SDK", ["participant"])]
    accepted = database.scalar(
        "SELECT terms_version FROM engagement_members WHERE is_participant = true"
    )
    assert accepted == "tenantry-default-terms-1"

    needs = kim.post(f"/v1/engagements/{preview['id']}/join", json={"acceptTermsOfUse": True})
    assert needs.status_code == 409 and needs.json()["error"]["code"] == "approvalRequired"
    blank = kim.post(
        f"/v1/engagements/{preview['id']}/accessRequests",
        json={"justification": "  ", "acceptTermsOfUse": True},
    )
    assert blank.json()["error"]["code"] == "justificationRequired"
    too_long = kim.post(
        f"/v1/engagements/{preview['id']}/accessRequests",
        json={"justification": "x" * 1001, "acceptTermsOfUse": True},
    )
    assert too_long.json()["error"]["code"] == "justificationTooLong"
    no_terms = kim.post(
        f"/v1/engagements/{preview['id']}/accessRequests",
        json={"justification": "We ship drivers for it."},
    )
    assert no_terms.status_code == 400 and no_terms.json()["error"]["code"] == "termsNotAccepted"

    asked = request_access(kim, preview["id"], "We ship the drivers for these devices.")
    assert asked["state"] == "pendingApproval"
    deadline = datetime.fromisoformat(asked["expirationDateTime"])
    assert timedelta(days=13, hours=23) < deadline - clock.now() <= timedelta(days=14)
    twice = kim.post(
        f"/v1/engagements/{preview['id']}/accessRequests",
        json={"justification": "Again", "acceptTermsOfUse": True},
    )
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "requestAlreadyPending"
    assert ok(kim.get(f"/v1/engagements/{preview['id']}"))["myAccessRequest"]["state"] == (
        "pendingApproval"
    )

    # Nadia (the owner) and Paul (Fabrikam's Power User) are told: name, organization,
    # justification, deadline.
    for address in ("nadia@tenantry-ops.com", "paul@fabrikam.com"):
        mail = mail_about(smtp, address, "Access request")[-1]
        assert "Kim Akers" in mail.subject
        assert "Fabrikam Labs" in mail.body and "We ship the drivers" in mail.body
        assert str(deadline.year) in mail.body and "/engagements/approvals" in mail.body
    assert not [m for m in smtp.to("fatima@fabrikam.com") if "Access request" in m.subject]

    own = kim.post(f"/v1/accessRequests/{asked['id']}/approve", json={})
    assert own.status_code == 403 and own.json()["error"]["code"] == "cannotDecideOwnRequest"
    pending = ok(paul.get("/v1/accessRequests", params={"state": "pendingApproval"}))["value"]
    assert [(r["requester"]["displayName"], r["organization"]) for r in pending] == [
        ("Kim Akers", "Fabrikam Labs")
    ]

    # Half the timeout: a reminder to both, once.
    clock.advance(days=7, minutes=1)
    assert tick(database)["reminded"] == 1
    assert tick(database)["reminded"] == 0
    # A week later everyone signs in again (tokens last an hour).
    paul = stories.client_for("paul@fabrikam.com")
    kim = stories.client_for("kim@fabrikam.com")
    nadia = stories.client_for("nadia@tenantry-ops.com")
    for address in ("nadia@tenantry-ops.com", "paul@fabrikam.com"):
        assert len(mail_about(smtp, address, "Reminder")) == 1

    approved = ok(
        paul.post(
            f"/v1/accessRequests/{asked['id']}/approve",
            json={"justification": "Welcome, Kim."},
        )
    )
    assert approved["state"] == "delivered" and approved["approverJustification"] == "Welcome, Kim."
    told = mail_about(smtp, "kim@fabrikam.com", "approved")
    assert "Welcome, Kim." in told[-1].body
    late = nadia.post(f"/v1/accessRequests/{asked['id']}/deny", json={})
    assert late.status_code == 409 and late.json()["error"]["code"] == "requestAlreadyDecided"
    mine = {e["displayName"]: e["myRoles"] for e in ok(kim.get("/v1/engagements"))["value"]}
    assert mine == {"Contoso Devices Preview": ["participant"], "Public SDK": ["participant"]}
    assert ok(kim.get("/v1/me/accessRequests"))["value"][0]["state"] == "delivered"
    actions = {
        row[0]
        for row in database.rows("SELECT action FROM audit_events WHERE action LIKE 'engagement.%'")
    }
    assert {
        "engagement.created",
        "engagement.joined",
        "engagement.memberAdded",
        "engagement.accessRequest.submitted",
        "engagement.accessRequest.reminded",
        "engagement.accessRequest.approved",
    } <= actions


def test_a_request_nobody_decides_expires_and_is_resubmitted(cast, stories, smtp, database):
    _, fabrikam, preview, _ = cast
    felix = fabrikam.client(stories, "felix@fabrikam.com")
    asked = request_access(felix, preview["id"], "Testing the preview.")

    clock.advance(days=14, seconds=1)
    # Paul's decision after the deadline does not count: the request is over.
    paul = stories.client_for("paul@fabrikam.com")
    felix = stories.client_for("felix@fabrikam.com")
    late = paul.post(f"/v1/accessRequests/{asked['id']}/approve", json={})
    assert late.status_code == 409 and late.json()["error"]["code"] == "requestAlreadyDecided"
    assert late.json()["error"]["state"] == "expired"
    counts = tick(database)
    assert counts["expired"] == 1
    assert tick(database)["expired"] == 0
    assert ok(felix.get(f"/v1/accessRequests/{asked['id']}"))["state"] == "expired"
    assert len(mail_about(smtp, "felix@fabrikam.com", "expired")) == 1

    again = request_access(felix, preview["id"], "Still testing the preview.")
    assert again["state"] == "pendingApproval" and again["id"] != asked["id"]


def test_the_requester_cancels_and_a_denied_request_is_resubmitted(cast, stories, smtp, database):
    nadia, fabrikam, preview, _ = cast
    fiona = fabrikam.client(stories, "fiona@fabrikam.com")
    first = request_access(fiona, preview["id"], "First try.")
    paul = fabrikam.client(stories, "paul@fabrikam.com")
    not_yours = paul.post(f"/v1/accessRequests/{first['id']}/cancel")
    assert not_yours.status_code == 403 and not_yours.json()["error"]["code"] == "notRequester"
    assert ok(fiona.post(f"/v1/accessRequests/{first['id']}/cancel"))["state"] == "canceled"

    second = request_access(fiona, preview["id"], "Second try.")
    denied = ok(
        nadia.post(f"/v1/accessRequests/{second['id']}/deny", json={"justification": "Full."})
    )
    assert denied["state"] == "denied"
    mail = mail_about(smtp, "fiona@fabrikam.com", "denied")[-1]
    assert "Full." in mail.body
    third = request_access(fiona, preview["id"], "Third try.")
    assert third["state"] == "pendingApproval"
