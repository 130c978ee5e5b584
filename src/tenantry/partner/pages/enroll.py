"""The enrollment wizard: seed 003's "Comment s'inscrire", in three steps and Finish.

1. Account information: the country or region (chosen once, never changed), the account
   type (Company, the only one), the publisher display name with a check of whether it is
   free ("Check availability" re-renders the step with the answer).
2. Contact: the contact's and the approver's name, email address and phone number.
3. Review and agreement: everything entered, the current Collaboration agreement in the
   page language, "I accept"; **Finish** enrolls (`partner.flows.enroll`, as the API).

Nothing is created before Finish. The wizard's state travels in the form itself: each
step carries the other steps' values as hidden fields, so Back and Next keep everything,
two tabs never mix, and nothing is stored for a wizard left half way. They need no
signature: nothing in them is trusted, since Finish sends them all through the same
checks as `POST /v1/partnerAccounts`, and each step checks its own fields with the
service's checks (`partner.accounts.check_*`) before moving on. A refusal shows beside its
field, on the step that holds it, in the page language.

Only a Global Administrator of a managed organization enrolls: anyone else opening the
wizard reads seed 003's refusal ("We couldn't validate your identity as a global
administrator") with the hint to find one or to sign in with another account.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.errors import TenantryError
from tenantry.core.i18n import translate
from tenantry.dependencies import Principal, actor_of
from tenantry.directory import roles as directory_roles
from tenantry.directory.constants import Role
from tenantry.domains import names
from tenantry.domains import service as domain_service
from tenantry.partner import accounts, flows, service
from tenantry.partner.exceptions import NotGlobalAdministrator, PartnerAccountExists
from tenantry.partner.pages.common import (
    ENROLL,
    FIELD_OF_TARGET,
    MAX_INPUT,
    PARTNER,
    Errors,
    caught,
    check_person_fields,
    countries,
    country_name,
    field_error,
    render_partner,
)
from tenantry.tenants.models import MANAGED
from tenantry.web.dependencies import (
    Page,
    read_unit_of_work,
    signed_in_form,
    signed_in_page,
    text,
)
from tenantry.web.rendering import WebRoute, language_of, settings_of
from tenantry.web.shell import redirect_with_notice, see_other

router = APIRouter(include_in_schema=False, route_class=WebRoute)

ACCOUNT_FIELDS = ("country", "account_type", "publisher_name")
PEOPLE = ("contact", "approver")
PERSON_FIELDS = tuple(f"{who}_{part}" for who in PEOPLE for part in ("name", "email", "phone"))
FIELDS = (*ACCOUNT_FIELDS, *PERSON_FIELDS, "agreement_version")
STEP_OF_FIELD = {
    **{field: 1 for field in ACCOUNT_FIELDS},
    **{field: 2 for field in PERSON_FIELDS},
    "accept": 3,
}


# --- who may enroll ----------------------------------------------------------------------------


async def not_global_administrator(request: Request, principal: Principal) -> Response:
    """Seed 003's refusal, with whom to ask: the organization's Global Administrators (or,
    in an organization nobody manages yet, the way to become its admin)."""
    async with read_unit_of_work(request) as db_session:
        holders = await directory_roles.role_members(
            db_session=db_session, tenant_id=principal.tenant.id
        )
    admins = [
        {"name": user.display_name, "email": user.user_principal_name}
        for user in holders.get(Role.GLOBAL_ADMINISTRATOR, [])
        if user.account_enabled
    ]
    return render_partner(
        request,
        "partner/not_admin.html",
        principal=principal,
        section="enroll",
        status_code=NotGlobalAdministrator.status_code,
        admins=admins,
        managed=principal.tenant.state == MANAGED,
    )


async def _may_enroll(db_session: AsyncSession, principal: Principal) -> bool:
    return await accounts.is_global_administrator(
        db_session=db_session, tenant=principal.tenant, user_id=principal.user.id
    )


# --- the steps -----------------------------------------------------------------------------------


def _entered(page: Page) -> dict[str, str]:
    return {field: text(page.form, field)[:MAX_INPUT] for field in FIELDS}


async def _check_account(db_session: AsyncSession, values: dict[str, str], language: str) -> Errors:
    """Step 1, checked as enrolling will check it: country, type, the name and whether it is
    free."""
    errors: Errors = {}
    caught(
        errors, language, "country", accounts.check_country, values["country"], language=language
    )
    caught(
        errors,
        language,
        "account_type",
        accounts.check_account_type,
        values["account_type"],
        language=language,
    )
    checked = caught(
        errors,
        language,
        "publisher_name",
        accounts.check_publisher_name,
        values["publisher_name"],
        language=language,
    )
    if checked is not None:
        try:
            await accounts.refuse_taken_or_reserved(db_session, key=checked[1], language=language)
        except TenantryError as error:
            errors["publisher_name"] = field_error(language, error, "publisher_name")
    return errors


def _check_people(values: dict[str, str], language: str) -> Errors:
    """Step 2: each name, address and phone number of the contact and the approver."""
    errors: Errors = {}
    for who in PEOPLE:
        check_person_fields(errors, values, who, language)
    return errors


def _review(values: dict[str, str], language: str) -> dict[str, str]:
    """What step 3 shows: the values as the account will keep them (phones in E.164)."""
    shown = dict(values)
    shown["country_name"] = country_name(values["country"].strip().upper(), language)
    for who in PEOPLE:
        for part, check in (("email", accounts.check_email), ("phone", accounts.check_phone)):
            with contextlib.suppress(TenantryError):  # step 2 said why; the entry shows
                shown[f"{who}_{part}"] = check(
                    values[f"{who}_{part}"], field=f"{who}.{part}", language=language
                )
    return shown


async def _wizard(
    request: Request,
    principal: Principal,
    step: int,
    values: dict[str, str],
    *,
    errors: Errors | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    language = language_of(request)
    async with read_unit_of_work(request) as db_session:
        domains = await domain_service.get_all(db_session=db_session, tenant_id=principal.tenant.id)
        agreement = None
        if step == 3:
            agreement = await service.current_agreement(db_session=db_session, language=language)
            values = {**values, "agreement_version": agreement.version}
    default = next((d for d in domains if d.is_default), None)
    return render_partner(
        request,
        "partner/enroll.html",
        principal=principal,
        section="enroll",
        status_code=status_code,
        step=step,
        form=values,
        review=_review(values, language) if step == 3 else {},
        errors=errors or {},
        countries=countries(language),
        domain=names.display(default.name) if default else "",
        agreement=agreement,
        hidden=[(field, values[field]) for field in FIELDS if STEP_OF_FIELD.get(field) != step],
        **context,
    )


def _first_values(principal: Principal) -> dict[str, str]:
    """Step 1 filled in from what the organization and the person already say."""
    values = dict.fromkeys(FIELDS, "")
    values.update(
        country=principal.tenant.country_letter_code or "",
        account_type=accounts.COMPANY,
        publisher_name=principal.tenant.display_name[: service.PUBLISHER_NAME_LIMIT],
        contact_name=principal.user.display_name,
        contact_email=principal.user.user_principal_name,
    )
    return values


@router.get(ENROLL)
async def enroll_page(request: Request, page: Page = Depends(signed_in_page())) -> Response:
    """Step 1, filled in from the organization; seed 003's refusal for anyone who may not
    enroll; the account's page when the organization already has one."""
    async with read_unit_of_work(request) as db_session:
        allowed = await _may_enroll(db_session, page.principal)
        existing = await accounts.get_for_tenant(
            db_session=db_session, tenant_id=page.principal.tenant.id
        )
    if not allowed:
        return await not_global_administrator(request, page.principal)
    if existing is not None:
        return see_other(PARTNER)
    return await _wizard(request, page.principal, 1, _first_values(page.principal))


def _step(page: Page) -> int:
    value = text(page.form, "step")
    return int(value) if value in ("1", "2", "3") else 1


@router.post(ENROLL)
async def enroll_step(request: Request, page: Page = Depends(signed_in_form())) -> Response:
    """One move of the wizard: `go` is `check` (is the name free?), `back`, `next` or
    `finish`; `step` says which step posted."""
    language, principal = page.language, page.principal
    values = _entered(page)
    step, move = _step(page), text(page.form, "go")
    async with read_unit_of_work(request) as db_session:
        allowed = await _may_enroll(db_session, principal)
        checked = (
            await _check_account(db_session, values, language)
            if allowed and step == 1 and move != "back"
            else {}
        )
    if not allowed:
        return await not_global_administrator(request, principal)
    if move == "back":
        return await _wizard(request, principal, max(1, step - 1), values)
    if step == 1 and move == "check":
        errors = {key: value for key, value in checked.items() if key == "publisher_name"}
        return await _wizard(
            request, principal, 1, values, errors=errors, checked="publisher_name" not in errors
        )
    if step == 1:
        if checked:
            return await _wizard(request, principal, 1, values, errors=checked, status_code=400)
        return await _wizard(request, principal, 2, values)
    if step == 2:
        errors = _check_people(values, language)
        if errors:
            return await _wizard(request, principal, 2, values, errors=errors, status_code=400)
        return await _wizard(request, principal, 3, values)
    if move != "finish":
        return await _wizard(request, principal, 3, values)
    return await _finish(request, page, values)


async def _finish(request: Request, page: Page, values: dict[str, str]) -> Response:
    """Enroll as the API does; a refusal goes back to the step that holds its field."""
    principal, language = page.principal, page.language
    enrollment = accounts.Enrollment(
        country_or_region=values["country"],
        account_type=values["account_type"],
        publisher_display_name=values["publisher_name"],
        contact=accounts.Person(
            values["contact_name"], values["contact_email"], values["contact_phone"]
        ),
        approver=accounts.Person(
            values["approver_name"], values["approver_email"], values["approver_phone"]
        ),
        agreement_version=values["agreement_version"],
        agreement_accepted=text(page.form, "accept") == "on",
    )
    try:
        await flows.enroll(
            request.app.state.database,
            tenant=principal.tenant,
            actor=actor_of(request, principal),
            enrollment=enrollment,
            language=language,
            base_url=settings_of(request).base_url,
        )
    except NotGlobalAdministrator:
        return await not_global_administrator(request, principal)
    except PartnerAccountExists as error:
        return await _wizard(
            request,
            principal,
            3,
            values,
            status_code=error.status_code,
            error=translate(language, "error.partnerAccountExists"),
            exists=True,
        )
    except TenantryError as error:
        field = FIELD_OF_TARGET.get(error.target or "", "accept")
        return await _wizard(
            request,
            principal,
            STEP_OF_FIELD.get(field, 3),
            values,
            errors={field: field_error(language, error, field)},
            status_code=error.status_code,
        )
    return redirect_with_notice(
        request, PARTNER, "partner.enrolled", publisher=" ".join(values["publisher_name"].split())
    )
