"""User, role-assignment, group, group-member and search-term tables.

A user's `display_name_key`, `name_skeleton` and search terms are derived from
their names and address by ORM events below, so every ORM write keeps them right
(sign-up, admin, CSV import, SCIM, renames). A Core INSERT of users gets the key
and the skeleton (column defaults) but no search terms; a set-based UPDATE of
`display_name`, `mail` or `user_principal_name` must recompute them itself. A
set-based move to another tenant is fine for the terms (ON UPDATE CASCADE); the
skeleton must stay unique in the new tenant (`directory.transfer`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    delete,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from tenantry.core.db import Base, new_id
from tenantry.directory.search import (
    ADDRESS,
    KEY_LENGTH,
    NAME,
    TERM_LENGTH,
    address_terms,
    name_terms,
    ordered_string,
    sort_key,
)
from tenantry.directory.spoofing import principal_name_skeleton

if TYPE_CHECKING:
    from tenantry.tenants.models import Tenant


# The guest that holds its address's password (`directory.guests`): at most one per address.
GUEST_CREDENTIAL = (
    "external_user_state IS NOT NULL AND home_user_id IS NULL AND password_hash IS NOT NULL"
)


def _key_default(context: Any) -> str:
    """The sort key of a row inserted without the ORM (Core INSERTs of users)."""
    return sort_key(context.get_current_parameters().get("display_name") or "")


def _skeleton_default(context: Any) -> str:
    """The look-alike key of a user inserted without setting it (Core INSERTs of users)."""
    return principal_name_skeleton(context.get_current_parameters()["user_principal_name"])


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # Sign-in names are unique platform-wide: an address leads to one account.
        UniqueConstraint("user_principal_name"),
        UniqueConstraint("tenant_id", "id"),
        Index("ix_users_tenant_display_name", "tenant_id", "display_name"),
        Index("ix_users_tenant_mail", "tenant_id", "mail"),
        # Lists sort by the folded name (then id, for keyset paging); filters use these.
        Index("ix_users_tenant_name_key", "tenant_id", "display_name_key", "id"),
        Index("ix_users_tenant_upn", "tenant_id", "user_principal_name", "id"),
        Index("ix_users_tenant_enabled", "tenant_id", "account_enabled", "display_name_key"),
        Index("ix_users_tenant_usage_location", "tenant_id", "usage_location"),
        Index("ix_users_tenant_source", "tenant_id", "source"),
        # Two users of one tenant never have look-alike addresses (directory.spoofing).
        # NULL: a pair that was alike before this rule (or met in an external takeover)
        # keeps its addresses; the older one holds the key (migration 0013).
        Index("ux_users_tenant_name_skeleton", "tenant_id", "name_skeleton", unique=True),
        # Guests (`directory.guests`): one per invited address in a tenant, and one guest
        # at most holds the password of an address (the others point to it, or to the
        # member account of that address, through `home_user_id`).
        Index(
            "ux_users_tenant_guest_mail",
            "tenant_id",
            "mail",
            unique=True,
            sqlite_where=text("external_user_state IS NOT NULL"),
            postgresql_where=text("external_user_state IS NOT NULL"),
        ),
        Index(
            "ux_users_guest_credential",
            "mail",
            unique=True,
            sqlite_where=text(GUEST_CREDENTIAL),
            postgresql_where=text(GUEST_CREDENTIAL),
        ),
        Index("ix_users_home_user", "home_user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    user_principal_name: Mapped[str] = mapped_column(ordered_string(320))
    mail: Mapped[str | None] = mapped_column(ordered_string(320))
    display_name: Mapped[str] = mapped_column(String(256))
    display_name_key: Mapped[str] = mapped_column(
        ordered_string(KEY_LENGTH), default=_key_default, server_default=""
    )
    given_name: Mapped[str | None] = mapped_column(String(128))
    surname: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(10), default="cloud")
    usage_location: Mapped[str | None] = mapped_column(String(2))
    account_enabled: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(default=False)
    preferred_language: Mapped[str | None] = mapped_column(String(8))
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]
    # A digest of the address's UTS #39 skeleton: what look-alike addresses share.
    name_skeleton: Mapped[str | None] = mapped_column(String(64), default=_skeleton_default)
    # Guests invited through `/v1/invitations` (Graph's externalUserState: PendingAcceptance,
    # then Accepted) and when that last changed; NULL for everyone else.
    external_user_state: Mapped[str | None] = mapped_column(String(20))
    external_user_state_changed_at: Mapped[datetime | None]
    # An accepted guest's person: the account that signs in with the guest's address (a
    # member of another tenant, or the guest of another tenant that holds the password).
    # NULL for members, pending guests, and the guest that holds its address's password.
    # No foreign key (migration 0015): deleting a user moves or resets its guests first.
    home_user_id: Mapped[uuid.UUID | None]
    # The organization a person last chose to act in (their next web sign-in opens it).
    last_tenant_id: Mapped[uuid.UUID | None]
    # Never loaded (set `tenant_id`): it tells the unit of work to insert a new
    # tenant before its first user, so both go in one flush.
    tenant: Mapped[Tenant] = relationship(lazy="raise")


class RoleAssignment(Base):
    __tablename__ = "role_assignments"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime]


class Group(Base):
    """A security group of a tenant's users (direct members only, no nesting)."""

    __tablename__ = "groups"
    __table_args__ = (
        Index("ix_groups_tenant_name_key", "tenant_id", "display_name_key", "id"),
        Index("ix_groups_tenant_mail_nickname", "tenant_id", "mail_nickname"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    display_name: Mapped[str] = mapped_column(String(256))
    display_name_key: Mapped[str] = mapped_column(ordered_string(KEY_LENGTH))
    description: Mapped[str | None] = mapped_column(String(1024))
    mail_nickname: Mapped[str] = mapped_column(ordered_string(64))
    created_at: Mapped[datetime]


class GroupMember(Base):
    """A user's direct membership of a group; both foreign keys carry the tenant."""

    __tablename__ = "group_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"], ["groups.tenant_id", "groups.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        Index("ix_group_members_tenant_user", "tenant_id", "user_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]


class UserSearchTerm(Base):
    """A folded word of a user's name (kind "d") or address (kind "m")."""

    __tablename__ = "user_search_terms"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        Index("ix_user_search_terms_lookup", "tenant_id", "kind", "term", "user_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    term: Mapped[str] = mapped_column(ordered_string(TERM_LENGTH), primary_key=True)


class GroupSearchTerm(Base):
    """A folded word of a group's name (kind "d") or its mail nickname (kind "m")."""

    __tablename__ = "group_search_terms"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"],
            ["groups.tenant_id", "groups.id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        Index("ix_group_search_terms_lookup", "tenant_id", "kind", "term", "group_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    term: Mapped[str] = mapped_column(ordered_string(TERM_LENGTH), primary_key=True)


# --- derived keys and search terms, kept by ORM events ------------------------------------


def _changed(target: Any, *names: str) -> bool:
    state = inspect(target)
    return any(state.attrs[name].history.has_changes() for name in names)


def _user_terms(user: User) -> list[dict[str, Any]]:
    terms = [(NAME, term) for term in name_terms(user.display_name)]
    terms += [(ADDRESS, term) for term in address_terms(user.user_principal_name, user.mail)]
    return [
        {"tenant_id": user.tenant_id, "user_id": user.id, "kind": kind, "term": term}
        for kind, term in terms
    ]


def _group_terms(group: Group) -> list[dict[str, Any]]:
    terms = [(NAME, term) for term in name_terms(group.display_name)]
    terms += [(ADDRESS, term) for term in address_terms(group.mail_nickname)]
    return [
        {"tenant_id": group.tenant_id, "group_id": group.id, "kind": kind, "term": term}
        for kind, term in terms
    ]


@event.listens_for(User, "before_insert")
@event.listens_for(Group, "before_insert")
def _set_key_on_insert(_mapper: Mapper[Any], _connection: Connection, target: Any) -> None:
    target.display_name_key = sort_key(target.display_name)


@event.listens_for(User, "before_update")
@event.listens_for(Group, "before_update")
def _set_key_on_update(_mapper: Mapper[Any], _connection: Connection, target: Any) -> None:
    if _changed(target, "display_name"):
        target.display_name_key = sort_key(target.display_name)


@event.listens_for(User, "before_update")
def _set_skeleton_on_rename(_mapper: Mapper[Any], _connection: Connection, user: User) -> None:
    if _changed(user, "user_principal_name") and not _changed(user, "name_skeleton"):
        user.name_skeleton = principal_name_skeleton(user.user_principal_name)


@event.listens_for(User, "after_insert")
def _index_new_user(_mapper: Mapper[Any], connection: Connection, user: User) -> None:
    rows = _user_terms(user)
    if rows:
        connection.execute(insert(UserSearchTerm.__table__), rows)


@event.listens_for(User, "after_update")
def _reindex_user(_mapper: Mapper[Any], connection: Connection, user: User) -> None:
    if not _changed(user, "display_name", "mail", "user_principal_name"):
        return
    connection.execute(
        delete(UserSearchTerm).where(
            UserSearchTerm.tenant_id == user.tenant_id, UserSearchTerm.user_id == user.id
        )
    )
    rows = _user_terms(user)
    if rows:
        connection.execute(insert(UserSearchTerm.__table__), rows)


@event.listens_for(Group, "after_insert")
def _index_new_group(_mapper: Mapper[Any], connection: Connection, group: Group) -> None:
    rows = _group_terms(group)
    if rows:
        connection.execute(insert(GroupSearchTerm.__table__), rows)


@event.listens_for(Group, "after_update")
def _reindex_group(_mapper: Mapper[Any], connection: Connection, group: Group) -> None:
    if not _changed(group, "display_name", "mail_nickname"):
        return
    connection.execute(
        delete(GroupSearchTerm).where(
            GroupSearchTerm.tenant_id == group.tenant_id, GroupSearchTerm.group_id == group.id
        )
    )
    rows = _group_terms(group)
    if rows:
        connection.execute(insert(GroupSearchTerm.__table__), rows)
