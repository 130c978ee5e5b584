"""The filters identity providers send most are answered through indexes, on SQLite and
PostgreSQL: never a scan of the organization's users (at 100,000 users, a scan is the
difference between a millisecond and a second)."""

from __future__ import annotations

import uuid

import pytest
from scim2_models import ScimFilter

from tenantry.scim.resources import UserResource
from tenantry.scim.users import Query, page_statement


@pytest.mark.parametrize(
    "expression",
    [
        'userName eq "alex@contoso.com"',
        'externalId eq "0a21f0f2-8d2a-4f8e"',
        'displayName eq "Alex Wilber"',
        'displayName sw "Alex"',
    ],
)
def test_provider_filters_use_indexes(database, expression):
    query = Query(filter=ScimFilter[UserResource](expression).ast)
    with database.engine.connect() as connection:
        if database.kind == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")  # tiny tables: ask for the index
        statement = page_statement(uuid.uuid4(), query).compile(
            dialect=connection.dialect, compile_kwargs={"literal_binds": True}
        )
        explain = "EXPLAIN" if database.kind == "postgresql" else "EXPLAIN QUERY PLAN"
        plan = " ".join(
            str(part)
            for row in connection.exec_driver_sql(f"{explain} {statement}")
            for part in row
        )
    if database.kind == "postgresql":
        assert "Seq Scan on users" not in plan and "Index" in plan, plan
    else:
        assert "SCAN users" not in plan and "USING INDEX" in plan, plan
