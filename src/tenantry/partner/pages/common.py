"""What the partner program's pages share: paths, guards, country names, field wording.

The pages are for anyone signed in (the enrollment wizard admits Global Administrators of
a managed organization and shows everyone else seed 003's refusal), the approver behind
their emailed link (no sign-in), and the platform's operators (`/operator/…`, a 404 for
anyone else, as the API's operator routes answer people who may not read the account).
"""

from __future__ import annotations

import unicodedata
import uuid
from functools import cache
from typing import Any

from fastapi import Depends, Request
from phonenumbers.geodata.locale import LOCALE_DATA
from starlette.responses import Response

from tenantry.core.errors import NotFound, TenantryError
from tenantry.core.i18n import has_message, translate
from tenantry.dependencies import Principal
from tenantry.directory.constants import USAGE_LOCATIONS
from tenantry.partner import accounts, service
from tenantry.partner.exceptions import PartnerAccountNotFound
from tenantry.web.dependencies import Page, read_unit_of_work, signed_in_form, signed_in_page
from tenantry.web.rendering import error_text
from tenantry.web.shell import render_with_notice

PARTNER = "/partner"
ENROLL = "/partner/enroll"
EDIT = "/partner/edit"
RESEND = "/partner/resend"
ACTING = "/partner/acting"
APPROVALS = "/partner/approvals"
OPERATOR = "/operator/partners"
RESERVED = "/operator/reserved"
AGREEMENTS = "/operator/agreements"

# Long enough for anything a person types; the services refuse what is too long in words.
MAX_INPUT = 1000

# Where a refusal's `target` (the API's camelCase field) shows on a form.
FIELD_OF_TARGET = {
    "countryOrRegion": "country",
    "accountType": "account_type",
    "publisherDisplayName": "publisher_name",
    "contact.name": "contact_name",
    "contact.email": "contact_email",
    "contact.phone": "contact_phone",
    "approver.name": "approver_name",
    "approver.email": "approver_email",
    "approver.phone": "approver_phone",
    "agreement": "accept",
}


# --- countries --------------------------------------------------------------------------------


def _localized(names: dict[str, str], language: str) -> str:
    """libphonenumber's name of a region in `language` ("*xx" points at another language's)."""
    value = names.get(language) or names.get("aa", "")
    seen = 0
    while value.startswith("*") and seen < 5:
        value, seen = names.get(value[1:], ""), seen + 1
    return value


@cache
def countries(language: str) -> tuple[tuple[str, str], ...]:
    """(ISO 3166-1 code, name in `language`) of every country or region, sorted by name.

    The names come with `phonenumbers` (libphonenumber's geocoding data), already a
    dependency for the phone numbers, rather than another package for one list."""
    named = [
        (code, _localized(LOCALE_DATA[code], language) or code)
        if code in LOCALE_DATA
        else (code, code)
        for code in USAGE_LOCATIONS
    ]

    def sort_key(item: tuple[str, str]) -> str:
        decomposed = unicodedata.normalize("NFKD", item[1].casefold())
        return "".join(char for char in decomposed if not unicodedata.combining(char))

    return tuple(sorted(named, key=sort_key))


def country_name(code: str, language: str) -> str:
    """A country's name in `language` ("France", "Frankrijk"), or its code when unknown."""
    return dict(countries(language)).get(code, code)


# --- wording -----------------------------------------------------------------------------------


def field_label(language: str, field: str) -> str:
    """A form field's label, as refusals name it ("Contact phone")."""
    return translate(language, f"partner.field.{field}")


def field_error(language: str, error: TenantryError, field: str) -> str:
    """Why a field was refused, to show beside it: the partner pages' wording
    (`partner.error.<code>`) where they have one, else the API's, naming the field."""
    label = field_label(language, field)
    key = f"partner.error.{error.code}"
    if has_message(key):
        return translate(language, key, field=label)
    return error_text(language, error, field=label)


Errors = dict[str, str]  # form field → why it was refused


def caught(
    errors: Errors, page_language: str, field: str, check: Any, /, *args: Any, **kw: Any
) -> Any:
    """Run one of the service's checks on a field (its answer); a refusal goes beside the field."""
    try:
        return check(*args, **kw)
    except TenantryError as error:
        errors[field] = field_error(page_language, error, field)
        return None


def check_person_fields(errors: Errors, values: dict[str, str], who: str, language: str) -> None:
    """The name, address and phone number of `who` (contact or approver), each checked as
    enrolling checks them (`partner.accounts`), every refusal kept."""
    caught(
        errors,
        language,
        f"{who}_name",
        accounts.check_person_name,
        values[f"{who}_name"],
        field=f"{who}.name",
    )
    for part, check in (("email", accounts.check_email), ("phone", accounts.check_phone)):
        caught(
            errors,
            language,
            f"{who}_{part}",
            check,
            values[f"{who}_{part}"],
            field=f"{who}.{part}",
            language=language,
        )


def state_label(language: str, state: str) -> str:
    """A partner account's state as people read it ("Waiting for approval")."""
    return translate(language, f"partner.state.{state}")


def account_uuid(value: str, language: str) -> uuid.UUID:
    """A partner account's id from a path or form; anything else names no account (404)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise PartnerAccountNotFound(language) from None


# --- rendering and guards ----------------------------------------------------------------------


async def is_operator(request: Request, principal: Principal) -> bool:
    """Whether the signed-in person runs the partner program (the platform role Operator)."""
    async with read_unit_of_work(request) as db_session:
        return await service.is_operator(db_session=db_session, user_id=principal.user.id)


def render_partner(
    request: Request,
    template: str,
    *,
    principal: Principal | None,
    section: str,
    operator: bool = False,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A partner program page: the program's own navigation (the operators' pages for an
    operator), `section` marked, and the notice the previous request left."""
    return render_with_notice(
        request,
        template,
        principal=principal,
        status_code=status_code,
        partner_section=section,
        is_operator=operator,
        **context,
    )


async def _ensure_operator(request: Request, page: Page) -> Page:
    if not await is_operator(request, page.principal):
        # As the API answers someone who may not read a partner account: nothing here.
        raise NotFound("The resource does not exist.")
    return page


def operator_page() -> Any:
    """A guard for an operator's page: signed in, then the platform role Operator (404)."""
    signed_in = signed_in_page()

    async def guard(request: Request, page: Page = Depends(signed_in)) -> Page:
        return await _ensure_operator(request, page)

    return guard


def operator_form() -> Any:
    """A guard for an operator's form: CSRF, signed in, then the role Operator (404)."""
    signed_in = signed_in_form()

    async def guard(request: Request, page: Page = Depends(signed_in)) -> Page:
        return await _ensure_operator(request, page)

    return guard
