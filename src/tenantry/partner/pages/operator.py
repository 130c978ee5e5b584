"""The operators' pages: every partner account (filter by state, search, pages of 25), one
account with approve / reject / suspend / reactivate, the reserved publisher names, the
agreement versions.

Only the platform's operators see them; anyone else gets a 404 page, as the API's operator
routes answer people who may not read the account. The moves are `lifecycle.operator_move`
(the API's `POST /v1/partnerAccounts/{id}/approve|reject|suspend`); reactivating a
suspended or rejected account is its `approve`. Names are reserved and released through
`service.reserve_name` / `release_name`, as `tenantry partner reserved add|remove`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.errors import TenantryError
from tenantry.core.paging import decode_token, encode_token
from tenantry.dependencies import actor_of
from tenantry.partner import accounts, lifecycle, service
from tenantry.partner.exceptions import PartnerAccountNotFound
from tenantry.partner.models import ACTIVE, PENDING_APPROVAL, REJECTED, SUSPENDED, PartnerAccount
from tenantry.partner.pages.account import account_view
from tenantry.partner.pages.common import (
    AGREEMENTS,
    MAX_INPUT,
    OPERATOR,
    RESERVED,
    field_error,
    operator_form,
    operator_page,
    render_partner,
)
from tenantry.partner.pages.sections import linked_tenants
from tenantry.web.admin_views import format_time
from tenantry.web.dependencies import Page, read_unit_of_work, text, unit_of_work
from tenantry.web.rendering import WebRoute, error_text, language_of
from tenantry.web.shell import redirect_with_notice

router = APIRouter(include_in_schema=False, route_class=WebRoute)

PAGE_SIZE = 25
STATES = (PENDING_APPROVAL, ACTIVE, SUSPENDED, REJECTED)
# Which buttons an account's state offers: the moves `lifecycle.OPERATOR_MOVES` allows.
MOVES_FROM = {
    state: [move for move, (sources, _) in lifecycle.OPERATOR_MOVES.items() if state in sources]
    for state in STATES
}


def _account_path(account_id: uuid.UUID | str, action: str = "") -> str:
    return f"{OPERATOR}/{account_id}{action}"


def _after(token: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The keyset a next-page link carries; anything else starts from the first page."""
    payload = decode_token(token) if token else None
    try:
        assert payload is not None
        return datetime.fromisoformat(payload["c"]), uuid.UUID(payload["i"])
    except (AssertionError, KeyError, TypeError, ValueError):
        return None


@router.get(OPERATOR)
async def accounts_page(
    request: Request,
    state: str = Query("", max_length=40),
    q: str = Query("", max_length=200),
    after: str = Query("", max_length=400),
    page: Page = Depends(operator_page()),
) -> Response:
    """Every partner account, newest first, of one state or all, by publisher or
    organization name."""
    language = page.language
    chosen = state if state in STATES else ""
    search = q.strip()
    async with read_unit_of_work(request) as db_session:
        found = await accounts.get_all(
            db_session=db_session,
            state=chosen or None,
            search=search or None,
            after=_after(after),
            limit=PAGE_SIZE + 1,
        )
    rows = [
        account_view(language, listed.account)
        | {"organization": listed.organization, "path": _account_path(listed.account.id)}
        for listed in found[:PAGE_SIZE]
    ]
    next_path = None
    if len(found) > PAGE_SIZE:
        last = found[PAGE_SIZE - 1].account
        token = encode_token({"c": last.created_at.isoformat(), "i": str(last.id)})
        kept = {"state": chosen, "q": search, "after": token}
        next_path = f"{OPERATOR}?{urlencode({k: v for k, v in kept.items() if v})}"
    return render_partner(
        request,
        "partner/operator_accounts.html",
        principal=page.principal,
        section="operator",
        operator=True,
        rows=rows,
        states=STATES,
        chosen=chosen,
        search=search,
        next_path=next_path,
        first_path=OPERATOR if after else None,
    )


async def _detail(
    request: Request, page: Page, account_id: str, *, status_code: int = 200, **context: Any
) -> Response:
    language = page.language
    async with read_unit_of_work(request) as db_session:
        account = await _account(db_session, account_id, language)
        linked = await linked_tenants(db_session=db_session, account=account)
    return render_partner(
        request,
        "partner/operator_account.html",
        principal=page.principal,
        section="operator",
        operator=True,
        status_code=status_code,
        account=account_view(language, account),
        organization=linked[0] if linked else None,
        moves=MOVES_FROM.get(account.state, []),
        **context,
    )


async def _account(db_session: AsyncSession, account_id: str, language: str) -> PartnerAccount:
    try:
        target = uuid.UUID(account_id)
    except ValueError:
        raise PartnerAccountNotFound(language) from None
    account = await db_session.get(PartnerAccount, target)
    if account is None:
        raise PartnerAccountNotFound(language)
    return account


@router.get(OPERATOR + "/{partner_account_id}")
async def account_page(
    partner_account_id: str, request: Request, page: Page = Depends(operator_page())
) -> Response:
    """One partner account, with the moves its state allows."""
    return await _detail(request, page, partner_account_id)


def _move_route(move: str) -> None:
    async def handler(
        partner_account_id: str, request: Request, page: Page = Depends(operator_form())
    ) -> Response:
        language = page.language
        try:
            async with unit_of_work(request) as db_session:
                account = await lifecycle.operator_move(
                    db_session=db_session,
                    account_id=(await _account(db_session, partner_account_id, language)).id,
                    move=move,
                    actor=actor_of(request, page.principal),
                    language=language,
                )
                publisher, state = account.publisher_display_name, account.state
        except PartnerAccountNotFound:
            raise
        except TenantryError as error:
            return await _detail(
                request,
                page,
                partner_account_id,
                status_code=error.status_code,
                error=error_text(language, error),
            )
        return redirect_with_notice(
            request,
            _account_path(partner_account_id),
            f"partner.operator.moved.{state}",
            publisher=publisher,
        )

    handler.__name__ = f"operator_{move}"
    handler.__doc__ = f"An operator's {move} of a partner account (`lifecycle.operator_move`)."
    router.post(OPERATOR + "/{partner_account_id}/" + move)(handler)


for _move in lifecycle.OPERATOR_MOVES:
    _move_route(_move)


# --- reserved names and agreement versions ---------------------------------------------------


async def _reserved_page(
    request: Request, page: Page, *, status_code: int = 200, **context: Any
) -> Response:
    async with read_unit_of_work(request) as db_session:
        reserved = await service.reserved_names(db_session=db_session)
    return render_partner(
        request,
        "partner/operator_reserved.html",
        principal=page.principal,
        section="reserved",
        operator=True,
        status_code=status_code,
        names=[
            {"name": name.name, "added": format_time(page.language, name.created_at)}
            for name in reserved
        ],
        **context,
    )


@router.get(RESERVED)
async def reserved_page(request: Request, page: Page = Depends(operator_page())) -> Response:
    """The publisher names no partner account may take (nor their look-alikes)."""
    return await _reserved_page(request, page)


@router.post(RESERVED)
async def reserve(request: Request, page: Page = Depends(operator_form())) -> Response:
    """Reserve a name."""
    entered = text(page.form, "publisher_name")[:MAX_INPUT]
    try:
        async with unit_of_work(request) as db_session:
            reserved = await service.reserve_name(
                db_session=db_session, name=entered, actor=actor_of(request, page.principal)
            )
            name = reserved.name
    except TenantryError as error:
        return await _reserved_page(
            request,
            page,
            status_code=error.status_code,
            error=field_error(page.language, error, "publisher_name"),
            form={"publisher_name": entered},
        )
    return redirect_with_notice(request, RESERVED, "partner.operator.reserved_added", name=name)


@router.post(RESERVED + "/remove")
async def release(request: Request, page: Page = Depends(operator_form())) -> Response:
    """Take a name off the list."""
    entered = text(page.form, "publisher_name")[:MAX_INPUT]
    try:
        async with unit_of_work(request) as db_session:
            name = await service.release_name(
                db_session=db_session, name=entered, actor=actor_of(request, page.principal)
            )
    except TenantryError as error:
        return await _reserved_page(
            request,
            page,
            status_code=error.status_code,
            error=field_error(page.language, error, "publisher_name"),
        )
    return redirect_with_notice(request, RESERVED, "partner.operator.reserved_removed", name=name)


@router.get(AGREEMENTS)
async def agreements_page(request: Request, page: Page = Depends(operator_page())) -> Response:
    """The agreement's versions (the current one first, with its text in the page language)."""
    language = language_of(request)
    async with read_unit_of_work(request) as db_session:
        versions = await service.agreement_versions(db_session=db_session)
        current = await service.current_agreement(db_session=db_session, language=language)
    return render_partner(
        request,
        "partner/operator_agreements.html",
        principal=page.principal,
        section="agreements",
        operator=True,
        versions=[
            {
                "version": version.version,
                "languages": version.languages,
                "published": format_time(language, version.published_at),
                "current": version.current,
                "shipped": version.published_at is None,
            }
            for version in versions
        ],
        current=current,
    )
