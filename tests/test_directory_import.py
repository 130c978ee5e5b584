"""An admin adds users from a CSV file: good rows are created, each bad row is reported."""

from __future__ import annotations

import pytest

from tenantry.directory.flows import spreadsheet_cell
from tests.support.directory import add_user, admin_api, error_code
from tests.support.stories import PASSWORD


@pytest.fixture()
def ariane(stories, database):
    with admin_api(stories, database, "ariane@contoso.com", "Ariane Dupont") as api:
        yield api


CSV = f"""userPrincipalName,displayName,givenName,surname,usageLocation,password
alain@contoso.com,Alain Martin,Alain,Martin,FR,
chloe@contoso.com,Chloé Durand,Chloé,Durand,be,{PASSWORD}
existing@contoso.com,Already There,,,,
bad-usage@contoso.com,Bad Usage,,,France,
not-an-address,No Address,,,,
,,,,,
outsider@fabrikam.com,Outsider,,,,
alain@contoso.com,Alain Again,,,,
weak@contoso.com,Weak Password,,,,weak
,Missing Name,,,,
dave@contoso.com,,,,,
"""


def test_import_reports_each_row_and_creates_the_good_ones(ariane, stories, database):
    add_user(ariane, "existing@contoso.com", "Already There")
    response = ariane.post(
        "/v1/users/import", files={"file": ("users.csv", CSV.encode(), "text/csv")}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["total"], report["created"], report["failed"]) == (10, 2, 8)
    outcome = {
        row["row"]: (row["userPrincipalName"], row["status"], row.get("error", {}).get("code"))
        for row in report["rows"]
    }
    assert outcome == {
        1: ("alain@contoso.com", "created", None),
        2: ("chloe@contoso.com", "created", None),
        3: ("existing@contoso.com", "failed", "userAlreadyExists"),
        4: ("bad-usage@contoso.com", "failed", "invalidCountryCode"),
        5: ("not-an-address", "failed", "invalidUserPrincipalName"),
        6: ("outsider@fabrikam.com", "failed", "invalidUserPrincipalNameDomain"),
        7: ("alain@contoso.com", "failed", "userAlreadyExists"),
        8: ("weak@contoso.com", "failed", "passwordTooWeak"),
        9: (None, "failed", "invalidUserPrincipalName"),
        10: ("dave@contoso.com", "failed", "invalidValue"),
    }
    for row in report["rows"]:
        if row["status"] == "failed":
            assert row["error"]["message"]

    alain_row = report["rows"][0]
    assert alain_row["temporaryPassword"] and "temporaryPassword" not in report["rows"][1]
    alain = ariane.get("/v1/users/alain@contoso.com").json()
    assert (alain["displayName"], alain["givenName"], alain["usageLocation"]) == (
        "Alain Martin",
        "Alain",
        "FR",
    )
    assert ariane.get("/v1/users/chloe@contoso.com").json()["usageLocation"] == "BE"
    # The chosen password is Chloé's own; Alain's generated one must be changed.
    assert stories.token("chloe@contoso.com")
    signed_in = stories.api.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "alain@contoso.com",
            "password": alain_row["temporaryPassword"],
        },
    )
    assert signed_in.json()["password_change_required"] is True

    # Nothing of the failed rows was written.
    assert database.scalar("SELECT count(*) FROM users") == 4
    assert (
        database.scalar("SELECT count(*) FROM audit_events WHERE action = 'Add user'") == 4
    )  # sign-up, existing, 2 rows
    summary = database.rows("SELECT details FROM audit_events WHERE action = 'Import users'")
    assert len(summary) == 1


def test_a_row_holding_a_nul_character_fails_alone(ariane):
    # PostgreSQL text cannot hold U+0000: the row is refused before anything is written.
    data = (
        b"userPrincipalName,displayName\nalain@contoso.com,Alain\x00Martin\nchloe@contoso.com,C\n"
    )
    response = ariane.post("/v1/users/import", content=data, headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    failed, created = response.json()["rows"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "invalidValue"
    assert created["status"] == "created"
    assert ariane.get("/v1/users/alain@contoso.com").status_code == 404


def test_a_line_with_an_unclosed_quote_fails_alone_and_the_next_lines_are_read(ariane):
    # The csv module reads on past line ends within quotes: Alain's name would swallow the
    # lines after it (up to the next quote) and the report would say nothing failed.
    data = (
        "userPrincipalName,displayName,usageLocation\n"
        'alain@contoso.com,"Alain Martin,FR\n'
        "chloe@contoso.com,Chloé Durand,FR\n"
        'lea@contoso.com,"Léa Petit",NL\n'
    )
    response = ariane.post(
        "/v1/users/import", content=data.encode(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["total"], report["created"], report["failed"]) == (3, 2, 1)
    alain, chloe, lea = report["rows"]
    assert (alain["userPrincipalName"], alain["status"]) == ("alain@contoso.com", "failed")
    assert alain["error"]["code"] == "invalidValue"
    assert "quote" in alain["error"]["message"] and "not closed" in alain["error"]["message"]
    assert chloe["status"] == lea["status"] == "created"
    assert ariane.get("/v1/users/alain@contoso.com").status_code == 404
    assert ariane.get("/v1/users/chloe@contoso.com").json()["displayName"] == "Chloé Durand"
    assert ariane.get("/v1/users/lea@contoso.com").json()["displayName"] == "Léa Petit"


def test_a_header_with_an_unclosed_quote_is_refused_whole(ariane, database):
    data = b'userPrincipalName,"displayName\nalain@contoso.com,Alain\n'
    response = ariane.post("/v1/users/import", content=data, headers={"Content-Type": "text/csv"})
    assert response.status_code == 400, response.text
    assert error_code(response) == "invalidCsv"
    assert database.scalar("SELECT count(*) FROM users") == 1


def test_import_takes_a_csv_body_and_the_entra_template(ariane):
    entra = (
        "version:v1.0\n"
        "Name [displayName] Required;User name [userPrincipalName] Required;"
        "Initial password [passwordProfile] Required;Block sign in (Yes/No) [accountEnabled] "
        "Required;First name [givenName];Last name [surname];Usage location [usageLocation]\n"
        "Léa Petit;lea@contoso.com;;No;Léa;Petit;NL\n"
        "Marc Blocked;marc@contoso.com;;Yes;;;\n"
    )
    response = ariane.post(
        "/v1/users/import",
        content=entra.encode("cp1252"),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    lea = ariane.get("/v1/users/lea@contoso.com").json()
    assert (lea["displayName"], lea["usageLocation"], lea["accountEnabled"]) == (
        "Léa Petit",
        "NL",
        True,
    )
    assert ariane.get("/v1/users/marc@contoso.com").json()["accountEnabled"] is False


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"", "text/csv", 400, "invalidCsv"),
        (b"email,name\nx@contoso.com,X\n", "text/csv", 400, "invalidCsv"),
        (b"userPrincipalName,displayName\n", "text/csv", 400, "invalidCsv"),
        (b"{}", "application/json", 415, "unsupportedMediaType"),
        (
            b"userPrincipalName,displayName\n" + b"u@contoso.com,U\n" * 5001,
            "text/csv",
            400,
            "tooManyRows",
        ),
        (b"x" * (6 * 1024 * 1024), "text/csv", 413, "requestTooLarge"),
    ],
)
def test_unreadable_files_are_refused_whole(ariane, database, content, content_type, status, code):
    response = ariane.post(
        "/v1/users/import", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert database.scalar("SELECT count(*) FROM users") == 1


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+33 1 23", "'+33 1 23"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("alain@contoso.com", "alain@contoso.com"),
        (3, "3"),
        (None, ""),
    ],
)
def test_report_cells_that_a_spreadsheet_would_run_are_written_as_text(value, cell):
    assert spreadsheet_cell(value) == cell
