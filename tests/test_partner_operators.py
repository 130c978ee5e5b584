"""The partner program's platform side, from the server's terminal: operators, the agreement,
reserved publisher names."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tenantry.cli.main import app as cli_app
from tenantry.partner.service import DEFAULT_AGREEMENT_VERSION
from tests.support.admin import make_global_admin


def run(database, *args: str, code: int = 0):
    result = CliRunner().invoke(
        cli_app, list(args), env={"TENANTRY_DATABASE_URL": database.url}, catch_exceptions=False
    )
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if "--json" in args and code == 0 else result.output


def test_an_operator_is_a_platform_role_given_to_an_existing_user(stories, database, server):
    stories.sign_up("olga@tenantry-ops.com", "Olga Operator")
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    make_global_admin(database, "ariane@contoso.com")

    added = run(database, "operator", "add", "OLGA@tenantry-ops.com", "--json")
    assert added["userPrincipalName"] == "olga@tenantry-ops.com"
    assert "already an operator" in run(
        database, "operator", "add", "olga@tenantry-ops.com", code=1
    )
    assert "No user signs in as nobody@contoso.com" in run(
        database, "operator", "add", "nobody@contoso.com", code=1
    )
    listed = run(database, "operator", "list", "--json")
    assert [o["userPrincipalName"] for o in listed] == ["olga@tenantry-ops.com"]
    # A Global Administrator is not an operator, and no tenant role table holds the role.
    assert database.scalar("SELECT count(*) FROM role_assignments WHERE role LIKE '%perator%'") == 0

    run(database, "operator", "remove", "olga@tenantry-ops.com", "--json")
    assert run(database, "operator", "list", "--json") == []
    assert "not an operator" in run(database, "operator", "remove", "olga@tenantry-ops.com", code=1)
    actions = [
        row[0]
        for row in database.rows(
            "SELECT action FROM audit_events WHERE action LIKE 'operator.%' ORDER BY occurred_at"
        )
    ]
    assert actions == ["operator.added", "operator.removed"]


def test_the_default_agreement_ships_until_one_is_published(database, server, tmp_path):
    for language, words in (
        ("en", "Collaboration"),
        ("fr", "collaboration"),
        ("nl", "samenwerking"),
    ):
        shipped = run(database, "partner", "agreement", "show", "--language", language, "--json")
        assert shipped["version"] == DEFAULT_AGREEMENT_VERSION
        assert shipped["language"] == language and words in shipped["text"]

    text_en, text_fr = tmp_path / "en.txt", tmp_path / "fr.txt"
    text_en.write_text("Agreement 2027, English.\n")
    text_fr.write_text("Contrat 2027, en français.\n")
    run(database, "partner", "agreement", "publish", str(text_en), "--version", "2027-1", "--json")
    # Not translated yet: the current version in English.
    current_fr = run(database, "partner", "agreement", "show", "--language", "fr", "--json")
    assert (current_fr["version"], current_fr["text"]) == ("2027-1", "Agreement 2027, English.")
    run(
        database,
        "partner",
        "agreement",
        "publish",
        str(text_fr),
        "--version",
        "2027-1",
        "--language",
        "fr",
    )
    current_fr = run(database, "partner", "agreement", "show", "--language", "fr", "--json")
    assert current_fr["text"] == "Contrat 2027, en français."

    # A published text never changes; the shipped version's name is not for publishing.
    assert "agreementVersionExists" in run(
        database, "partner", "agreement", "publish", str(text_en), "--version", "2027-1", code=1
    )
    assert "invalidAgreement" in run(
        database,
        "partner",
        "agreement",
        "publish",
        str(text_en),
        "--version",
        DEFAULT_AGREEMENT_VERSION,
        code=1,
    )
    assert "unsupportedLanguage" in run(
        database,
        "partner",
        "agreement",
        "publish",
        str(text_en),
        "--version",
        "2027-2",
        "--language",
        "de",
        code=1,
    )
    run(database, "partner", "agreement", "publish", str(text_en), "--version", "2027-2")
    assert run(database, "partner", "agreement", "show", "--json")["version"] == "2027-2"
    # An older version takes no new translation once another is current.
    text_nl = tmp_path / "nl.txt"
    text_nl.write_text("Overeenkomst.")
    assert "no longer the current" in run(
        database,
        "partner",
        "agreement",
        "publish",
        str(text_nl),
        "--version",
        "2027-1",
        "--language",
        "nl",
        code=1,
    )
    assert (
        database.scalar(
            "SELECT count(*) FROM audit_events WHERE action = 'partnerAgreement.published'"
        )
        == 3
    )


def test_a_reserved_publisher_name_holds_its_look_alikes(database, server):
    run(database, "partner", "reserved", "add", "Tenantry Labs", "--json")
    # Case, white space, full-width forms and a Cyrillic "а" are the same name.
    for alike in ("tenantry  labs", "ＴＥＮＡＮＴＲＹ Labs", "Tenаntry Labs"):
        assert "already reserved (as Tenantry Labs)" in run(
            database, "partner", "reserved", "add", alike, code=1
        )
    assert "publisherNameTooLong" in run(database, "partner", "reserved", "add", "x" * 51, code=1)
    assert "U+202E" in run(database, "partner", "reserved", "add", "Evil\u202eLabs", code=1)
    assert [r["name"] for r in run(database, "partner", "reserved", "list", "--json")] == [
        "Tenantry Labs"
    ]
    assert run(database, "partner", "reserved", "remove", "TENANTRY LABS", "--json") == {
        "name": "Tenantry Labs"
    }
    assert run(database, "partner", "reserved", "list", "--json") == []
    assert "not reserved" in run(database, "partner", "reserved", "remove", "Tenantry Labs", code=1)
