"""The development DNS zone's page and API: only in development mode (`tenantry serve --dev`).

`app.create_app` includes this router only when `TENANTRY_DEV_MODE` is on, so outside
development mode `/dev/dns` does not exist (404) and no TXT record can be planted. The
server then listens on loopback only, so the API needs no token (like the mailbox).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core import devzone
from tenantry.core.errors import TenantryError
from tenantry.dependencies import Principal, get_db, get_read_db, parse_id, web_principal
from tenantry.web.dependencies import checked_form, text
from tenantry.web.rendering import WebRoute, error_text, language_of, local_path, render
from tenantry.web.shell import see_other

DEV_DNS = "/dev/dns"

pages = APIRouter(include_in_schema=False, route_class=WebRoute)
api = APIRouter(prefix="/dev/dns/records", tags=["development"])


class DevRecordCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=253, description="e.g. contoso.com")
    type: str = Field(default="TXT", pattern="^TXT$", description="TXT only")
    value: str = Field(max_length=devzone.MAX_VALUE, description="e.g. tenantry-verify=…")


@api.get("")
async def list_records(db_session: AsyncSession = Depends(get_read_db)) -> dict[str, Any]:
    """Every record of the development zone."""
    return {"value": [devzone.record_view(r) for r in await devzone.records(db_session)]}


@api.post("", status_code=201)
async def publish_record(
    body: DevRecordCreate, db_session: AsyncSession = Depends(get_db)
) -> dict[str, str]:
    """Publish a TXT record: domain verification finds it at once."""
    record = await devzone.publish(db_session, name=body.name, value=body.value)
    return devzone.record_view(record)


@api.delete("/{record_id}", status_code=204)
async def remove_record(record_id: str, db_session: AsyncSession = Depends(get_db)) -> Response:
    await devzone.remove(db_session, parse_id(record_id, what="record"))
    return Response(status_code=204)


async def _zone_page(
    request: Request, principal: Principal | None, *, status_code: int = 200, **context: Any
) -> Response:
    async with request.app.state.database.unit_of_work(readonly=True) as db_session:
        records = await devzone.records(db_session)
    return render(
        request,
        "devdns.html",
        principal=principal,
        status_code=status_code,
        records=records,
        **context,
    )


@pages.get(DEV_DNS)
async def zone_page(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """The development zone: its records, and a form to publish one."""
    return await _zone_page(request, principal)


@pages.post(DEV_DNS)
async def publish_from_page(
    request: Request, principal: Principal | None = Depends(web_principal)
) -> Response:
    """Publish from the form (here, or the wizard's and Domains page's one-click button),
    then go back to the page it came from."""
    form = await checked_form(request)
    entered = {"name": text(form, "name")[:253], "value": text(form, "value")[:255]}
    try:
        async with request.app.state.database.unit_of_work() as db_session:
            await devzone.publish(db_session, **entered)
    except TenantryError as error:
        return await _zone_page(
            request,
            principal,
            status_code=error.status_code,
            entered=entered,
            error=error_text(language_of(request), error),
        )
    return see_other(local_path(text(form, "next") or DEV_DNS))


@pages.post(DEV_DNS + "/{record_id}/remove")
async def remove_from_page(request: Request, record_id: str) -> Response:
    await checked_form(request)
    async with request.app.state.database.unit_of_work() as db_session:
        await devzone.remove(db_session, parse_id(record_id, what="record"))
    return see_other(DEV_DNS)
