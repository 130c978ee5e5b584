"""What engagements' API routers share: the caller in their language, ids from the path."""

from __future__ import annotations

import uuid

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.i18n import negotiate
from tenantry.dependencies import Principal, client_address
from tenantry.engagements.exceptions import (
    AccessRequestNotFound,
    EngagementNotFound,
    MemberNotFound,
    ProgramNotFound,
)
from tenantry.engagements.identity import Caller, caller_of


def caller_language(request: Request, principal: Principal) -> str:
    """The language of the answer: Accept-Language when the request says, else the person's."""
    accept = request.headers.get("accept-language")
    if accept:
        return negotiate(accept)
    return negotiate(None, principal.user.preferred_language)


async def caller_in(db_session: AsyncSession, request: Request, principal: Principal) -> Caller:
    """The caller, read in this unit of work."""
    return await caller_of(
        db_session,
        principal,
        language=caller_language(request, principal),
        client_address=client_address(request),
    )


def _id(value: str, error: type[Exception], language: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise error(language) from None


def engagement_id_of(value: str, language: str) -> uuid.UUID:
    """An engagement id from the path; anything else is an engagement that does not exist."""
    return _id(value, EngagementNotFound, language)


def program_id_of(value: str, language: str) -> uuid.UUID:
    return _id(value, ProgramNotFound, language)


def request_id_of(value: str, language: str) -> uuid.UUID:
    return _id(value, AccessRequestNotFound, language)


def user_id_of(value: str, language: str) -> uuid.UUID:
    return _id(value, MemberNotFound, language)
