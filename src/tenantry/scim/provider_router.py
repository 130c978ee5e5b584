"""The SCIM 2.0 service provider at /scim/v2 (RFC 7644): its own small application.

Mounted by `app.py`, it shares the application's state (database, catalog, settings) but
has its own error handling, so every refusal, an unknown path (404) and a method a path
does not take (405) included, is RFC 7644 §3.12's `{"schemas", "status", "scimType"?,
"detail"}` in `application/scim+json`, never the API's `{"error": …}`. Bodies may be as
large as `maxPayloadSize` (ServiceProviderConfig), above the API's general limit
(`core.bodylimit.allow_larger_body`).

Each request runs in one unit of work with its provisioning-log row; a refused request
rolls back and its row is written on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from scim2_models import (
    NotImplementedException,
    PayloadTooLargeException,
    SCIMException,
    UnauthorizedException,
)
from starlette.datastructures import State
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from tenantry.core.bodylimit import allow_larger_body
from tenantry.core.errors import DATABASE_RETRY_AFTER_SECONDS, TenantryError, database_unavailable
from tenantry.core.security import bearer_token_of
from tenantry.dependencies import client_address
from tenantry.scim import bulk, discovery, log, payloads, tokens
from tenantry.scim import groups as scim_groups
from tenantry.scim import users as scim_users
from tenantry.scim.constants import MAX_PAYLOAD_BYTES, MEDIA_TYPE, SCIM_PATH
from tenantry.scim.exceptions import ScimError, body, from_tenantry, of_exception

log_ = logging.getLogger("tenantry.scim")

Work = Callable[[scim_users.Request], Awaitable["Answer"]]


class ScimResponse(JSONResponse):
    media_type = MEDIA_TYPE


class Answer:
    """What a handler answers: a status, a body, headers, and the log entry it fills."""

    def __init__(
        self,
        status: int,
        document: dict[str, Any] | None = None,
        *,
        done: scim_users.Done | None = None,
        entries: list[log.Entry] | None = None,
        resource_type: str | None = None,
    ) -> None:
        self.status = status
        self.document = document
        self.done = done
        self.entries = entries
        self.resource_type = resource_type


def _error_response(
    status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return ScimResponse(body(status, detail, scim_type), status_code=status, headers=headers)


def _refusal(error: Exception) -> tuple[int, str, str | None, dict[str, str] | None]:
    """The status, detail, scimType and headers of any exception a request ends with."""
    if isinstance(error, SCIMException):
        headers = _CHALLENGE if error.status == 401 else None
        return error.status, error.detail, error.scim_type, headers
    if isinstance(error, TenantryError):
        scim = from_tenantry(error)
        return scim.status, scim.detail, scim.scim_type, error.headers
    if isinstance(error, StarletteHTTPException):
        if error.status_code == 413:
            return 413, str(error.detail), None, None
        return error.status_code, str(error.detail), None, getattr(error, "headers", None)
    if database_unavailable(error):
        log_.warning("database unavailable: %s", error)
        return (
            503,
            "The service cannot reach its database just now. Try again in a moment.",
            None,
            {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    log_.exception("unhandled error in SCIM", exc_info=error)
    return 500, "Something went wrong on our side.", None, None


def _relative(request: Request) -> str:
    path = request.url.path
    return path[len(SCIM_PATH) :] if path.startswith(SCIM_PATH) else path


async def _record_failure(
    request: Request, caller: tokens.Caller, entry: log.Entry, started: float, error: Exception
) -> Response:
    status, detail, scim_type, headers = _refusal(error)
    if status != 503:
        entry.status, entry.error_type, entry.error_detail = status, scim_type or "error", detail
        entry.duration_ms = int((time.perf_counter() - started) * 1000)
        await _group_log(request.app.state).record(caller, entry)
    return _error_response(status, detail, scim_type, headers)


def _group_log(state: State) -> log.GroupCommit:
    """The process's writer of log rows for reads and refusals (one per database)."""
    writer = getattr(state, "scim_group_log", None)
    if writer is None or writer.database is not state.database:
        writer = state.scim_group_log = log.GroupCommit(state.database, _gate(state))
    return writer


def _gate(state: State) -> asyncio.Lock | None:
    """SQLite: the lock this process's SCIM writes take turns on (`_writing`)."""
    if state.database.dialect != "sqlite":
        return None
    gate = getattr(state, "scim_write_gate", None)
    if gate is None:
        gate = state.scim_write_gate = asyncio.Lock()
    return gate


@contextlib.asynccontextmanager
async def _writing(state: State) -> AsyncIterator[None]:
    """On SQLite, this process's SCIM writes take turns here rather than in SQLite's busy
    handler, whose growing sleeps would leave the one write lock idle while writers wait."""
    gate = _gate(state)
    if gate is None:
        yield
        return
    async with gate:
        yield


def _token(request: Request) -> str | None:
    return bearer_token_of(request.headers.get("authorization", ""))


_UNAUTHORIZED = (
    "A valid provisioning token is required: Authorization: Bearer <token> "
    "(Admin center > Directory sync)."
)


async def _serve(
    request: Request,
    resource_type: str | None,
    work: Work,
    prepare: Callable[[], Awaitable[None]] | None = None,
    *,
    readonly: bool = False,
) -> Response:
    """Read the body (`prepare`: parsing, password hashing, before any transaction), then
    authenticate and run `work` in one unit of work with its log row; answer in SCIM's shape.

    A read (`readonly`) runs in a read-only unit of work, beside writers on SQLite, and its
    log row is written with others' (`log.GroupCommit`)."""
    started = time.perf_counter()
    state = request.app.state
    entry = log.Entry(
        method=request.method,
        path=_relative(request) + (f"?{request.url.query}" if request.url.query else ""),
        resource_type=resource_type,
        action=log.action_of(request.method, 0),
    )
    if prepare is not None:
        try:
            await prepare()
        except Exception as error:
            # A malformed body: only its token's organization hears why, and logs it.
            async with state.database.unit_of_work(readonly=True) as db_session:
                caller = await tokens.authenticate(db_session=db_session, token=_token(request))
            if caller is None:
                return _error_response(401, _UNAUTHORIZED, headers=_CHALLENGE)
            return await _record_failure(request, caller, entry, started, error)
    caller: tokens.Caller | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            if not readonly:
                await stack.enter_async_context(_writing(state))
            db_session = await stack.enter_async_context(
                state.database.unit_of_work(readonly=readonly)
            )
            caller = await tokens.authenticate(db_session=db_session, token=_token(request))
            if caller is None:
                raise UnauthorizedException(detail=_UNAUTHORIZED)
            context = scim_users.Request(
                db_session=db_session,
                caller=caller,
                actor=caller.actor(client_address(request)),
                catalog=state.catalog,
                base_url=state.settings.base_url.rstrip("/") + SCIM_PATH,
            )
            answer = await work(context)
            entries = answer.entries
            if entries is None:
                entry.status = answer.status
                if answer.done is not None:
                    entry.target_id = answer.done.target_id
                    entry.target_name = answer.done.target_name
                    entry.changes = answer.done.changes
                entry.duration_ms = int((time.perf_counter() - started) * 1000)
                entries = [entry]
            if not readonly:
                await log.record(db_session, caller, entries)
                if caller.touch_due:
                    await tokens.touch(db_session, {caller.token_id})
    except Exception as error:
        if caller is None:
            status, detail, scim_type, headers = _refusal(error)
            return _error_response(status, detail, scim_type, headers)
        return await _record_failure(request, caller, entry, started, error)
    if readonly:
        await _group_log(state).record(caller, entry)
    headers: dict[str, str] = {}
    document = answer.document
    # A 204 (a group's PATCH) still tells the new version.
    described = document or (answer.done.document if answer.done is not None else None)
    if described is not None and isinstance(described.get("meta"), dict):
        if described["meta"].get("version"):
            headers["ETag"] = described["meta"]["version"]
        if answer.status == 201:
            headers["Location"] = described["meta"]["location"]
    if document is None:
        return Response(status_code=answer.status, headers=headers)
    return ScimResponse(document, status_code=answer.status, headers=headers)


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="scim"'}


async def _body(request: Request) -> Any:
    """The request's JSON, up to maxPayloadSize; 415 for a body that says it is not JSON."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type and "json" not in content_type:
        raise ScimError(status=415, detail=f"Send {MEDIA_TYPE} (or application/json).")
    allow_larger_body(request.scope, MAX_PAYLOAD_BYTES)
    try:
        raw = await request.body()
    except StarletteHTTPException as exc:
        if exc.status_code == 413:
            raise PayloadTooLargeException(
                detail=f"The request body is larger than {MAX_PAYLOAD_BYTES} bytes, the "
                "maxPayloadSize this service provider advertises."
            ) from None
        raise
    return payloads.parse_json(raw)


def _documentation_uri(state: State) -> str:
    return state.settings.base_url.rstrip("/") + "/docs"


def build_app(state: State) -> FastAPI:
    """The SCIM application, sharing `state` (database, catalog, settings) with the main one."""
    app = FastAPI(
        openapi_url=None, docs_url=None, redoc_url=None, default_response_class=ScimResponse
    )
    app.state = state

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error_response(404, "There is no such SCIM endpoint.")
        if exc.status_code == 405:
            return _error_response(
                405, "This endpoint does not take that method.", headers=exc.headers
            )
        status, detail, scim_type, headers = _refusal(exc)
        return _error_response(status, detail, scim_type, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, _exc: RequestValidationError) -> Response:
        return _error_response(400, "The request is not valid.", "invalidSyntax")

    @app.exception_handler(SCIMException)
    async def _scim_error(_request: Request, exc: SCIMException) -> Response:
        status, document = of_exception(exc)
        return ScimResponse(document, status_code=status)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        status, detail, scim_type, headers = _refusal(exc)
        return _error_response(status, detail, scim_type, headers)

    def base(request: Request) -> str:
        return request.app.state.settings.base_url.rstrip("/") + SCIM_PATH

    # --- discovery (RFC 7644 §4): no token needed -----------------------------------

    @app.get("/ServiceProviderConfig")
    async def service_provider_config(request: Request) -> Response:
        return ScimResponse(
            discovery.service_provider_config(base(request), _documentation_uri(request.app.state))
        )

    @app.get("/Schemas")
    async def schemas(request: Request) -> Response:
        found = discovery.schemas(base(request))
        return ScimResponse(discovery.list_response(found, total=len(found), start_index=1))

    @app.get("/Schemas/{schema_id:path}")
    async def schema(schema_id: str, request: Request) -> Response:
        return ScimResponse(discovery.schema(base(request), schema_id))

    @app.get("/ResourceTypes")
    async def resource_types(request: Request) -> Response:
        found = discovery.resource_types(base(request))
        return ScimResponse(discovery.list_response(found, total=len(found), start_index=1))

    @app.get("/ResourceTypes/{type_id}")
    async def resource_type(type_id: str, request: Request) -> Response:
        return ScimResponse(discovery.resource_type(base(request), type_id))

    # --- Users and Groups -------------------------------------------------------------

    def listing(kind: str, values: dict[str, Any]) -> Work:
        model = discovery.MODELS[kind]

        async def work(context: scim_users.Request) -> Answer:
            chosen = discovery.read_listing(model, values)
            if kind == "User":
                total, found = await scim_users.search(context, chosen.query)
            else:
                total, found = await scim_groups.search(
                    context, chosen.query, members=chosen.members
                )
            resources = [
                discovery.project(model, document, chosen.parameters) for document in found
            ]
            return Answer(
                200,
                discovery.list_response(
                    resources, total=total, start_index=chosen.query.start_index
                ),
            )

        return work

    def fetch(kind: str, resource_id: str, request: Request) -> Work:
        model = discovery.MODELS[kind]

        async def work(context: scim_users.Request) -> Answer:
            parameters = discovery.read_parameters(
                model,
                request.query_params.get("attributes"),
                request.query_params.get("excludedAttributes"),
            )
            if kind == "User":
                document = await scim_users.get(context, resource_id)
            else:
                document = await scim_groups.get(
                    context, resource_id, members=discovery.wants_members(parameters)
                )
            if request.headers.get("if-none-match") == document["meta"]["version"]:
                return Answer(304)
            return Answer(200, discovery.project(model, document, parameters))

        return work

    for kind, collection in (("User", "/Users"), ("Group", "/Groups")):

        def routes(kind: str = kind, collection: str = collection) -> None:
            model = discovery.MODELS[kind]

            @app.get(collection, name=f"list{kind}s")
            async def list_resources(request: Request) -> Response:
                return await _serve(
                    request, kind, listing(kind, dict(request.query_params)), readonly=True
                )

            @app.post(collection + "/.search", name=f"search{kind}s")
            async def search_resources(request: Request) -> Response:
                read: dict[str, Any] = {}

                async def prepare() -> None:
                    read["values"] = await _body(request)
                    if not isinstance(read["values"], dict):
                        raise ScimError(
                            status=400,
                            scim_type="invalidSyntax",
                            detail="A SearchRequest is an object.",
                        )

                async def work(context: scim_users.Request) -> Answer:
                    return await listing(kind, read["values"])(context)

                return await _serve(request, kind, work, prepare, readonly=True)

            @app.get(collection + "/{resource_id}", name=f"get{kind}")
            async def get_resource(resource_id: str, request: Request) -> Response:
                return await _serve(request, kind, fetch(kind, resource_id, request), readonly=True)

            @app.post(collection, name=f"create{kind}")
            async def create_resource(request: Request) -> Response:
                read: dict[str, Any] = {}

                async def prepare() -> None:
                    payload = await _body(request)
                    if kind == "User":
                        read["resource"] = payloads.user(payload)
                        read["hash"] = await payloads.password_hash(read["resource"].password)
                    else:
                        read["resource"] = payloads.group(payload)

                async def work(context: scim_users.Request) -> Answer:
                    if kind == "User":
                        done = await scim_users.create(
                            context, read["resource"], password_hash=read["hash"]
                        )
                    else:
                        done = await scim_groups.create(context, read["resource"])
                    return Answer(201, done.document, done=done)

                return await _serve(request, kind, work, prepare)

            @app.put(collection + "/{resource_id}", name=f"replace{kind}")
            async def replace_resource(resource_id: str, request: Request) -> Response:
                if_match = request.headers.get("if-match")
                read: dict[str, Any] = {}

                async def prepare() -> None:
                    payload = await _body(request)
                    if kind == "User":
                        read["resource"] = payloads.user(payload, replacing=True)
                        read["hash"] = await payloads.password_hash(read["resource"].password)
                    else:
                        read["resource"] = payloads.group(payload, replacing=True)

                async def work(context: scim_users.Request) -> Answer:
                    if kind == "User":
                        done = await scim_users.replace(
                            context,
                            resource_id,
                            read["resource"],
                            password_hash=read["hash"],
                            if_match=if_match,
                        )
                    else:
                        done = await scim_groups.replace(
                            context, resource_id, read["resource"], if_match=if_match
                        )
                    return Answer(200, done.document, done=done)

                return await _serve(request, kind, work, prepare)

            @app.patch(collection + "/{resource_id}", name=f"patch{kind}")
            async def patch_resource(resource_id: str, request: Request) -> Response:
                if_match = request.headers.get("if-match")
                read: dict[str, Any] = {}

                async def prepare() -> None:
                    payload = await _body(request)
                    read["operations"] = payloads.patch(model, payload)
                    if kind == "User":
                        read["hash"] = await payloads.password_hash(
                            payloads.patch_password(payload)
                        )

                async def work(context: scim_users.Request) -> Answer:
                    if kind == "User":
                        done = await scim_users.patch(
                            context,
                            resource_id,
                            read["operations"],
                            password_hash=read["hash"],
                            if_match=if_match,
                        )
                        return Answer(200, done.document, done=done)
                    done = await scim_groups.patch(
                        context, resource_id, read["operations"], if_match=if_match
                    )
                    wanted = request.query_params.get("attributes") or request.query_params.get(
                        "excludedAttributes"
                    )
                    if wanted:  # the client asked to see the group: RFC 7644 §3.5.2
                        document = await scim_groups.get(context, resource_id)
                        parameters = discovery.read_parameters(
                            model,
                            request.query_params.get("attributes"),
                            request.query_params.get("excludedAttributes"),
                        )
                        return Answer(
                            200, discovery.project(model, document, parameters), done=done
                        )
                    return Answer(204, None, done=done)

                return await _serve(request, kind, work, prepare)

            @app.delete(collection + "/{resource_id}", name=f"delete{kind}")
            async def delete_resource(resource_id: str, request: Request) -> Response:
                if_match = request.headers.get("if-match")

                async def work(context: scim_users.Request) -> Answer:
                    if kind == "User":
                        done = await scim_users.delete(context, resource_id, if_match=if_match)
                    else:
                        done = await scim_groups.delete(context, resource_id, if_match=if_match)
                    return Answer(204, None, done=done)

                return await _serve(request, kind, work)

        routes()

    @app.post("/Bulk")
    async def bulk_request(request: Request) -> Response:
        read: dict[str, Any] = {}

        async def prepare() -> None:
            read["operations"], read["fail_on_errors"] = await bulk.prepare(await _body(request))

        async def work(context: scim_users.Request) -> Answer:
            response, entries = await bulk.run(context, read["operations"], read["fail_on_errors"])
            return Answer(200, response, entries=entries)

        return await _serve(request, None, work, prepare)

    @app.post("/.search")
    async def search_everything(request: Request) -> Response:
        raise NotImplementedException(
            detail="Search /Users/.search or /Groups/.search: a search over every resource "
            "type at once is not supported."
        )

    return app


def refuse(error: TenantryError) -> Response:
    """A refusal made before the request reaches SCIM (a busy server: 503), in SCIM's shape."""
    return _error_response(error.status_code, error.message, None, error.headers)
