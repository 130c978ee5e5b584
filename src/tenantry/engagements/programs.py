"""Programs: groups of engagements, each under its Program Owners.

The rules (Microsoft Collaborate's "Understanding Programs and Engagements"):
- An operator creates a program and becomes its Program Owner. Program Owners change it,
  and choose which operators may create engagements in it (`engagementCreator`) and who
  publishes content to all of its engagements (`contentPublisher`); program roles go to
  operators only.
- A Program Owner owns every engagement of the program.
- The program's landing page is seen by its role holders and by the members of any of its
  engagements; for anyone else the program does not exist (404).
Every change is audited.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import audit
from tenantry.core.clock import clock
from tenantry.directory.models import User
from tenantry.engagements import access
from tenantry.engagements.exceptions import (
    InvalidEngagementText,
    LastEngagementOwner,
    MemberNotFound,
    NotOperator,
    NotProgramOwner,
    OperatorRoleRequired,
    ProgramNotFound,
)
from tenantry.engagements.identity import Caller
from tenantry.engagements.models import (
    PROGRAM_OWNER,
    Engagement,
    EngagementMember,
    Program,
    ProgramRole,
)
from tenantry.partner.models import PlatformOperator

NAME_LIMIT = 256
DESCRIPTION_LIMIT = 10_000


def _text(value: str, *, field: str, limit: int, language: str, required: bool) -> str:
    cleaned = value.strip()
    if (required and not cleaned) or len(cleaned) > limit:
        raise InvalidEngagementText(language, field=field, limit=str(limit))
    return cleaned


async def create(
    *, db_session: AsyncSession, caller: Caller, display_name: str, description: str
) -> Program:
    """A new program; the operator who creates it is its Program Owner."""
    if not caller.is_operator:
        raise NotOperator(caller.language)
    now = clock.now()
    program = Program(
        id=uuid.uuid4(),
        display_name=_text(
            display_name,
            field="displayName",
            limit=NAME_LIMIT,
            language=caller.language,
            required=True,
        ),
        description=_text(
            description,
            field="description",
            limit=DESCRIPTION_LIMIT,
            language=caller.language,
            required=False,
        ),
        created_by=caller.user_id,
        created_at=now,
        updated_at=now,
    )
    db_session.add(program)
    await db_session.flush()
    db_session.add(
        ProgramRole(
            program_id=program.id,
            user_id=caller.user_id,
            role=PROGRAM_OWNER,
            added_by=caller.user_id,
            added_at=now,
        )
    )
    audit.record(
        db_session,
        actor=caller.actor,
        action="program.created",
        target_type="program",
        target_id=program.id,
        details={"displayName": program.display_name},
    )
    await db_session.flush()
    return program


async def roles_in(db_session: AsyncSession, caller: Caller, program_id: uuid.UUID) -> set[str]:
    """The caller's roles in the program (none unless they are an operator)."""
    if not caller.is_operator:
        return set()
    return set(
        await db_session.scalars(
            select(ProgramRole.role).where(
                ProgramRole.program_id == program_id, ProgramRole.user_id == caller.user_id
            )
        )
    )


def _takes_part(caller: Caller) -> object:
    """A condition on `Program`: the caller is a member (in force) of one of its engagements."""
    return exists().where(
        Engagement.program_id == Program.id,
        EngagementMember.engagement_id == Engagement.id,
        EngagementMember.user_id == caller.user_id,
        access.membership_counts(),
    )


async def get(
    *, db_session: AsyncSession, caller: Caller, program_id: uuid.UUID
) -> tuple[Program, set[str]]:
    """The program and the caller's roles in it, for its role holders and the members of its
    engagements; 404 for anyone else."""
    program = await db_session.get(Program, program_id)
    if program is None:
        raise ProgramNotFound(caller.language)
    roles = await roles_in(db_session, caller, program_id)
    if not roles:
        takes_part = await db_session.scalar(
            select(_takes_part(caller)).where(Program.id == program_id)  # type: ignore[arg-type]
        )
        if not takes_part:
            raise ProgramNotFound(caller.language)
    return program, roles


async def list_visible(*, db_session: AsyncSession, caller: Caller) -> list[Program]:
    """The programs the caller holds a role in or takes part in, by name."""
    holds = exists().where(
        ProgramRole.program_id == Program.id, ProgramRole.user_id == caller.user_id
    )
    condition = _takes_part(caller)
    if caller.is_operator:
        condition = or_(holds, condition)
    rows = await db_session.scalars(
        select(Program).where(condition).order_by(Program.display_name, Program.id).limit(200)  # type: ignore[arg-type]
    )
    return list(rows)


async def owned(db_session: AsyncSession, caller: Caller, program_id: uuid.UUID) -> Program:
    """The program, for a Program Owner; 403 for others who see it, else 404."""
    program, roles = await get(db_session=db_session, caller=caller, program_id=program_id)
    if PROGRAM_OWNER not in roles:
        raise NotProgramOwner(caller.language)
    return program


async def update(
    *,
    db_session: AsyncSession,
    caller: Caller,
    program_id: uuid.UUID,
    display_name: str | None,
    description: str | None,
) -> Program:
    """Change a program's name or description (its owners)."""
    program = await owned(db_session, caller, program_id)
    changed: dict[str, str] = {}
    if display_name is not None:
        program.display_name = _text(
            display_name,
            field="displayName",
            limit=NAME_LIMIT,
            language=caller.language,
            required=True,
        )
        changed["displayName"] = program.display_name
    if description is not None:
        program.description = _text(
            description,
            field="description",
            limit=DESCRIPTION_LIMIT,
            language=caller.language,
            required=False,
        )
        changed["description"] = "changed"
    if changed:
        program.updated_at = clock.now()
        audit.record(
            db_session,
            actor=caller.actor,
            action="program.updated",
            target_type="program",
            target_id=program.id,
            details=changed,
        )
        await db_session.flush()
    return program


async def engagements_of(
    *, db_session: AsyncSession, caller: Caller, program: Program, roles: set[str]
) -> list[Engagement]:
    """The program's engagements the caller sees on its landing page: all of them for its
    Program Owners, else those they take part in."""
    query = select(Engagement).where(Engagement.program_id == program.id)
    if PROGRAM_OWNER not in roles:
        query = query.where(
            exists().where(
                EngagementMember.engagement_id == Engagement.id,
                EngagementMember.user_id == caller.user_id,
                access.membership_counts(),
            )
        )
    return list(await db_session.scalars(query.order_by(Engagement.display_name_key).limit(500)))


async def members(
    *, db_session: AsyncSession, caller: Caller, program_id: uuid.UUID
) -> list[tuple[ProgramRole, str, str]]:
    """The program's role holders (role, name, address), for its role holders."""
    program, roles = await get(db_session=db_session, caller=caller, program_id=program_id)
    if not roles:
        raise NotProgramOwner(caller.language)
    rows = await db_session.execute(
        select(ProgramRole, User.display_name, User.user_principal_name)
        .join(User, User.id == ProgramRole.user_id)
        .where(ProgramRole.program_id == program.id)
        .order_by(User.display_name_key, ProgramRole.role)
    )
    return [(role, name, address) for role, name, address in rows.all()]


async def add_member(
    *,
    db_session: AsyncSession,
    caller: Caller,
    program_id: uuid.UUID,
    user_ids: list[uuid.UUID],
    role: str,
) -> None:
    """Give operators a role in the program (its owners)."""
    await owned(db_session, caller, program_id)
    wanted = list(dict.fromkeys(user_ids))[:100]
    operators = set(
        await db_session.scalars(
            select(PlatformOperator.user_id).where(PlatformOperator.user_id.in_(wanted))
        )
    )
    if operators != set(wanted):
        raise OperatorRoleRequired(caller.language)
    held = set(
        await db_session.scalars(
            select(ProgramRole.user_id).where(
                ProgramRole.program_id == program_id,
                ProgramRole.role == role,
                ProgramRole.user_id.in_(wanted),
            )
        )
    )
    now = clock.now()
    for user_id in wanted:
        if user_id in held:
            continue
        db_session.add(
            ProgramRole(
                program_id=program_id,
                user_id=user_id,
                role=role,
                added_by=caller.user_id,
                added_at=now,
            )
        )
        audit.record(
            db_session,
            actor=caller.actor,
            action="program.memberAdded",
            target_type="program",
            target_id=program_id,
            details={"userId": str(user_id), "role": role},
        )
    await db_session.flush()


async def remove_member(
    *,
    db_session: AsyncSession,
    caller: Caller,
    program_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
) -> None:
    """Take a role in the program from someone (its owners); the last owner stays."""
    await owned(db_session, caller, program_id)
    if role == PROGRAM_OWNER:
        owners = await db_session.scalar(
            select(func.count()).where(
                ProgramRole.program_id == program_id, ProgramRole.role == PROGRAM_OWNER
            )
        )
        if (owners or 0) <= 1:
            raise LastEngagementOwner(caller.language)
    removed = await db_session.execute(
        delete(ProgramRole).where(
            ProgramRole.program_id == program_id,
            ProgramRole.user_id == user_id,
            ProgramRole.role == role,
        )
    )
    if not removed.rowcount:  # type: ignore[attr-defined]
        raise MemberNotFound(caller.language)
    audit.record(
        db_session,
        actor=caller.actor,
        action="program.memberRemoved",
        target_type="program",
        target_id=program_id,
        details={"userId": str(user_id), "role": role},
    )
