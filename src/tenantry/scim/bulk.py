"""Bulk (RFC 7644 §3.7): many operations in one request, `bulkId` references, `failOnErrors`.

The operations run in one unit of work, each in a savepoint of its own: one that fails
rolls back alone and the others stand (RFC 7644 does not make a bulk request atomic).
An operation whose data or path names `bulkId:x` runs once the operation that created
`x` has, whatever their order in the request (a reference to nothing, or a circle, fails
that operation with `invalidValue`). After `failOnErrors` failures the rest is not run.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from scim2_models import InvalidValueException, SCIMException

from tenantry.core.errors import TenantryError
from tenantry.scim import groups as scim_groups
from tenantry.scim import log, payloads
from tenantry.scim import users as scim_users
from tenantry.scim.constants import MAX_BULK_OPERATIONS
from tenantry.scim.exceptions import ScimError, body, from_tenantry
from tenantry.scim.resources import GroupResource, UserResource

BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
_PATH = re.compile(r"^/?(Users|Groups)(?:/([^/?#]+))?/?$", re.IGNORECASE)
_REFERENCE = "bulkId:"
_PATH_REFERENCE = re.compile(r"bulkId:([^/?#]+)")


@dataclass
class Operation:
    """One operation of a bulk request, read and (its password) hashed before any database work."""

    index: int
    method: str
    path: str
    bulk_id: str | None
    version: str | None
    data: Any
    password_hash: str | None = None
    refers_to: set[str] = field(default_factory=set)


def _references(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, str) and value.startswith(_REFERENCE):
        found.add(value[len(_REFERENCE) :])
    elif isinstance(value, dict):
        for item in value.values():
            _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)
    return found


def _resolve(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith(_REFERENCE):
        return ids.get(value[len(_REFERENCE) :], value)
    if isinstance(value, dict):
        return {key: _resolve(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, ids) for item in value]
    return value


async def prepare(payload: Any) -> tuple[list[Operation], int | None]:
    """The operations of a BulkRequest body and its `failOnErrors`, passwords hashed."""
    if not isinstance(payload, dict):
        raise ScimError(
            status=400, scim_type="invalidSyntax", detail="A BulkRequest is a JSON object."
        )
    raw = payload.get("Operations")
    if raw is None:
        raw = payload.get("operations")
    if not isinstance(raw, list) or not raw:
        raise ScimError(
            status=400, scim_type="invalidSyntax", detail="Operations lists one or more operations."
        )
    if len(raw) > MAX_BULK_OPERATIONS:
        raise ScimError(
            status=413,
            detail=f"A bulk request holds at most {MAX_BULK_OPERATIONS} operations "
            "(ServiceProviderConfig bulk.maxOperations).",
        )
    fail_on_errors = payload.get("failOnErrors")
    if fail_on_errors is not None and (not isinstance(fail_on_errors, int) or fail_on_errors < 1):
        raise InvalidValueException(detail="failOnErrors is a whole number of at least 1.")
    operations = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ScimError(
                status=400, scim_type="invalidSyntax", detail="Each operation is an object."
            )
        method = str(item.get("method", "")).upper()
        data = item.get("data")
        operation = Operation(
            index=index,
            method=method,
            path=str(item.get("path", "")),
            bulk_id=str(item["bulkId"]) if item.get("bulkId") is not None else None,
            version=item.get("version"),
            data=data,
            refers_to=_references(data, set(_PATH_REFERENCE.findall(str(item.get("path", ""))))),
        )
        password = None
        if method in ("POST", "PUT") and isinstance(data, dict):
            value = next((v for k, v in data.items() if k.lower() == "password"), None)
            password = value if isinstance(value, str) else None
        elif method == "PATCH":
            password = payloads.patch_password(data)
        operation.password_hash = await payloads.password_hash(password)
        operations.append(operation)
    return operations, fail_on_errors


async def _perform(
    request: scim_users.Request, operation: Operation, ids: dict[str, str]
) -> tuple[int, scim_users.Done, str]:
    """Run one operation; its status, what it did, and its resource type."""
    path = _PATH_REFERENCE.sub(
        lambda found: ids.get(found.group(1), found.group(0)), operation.path
    )
    match = _PATH.match(path)
    if match is None:
        raise ScimError(
            status=400,
            scim_type="invalidPath",
            detail=f"{operation.path} is not /Users or /Groups[/id].",
        )
    kind, resource_id = match.group(1).capitalize(), match.group(2)
    resource_type = kind[:-1]
    data = _resolve(operation.data, ids)
    method = operation.method
    if method == "POST" and resource_id is None:
        if kind == "Users":
            done = await scim_users.create(
                request, payloads.user(data), password_hash=operation.password_hash
            )
        else:
            done = await scim_groups.create(request, payloads.group(data))
        return 201, done, resource_type
    if resource_id is None or method not in ("PUT", "PATCH", "DELETE"):
        raise ScimError(
            status=405, detail=f"{method} {operation.path} is not an operation of Bulk."
        )
    if_match = operation.version
    if kind == "Users":
        if method == "PUT":
            done = await scim_users.replace(
                request,
                resource_id,
                payloads.user(data, replacing=True),
                password_hash=operation.password_hash,
                if_match=if_match,
            )
        elif method == "PATCH":
            done = await scim_users.patch(
                request,
                resource_id,
                payloads.patch(UserResource, data),
                password_hash=operation.password_hash,
                if_match=if_match,
            )
        else:
            done = await scim_users.delete(request, resource_id, if_match=if_match)
    elif method == "PUT":
        done = await scim_groups.replace(
            request, resource_id, payloads.group(data, replacing=True), if_match=if_match
        )
    elif method == "PATCH":
        done = await scim_groups.patch(
            request, resource_id, payloads.patch(GroupResource, data), if_match=if_match
        )
    else:
        done = await scim_groups.delete(request, resource_id, if_match=if_match)
    return (204 if method == "DELETE" else 200), done, resource_type


def _error(error: Exception) -> ScimError | SCIMException:
    if isinstance(error, SCIMException):
        return error
    if isinstance(error, TenantryError):
        return from_tenantry(error)
    raise error


def _simple_create(operation: Operation) -> bool:
    return (
        operation.method == "POST"
        and not operation.refers_to
        and _PATH.match(operation.path) is not None
        and _PATH.match(operation.path).group(1).lower() == "users"  # type: ignore[union-attr]
        and _PATH.match(operation.path).group(2) is None  # type: ignore[union-attr]
    )


class _Run:
    """The answers and log entries of a bulk request's operations, as they are run."""

    def __init__(self, request: scim_users.Request) -> None:
        self.request = request
        self.ids: dict[str, str] = {}
        self.results: dict[int, dict[str, Any]] = {}
        self.entries: list[log.Entry] = []
        self.failures = 0

    def _start(self, operation: Operation) -> tuple[dict[str, Any], log.Entry]:
        outcome: dict[str, Any] = {"method": operation.method}
        if operation.bulk_id:
            outcome["bulkId"] = operation.bulk_id
        entry = log.Entry(
            method=operation.method,
            path=operation.path,
            resource_type=None,
            action=log.action_of(operation.method, 0),
        )
        return outcome, entry

    def failed(self, operation: Operation, exc: Exception, took: float) -> None:
        error = _error(exc)
        outcome, entry = self._start(operation)
        self.failures += 1
        outcome["status"] = str(error.status)
        outcome["response"] = body(error.status, error.detail, error.scim_type)
        entry.status, entry.error_type, entry.error_detail = (
            error.status,
            error.scim_type or "error",
            error.detail,
        )
        self._end(operation, outcome, entry, took)

    def succeeded(
        self,
        operation: Operation,
        status: int,
        done: scim_users.Done,
        resource_type: str,
        took: float,
    ) -> None:
        outcome, entry = self._start(operation)
        outcome["status"] = str(status)
        if done.document is not None:
            outcome["location"] = done.document["meta"]["location"]
            outcome["version"] = done.document["meta"]["version"]
            if operation.bulk_id and operation.method == "POST":
                self.ids[operation.bulk_id] = done.document["id"]
        entry.status, entry.resource_type = status, resource_type
        entry.target_id, entry.target_name = done.target_id, done.target_name
        entry.changes = done.changes
        self._end(operation, outcome, entry, took)

    def _end(
        self, operation: Operation, outcome: dict[str, Any], entry: log.Entry, took: float
    ) -> None:
        entry.duration_ms = int(took * 1000)
        self.results[operation.index] = outcome
        self.entries.append(entry)

    async def one(self, operation: Operation) -> None:
        """Run one operation in a savepoint of its own."""
        started = time.perf_counter()
        try:
            missing = operation.refers_to - set(self.ids)
            if missing:
                raise ScimError(
                    status=400,
                    scim_type="invalidValue",
                    detail=f"bulkId {sorted(missing)[0]} is not defined by an operation that "
                    "succeeded.",
                )
            async with self.request.db_session.begin_nested():
                status, done, resource_type = await _perform(self.request, operation, self.ids)
        except Exception as exc:  # each failure is the operation's, not the request's
            self.failed(operation, exc, time.perf_counter() - started)
        else:
            self.succeeded(operation, status, done, resource_type, time.perf_counter() - started)

    async def creations(self, operations: list[Operation]) -> None:
        """Run consecutive user creations set-based (`users.create_many`); one by one when the
        database refuses the set."""
        started = time.perf_counter()
        parsed: list[tuple[Operation, scim_users.Creation]] = []
        for operation in operations:
            try:
                parsed.append(
                    (
                        operation,
                        scim_users.Creation(payloads.user(operation.data), operation.password_hash),
                    )
                )
            except Exception as exc:
                self.failed(operation, exc, 0.0)
        outcomes = await scim_users.create_many(self.request, [c for _, c in parsed])
        if outcomes is None:
            for operation, _ in parsed:
                await self.one(operation)
            return
        took = (time.perf_counter() - started) / max(1, len(parsed))
        for (operation, _), outcome in zip(parsed, outcomes, strict=True):
            if isinstance(outcome, Exception):
                self.failed(operation, outcome, took)
            else:
                self.succeeded(operation, 201, outcome, "User", took)


async def run(
    request: scim_users.Request, operations: list[Operation], fail_on_errors: int | None
) -> tuple[dict[str, Any], list[log.Entry]]:
    """Run the operations (references first resolved); the BulkResponse and the log entries."""
    state = _Run(request)
    if fail_on_errors is None and not any(op.refers_to for op in operations):
        # In order; consecutive user creations together, set-based (the usual bulk load).
        batch: list[Operation] = []
        for operation in operations:
            if _simple_create(operation):
                batch.append(operation)
                continue
            if batch:
                await state.creations(batch)
                batch = []
            await state.one(operation)
        if batch:
            await state.creations(batch)
    else:
        pending = list(operations)
        while pending and (fail_on_errors is None or state.failures < fail_on_errors):
            ready = [op for op in pending if op.refers_to <= set(state.ids)]
            # What is left may refer to ids no operation defines, or to each other: the
            # first of it then runs, and fails.
            operation = (ready or pending)[0]
            pending.remove(operation)
            await state.one(operation)
    response = {
        "schemas": [BULK_RESPONSE],
        "Operations": [state.results[index] for index in sorted(state.results)],
    }
    return response, state.entries
