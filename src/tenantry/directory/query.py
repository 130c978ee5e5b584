"""Graph-style list queries: `$filter`, `$search`, `$orderby`, `$top` and keyset paging.

Only what an index answers is accepted: `$filter` is a conjunction (`and`) of
`property eq literal` and `startswith(property, 'text')` on indexed properties;
`$search` matches word prefixes through the search-term tables (see
`search.py`); `$orderby` takes one indexed key. Pages follow the sort key and
the id (`$skiptoken` holds the last row's key and id), so page 1,000 costs what
page 1 costs, and rows added meanwhile do not shift the pages.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.paging import decode_token, encode_token
from tenantry.directory.exceptions import (
    InvalidFilter,
    InvalidOrderBy,
    InvalidSearch,
    InvalidSkipToken,
)
from tenantry.directory.search import ADDRESS, NAME, TERM_LENGTH, fold, prefix_upper_bound, words

DEFAULT_TOP = 100
MAX_TOP = 999
MAX_FILTER_DEPTH = 10

T = TypeVar("T")


@dataclass(frozen=True)
class ListParams:
    """The query options of a list request."""

    filter: str | None = None
    search: str | None = None
    order_by: str | None = None
    top: int = DEFAULT_TOP
    skip_token: str | None = None
    count: bool = False


@dataclass(frozen=True)
class FilterProperty:
    """How one property may be compared: `eq` and/or `startswith`, each on an indexed column."""

    eq: Callable[[Any], ColumnElement[bool]] | None = None
    startswith: Callable[[str], ColumnElement[bool]] | None = None


# (kinds, prefix) → a condition "the row has a search term of one of these kinds starting so".
TermMatch = Callable[[Sequence[str], str], ColumnElement[bool]]


@dataclass(frozen=True)
class Queryable:
    """What a collection lets callers filter, search and sort by."""

    name: str
    id_attribute: str
    properties: Mapping[str, FilterProperty]
    orderings: Mapping[str, str]  # property → attribute holding its sort key
    default_order: str
    search_kinds: Mapping[str, str]  # property → search-term kind


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, the token of the next page (None on the last) and the total if asked."""

    items: list[T]
    next_skip_token: str | None
    count: int | None = None


# --- $filter ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),])|(?P<other>\S+))"
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # pragma: no cover - the pattern matches any non-space
            break
        kind = match.lastgroup or "other"
        value = match.group(kind)
        if kind == "other":
            raise InvalidFilter(f"The filter cannot be read near {value!r}.", target="$filter")
        tokens.append(_Token(kind, value))
        position = match.end()
    return tokens


class _FilterParser:
    def __init__(self, text: str, queryable: Queryable) -> None:
        self.tokens = _tokenize(text)
        self.position = 0
        self.depth = 0  # of parentheses open: the parser recurses once per level
        self.queryable = queryable
        self.properties = {name.lower(): (name, p) for name, p in queryable.properties.items()}

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str | None = None, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None:
            raise InvalidFilter("The filter ends too early.", target="$filter")
        if (kind and token.kind != kind) or (text and token.text.lower() != text):
            raise InvalidFilter(f"The filter cannot be read near {token.text!r}.", target="$filter")
        self.position += 1
        return token

    def parse(self) -> list[ColumnElement[bool]]:
        conditions = self.conjunction()
        if self.peek() is not None:
            self.unexpected(self.take())
        return conditions

    def unexpected(self, token: _Token) -> None:
        if token.text.lower() in ("or", "not"):
            raise InvalidFilter(
                f"'{token.text}' is not supported in $filter: combine conditions with 'and'.",
                target="$filter",
            )
        raise InvalidFilter(f"The filter cannot be read near {token.text!r}.", target="$filter")

    def conjunction(self) -> list[ColumnElement[bool]]:
        conditions = self.clause()
        while (token := self.peek()) is not None and token.text.lower() == "and":
            self.take()
            conditions += self.clause()
        return conditions

    def clause(self) -> list[ColumnElement[bool]]:
        token = self.take()
        if token.text == "(":
            self.depth += 1
            if self.depth > MAX_FILTER_DEPTH:
                raise InvalidFilter(
                    f"Parentheses nest at most {MAX_FILTER_DEPTH} deep in $filter.",
                    target="$filter",
                )
            inner = self.conjunction()
            self.take("punct", ")")
            self.depth -= 1
            return inner
        if token.kind != "name":
            self.unexpected(token)
        following = self.peek()
        if following is not None and following.text == "(":
            return [self.function(token.text)]
        return [self.comparison(token.text)]

    def property(self, name: str) -> tuple[str, FilterProperty]:
        found = self.properties.get(name.lower())
        if found is None:
            raise InvalidFilter(
                f"Filtering {self.queryable.name} on '{name}' is not supported. "
                + self.supported(),
                target="$filter",
            )
        return found

    def supported(self) -> str:
        forms = []
        for name, prop in self.queryable.properties.items():
            if prop.eq:
                forms.append(f"{name} eq …")
            if prop.startswith:
                forms.append(f"startswith({name}, '…')")
        return "Supported: " + ", ".join(forms) + "."

    def function(self, name: str) -> ColumnElement[bool]:
        if name.lower() != "startswith":
            raise InvalidFilter(
                f"The function '{name}' is not supported in $filter. " + self.supported(),
                target="$filter",
            )
        self.take("punct", "(")
        prop_name, prop = self.property(self.take("name").text)
        self.take("punct", ",")
        value = self.literal()
        self.take("punct", ")")
        if prop.startswith is None:
            raise InvalidFilter(
                f"startswith is not supported on '{prop_name}'. " + self.supported(),
                target="$filter",
            )
        if not isinstance(value, str) or not value:
            raise InvalidFilter("startswith needs a non-empty 'text'.", target="$filter")
        return prop.startswith(value)

    def comparison(self, name: str) -> ColumnElement[bool]:
        prop_name, prop = self.property(name)
        operator = self.take()
        if operator.text.lower() != "eq":
            raise InvalidFilter(
                f"The operator '{operator.text}' is not supported on '{prop_name}'. "
                + self.supported(),
                target="$filter",
            )
        if prop.eq is None:
            raise InvalidFilter(
                f"'eq' is not supported on '{prop_name}'. " + self.supported(), target="$filter"
            )
        return prop.eq(self.literal())

    def literal(self) -> Any:
        token = self.take()
        if token.kind == "string":
            if "\x00" in token.text:  # no property holds U+0000; PostgreSQL cannot compare it
                raise InvalidFilter(
                    "Text in $filter cannot contain the NUL character.", target="$filter"
                )
            return token.text[1:-1].replace("''", "'")
        lowered = token.text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        raise InvalidFilter(
            f"Expected a value ('text', true, false or null), not {token.text!r}.",
            target="$filter",
        )


def parse_filter(text: str, queryable: Queryable) -> list[ColumnElement[bool]]:
    """The conditions of a `$filter` expression, or InvalidFilter."""
    if not text.strip():
        return []
    return _FilterParser(text, queryable).parse()


def prefix_range(column: Any, prefix: str) -> ColumnElement[bool]:
    """`column` starts with `prefix`, as a range an index answers."""
    upper = prefix_upper_bound(prefix)
    condition = column >= prefix
    return condition if upper is None else and_(condition, column < upper)


def expect_bool(name: str) -> Callable[[Any], bool]:
    """A literal check for boolean properties."""

    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise InvalidFilter(f"'{name}' is compared with true or false.", target="$filter")
        return value

    return check


def expect_text(name: str, *, nullable: bool = False) -> Callable[[Any], str | None]:
    """A literal check for text properties."""

    def check(value: Any) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            raise InvalidFilter(f"'{name}' is compared with a 'quoted text'.", target="$filter")
        return value

    return check


# --- $search ------------------------------------------------------------------------------

_SEARCH_TOKEN = re.compile(r'\s*(?:"(?P<clause>(?:[^"\\]|\\.)*)"|(?P<op>AND|OR)\b|(?P<bare>\S+))')


def _search_clauses(text: str) -> list[list[str]]:
    """OR-groups of AND-ed clauses of a `$search` value."""
    if '"' not in text:
        return [[text]]
    groups: list[list[str]] = [[]]
    expect_clause = True
    for match in _SEARCH_TOKEN.finditer(text.strip()):
        if match.group("clause") is not None:
            if not expect_clause:
                raise InvalidSearch("Join search clauses with AND or OR.", target="$search")
            groups[-1].append(match.group("clause").replace('\\"', '"'))
            expect_clause = False
        elif match.group("op") is not None:
            if expect_clause:
                raise InvalidSearch("An operator needs a clause on each side.", target="$search")
            if match.group("op") == "OR":
                groups.append([])
            expect_clause = True
        else:
            raise InvalidSearch(
                'Write $search as "displayName:text" or "text", joined with AND or OR.',
                target="$search",
            )
    if expect_clause:
        raise InvalidSearch("The search ends with an operator.", target="$search")
    return groups


def parse_search(text: str, queryable: Queryable, match: TermMatch) -> ColumnElement[bool]:
    """The condition of a `$search` value: every word of a clause starts a term of its property."""
    all_kinds = tuple(dict.fromkeys(queryable.search_kinds.values()))
    kinds_by_name = {name.lower(): kind for name, kind in queryable.search_kinds.items()}
    alternatives: list[ColumnElement[bool]] = []
    for group in _search_clauses(text):
        conditions: list[ColumnElement[bool]] = []
        for clause in group:
            name, colon, value = clause.partition(":")
            if colon and name.strip().lower() in kinds_by_name:
                kinds: Sequence[str] = (kinds_by_name[name.strip().lower()],)
            elif colon and re.fullmatch(r"[A-Za-z]+", name.strip()):
                raise InvalidSearch(
                    f"Searching {queryable.name} by '{name.strip()}' is not supported. Supported: "
                    + ", ".join(queryable.search_kinds)
                    + ".",
                    target="$search",
                )
            else:
                kinds, value = all_kinds, clause
            if "@" in value and ADDRESS in kinds:
                prefixes = [fold(value.strip())[:TERM_LENGTH]]
                kinds = (ADDRESS,)
            else:
                prefixes = words(value)
            if not prefixes:
                raise InvalidSearch("Search for some letters or digits.", target="$search")
            conditions += [match(kinds, prefix) for prefix in prefixes]
        alternatives.append(and_(*conditions))
    return alternatives[0] if len(alternatives) == 1 else or_(*alternatives)


# --- $orderby and $skiptoken --------------------------------------------------------------


@dataclass(frozen=True)
class _Order:
    name: str
    attribute: str
    descending: bool


def _parse_order(text: str | None, queryable: Queryable) -> _Order:
    if not text or not text.strip():
        return _Order(queryable.default_order, queryable.orderings[queryable.default_order], False)
    parts = text.split()
    names = {name.lower(): name for name in queryable.orderings}
    direction = parts[1].lower() if len(parts) == 2 else "asc"
    if len(parts) > 2 or parts[0].lower() not in names or direction not in ("asc", "desc"):
        raise InvalidOrderBy(
            f"{queryable.name} can be ordered by "
            + " or ".join(queryable.orderings)
            + " (asc or desc), one at a time.",
            target="$orderby",
        )
    name = names[parts[0].lower()]
    return _Order(name, queryable.orderings[name], direction == "desc")


def _encode_token(order: _Order, key: str, row_id: uuid.UUID) -> str:
    return encode_token({"o": order.name, "d": order.descending, "k": key, "i": str(row_id)})


def _decode_token(token: str, order: _Order) -> tuple[str, uuid.UUID]:
    payload = decode_token(token) or {}
    key, row_id = payload.get("k"), payload.get("i")
    try:
        if not isinstance(key, str) or not isinstance(row_id, str) or "\x00" in key:
            raise ValueError("not a token of a list")
        found = key, uuid.UUID(row_id)
    except ValueError as exc:
        raise InvalidSkipToken(
            "The $skiptoken is not valid: follow @odata.nextLink as given.", target="$skiptoken"
        ) from exc
    if payload.get("o") != order.name or payload.get("d") != order.descending:
        raise InvalidSkipToken(
            "This $skiptoken belongs to a list in another order.", target="$skiptoken"
        )
    return found


async def page(
    *,
    db_session: AsyncSession,
    query: Select[tuple[T]],
    entity: Any,
    queryable: Queryable,
    params: ListParams,
    match: TermMatch,
) -> Page[T]:
    """One page of `query` (already limited to a tenant) under the list options in `params`."""
    conditions = parse_filter(params.filter or "", queryable)
    if params.search and params.search.strip():
        conditions.append(parse_search(params.search, queryable, match))
    query = query.where(*conditions) if conditions else query
    total = None
    if params.count:
        counted = select(func.count()).select_from(query.order_by(None).subquery())
        total = await db_session.scalar(counted) or 0
    order = _parse_order(params.order_by, queryable)
    key_column = getattr(entity, order.attribute)
    id_column = getattr(entity, queryable.id_attribute)
    keyset: ColumnElement[bool] = true()
    if params.skip_token:
        key, row_id = _decode_token(params.skip_token, order)
        position = tuple_(key_column, id_column)
        after = tuple_(literal(key, key_column.type), literal(row_id, id_column.type))
        keyset = position < after if order.descending else position > after
    ordering = (
        (key_column.desc(), id_column.desc()) if order.descending else (key_column, id_column)
    )
    top = max(1, min(params.top, MAX_TOP))
    rows = list(
        (await db_session.scalars(query.where(keyset).order_by(*ordering).limit(top + 1))).all()
    )
    next_token = None
    if len(rows) > top:
        rows = rows[:top]
        last = rows[-1]
        next_token = _encode_token(
            order, getattr(last, order.attribute), getattr(last, queryable.id_attribute)
        )
    return Page(items=rows, next_skip_token=next_token, count=total)


__all__ = [
    "ADDRESS",
    "NAME",
    "FilterProperty",
    "ListParams",
    "Page",
    "Queryable",
    "expect_bool",
    "expect_text",
    "page",
    "parse_filter",
    "parse_search",
    "prefix_range",
]
