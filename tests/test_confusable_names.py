"""Names people could mistake: look-alike user names (Unicode UTS #39 skeletons) are refused in
an organization, and names that hide what they say (control, bidi, zero-width characters,
line breaks) are refused wherever a person names someone or something."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Boolean, Integer, String, Uuid, column, insert, select, table
from sqlalchemy.exc import IntegrityError

from tenantry.core.clock import clock
from tenantry.core.db import UTCDateTime
from tenantry.core.migrate import upgrade
from tenantry.directory.models import User
from tests.support.databases import TestDatabase
from tests.support.directory import add_user, admin_api, error_code
from tests.support.stories import become_admin, publish_record
from tests.test_web_admin_center import while_another_transaction_inserts
from tests.test_web_admin_takeover import sign_in
from tests.test_web_pages import csrf_token, submit

CYRILLIC_ARIANE = "\u0430riane@contoso.com"  # а: CYRILLIC SMALL LETTER A
FULL_WIDTH_ARIANE = "ＡＲＩＡＮＥ@contoso.com"
HIDING = {
    "\u202e": "U+202E",  # RIGHT-TO-LEFT OVERRIDE
    "\u2066": "U+2066",  # LEFT-TO-RIGHT ISOLATE
    "\u200b": "U+200B",  # ZERO WIDTH SPACE
    "\ufeff": "U+FEFF",  # ZERO WIDTH NO-BREAK SPACE
    "\n": "U+000A",
    "\u2028": "U+2028",  # LINE SEPARATOR
    "\x07": "U+0007",  # a control character
}


@pytest.fixture()
def ariane(stories, database):
    with admin_api(stories, database, "ariane@contoso.com", "Ariane Dupont") as api:
        yield api


def _tenant_of(database: TestDatabase, address: str) -> uuid.UUID:
    with database.engine.connect() as connection:
        return connection.scalar(select(User.tenant_id).where(User.user_principal_name == address))


@pytest.mark.parametrize("lookalike", [CYRILLIC_ARIANE, FULL_WIDTH_ARIANE, "ARIANE@contoso.com"])
def test_a_look_alike_of_a_user_name_is_refused(ariane, lookalike):
    refused = ariane.post(
        "/v1/users", json={"userPrincipalName": lookalike, "displayName": "Ariane D."}
    )
    if lookalike == "ARIANE@contoso.com":  # the same address, in another case
        assert (refused.status_code, error_code(refused)) == (409, "userAlreadyExists")
        return
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "confusableUserName"
    assert error["target"] == "userPrincipalName"
    assert error["similarTo"] == "ariane@contoso.com"
    assert len(ariane.get("/v1/users").json()["value"]) == 1
    # Different names are not look-alikes.
    add_user(ariane, "arianne@contoso.com", "Arianne Martin")
    add_user(ariane, "alain@contoso.com", "Alain Martin")


def test_the_database_refuses_look_alikes_created_at_the_same_moment(ariane, database, server):
    tenant_id = _tenant_of(database, "ariane@contoso.com")

    def lookalike(address: str):
        def insert_row(connection) -> None:
            connection.execute(
                insert(User).values(
                    tenant_id=tenant_id,
                    user_principal_name=address,
                    mail=address,
                    display_name="Chloé",
                    created_at=clock.now(),
                )
            )

        return insert_row

    # Another transaction inserts `сhloe@` (Cyrillic с) and commits while the request
    # waits: the check before the insert could not see it, the unique index refuses.
    answer = while_another_transaction_inserts(
        database,
        lookalike("\u0441hloe@contoso.com"),
        lambda: ariane.post(
            "/v1/users", json={"userPrincipalName": "chloe@contoso.com", "displayName": "Chloé"}
        ),
    )
    assert (answer.status_code, error_code(answer)) == (409, "confusableUserName")
    assert database.scalar("SELECT count(*) FROM users WHERE display_name = 'Chloé'") == 1
    # Even a row written straight into the table meets the index.
    with pytest.raises(IntegrityError), database.engine.begin() as connection:
        lookalike("ＣＨＬＯＥ@contoso.com")(connection)


def test_the_admin_center_refuses_a_look_alike(ariane, database, server):
    with sign_in(server, "ariane@contoso.com") as browser:
        page = browser.get("/admin/users/new")
        refused = browser.post(
            "/admin/users",
            data={
                "csrf_token": csrf_token(page),
                "display_name": "Ariane",
                "username": "\u0430riane",
                "domain": "contoso.com",
                "password_mode": "generate",
            },
        )
    assert refused.status_code == 409, refused.text
    assert "looks too much like that of ariane@contoso.com" in refused.text


@pytest.mark.parametrize("character", list(HIDING))
def test_names_that_hide_what_they_say_are_refused(ariane, character):
    code = HIDING[character]
    for field in ("displayName", "givenName", "surname"):
        body = {"userPrincipalName": "alain@contoso.com", "displayName": "Alain", field: ""}
        body[field] = f"Alain{character}Martin"
        refused = ariane.post("/v1/users", json=body)
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert (error["code"], error["target"]) == ("invalidValue", field)
        assert code in error["message"]
    alain = add_user(ariane, "alain@contoso.com", "Alain Martin")
    renamed = ariane.patch(f"/v1/users/{alain['id']}", json={"displayName": f"Al{character}ain"})
    assert (renamed.status_code, renamed.json()["error"]["target"]) == (400, "displayName")

    group = ariane.post("/v1/groups", json={"displayName": f"Sales{character}"})
    assert (group.status_code, group.json()["error"]["target"]) == (400, "displayName")
    sales = ariane.post("/v1/groups", json={"displayName": "Sales"}).json()
    renamed = ariane.patch(f"/v1/groups/{sales['id']}", json={"displayName": f"Sa{character}"})
    assert (renamed.status_code, renamed.json()["error"]["target"]) == (400, "displayName")


def test_a_description_may_hold_lines_but_a_name_may_not(ariane):
    described = ariane.post(
        "/v1/groups", json={"displayName": "Sales", "description": "Europe\nand Africa"}
    )
    assert described.status_code == 201, described.text


def test_sign_up_and_csv_import_refuse_hidden_characters(stories, ariane):
    started = stories.start_signup("chloe@fabrikam.com", "Chlo\u202eé")
    assert started.status_code == 400, started.text
    assert started.json()["error"]["target"] == "displayName"

    data = (
        "userPrincipalName,displayName,givenName\n"
        "alain@contoso.com,Alain\u200bMartin,Alain\n"
        "chloe@contoso.com,Chloé,Chlo\u2066é\n"
        "\u0430riane@contoso.com,Ariane,\n"
        "bruno@contoso.com,Bruno,\n"
    ).encode()
    answer = ariane.post("/v1/users/import", content=data, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    outcomes = [(row["status"], row.get("error", {}).get("code")) for row in answer.json()["rows"]]
    assert outcomes == [
        ("failed", "invalidValue"),
        ("failed", "invalidValue"),
        ("failed", "confusableUserName"),
        ("created", None),
    ]


def test_web_forms_name_the_refused_field(ariane, server):
    with sign_in(server, "ariane@contoso.com") as browser:
        refused = submit(
            browser, "/admin/groups", "/admin/groups", display_name="Sales\u202e", description=""
        )
    assert refused.status_code == 400
    assert "displayName cannot contain" in refused.text


def test_existing_look_alikes_are_kept_and_named_by_the_migration(tmp_path, caplog):
    database = TestDatabase(tmp_path)
    database.create()
    try:
        upgrade(database.url, "0012")  # before the rule: look-alikes could be created
        tenants = table(
            "tenants",
            column("id", Uuid()),
            column("display_name", String()),
            column("state", String()),
            column("allow_email_verified_users_to_join", Boolean()),
            column("allowed_to_sign_up_email_based_subscriptions", Boolean()),
            column("created_at", UTCDateTime()),
        )
        users = table(
            "users",
            *(column(name, Uuid()) for name in ("id", "tenant_id")),
            *(column(name, String()) for name in ("user_principal_name", "mail")),
            *(column(name, String()) for name in ("display_name", "display_name_key", "source")),
            *(column(name, Boolean()) for name in ("account_enabled", "must_change_password")),
            column("failed_sign_ins", Integer()),
            column("created_at", UTCDateTime()),
        )
        tenant_id, other_tenant = uuid.uuid4(), uuid.uuid4()
        now = clock.now()
        with database.engine.begin() as connection:
            for tenant in (tenant_id, other_tenant):
                connection.execute(
                    tenants.insert().values(
                        id=tenant,
                        display_name="contoso.com",
                        state="managed",
                        allow_email_verified_users_to_join=True,
                        allowed_to_sign_up_email_based_subscriptions=True,
                        created_at=now,
                    )
                )
            for tenant, address, later in (
                (tenant_id, "ariane@contoso.com", 0),
                (tenant_id, CYRILLIC_ARIANE, 1),  # alike, and created later
                (other_tenant, "ariane@contoso.org", 2),  # another organization's
            ):
                connection.execute(
                    users.insert().values(
                        id=uuid.uuid4(),
                        tenant_id=tenant,
                        user_principal_name=address,
                        mail=address,
                        display_name="Ariane",
                        display_name_key="ariane",
                        source="cloud",
                        account_enabled=True,
                        must_change_password=False,
                        failed_sign_ins=0,
                        created_at=now + timedelta(minutes=later),
                    )
                )
        with caplog.at_level(logging.WARNING, logger="tenantry.migrations"):
            upgrade(database.url)
        warned = [r.getMessage() for r in caplog.records if r.name == "tenantry.migrations"]
        assert len(warned) == 1
        assert "ariane@contoso.com" in warned[0] and CYRILLIC_ARIANE in warned[0]
        keys = dict(database.rows("SELECT user_principal_name, name_skeleton FROM users"))
        assert keys[CYRILLIC_ARIANE] is None  # kept, without the key
        assert keys["ariane@contoso.com"] and keys["ariane@contoso.org"]
        # A new look-alike still meets the key the oldest holds.
        with pytest.raises(IntegrityError), database.engine.begin() as connection:
            connection.execute(
                insert(User).values(
                    tenant_id=tenant_id,
                    user_principal_name="ａriane@contoso.com",
                    mail="ａriane@contoso.com",
                    display_name="Ariane",
                    created_at=clock.now(),
                )
            )
    finally:
        database.drop()


def test_a_look_alike_cannot_join_the_organization_by_signing_up(stories, api, ariane):
    started = stories.start_signup("\u0430riane@contoso.com", "Ariane")
    assert started.status_code == 202, started.text
    code = stories.smtp.code_for("\u0430riane@contoso.com")
    verified = api.post(
        f"/v1/signup/{started.json()['signupId']}/verify",
        json={"code": code, "password": "Correct-Horse-9"},
    )
    assert verified.status_code == 409, verified.text
    assert verified.json()["error"]["code"] == "confusableUserName"


def test_a_domain_removal_never_renames_someone_into_a_look_alike(stories, dns_zone, database):
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    with stories.client_for("ariane@contoso.com") as admin:
        assert become_admin(admin, dns_zone).status_code == 200
        initial = next(d for d in admin.get("/v1/domains").json()["value"] if d["isInitial"])
        add_user(admin, "chloe@contoso.com", "Chloé Dubois")
        lookalike = f"\u0441hloe@{initial['id']}"  # Cyrillic с, at the initial domain
        tenant_id = _tenant_of(database, "ariane@contoso.com")
        with database.engine.begin() as connection:  # (the API refuses .localhost addresses)
            connection.execute(
                insert(User).values(
                    tenant_id=tenant_id,
                    user_principal_name=lookalike,
                    mail=lookalike,
                    display_name="Chloé Martin",
                    created_at=clock.now(),
                )
            )
        admin.patch(f"/v1/domains/{initial['id']}", json={"isDefault": True})
        removed = admin.post(
            "/v1/domains/contoso.com/forceDelete", json={"disableUserAccounts": False}
        )
        assert removed.status_code == 204, removed.text
        addresses = [user["userPrincipalName"] for user in admin.get("/v1/users").json()["value"]]
    renamed = next(a for a in addresses if a.startswith("chloe"))
    assert renamed.startswith("chloe.") and renamed.endswith(f"@{initial['id']}")
    assert lookalike in addresses


def test_an_external_takeover_keeps_a_look_alike_it_brings_in(stories, dns_zone, database):
    homograph = "xn--cntoso-wqf.com"  # cоntoso.com, with a Cyrillic о
    stories.sign_up("ariane@fabrikam.com", "Ariane Dupont")
    with stories.client_for("ariane@fabrikam.com") as ariane:
        assert become_admin(ariane, dns_zone).status_code == 200
        for name in (homograph, "contoso.com"):
            assert ariane.post("/v1/domains", json={"id": name}).status_code == 201
            records = ariane.get(f"/v1/domains/{name}/verificationDnsRecords").json()
            publish_record(dns_zone, records)
            if name == homograph:
                assert ariane.post(f"/v1/domains/{name}/verify").status_code == 200
                add_user(ariane, f"chloe@{homograph}", "Chloé Dubois")
                stories.sign_up("chloe@contoso.com", "Chloé Martin")  # an unmanaged tenant
        verified = ariane.post("/v1/domains/contoso.com/verify")
        assert verified.status_code == 200, verified.text
        assert verified.json()["movedUsers"] == 1
        addresses = {user["userPrincipalName"] for user in ariane.get("/v1/users").json()["value"]}
    assert {f"chloe@{homograph}", "chloe@contoso.com"} <= addresses
    keys = dict(database.rows("SELECT user_principal_name, name_skeleton FROM users"))
    assert keys["chloe@contoso.com"] is None and keys[f"chloe@{homograph}"]
