"""The entitlement check apps call on every action: the caller's token and sources, one statement.

When a user (through an app holding their token) asks about themselves, one
indexed statement on a raw connection (`core.hotread`) finds the token's user
and that user's active offers and licenses that give access; the rules of
`auth.service.token_accepted` and `service.compute_entitlements` then apply as
on the ordinary path. Anything else (an admin asking about another user, a
user named by sign-in address, an unknown token, a database hiccup) returns
None and the route takes the ordinary path, which answers with the full rules
and errors.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from tenantry.auth import service as auth_service
from tenantry.catalog import Catalog, days_since
from tenantry.core.clock import clock
from tenantry.core.hotread import HotReader, HotReadError, as_datetime, as_json, as_uuid
from tenantry.core.security import token_digest
from tenantry.licensing.service import Entitlements, compute_entitlements

# Three branches, each entered through the token's primary key and then the
# indexes of its user's rows: the cost does not grow with the tenant's size.
SELF_ENTITLEMENTS = """
SELECT t.user_id, t.expires_at, u.account_enabled, n.state, u.must_change_password,
       NULL AS kind, NULL AS name, NULL AS started_at, NULL AS disabled_plans
FROM access_tokens t
JOIN users u ON u.id = t.user_id
JOIN tenants n ON n.id = u.tenant_id
WHERE t.digest = :digest
UNION ALL
SELECT t.user_id, NULL, NULL, NULL, NULL, 'offer', o.offer, o.started_at, NULL
FROM access_tokens t
JOIN users u ON u.id = t.user_id
JOIN offer_assignments o ON o.tenant_id = u.tenant_id AND o.user_id = u.id
WHERE t.digest = :digest AND o.status = 'active'
UNION ALL
SELECT t.user_id, NULL, NULL, NULL, NULL, 'sku', CAST(a.sku_id AS VARCHAR), NULL,
       CAST(a.disabled_plans AS TEXT)
FROM access_tokens t
JOIN license_assignments a ON a.user_id = t.user_id
JOIN subscribed_skus p ON p.tenant_id = a.tenant_id AND p.sku_id = a.sku_id
WHERE t.digest = :digest
  AND a.state IN ('Active', 'ActiveWithError')
  AND p.enabled_units + p.warning_units > 0
"""


async def own_entitlements(
    *, reader: HotReader, catalog: Catalog, token: str, user_id: uuid.UUID | None
) -> Entitlements | None:
    """The token holder's entitlements if they are `user_id` (None: whoever they are).

    None when this path does not apply; the caller then takes the ordinary path.
    """
    if not reader.available:
        return None
    try:
        rows = await reader.fetch_all(SELF_ENTITLEMENTS, {"digest": token_digest(token)})
    except HotReadError:
        return None
    holder_rows = [row for row in rows if row[5] is None]
    if not holder_rows:
        return None
    holder, expires_at, account_enabled, tenant_state, must_change_password = holder_rows[0][:5]
    if must_change_password or (user_id is not None and as_uuid(holder) != user_id):
        return None
    if not auth_service.token_accepted(
        expires_at=as_datetime(expires_at),
        account_enabled=bool(account_enabled),
        tenant_state=tenant_state,
    ):
        return None
    offers = []
    licenses = []
    for *_, kind, name, started_at, disabled_plans in rows:
        if kind == "offer":
            offers.append((name, as_datetime(started_at)))
        elif kind == "sku":
            licenses.append((as_uuid(name), tuple(as_json(disabled_plans) or ())))
    return _computed(catalog, offers, licenses)


# Entitlements by what determines them (offers with their age in days, licenses with
# their disabled plans): most users share a handful of combinations, and computing
# them is most of this path's Python work. Bounded, per process.
_CACHE_SIZE = 4096
_cache: dict[tuple[object, ...], tuple[Catalog, Entitlements]] = {}


def _computed(
    catalog: Catalog,
    offers: list[tuple[str, datetime]],
    licenses: list[tuple[uuid.UUID, tuple[str, ...]]],
) -> Entitlements:
    now = clock.now()
    key = (
        id(catalog),
        tuple(sorted((name, days_since(started_at, now)) for name, started_at in offers)),
        tuple(sorted((sku_id, tuple(sorted(plans))) for sku_id, plans in licenses)),
    )
    cached = _cache.get(key)
    if cached is not None and cached[0] is catalog:
        return cached[1]
    found = compute_entitlements(
        catalog, offers=offers, licenses=[(s, list(p)) for s, p in licenses], now=now
    )
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    _cache[key] = (catalog, found)
    return found
