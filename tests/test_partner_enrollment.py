"""Enrollment in the partner program over HTTP: who may enroll, every refusal with nothing
created, the live name check, who may read an account."""

from __future__ import annotations

import pytest

from tests.support.admin import make_global_admin
from tests.support.partner import enroll, enrollment


@pytest.fixture()
def ariane(stories, database):
    """Ariane, Global Administrator of the managed contoso.com."""
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    stories.sign_up("alain@contoso.com", "Alain Martin")
    make_global_admin(database, "ariane@contoso.com")
    return stories.client_for("ariane@contoso.com")


def accounts(database) -> int:
    return database.scalar("SELECT count(*) FROM partner_accounts")


def test_a_global_administrator_enrolls_and_the_account_waits_for_approval(
    ariane, stories, database
):
    agreement = ariane.get("/v1/partnerAgreements/current", headers={"Accept-Language": "fr"})
    assert agreement.status_code == 200
    assert (
        agreement.json()["language"] == "fr"
        and "Contrat de collaboration" in agreement.json()["text"]
    )

    free = ariane.get(
        "/v1/partnerAccounts/availability", params={"publisherDisplayName": "Contoso Labs"}
    )
    assert free.json() == {
        "publisherDisplayName": "Contoso Labs",
        "isAvailable": True,
        "reason": None,
    }

    account = enroll(ariane, agreement={"version": agreement.json()["version"], "accepted": True})
    assert account["state"] == "pendingApproval"
    assert account["contact"]["phone"] == "+33142685300"  # E.164
    assert account["accountType"] == "company" and account["countryOrRegion"] == "FR"
    assert ariane.get(f"/v1/partnerAccounts/{account['id']}").json() == account

    taken = ariane.get(
        "/v1/partnerAccounts/availability", params={"publisherDisplayName": "CONTOSO  labs"}
    )
    assert taken.json()["isAvailable"] is False and taken.json()["reason"] == "publisherNameTaken"

    (row,) = database.rows(
        "SELECT agreement_version, agreement_accepted_by, agreement_client_address "
        "FROM partner_accounts"
    )
    assert row[0] == agreement.json()["version"] and row[1] is not None and row[2] == "127.0.0.1"
    assert (
        database.scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'partnerAccount.enrolled'"
        )
        == 1
    )

    # Alain, a plain user of contoso.com, reads the account as nobody: it does not exist.
    alain = stories.client_for("alain@contoso.com")
    hidden = alain.get(f"/v1/partnerAccounts/{account['id']}")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "partnerAccountNotFound"
    assert "Contoso" not in hidden.text


@pytest.mark.parametrize(
    "language, words",
    [
        ("en", "We couldn't validate your identity as a global administrator"),
        ("fr", "Nous n'avons pas pu valider votre identité en tant qu'administrateur général"),
        ("nl", "We konden uw identiteit als globale beheerder niet valideren"),
    ],
)
def test_a_plain_user_is_told_to_find_a_global_administrator(
    ariane, stories, database, language, words
):
    alain = stories.client_for("alain@contoso.com")
    refused = alain.post(
        "/v1/partnerAccounts", json=enrollment(), headers={"Accept-Language": language}
    )
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "notGlobalAdministrator" and error["message"].startswith(words)
    assert accounts(database) == 0


def test_an_admin_of_an_unmanaged_tenant_cannot_enroll(stories, database):
    stories.sign_up("kim@fabrikam.com", "Kim Lee")
    refused = stories.client_for("kim@fabrikam.com").post("/v1/partnerAccounts", json=enrollment())
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "notGlobalAdministrator"
    assert accounts(database) == 0


REFUSALS = [
    ({"publisherDisplayName": "x" * 51}, 400, "publisherNameTooLong", "publisherDisplayName"),
    ({"publisherDisplayName": "Contoso\u202eLabs"}, 400, "invalidValue", "publisherDisplayName"),
    ({"accountType": "individual"}, 400, "accountTypeNotSupported", "accountType"),
    ({"countryOrRegion": "XX"}, 400, "invalidCountryOrRegion", "countryOrRegion"),
    (
        {"contact": {"name": "Ariane", "email": "ariane@contoso.com", "phone": "12"}},
        400,
        "invalidPhoneNumber",
        "contact.phone",
    ),
    (
        {
            "approver": {
                "name": "Jean",
                "email": "jean@contoso.com",
                "phone": "+33 1 42 68 53 00 ext. 12",
            }
        },
        400,
        "invalidPhoneNumber",
        "approver.phone",
    ),
    (
        {"approver": {"name": "Jean", "email": "jean@", "phone": "+33 1 42 68 53 00"}},
        400,
        "invalidEmail",
        "approver.email",
    ),
    (
        {"agreement": {"version": "1999-old", "accepted": True}},
        400,
        "agreementNotAccepted",
        "agreement",
    ),
    (
        {"agreement": {"version": "tenantry-default-1", "accepted": False}},
        400,
        "agreementNotAccepted",
        "agreement",
    ),
]


@pytest.mark.parametrize("changes, status, code, target", REFUSALS)
def test_every_refusal_has_its_code_and_creates_nothing(
    ariane, database, changes, status, code, target
):
    refused = ariane.post("/v1/partnerAccounts", json=enrollment(**changes))
    assert refused.status_code == status, refused.text
    assert refused.json()["error"]["code"] == code
    assert refused.json()["error"]["target"] == target
    assert accounts(database) == 0
    assert database.scalar("SELECT count(*) FROM audit_events WHERE action LIKE 'partner%'") == 0


def test_the_phone_message_names_the_field_in_french(ariane):
    refused = ariane.post(
        "/v1/partnerAccounts",
        json=enrollment(contact={"name": "A", "email": "a@contoso.com", "phone": "+33 12"}),
        headers={"Accept-Language": "fr"},
    )
    assert refused.json()["error"]["message"].startswith(
        "contact.phone n'est pas un numéro de téléphone valide"
    )


def test_a_name_taken_by_a_look_alike_or_reserved_is_refused(ariane, stories, database, tmp_path):
    from tests.test_partner_operators import run

    stories.sign_up("admin@fabrikam.com", "Fabrikam Admin")
    make_global_admin(database, "admin@fabrikam.com")
    fabrikam = stories.client_for("admin@fabrikam.com")
    enroll(fabrikam, "Contoso Labs")

    for alike in ("contoso labs", "ＣＯＮＴＯＳＯ Labs", "Cоntoso Labs"):  # the last: Cyrillic о
        refused = ariane.post("/v1/partnerAccounts", json=enrollment(alike))
        assert refused.status_code == 409, alike
        assert refused.json()["error"]["code"] == "publisherNameTaken"

    run(database, "partner", "reserved", "add", "Tenantry")
    refused = ariane.post("/v1/partnerAccounts", json=enrollment("TENANTRY"))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "publisherNameReserved"
    assert (
        ariane.get(
            "/v1/partnerAccounts/availability", params={"publisherDisplayName": "tenantry"}
        ).json()["reason"]
        == "publisherNameReserved"
    )
    assert accounts(database) == 1


def test_one_partner_account_per_tenant(ariane, database):
    enroll(ariane, "Contoso Labs")
    again = ariane.post("/v1/partnerAccounts", json=enrollment("Contoso Studio"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "partnerAccountExists"
    assert accounts(database) == 1


def test_a_published_agreement_must_be_the_one_accepted(ariane, database, tmp_path):
    from tests.test_partner_operators import run

    text = tmp_path / "agreement.txt"
    text.write_text("Agreement 2027.")
    run(database, "partner", "agreement", "publish", str(text), "--version", "2027-1")
    current = ariane.get("/v1/partnerAgreements/current").json()
    assert (current["version"], current["text"]) == ("2027-1", "Agreement 2027.")
    stale = ariane.post("/v1/partnerAccounts", json=enrollment())
    assert stale.json()["error"]["code"] == "agreementNotAccepted"
    account = enroll(ariane, agreement={"version": "2027-1", "accepted": True})
    assert account["agreement"]["version"] == "2027-1"


def test_an_operator_reads_every_account_another_tenant_does_not(ariane, stories, database):
    from tests.test_partner_operators import run

    account = enroll(ariane)
    stories.sign_up("admin@fabrikam.com", "Fabrikam Admin")
    make_global_admin(database, "admin@fabrikam.com")
    fabrikam = stories.client_for("admin@fabrikam.com")
    assert fabrikam.get(f"/v1/partnerAccounts/{account['id']}").status_code == 404
    assert fabrikam.get("/v1/partnerAccounts/not-an-id").status_code == 404
    run(database, "operator", "add", "admin@fabrikam.com")
    assert fabrikam.get(f"/v1/partnerAccounts/{account['id']}").json()["id"] == account["id"]
