"""SCIM filters and sorting as SQL (RFC 7644 §3.4.2.2–3): never a scan of rows in Python.

scim2-models parses and checks a filter against the resource model (its syntax tree,
`ScimFilter.ast`); this module walks that tree with its `FilterVisitor` and builds a
SQLAlchemy condition over Tenantry's columns. scim2-models has no SQL transpiler and
scim2-filter-parser's emits SQL text for its own table layout, with neither SQLAlchemy
nor the two databases' differences in view, so this part is ours (docs/design.md).

Every comparison is two-valued (an absent attribute compares false, and `ne` true), so
`not` means what a client expects. Strings compare case-insensitively unless the
attribute is case-exact (`id`, `externalId`, member values). The filters providers send
most are served by indexes: `userName eq` (users' tenant and principal name),
`externalId eq` (`scim_users`, `scim_groups`), `displayName eq` and `sw` (the folded
name key, then the exact text checked on the rows it finds).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scim2_models import InvalidFilterException
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import and_, exists, false, func, literal, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from tenantry.directory.models import Group, GroupMember, User
from tenantry.directory.query import prefix_range
from tenantry.directory.search import fold, sort_key
from tenantry.directory.users import principal_name_key
from tenantry.scim.constants import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA
from tenantry.scim.models import ScimGroup, ScimUser

Condition = ColumnElement[bool]


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class Column:
    """How one SCIM attribute compares in SQL."""

    expression: Any
    kind: str = "text"  # text, exact (case-exact text), bool, time, uuid, present
    nullable: bool = True
    # text only: an indexed folded key compared first (`sort_key` of the value)
    key: Any = None
    # text only: the stored form of a value (addresses are kept in lower case)
    prepare: Callable[[str], str] | None = None

    def present(self) -> Condition:
        if self.kind == "present" or not self.nullable:
            return true()
        return self.expression.is_not(None)

    def compare(self, op: CompareOperator, value: Any) -> Condition:
        if self.kind == "present":  # a constant fact, such as an email's type "work"
            return self.expression(op, value)
        if self.kind == "bool":
            return self._bool(op, value)
        if self.kind == "uuid":
            return self._uuid(op, value)
        if self.kind == "time":
            return self._time(op, value)
        return self._text(op, value)

    def _guard(self, condition: Condition, op: CompareOperator) -> Condition:
        """Two-valued: an absent value is not equal to anything, and matches nothing else."""
        if not self.nullable:
            return condition
        if op == CompareOperator.ne:
            return or_(self.expression.is_(None), condition)
        return and_(self.expression.is_not(None), condition)

    def _bool(self, op: CompareOperator, value: Any) -> Condition:
        if not isinstance(value, bool) or op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilterException(detail="A boolean compares with eq or ne, true or false.")
        condition = (
            self.expression.is_(value)
            if op == CompareOperator.eq
            else self.expression.is_not(value)
        )
        return self._guard(condition, op)

    def _uuid(self, op: CompareOperator, value: Any) -> Condition:
        if op not in (CompareOperator.eq, CompareOperator.ne):
            raise InvalidFilterException(detail="An id compares with eq or ne.")
        try:
            wanted = uuid.UUID(str(value))
        except ValueError:
            return false() if op == CompareOperator.eq else true()
        return self.expression == wanted if op == CompareOperator.eq else self.expression != wanted

    def _time(self, op: CompareOperator, value: Any) -> Condition:
        if isinstance(value, datetime):
            moment = value
        else:
            try:
                moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError as exc:
                raise InvalidFilterException(detail=f"{value!r} is not a dateTime.") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        operators = {
            CompareOperator.eq: lambda c: c == moment,
            CompareOperator.ne: lambda c: c != moment,
            CompareOperator.gt: lambda c: c > moment,
            CompareOperator.ge: lambda c: c >= moment,
            CompareOperator.lt: lambda c: c < moment,
            CompareOperator.le: lambda c: c <= moment,
        }
        if op not in operators:
            raise InvalidFilterException(detail=f"A dateTime does not take {op.value}.")
        return self._guard(operators[op](self.expression), op)

    def _text(self, op: CompareOperator, value: Any) -> Condition:
        if value is None:
            return self.present() if op == CompareOperator.ne else not_(self.present())
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if "\x00" in text:
            return false() if op != CompareOperator.ne else true()
        exact = self.kind == "exact"
        if self.prepare is not None:
            text = self.prepare(text)
            column, wanted = self.expression, literal(text)
        elif exact:
            column, wanted = self.expression, literal(text)
        else:
            column, wanted = func.lower(self.expression), func.lower(literal(text))
        if op == CompareOperator.eq:
            condition = column == wanted
            if self.key is not None:  # the index first, then the exact text on what it finds
                condition = and_(self.key == sort_key(text), condition)
        elif op == CompareOperator.ne:
            condition = column != wanted
        elif op in (CompareOperator.sw, CompareOperator.ew, CompareOperator.co):
            escaped = _escape_like(text if (exact or self.prepare) else text.lower())
            pattern = {
                CompareOperator.sw: f"{escaped}%",
                CompareOperator.ew: f"%{escaped}",
                CompareOperator.co: f"%{escaped}%",
            }[op]
            condition = column.like(pattern, escape="\\")
            if op == CompareOperator.sw and self.key is not None:
                condition = and_(prefix_range(self.key, fold(text)), condition)
            elif op == CompareOperator.sw and (exact or self.prepare):
                condition = and_(prefix_range(self.expression, text), condition)
        else:
            compare = {
                CompareOperator.gt: lambda c, v: c > v,
                CompareOperator.ge: lambda c, v: c >= v,
                CompareOperator.lt: lambda c, v: c < v,
                CompareOperator.le: lambda c, v: c <= v,
            }[op]
            condition = compare(column, wanted)
        return self._guard(condition, op)


def _email_type(op: CompareOperator, value: Any) -> Condition:
    """Tenantry keeps one address, the work one: `type eq "work"` holds when there is one."""
    holds = str(value).lower() == "work"
    if op == CompareOperator.eq:
        return User.mail.is_not(None) if holds else false()
    if op == CompareOperator.ne:
        return User.mail.is_(None) if holds else User.mail.is_not(None)
    raise InvalidFilterException(detail="An email's type compares with eq or ne.")


def _email_primary(op: CompareOperator, value: Any) -> Condition:
    if op not in (CompareOperator.eq, CompareOperator.ne) or not isinstance(value, bool):
        raise InvalidFilterException(detail="primary compares with eq or ne, true or false.")
    holds = value == (op == CompareOperator.eq)
    return User.mail.is_not(None) if holds else User.mail.is_(None)


def _address_type(op: CompareOperator, value: Any) -> Condition:
    holds = str(value).lower() == "work"
    if op == CompareOperator.eq:
        return User.usage_location.is_not(None) if holds else false()
    if op == CompareOperator.ne:
        return User.usage_location.is_(None) if holds else User.usage_location.is_not(None)
    raise InvalidFilterException(detail="An address's type compares with eq or ne.")


def _stored(*keys: str) -> Any:
    """A text attribute kept as the client sent it (`scim_users.attributes`)."""
    expression: Any = ScimUser.attributes
    for key in keys:
        expression = expression[key]
    return expression.as_string()


_USER_COLUMNS: dict[str, Column] = {
    "id": Column(User.id, kind="uuid", nullable=False),
    "username": Column(User.user_principal_name, nullable=False, prepare=principal_name_key),
    "externalid": Column(ScimUser.external_id, kind="exact"),
    "displayname": Column(User.display_name, nullable=False, key=User.display_name_key),
    "active": Column(User.account_enabled, kind="bool", nullable=False),
    "name.givenname": Column(User.given_name),
    "name.familyname": Column(User.surname),
    "name.formatted": Column(_stored("name", "formatted")),
    "name.middlename": Column(_stored("name", "middleName")),
    "nickname": Column(_stored("nickName")),
    "title": Column(_stored("title")),
    "usertype": Column(_stored("userType")),
    "preferredlanguage": Column(_stored("preferredLanguage")),
    "locale": Column(_stored("locale")),
    "emails": Column(User.mail, prepare=str.lower),
    "emails.value": Column(User.mail, prepare=str.lower),
    "emails.type": Column(_email_type, kind="present"),
    "emails.primary": Column(_email_primary, kind="present"),
    "addresses.country": Column(User.usage_location, prepare=str.upper),
    "addresses.type": Column(_address_type, kind="present"),
    "meta.created": Column(User.created_at, kind="time", nullable=False),
    "meta.lastmodified": Column(
        func.coalesce(ScimUser.updated_at, User.created_at), kind="time", nullable=False
    ),
    f"{ENTERPRISE_SCHEMA}:employeenumber": Column(_stored(ENTERPRISE_SCHEMA, "employeeNumber")),
    f"{ENTERPRISE_SCHEMA}:department": Column(_stored(ENTERPRISE_SCHEMA, "department")),
    f"{ENTERPRISE_SCHEMA}:costcenter": Column(_stored(ENTERPRISE_SCHEMA, "costCenter")),
    f"{ENTERPRISE_SCHEMA}:organization": Column(_stored(ENTERPRISE_SCHEMA, "organization")),
    f"{ENTERPRISE_SCHEMA}:division": Column(_stored(ENTERPRISE_SCHEMA, "division")),
    f"{ENTERPRISE_SCHEMA}:manager.value": Column(
        _stored(ENTERPRISE_SCHEMA, "manager", "value"), kind="exact"
    ),
    f"{ENTERPRISE_SCHEMA}:manager": Column(
        _stored(ENTERPRISE_SCHEMA, "manager", "value"), kind="exact"
    ),
}


def _member(op: CompareOperator, value: Any) -> Condition:
    """`members[value eq "…"]`, `members eq "…"`: the group has that user."""
    if op not in (CompareOperator.eq, CompareOperator.ne):
        raise InvalidFilterException(detail="A member compares with eq or ne.")
    try:
        user_id = uuid.UUID(str(value))
    except ValueError:
        return false() if op == CompareOperator.eq else true()
    has = exists().where(
        GroupMember.tenant_id == Group.tenant_id,
        GroupMember.group_id == Group.id,
        GroupMember.user_id == user_id,
    )
    return has if op == CompareOperator.eq else not_(has)


def _member_type(op: CompareOperator, value: Any) -> Condition:
    holds = str(value).lower() == "user"
    if op == CompareOperator.eq:
        return _has_members() if holds else false()
    return not_(_has_members()) if holds else true()


def _has_members() -> Condition:
    return exists().where(
        GroupMember.tenant_id == Group.tenant_id, GroupMember.group_id == Group.id
    )


_GROUP_COLUMNS: dict[str, Column] = {
    "id": Column(Group.id, kind="uuid", nullable=False),
    "externalid": Column(ScimGroup.external_id, kind="exact"),
    "displayname": Column(Group.display_name, nullable=False, key=Group.display_name_key),
    "members": Column(_member, kind="present"),
    "members.value": Column(_member, kind="present"),
    "members.type": Column(_member_type, kind="present"),
    "meta.created": Column(Group.created_at, kind="time", nullable=False),
    "meta.lastmodified": Column(
        func.coalesce(ScimGroup.updated_at, Group.created_at), kind="time", nullable=False
    ),
}


class _SqlFilter(FilterVisitor[Condition]):
    """A filter's tree as one SQL condition over a resource type's columns."""

    def __init__(self, columns: dict[str, Column], core_schema: str) -> None:
        self.columns = columns
        self.core_schema = core_schema.lower()
        self.prefix = ""

    def column(self, path: AttrPath) -> Column:
        name = path.attr if path.sub_attr is None else f"{path.attr}.{path.sub_attr}"
        key = f"{self.prefix}{name}".lower()
        if path.uri and path.uri.lower() != self.core_schema:
            key = f"{path.uri.lower()}:{key}"
        column = self.columns.get(key)
        if column is None and path.uri:
            column = self.columns.get(f"{path.uri}:{name}".lower())
        if column is None:
            raise InvalidFilterException(
                detail=f"Filtering on {path} is not supported by this service provider."
            )
        return column

    def visit_comparison(self, node: Comparison) -> Condition:
        return self.column(node.attr_path).compare(node.op, node.value)

    def visit_present(self, node: Present) -> Condition:
        return self.column(node.attr_path).present()

    def visit_not(self, node: Not) -> Condition:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> Condition:
        terms = [self.visit(term) for term in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> Condition:
        # Tenantry keeps one value of each filterable multi-valued attribute (the work
        # email, the work country, each member its own row), so a selection over it is
        # its sub-attributes' conditions on that value.
        if self.prefix:
            raise InvalidFilterException(detail="Value filters do not nest.")
        self.prefix = f"{node.attr_path.attr}."
        try:
            return self.visit(node.val_filter)
        finally:
            self.prefix = ""


def user_condition(tree: FilterNode) -> Condition:
    """The SQL condition of a filter on users (over `users` outer-joined to `scim_users`)."""
    return _SqlFilter(_USER_COLUMNS, USER_SCHEMA).visit(tree)


def group_condition(tree: FilterNode) -> Condition:
    """The SQL condition of a filter on groups (over `groups` outer-joined to `scim_groups`)."""
    return _SqlFilter(_GROUP_COLUMNS, GROUP_SCHEMA).visit(tree)


_USER_SORTS = {
    "id": User.id,
    "username": User.user_principal_name,
    "displayname": User.display_name_key,
    "name.givenname": User.given_name,
    "name.familyname": User.surname,
    "externalid": ScimUser.external_id,
    "emails": User.mail,
    "emails.value": User.mail,
    "active": User.account_enabled,
    "meta.created": User.created_at,
}
_GROUP_SORTS = {
    "id": Group.id,
    "displayname": Group.display_name_key,
    "externalid": ScimGroup.external_id,
    "meta.created": Group.created_at,
}


def _sort_column(sorts: dict[str, Any], core_schema: str, path: str) -> Any:
    key = path.lower()
    prefix = core_schema.lower() + ":"
    if key.startswith(prefix):
        key = key[len(prefix) :]
    column = sorts.get(key)
    if column is None:
        raise InvalidFilterException(
            detail=f"Sorting by {path} is not supported by this service provider: use one of "
            + ", ".join(sorted(sorts))
            + "."
        )
    return column


def user_sort(path: str) -> Any:
    """The column a `sortBy` on users orders by."""
    return _sort_column(_USER_SORTS, USER_SCHEMA, path)


def group_sort(path: str) -> Any:
    """The column a `sortBy` on groups orders by."""
    return _sort_column(_GROUP_SORTS, GROUP_SCHEMA, path)
