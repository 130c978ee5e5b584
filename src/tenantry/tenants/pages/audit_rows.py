"""The audit log's rows as people read them: activities, categories and detail names in
the page's language, yes/no for true/false, lists as lists, and names instead of ids —
the users, groups and products an event names, read in one query each for the page."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core.audit import AuditEvent
from tenantry.core.i18n import has_message, translate
from tenantry.directory.models import Group, User
from tenantry.tenants.auditlog import as_utc
from tenantry.web.admin_views import format_time, group_path, user_path

MAX_DETAILS = 4
MAX_TEXT = 120


def _ids_in(value: Any) -> Iterable[uuid.UUID]:
    """Every UUID a detail holds, in its text, its lists and its mappings' keys."""
    if isinstance(value, str):
        try:
            yield uuid.UUID(value)
        except ValueError:
            return
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _ids_in(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _ids_in(key)
            yield from _ids_in(item)


class Names:
    """Display names of the ids a page of events mentions, found in one read each."""

    def __init__(self) -> None:
        self.names: dict[uuid.UUID, str] = {}
        self.paths: dict[uuid.UUID, str] = {}

    @classmethod
    async def of(
        cls,
        db_session: AsyncSession,
        tenant_id: uuid.UUID,
        events: list[AuditEvent],
        catalog: Catalog,
    ) -> Names:
        found = cls()
        wanted: set[uuid.UUID] = set()
        for event in events:
            wanted.update(_ids_in(event.target_id or ""))
            wanted.update(_ids_in(dict(event.details)))
        if not wanted:
            return found
        for sku_id in wanted:
            if sku := catalog.sku_by_id(sku_id):
                found.names[sku_id] = sku.display_name
        users = await db_session.execute(
            select(User.id, User.user_principal_name).where(
                User.tenant_id == tenant_id, User.id.in_(wanted)
            )
        )
        for user_id, principal_name in users:
            found.names[user_id] = principal_name
            found.paths[user_id] = user_path(user_id)
        groups = await db_session.execute(
            select(Group.id, Group.display_name).where(
                Group.tenant_id == tenant_id, Group.id.in_(wanted)
            )
        )
        for group_id, display_name in groups:
            found.names[group_id] = display_name
            found.paths[group_id] = group_path(group_id)
        return found

    def of_text(self, text: str) -> str:
        try:
            return self.names.get(uuid.UUID(text), text)
        except ValueError:
            return text


def _present(language: str, value: Any, names: Names) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return translate(language, "web.audit.yes" if value else "web.audit.no")
    if isinstance(value, str):
        return names.of_text(value)
    if isinstance(value, list | tuple):
        return ", ".join(_present(language, item, names) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(
            f"{_present(language, key, names)}: {_present(language, item, names)}"
            for key, item in value.items()
        )
    return str(value)


def _label(language: str, prefix: str, name: str) -> str:
    key = f"{prefix}.{name}"
    return translate(language, key) if has_message(key) else name


def event_row(
    language: str, event: AuditEvent, actor_principal_name: str | None, names: Names
) -> dict[str, Any]:
    """One row of the page."""
    by_user = event.actor_type == "user" and event.actor_id is not None
    details = [
        (_label(language, "audit.detail", key), _present(language, value, names)[:MAX_TEXT])
        for key, value in event.details.items()
    ]
    target = names.of_text(event.target_id) if event.target_id else None
    target_path = next(
        (names.paths[found] for found in _ids_in(event.target_id or "") if found in names.paths),
        None,
    )
    return {
        "at": format_time(language, as_utc(event.occurred_at)),
        "action": event.action,
        "activity": _label(language, "audit.activity", event.action),
        "category": _label(language, "audit.category", event.target_type or "")
        if event.target_type
        else "",
        "target": target,
        "target_path": target_path,
        "actor": (actor_principal_name or str(event.actor_id)) if by_user else None,
        "actor_path": user_path(event.actor_id) if by_user and actor_principal_name else None,
        "app": None if by_user else f"Tenantry ({event.actor_type})",
        "address": event.client_address if by_user else None,
        "details": details[:MAX_DETAILS],
        "more": max(0, len(details) - MAX_DETAILS),
    }
