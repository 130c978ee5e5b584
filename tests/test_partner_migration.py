"""Migration 0015 on a database with partner accounts already enrolled: each keeps its
enrolling tenant linked and the person who enrolled becomes its Owner."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, Integer, String, Uuid, column, table

from tenantry.core.clock import clock
from tenantry.core.db import UTCDateTime
from tenantry.core.migrate import upgrade
from tests.support.databases import TestDatabase

TENANTS = table(
    "tenants",
    column("id", Uuid()),
    column("display_name", String()),
    column("state", String()),
    column("allow_email_verified_users_to_join", Boolean()),
    column("allowed_to_sign_up_email_based_subscriptions", Boolean()),
    column("created_at", UTCDateTime()),
)
USERS = table(
    "users",
    *(column(name, Uuid()) for name in ("id", "tenant_id")),
    *(column(name, String()) for name in ("user_principal_name", "mail")),
    *(column(name, String()) for name in ("display_name", "display_name_key", "source")),
    *(column(name, Boolean()) for name in ("account_enabled", "must_change_password")),
    column("failed_sign_ins", Integer()),
    column("created_at", UTCDateTime()),
)
ACCOUNTS = table(
    "partner_accounts",
    *(column(name, Uuid()) for name in ("id", "tenant_id", "agreement_accepted_by", "created_by")),
    *(
        column(name, String())
        for name in (
            "state",
            "country_or_region",
            "account_type",
            "publisher_display_name",
            "publisher_name_key",
            "contact_name",
            "contact_email",
            "contact_phone",
            "approver_name",
            "approver_email",
            "approver_phone",
            "agreement_version",
            "language",
        )
    ),
    *(
        column(name, UTCDateTime())
        for name in ("agreement_accepted_at", "created_at", "updated_at")
    ),
)


def test_enrolled_accounts_get_their_tenant_and_owner(tmp_path):
    database = TestDatabase(tmp_path)
    database.create()
    try:
        upgrade(database.url, "0014")
        now = clock.now()
        enrolled = []
        with database.engine.begin() as connection:
            for number, keeps_enroller in ((1, True), (2, False)):
                tenant_id, user_id, account_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
                connection.execute(
                    TENANTS.insert().values(
                        id=tenant_id,
                        display_name=f"org{number}.com",
                        state="managed",
                        allow_email_verified_users_to_join=True,
                        allowed_to_sign_up_email_based_subscriptions=True,
                        created_at=now,
                    )
                )
                if keeps_enroller:  # the other's enroller was deleted since
                    connection.execute(
                        USERS.insert().values(
                            id=user_id,
                            tenant_id=tenant_id,
                            user_principal_name=f"admin@org{number}.com",
                            mail=f"admin@org{number}.com",
                            display_name="Admin",
                            display_name_key="admin",
                            source="cloud",
                            account_enabled=True,
                            must_change_password=False,
                            failed_sign_ins=0,
                            created_at=now,
                        )
                    )
                text = {
                    name.key: f"x{number}"
                    for name in ACCOUNTS.columns
                    if name.key.endswith(("name", "email", "phone"))
                }
                connection.execute(
                    ACCOUNTS.insert().values(
                        id=account_id,
                        tenant_id=tenant_id,
                        agreement_accepted_by=user_id,
                        created_by=user_id,
                        state="active",
                        country_or_region="FR",
                        account_type="company",
                        publisher_name_key=f"key{number}",
                        agreement_version="tenantry-default-1",
                        language="en",
                        agreement_accepted_at=now,
                        created_at=now,
                        updated_at=now,
                        **text,
                    )
                )
                enrolled.append((account_id, tenant_id, user_id, keeps_enroller))

        upgrade(database.url)

        links = {
            (uuid.UUID(str(a)), uuid.UUID(str(t)))
            for a, t in database.rows(
                "SELECT partner_account_id, tenant_id FROM partner_account_tenants"
            )
        }
        assert links == {(account, tenant) for account, tenant, _, _ in enrolled}
        owners = database.rows(
            "SELECT m.partner_account_id, m.user_id, r.role FROM partner_account_members m "
            "JOIN partner_member_roles r ON r.member_id = m.id"
        )
        assert [(uuid.UUID(str(a)), uuid.UUID(str(u)), role) for a, u, role in owners] == [
            (account, user, "owner") for account, _, user, kept in enrolled if kept
        ]
        assert database.scalar("SELECT count(*) FROM access_tokens") == 0
    finally:
        database.drop()
