"""Domains of a managed tenant: add, verify, default, remove (Graph shape), and bad input."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
from alembic import command
from sqlalchemy import select, text

from tenantry.app import create_app
from tenantry.core import audit
from tenantry.core.db import Database
from tenantry.core.dns import TxtLookup
from tenantry.core.migrate import alembic_config, upgrade
from tenantry.directory.models import User
from tenantry.domains import flows as domain_flows
from tenantry.tenants.models import Tenant
from tests.support.stories import become_admin, publish_record


@pytest.fixture()
def admin(stories, dns_zone):
    stories.sign_up("ariane@contoso.com", "Ariane Dupont")
    ariane = stories.client_for("ariane@contoso.com")
    assert become_admin(ariane, dns_zone).status_code == 200
    return ariane


def test_add_verify_default_and_remove_a_domain(admin, dns_zone):
    added = admin.post("/v1/domains", json={"id": "Fabrikam.com"})
    assert added.status_code == 201, added.text
    assert added.json() == {
        "id": "fabrikam.com",
        "isVerified": False,
        "isDefault": False,
        "isInitial": False,
        "isRoot": True,
    }
    records = admin.get("/v1/domains/fabrikam.com/verificationDnsRecords").json()
    (record,) = records["value"]
    assert record["recordType"] == "Txt" and record["ttl"] == 3600
    assert record["label"] == "fabrikam.com" and record["text"].startswith("tenantry-verify=")

    not_yet = admin.post("/v1/domains/fabrikam.com/verify")
    assert not_yet.status_code == 409
    assert not_yet.json()["error"]["code"] == "verificationRecordNotFound"
    cannot_default = admin.patch("/v1/domains/fabrikam.com", json={"isDefault": True})
    assert cannot_default.json()["error"]["code"] == "domainNotVerified"

    publish_record(dns_zone, records)
    verified = admin.post("/v1/domains/fabrikam.com/verify")
    assert verified.status_code == 200
    assert verified.json()["isVerified"] is True
    assert verified.json()["availabilityStatus"] == "AvailableImmediately"

    made_default = admin.patch("/v1/domains/fabrikam.com", json={"isDefault": True})
    assert made_default.json()["isDefault"] is True
    listed = {d["id"]: d for d in admin.get("/v1/domains").json()["value"]}
    assert listed["fabrikam.com"]["isDefault"] and not listed["contoso.com"]["isDefault"]

    refused = admin.delete("/v1/domains/fabrikam.com")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "domainIsDefault"

    admin.patch("/v1/domains/contoso.com", json={"isDefault": True})
    assert admin.delete("/v1/domains/fabrikam.com").status_code == 204
    assert admin.get("/v1/domains/fabrikam.com").status_code == 404


def test_initial_domain_cannot_be_removed(admin):
    initial = next(d for d in admin.get("/v1/domains").json()["value"] if d["isInitial"])
    refused = admin.delete(f"/v1/domains/{initial['id']}")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "initialDomainCannotBeRemoved"


def test_removing_a_domain_in_use_needs_force_which_renames_and_disables(admin, api, dns_zone):
    admin.post("/v1/domains", json={"id": "fabrikam.com"})
    publish_record(dns_zone, admin.get("/v1/domains/fabrikam.com/verificationDnsRecords").json())
    assert admin.post("/v1/domains/fabrikam.com/verify").status_code == 200
    created = admin.post(
        "/v1/users",
        json={
            "displayName": "Chloé",
            "userPrincipalName": "chloe@fabrikam.com",
            "password": "Abcdef-12",
        },
    )
    assert created.status_code == 201

    in_use = admin.delete("/v1/domains/fabrikam.com")
    assert in_use.status_code == 409
    assert in_use.json()["error"]["code"] == "domainInUse"
    assert in_use.json()["error"]["objectsInUse"] == 1

    assert admin.delete("/v1/domains/fabrikam.com?force=true").status_code == 204
    initial = next(d for d in admin.get("/v1/domains").json()["value"] if d["isInitial"])
    refused = api.post(
        "/v1/auth/token",
        data={
            "grant_type": "password",
            "username": f"chloe@{initial['id']}",
            "password": "Abcdef-12",
        },
    )
    assert refused.json()["error"]["code"] == "accountDisabled"


def test_a_forced_removal_never_disables_every_global_administrator(admin):
    initial = next(d for d in admin.get("/v1/domains").json()["value"] if d["isInitial"])
    admin.patch(f"/v1/domains/{initial['id']}", json={"isDefault": True})
    refused = admin.delete("/v1/domains/contoso.com?force=true")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "wouldLockOutAdministrators"
    # Keeping the accounts enabled is allowed: Ariane now signs in at the initial domain.
    kept = admin.post("/v1/domains/contoso.com/forceDelete", json={"disableUserAccounts": False})
    assert kept.status_code == 204
    assert admin.get("/v1/me").json()["userPrincipalName"] == f"ariane@{initial['id']}"


def test_subdomain_of_a_verified_root_is_verified_with_it(admin):
    sub = admin.post("/v1/domains", json={"id": "sales.contoso.com"})
    assert sub.status_code == 201
    assert sub.json()["isVerified"] is True and sub.json()["isRoot"] is False


def test_verifying_a_root_verifies_the_subdomains_added_before_it(admin, dns_zone, database):
    admin.post("/v1/domains", json={"id": "eu.sales.fabrikam.com"})
    _add_and_publish(admin, dns_zone, "fabrikam.com")
    assert admin.post("/v1/domains/fabrikam.com/verify").status_code == 200
    sub = admin.get("/v1/domains/eu.sales.fabrikam.com").json()
    assert sub["isVerified"] is True and sub["isRoot"] is False
    (details,) = database.rows(
        "SELECT details FROM audit_events WHERE target_id = 'fabrikam.com' "
        "AND action = 'Verify domain'"
    )
    assert "eu.sales.fabrikam.com" in str(details[0])


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("not a domain", "invalidDomainName"),
        ("127.0.0.1", "ipLiteralNotAllowed"),
        ("co.uk", "notUnderPublicSuffix"),
        ("intranet.local", "notUnderPublicSuffix"),
        ("x" * 300 + ".com", "invalidDomainName"),
        ("", "invalidRequest"),
    ],
)
def test_bad_domain_names_get_clear_errors(admin, name, code):
    refused = admin.post("/v1/domains", json={"id": name})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == code


def test_another_tenants_domain_is_not_found(admin, stories, dns_zone):
    stories.sign_up("nina@northwind.com")
    nina = stories.client_for("nina@northwind.com")
    assert become_admin(nina, dns_zone).status_code == 200
    assert nina.get("/v1/domains/contoso.com").status_code == 404
    assert nina.get("/v1/domains/contoso.com/verificationDnsRecords").status_code == 404
    assert nina.delete("/v1/domains/contoso.com").status_code == 404
    # She may add it, but not verify it: it is verified in another organization.
    assert nina.post("/v1/domains", json={"id": "contoso.com"}).status_code == 201
    records = nina.get("/v1/domains/contoso.com/verificationDnsRecords").json()
    publish_record(dns_zone, records)
    refused = nina.post("/v1/domains/contoso.com/verify")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "domainAlreadyVerified"
    assert "already verified in another organization" in refused.json()["error"]["message"]


def test_members_of_unmanaged_tenants_cannot_manage_domains(stories):
    stories.sign_up("ariane@contoso.com")
    ariane = stories.client_for("ariane@contoso.com")
    refused = ariane.post("/v1/domains", json={"id": "fabrikam.com"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "tenantUnmanaged"


def _managed(stories, dns_zone, email: str) -> httpx.Client:
    stories.sign_up(email)
    client = stories.client_for(email)
    assert become_admin(client, dns_zone, key=email).status_code == 200
    return client


def _add_and_publish(client: httpx.Client, dns_zone, name: str) -> str:
    added = client.post("/v1/domains", json={"id": name})
    assert added.status_code == 201, added.text
    records = client.get(f"/v1/domains/{name}/verificationDnsRecords").json()
    publish_record(dns_zone, records)
    return records["value"][0]["text"]


def _refused_as_verified_elsewhere(response: httpx.Response, name: str) -> None:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "domainAlreadyVerified"
    # The same words as for the exact name, and nothing of the organization that holds it.
    assert error["message"] == f"The domain {name} is already verified in another organization."


def test_a_subdomain_of_a_root_verified_elsewhere_belongs_to_that_organization(
    admin, stories, dns_zone, database
):
    nina = _managed(stories, dns_zone, "nina@northwind.com")
    for name in ("sales.contoso.com", "eu.sales.contoso.com"):
        _add_and_publish(nina, dns_zone, name)
        _refused_as_verified_elsewhere(nina.post(f"/v1/domains/{name}/verify"), name)
    assert not database.scalar(
        "SELECT count(*) FROM domains WHERE name LIKE '%sales.contoso.com' AND is_verified"
    )
    verifications = "SELECT count(*) FROM audit_events WHERE action = 'Verify domain'"
    assert database.scalar(verifications) == 2  # Ariane's contoso.com, Nina's northwind.com
    # People who sign up at a subdomain join the organization that verified its root.
    joined = stories.sign_up("leo@eu.sales.contoso.com")
    assert joined["tenant"]["id"] == admin.get("/v1/organization").json()["id"]


def test_a_root_is_refused_while_another_managed_tenant_holds_a_subdomain(admin, stories, dns_zone):
    nina = _managed(stories, dns_zone, "nina@northwind.com")
    _add_and_publish(nina, dns_zone, "sales.fabrikam.com")
    assert nina.post("/v1/domains/sales.fabrikam.com/verify").status_code == 200
    _add_and_publish(admin, dns_zone, "fabrikam.com")
    _refused_as_verified_elsewhere(admin.post("/v1/domains/fabrikam.com/verify"), "fabrikam.com")
    # A subdomain that only formed an unmanaged tenant is nobody's verified domain.
    stories.sign_up("felix@research.tailspin.com")
    _add_and_publish(admin, dns_zone, "tailspin.com")
    assert admin.post("/v1/domains/tailspin.com/verify").status_code == 200


def test_an_unmanaged_subdomain_tenant_cannot_take_over_once_its_root_is_verified(
    stories, dns_zone, database
):
    stories.sign_up("lea@sales.contoso.com")  # before contoso.com has an admin
    _managed(stories, dns_zone, "ariane@contoso.com")
    lea = stories.client_for("lea@sales.contoso.com")
    refused = become_admin(lea, dns_zone)
    _refused_as_verified_elsewhere(refused, "sales.contoso.com")
    assert database.scalar("SELECT count(*) FROM subscriptions") == 1  # Ariane's only


def _answer_while_verifying(
    server, database, *, verifier: str, name: str, record_text: str, request
) -> httpx.Response:
    """`request`'s answer, sent while `verifier`'s verification of `name` is under way (its
    transaction open until the request waits for it, or a while on SQLite)."""

    async def scenario() -> httpx.Response:
        db = Database(server.settings.database_url)
        try:
            async with db.unit_of_work() as db_session:
                tenant_id = await db_session.scalar(
                    select(User.tenant_id).where(User.user_principal_name == verifier)
                )
                await domain_flows.verify(
                    db_session=db_session,
                    actor=audit.Actor(tenant_id=tenant_id),
                    tenant=await db_session.get(Tenant, tenant_id),
                    name=name,
                    lookup=TxtLookup(name=name, texts=(record_text,)),
                )
                answer = asyncio.get_running_loop().run_in_executor(None, request)
                await _until_waiting(database, answer)
            return await answer
        finally:
            await db.dispose()

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    ("first", "second"),
    [("contoso.com", "sales.contoso.com"), ("sales.contoso.com", "contoso.com")],
)
def test_a_root_and_its_subdomain_verified_at_the_same_moment_one_wins(
    stories, dns_zone, database, server, first, second
):
    """Nina's verification of `first` is under way when Tom verifies `second`: his waits for
    hers (the lock of their registrable domain), then sees it."""
    nina = _managed(stories, dns_zone, "nina@northwind.com")
    tom = _managed(stories, dns_zone, "tom@tailspin.com")
    record_text = _add_and_publish(nina, dns_zone, first)
    _add_and_publish(tom, dns_zone, second)
    answer = _answer_while_verifying(
        server,
        database,
        verifier="nina@northwind.com",
        name=first,
        record_text=record_text,
        request=lambda: tom.post(f"/v1/domains/{second}/verify"),
    )
    _refused_as_verified_elsewhere(answer, second)
    verified = "SELECT name FROM domains WHERE name LIKE '%contoso.com' AND is_verified"
    assert database.rows(verified) == [(first,)]


def test_a_subdomain_takeover_completed_while_its_root_is_verified_is_refused(
    stories, dns_zone, database, server
):
    stories.sign_up("lea@sales.contoso.com")  # before contoso.com has an admin
    lea = stories.client_for("lea@sales.contoso.com")
    state = lea.post("/v1/organization/becomeAdmin", json={"entryPoint": "admin"})
    publish_record(dns_zone, state.json())
    assert lea.post("/v1/organization/becomeAdmin/verify").status_code == 200
    nina = _managed(stories, dns_zone, "nina@northwind.com")
    record_text = _add_and_publish(nina, dns_zone, "contoso.com")
    answer = _answer_while_verifying(
        server,
        database,
        verifier="nina@northwind.com",
        name="contoso.com",
        record_text=record_text,
        request=lambda: lea.post(
            "/v1/organization/becomeAdmin/complete",
            json={"skuPartNumber": "BUSINESS_ESSENTIALS", "quantity": 1},
            headers={"Idempotency-Key": "lea"},
        ),
    )
    _refused_as_verified_elsewhere(answer, "sales.contoso.com")
    assert database.scalar("SELECT count(*) FROM tenants WHERE state = 'managed'") == 1


async def _until_waiting(database, answer: asyncio.Future) -> None:
    """Until the request waits for a lock this test's transaction holds (SQLite: a while)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not answer.done():
        if database.kind == "sqlite":
            await asyncio.sleep(0.5)
            return
        with database.engine.connect() as probe:
            if probe.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")):
                return
        await asyncio.sleep(0.02)


def test_subdomains_verified_against_the_rule_before_it_are_listed_not_moved(
    admin, stories, dns_zone, database, server, caplog
):
    nina = _managed(stories, dns_zone, "nina@northwind.com")
    _add_and_publish(nina, dns_zone, "sales.contoso.com")
    with database.engine.begin() as connection:  # as an older release let her verify it
        connection.execute(
            text("UPDATE domains SET is_verified = true WHERE name = 'sales.contoso.com'")
        )
    before = database.rows("SELECT tenant_id, name, is_verified FROM domains ORDER BY name")
    caplog.set_level(logging.WARNING, logger="tenantry")

    # Migrating: the migration that lists them runs again.
    command.downgrade(alembic_config(database.url), "0010")
    upgrade(database.url)
    # Starting a server.
    app = create_app(server.settings)

    async def start_and_stop() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(start_and_stop())

    for logger in ("tenantry.migrations", "tenantry.domains"):
        (warning,) = [r.getMessage() for r in caplog.records if r.name == logger]
        assert "contoso.com is verified in tenant" in warning
        assert "its subdomain sales.contoso.com in another tenant" in warning
    assert database.rows("SELECT tenant_id, name, is_verified FROM domains ORDER BY name") == before
