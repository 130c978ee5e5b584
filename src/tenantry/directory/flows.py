"""Directory processes of several steps: adding users (one, or many from CSV) and deleting one.

A CSV import reads and checks every row first, then hashes the passwords (in
worker threads, before any database work, so no lock waits on argon2), then
adds each good row in its own savepoint: a row that fails at the database
(an address taken meanwhile) rolls back alone, and the report tells each row's
outcome.
"""

from __future__ import annotations

import asyncio
import csv
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.catalog import Catalog
from tenantry.core import audit
from tenantry.core.errors import TenantryError
from tenantry.core.security import hash_password, verify_password
from tenantry.directory import passwords
from tenantry.directory import users as directory_users
from tenantry.directory.constants import MAX_IMPORT_ROWS, Source
from tenantry.directory.exceptions import (
    InvalidCsv,
    InvalidCurrentPassword,
    InvalidValue,
    InvitationRequired,
    TooManyRows,
    UserAlreadyExists,
)
from tenantry.directory.models import User
from tenantry.licensing import assignments as licensing_assignments
from tenantry.signup.exceptions import WeakPassword
from tenantry.signup.flows import check_password_strength
from tenantry.tenants import service as tenant_service

HASHING_THREADS = 2


@dataclass(frozen=True)
class LicenseRequest:
    """A license to give a new user: a SKU and the service plans switched off."""

    sku_id: uuid.UUID
    disabled_plans: Sequence[str] = ()


@dataclass
class CreatedUser:
    user: User
    temporary_password: str | None


async def prepare_password(password: str | None) -> tuple[str, str | None]:
    """The hash of the given password, or of a generated one; and the generated password."""
    if password is not None:
        return await hash_password(password), None
    generated = passwords.generate()
    return await passwords.hash_generated(generated), generated


async def hash_new_password(*, user: User, current_password: str, new_password: str) -> str:
    """The hash of the password a user chooses for themselves, once their current one is right.

    Refused: a wrong current password (`invalidCurrentPassword`), a weak new one
    or the current one again (`passwordTooWeak`). Called before the unit of work
    (`auth.passwords.change_password`), so that no transaction waits on argon2.
    """
    if not await verify_password(user.password_hash, current_password):
        raise InvalidCurrentPassword("The current password is not right.", target="currentPassword")
    check_password_strength(new_password, email=user.user_principal_name)
    if new_password == current_password:
        raise WeakPassword(
            "Choose a new password, different from the current one.", target="newPassword"
        )
    return await hash_password(new_password)


async def create_user(
    *,
    db_session: AsyncSession,
    catalog: Catalog,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    principal_name: str,
    display_name: str,
    password_hash: str,
    must_change_password: bool,
    given_name: str | None = None,
    surname: str | None = None,
    usage_location: str | None = None,
    account_enabled: bool = True,
    source: Source = Source.CLOUD,
    licenses: Sequence[LicenseRequest] = (),
) -> User:
    """Add a user on a verified domain of the tenant, with licenses if asked (all or nothing).

    Synced users are never licensed here (seed 004): their licenses come later.
    """
    if source is Source.GUEST:
        raise InvitationRequired()
    principal_name = directory_users.normalize_principal_name(principal_name)
    directory_users.check_principal_name_domain(
        principal_name,
        await directory_users.verified_domains(db_session=db_session, tenant_id=tenant_id),
    )
    if licenses and source is Source.SYNCED:
        raise InvalidValue(
            "Synced users are not licensed at creation: assign their licenses afterwards.",
            target="assignedLicenses",
        )
    user = await directory_users.create(
        db_session=db_session,
        actor=actor,
        tenant_id=tenant_id,
        principal_name=principal_name,
        display_name=display_name.strip(),
        password_hash=password_hash,
        source=source,
        usage_location=directory_users.normalize_usage_location(usage_location),
        given_name=(given_name or "").strip() or None,
        surname=(surname or "").strip() or None,
        must_change_password=must_change_password,
        account_enabled=account_enabled,
    )
    if licenses:
        # As one assignLicense request: the catalog's plan rules see all the licenses at once.
        await licensing_assignments.change_licenses(
            db_session=db_session,
            catalog=catalog,
            actor=actor,
            tenant_id=tenant_id,
            user=user,
            add=[(request.sku_id, request.disabled_plans) for request in licenses],
            remove=[],
        )
    return user


async def write_to_all_users(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    organization: str,
    sender: User,
    subject: str,
    body: str,
) -> int:
    """Email every active user of the sender's tenant, signed with who sent it; how many."""
    text = (
        f"{body.rstrip()}\n\n--\n{sender.display_name} ({sender.user_principal_name}) "
        f"sent this message to everyone in {organization}.\n"
    )
    return await directory_users.send_message_to_all(
        db_session=db_session,
        actor=actor,
        tenant_id=sender.tenant_id,
        subject=subject.strip(),
        body=text,
    )


async def delete_user(
    *, db_session: AsyncSession, actor: audit.Actor, user: User, by_sync: bool = False
) -> None:
    """Delete a user after giving their licenses back to the pool (`by_sync`: a synced user,
    by the directory that provides them)."""
    # Tenant row first, then the user's (as blocking a Global Administrator does):
    # the same lock order everywhere, so two admins never deadlock on each other.
    await tenant_service.get_for_update(db_session=db_session, tenant_id=user.tenant_id)
    await licensing_assignments.release_user(
        db_session=db_session, actor=actor, tenant_id=user.tenant_id, user_id=user.id
    )
    await directory_users.delete_user(
        db_session=db_session, actor=actor, user=user, by_sync=by_sync
    )


# --- CSV import ---------------------------------------------------------------------------

# Header names accepted for each property: Graph names, the Microsoft 365 admin
# center's template ("User Name", "First Name", …) and Entra's bulk-create
# template ("Name [displayName] Required", "Block sign in (Yes/No) [accountEnabled]").
_ALIASES = {
    "userprincipalname": "userPrincipalName",
    "username": "userPrincipalName",
    "upn": "userPrincipalName",
    "displayname": "displayName",
    "name": "displayName",
    "givenname": "givenName",
    "firstname": "givenName",
    "surname": "surname",
    "lastname": "surname",
    "usagelocation": "usageLocation",
    "password": "password",
    "initialpassword": "password",
    "passwordprofile": "password",
    "accountenabled": "accountEnabled",
    "blocksignin": "blockSignIn",
}
_TRUE = {"true", "yes", "y", "1", "oui", "ja"}
_FALSE = {"false", "no", "n", "0", "non", "nee"}


@dataclass
class ImportRow:
    """One data row of an import file and what became of it."""

    row: int
    values: dict[str, str]
    principal_name: str | None = None
    error: TenantryError | None = None
    password_hash: str | None = None
    generated_password: str | None = None
    user: User | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _column(header: str) -> str | None:
    text = header.strip().lstrip("\ufeff")
    bracket = re.search(r"\[([^\]]+)\]", text)
    key = re.sub(r"[\s_\-]", "", (bracket.group(1) if bracket else text).lower())
    column = _ALIASES.get(key)
    if column == "accountEnabled" and "block" in text.lower():
        return "blockSignIn"
    return column


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV" in the ANSI code page.
        return data.decode("cp1252", errors="replace")


def _fields(line: str, delimiter: str) -> tuple[list[str], bool]:
    """A line's fields, and whether a quote opened on it is left open.

    Every record of an import is one line: no property of a user may hold a line
    break. Parsed alone, a line whose quote is never closed would otherwise
    swallow the lines after it into one field (the csv module reads on past line
    ends within quotes); here it reads one line further, an empty one, and so
    tells us it needed it.
    """
    reader = csv.reader([line, ""], delimiter=delimiter)
    values = next(reader, [])
    return values, reader.line_num > 1


def read_csv(data: bytes) -> list[ImportRow]:
    """The data rows of a users CSV file (header first), or InvalidCsv / TooManyRows.

    A line whose quote is not closed is a failed row of its own; the lines after
    it are read as usual.
    """
    text = _decode(data)
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0].lower().startswith("version:"):
        lines.pop(0)  # Entra's template starts with "version:v1.0"
    if not lines:
        raise InvalidCsv("The file is empty: give a header line and one line per user.")
    header_line = lines[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    try:
        header, unclosed = _fields(header_line, delimiter)
        if unclosed:
            raise InvalidCsv('The header line opens a quote (") that it does not close.')
        columns = [_column(name) for name in header]
        if "userPrincipalName" not in columns or "displayName" not in columns:
            raise InvalidCsv(
                "The header needs at least the columns userPrincipalName and displayName "
                "(optional: givenName, surname, usageLocation, password, accountEnabled).",
                details={"header": header[:30]},
            )
        rows: list[ImportRow] = []
        for line in lines[1:]:
            values, unclosed = _fields(line, delimiter)
            if not any(value.strip() for value in values):
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                raise TooManyRows(
                    f"A file can add at most {MAX_IMPORT_ROWS} users: split it into several files."
                )
            named = {
                column: value.strip()
                for column, value in zip(columns, values, strict=False)
                if column is not None
            }
            candidate = ImportRow(row=len(rows) + 1, values=named)
            if unclosed:
                open_column = columns[len(values) - 1] if len(values) <= len(columns) else None
                candidate.principal_name = named.get("userPrincipalName") or None
                candidate.error = InvalidValue(
                    'A quote (") opened on this line is not closed on it, so the line cannot '
                    "be read: close the quote, or write the value without quotes. The lines "
                    "after it were read on their own.",
                    target=open_column,
                )
            rows.append(candidate)
    except csv.Error as exc:
        raise InvalidCsv(f"The file is not valid CSV: {exc}.") from exc
    if not rows:
        raise InvalidCsv("The file has a header but no users.")
    return rows


def _flag(value: str, *, column: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidValue(f"{column} is Yes or No, not {value!r}.", target=column)


def check_row(candidate: ImportRow) -> None:
    """Check a row on its own (no database): names, address, usage location, password."""
    if candidate.error is not None:
        return  # the line could not be read (`read_csv`)
    values = candidate.values
    try:
        candidate.principal_name = values.get("userPrincipalName") or None
        for column, value in values.items():
            if "\x00" in value:  # PostgreSQL text cannot hold it: no name or address has one
                raise InvalidValue(f"{column} cannot contain the NUL character.", target=column)
            if "\n" in value or "\r" in value:
                raise InvalidValue(f"{column} cannot contain a line break.", target=column)
        principal_name = directory_users.normalize_principal_name(
            values.get("userPrincipalName", "")
        )
        candidate.principal_name = principal_name
        display_name = values.get("displayName", "")
        if not display_name:
            raise InvalidValue("displayName is required.", target="displayName")
        for column in ("displayName", "givenName", "surname"):
            directory_users.check_person_name(values.get(column), field=column)
        if len(display_name) > 256:
            raise InvalidValue("displayName is longer than 256 characters.", target="displayName")
        for column in ("givenName", "surname"):
            if len(values.get(column, "")) > 128:
                raise InvalidValue(f"{column} is longer than 128 characters.", target=column)
        candidate.extra["usage_location"] = directory_users.normalize_usage_location(
            values.get("usageLocation")
        )
        enabled = True
        if values.get("accountEnabled"):
            enabled = _flag(values["accountEnabled"], column="accountEnabled")
        if values.get("blockSignIn"):
            enabled = not _flag(values["blockSignIn"], column="blockSignIn")
        candidate.extra["account_enabled"] = enabled
        if values.get("password"):
            check_password_strength(values["password"], email=principal_name)
    except TenantryError as error:
        candidate.error = error


async def hash_rows(rows: Sequence[ImportRow]) -> None:
    """Hash the password of every good row, a few worker threads at a time."""
    gate = asyncio.Semaphore(HASHING_THREADS)

    async def one(candidate: ImportRow) -> None:
        async with gate:
            password_hash, generated = await prepare_password(
                candidate.values.get("password") or None
            )
        candidate.password_hash = password_hash
        candidate.generated_password = generated

    await asyncio.gather(*(one(row) for row in rows if row.error is None))


async def import_users(
    *,
    db_session: AsyncSession,
    actor: audit.Actor,
    tenant_id: uuid.UUID,
    rows: Sequence[ImportRow],
) -> list[ImportRow]:
    """Add the good rows (hashed already), each in its own savepoint; returns every row."""
    domains = await directory_users.verified_domains(db_session=db_session, tenant_id=tenant_id)
    for candidate in rows:
        if candidate.error is not None:
            continue
        assert candidate.principal_name and candidate.password_hash
        try:
            directory_users.check_principal_name_domain(candidate.principal_name, domains)
            async with db_session.begin_nested():
                candidate.user = await directory_users.create(
                    db_session=db_session,
                    actor=actor,
                    tenant_id=tenant_id,
                    principal_name=candidate.principal_name,
                    display_name=candidate.values["displayName"],
                    password_hash=candidate.password_hash,
                    usage_location=candidate.extra["usage_location"],
                    given_name=candidate.values.get("givenName") or None,
                    surname=candidate.values.get("surname") or None,
                    # A generated password is temporary; a chosen one is the user's.
                    must_change_password=candidate.generated_password is not None,
                    account_enabled=candidate.extra["account_enabled"],
                )
        except TenantryError as error:
            candidate.error = error
        except IntegrityError:
            candidate.error = UserAlreadyExists(
                f"A user with the address {candidate.principal_name} already exists.",
                target="userPrincipalName",
            )
    created = sum(1 for row in rows if row.user is not None)
    audit.record(
        db_session,
        actor=actor,
        action="Import users",
        target_type="tenant",
        target_id=tenant_id,
        tenant_id=tenant_id,
        details={"total": len(rows), "created": created, "failed": len(rows) - created},
    )
    return list(rows)


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> str:
    """A value for a CSV file people open in a spreadsheet: shown as text, never run.

    An import's report repeats what the file said (an address such as
    `=HYPERLINK(…)`); a cell that would start a formula gets a leading `'`.
    """
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def report(rows: Sequence[ImportRow]) -> dict[str, Any]:
    """The per-row outcome of an import, as the API returns it."""
    entries: list[dict[str, Any]] = []
    for row in rows:
        entry: dict[str, Any] = {
            "row": row.row,
            "userPrincipalName": row.principal_name,
            "status": "created" if row.user is not None else "failed",
        }
        if row.user is not None:
            entry["id"] = str(row.user.id)
            if row.generated_password:
                entry["temporaryPassword"] = row.generated_password
        elif row.error is not None:
            entry["error"] = {"code": row.error.code, "message": row.error.message}
        entries.append(entry)
    created = sum(1 for entry in entries if entry["status"] == "created")
    return {
        "total": len(entries),
        "created": created,
        "failed": len(entries) - created,
        "rows": entries,
    }
