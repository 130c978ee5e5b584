"""Domain errors with stable codes, and the one JSON shape they take over HTTP."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("tenantry")


class TenantryError(Exception):
    """An error a person can act on: a stable `code`, a readable `message`, an HTTP status.

    `keep_changes` marks errors whose side effects must still be committed (a
    failed attempt counter, an audit event of a refusal) although the request
    fails.
    """

    status_code = 400
    code = "badRequest"
    keep_changes = False
    # The translation of its message on the web pages, when not `error.<code>` (two causes
    # may share a code a client relies on, yet not their explanation).
    message_key: str | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        target: str | None = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.target = target
        self.details = details or {}
        self.headers = headers

    def to_body(self) -> dict[str, Any]:
        """The JSON body: `{"error": {"code", "message", "target"?, ...details}}`."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        error.update(self.details)
        return {"error": error}


class InvalidRequest(TenantryError):
    status_code = 400
    code = "invalidRequest"


class Unauthorized(TenantryError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "Sign in to continue.", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(TenantryError):
    status_code = 403
    code = "accessDenied"


class NotFound(TenantryError):
    status_code = 404
    code = "notFound"


class Conflict(TenantryError):
    status_code = 409
    code = "conflict"


class Gone(TenantryError):
    status_code = 410
    code = "gone"


class _RetryLater(TenantryError):
    """An error that says when to try again: `Retry-After` and `retryAfterSeconds`."""

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(max(1, retry_after))})
        kwargs.setdefault("details", {"retryAfterSeconds": max(1, retry_after)})
        super().__init__(message, **kwargs)


class TooManyRequests(_RetryLater):
    status_code = 429
    code = "tooManyRequests"


class ServiceUnavailable(_RetryLater):
    status_code = 503
    code = "serviceUnavailable"


DATABASE_RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(ServiceUnavailable):
    """What a request gets when `database_unavailable` says so of its failure."""

    def __init__(self) -> None:
        super().__init__(
            "The service cannot reach its database just now. Try again in a moment.",
            retry_after=DATABASE_RETRY_AFTER_SECONDS,
        )


def database_unavailable(error: Exception) -> bool:
    """Whether `error` says the database cannot be reached or cannot serve now (down,
    restarting, refusing connections, connection lost mid-request, pool exhausted,
    SQLite's lock held past its timeout, its file unreadable or full), rather than
    that our SQL is wrong (SQLite reports "no such column" as an OperationalError too)."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        if isinstance(error.orig, sqlite3.Error):
            text = str(error.orig).lower()
            return any(sign in text for sign in _SQLITE_UNAVAILABLE)
        return True
    return False


_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o", "readonly", "is full")


_STATUS_CODES = {
    400: "badRequest",
    401: "unauthorized",
    403: "accessDenied",
    404: "notFound",
    405: "methodNotAllowed",
    406: "notAcceptable",
    409: "conflict",
    413: "requestTooLarge",
    415: "unsupportedMediaType",
    429: "tooManyRequests",
    503: "serviceUnavailable",
}


def _describe_validation(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "The request is not valid.", None
    first = errors[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    target = ".".join(location) or None
    message = first.get("msg", "invalid value")
    if first.get("type") == "missing":
        message = "is required"
    return (f"{target}: {message}" if target else str(message)), target


def from_http_exception(exc: StarletteHTTPException) -> TenantryError:
    """Starlette's own refusal (a malformed multipart body, an unknown path…) as a domain error."""
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404 and message == "Not Found":
        message = "The resource does not exist."
    return TenantryError(
        message,
        code=_STATUS_CODES.get(exc.status_code, "error"),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def install_handlers(app: FastAPI) -> None:
    """Map every error, expected or not, to the one JSON shape."""

    @app.exception_handler(TenantryError)
    async def _domain_error(_request: Request, exc: TenantryError) -> JSONResponse:
        return JSONResponse(exc.to_body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        message, target = _describe_validation(exc)
        error = InvalidRequest(message, target=target)
        return JSONResponse(error.to_body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = from_http_exception(exc)
        return JSONResponse(
            {"error": {"code": error.code, "message": error.message}},
            status_code=error.status_code,
            headers=error.headers,
        )

    @app.exception_handler(sa_exc.DBAPIError)
    @app.exception_handler(sa_exc.TimeoutError)
    async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
        if not database_unavailable(exc):
            raise exc  # a fault of ours, not of the database: the 500 below
        log.warning("database unavailable: %s", exc)
        error = DatabaseUnavailable()
        return JSONResponse(error.to_body(), status_code=503, headers=error.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            {"error": {"code": "internalError", "message": "Something went wrong on our side."}},
            status_code=500,
        )
