"""The one place that maps domain errors to HTTP statuses and renders them as JSON or HTML."""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from expertloop import errors, text
from expertloop.web.templating import render

log = logging.getLogger("expertloop.web")

STATUS_BY_ERROR: dict[type[errors.ExpertLoopError], int] = {
    errors.NotFound: 404,
    errors.PermissionDenied: 403,
    errors.AuthenticationRequired: 401,
    errors.RateLimited: 429,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.ValidationFailed: 422,
    errors.SchemaOutOfDateError: 503,
    errors.ConfigurationError: 500,
}

_LOC_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})
_PYDANTIC_BRANCHES = frozenset({"str", "int", "float", "bool", "function-after", "function-before"})
_LENGTH_TYPES = frozenset({"string_too_long", "string_too_short", "too_long", "too_short"})

_HTTP_CODES = {
    400: "bad_request",
    401: "authentication_required",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


def status_for(exc: errors.ExpertLoopError) -> int:
    """Return the HTTP status for a domain error (most specific class wins)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def wants_json(request: Request) -> bool:
    """Tell whether the caller is an API client rather than a page."""
    return request.url.path.startswith("/api/")


def _json(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def _html(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    # The request's transaction may be rolled back by now: the page uses only the viewer snapshot.
    context = {"status": status, "message": message, "user": None}
    response = render(request, "error.html", context, status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _render(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if wants_json(request):
        return _json(status, code, message, details, headers)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    return _html(request, status, message, headers)


async def domain_error(request: Request, exc: Exception) -> Response:
    """Render a domain error with its mapped status."""
    assert isinstance(exc, errors.ExpertLoopError)
    status = status_for(exc)
    headers = None
    if isinstance(exc, errors.RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, errors.AuthenticationRequired) and wants_json(request):
        headers = {"WWW-Authenticate": "Bearer"}
    if status >= 500:
        log.error("configuration error: %s", exc.message)
    return _render(request, status, exc.code, exc.message, exc.details, headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Render routing and protocol errors (unknown path, wrong method) in our format."""
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404:
        message = "Not found."
    return _render(request, exc.status_code, code, message, headers=dict(exc.headers or {}))


def _label(loc: tuple[Any, ...]) -> str:
    """Name the field at ``loc`` as a person would ("body.rubric.3" -> "Rubric item 4")."""
    parts = list(loc[1:] if loc and loc[0] in _LOC_SOURCES else loc)
    while parts and isinstance(parts[-1], str) and parts[-1] in _PYDANTIC_BRANCHES:
        parts.pop()  # a union branch's tag ("str", "list[...]") names no field
    if not parts:
        return "The request body"
    *_, last = parts
    if isinstance(last, int) and len(parts) > 1:
        return f"{text.field_label(str(parts[-2]))} item {last + 1}"
    return text.field_label(str(last))


def _length(err: Any) -> int | None:
    value = err.get("input")
    return len(value) if isinstance(value, str | list | tuple | dict) else None


def _friendly(err: Any) -> str:
    """Say what is wrong with one field in words (the length, never the value itself)."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "json_invalid":  # its loc ends in a character offset, not a field
        return "The request body is not valid JSON."
    label = _label(tuple(err.get("loc", ())))
    length = _length(err)
    # An optional text field reports its length limit as a generic "too_long" on the string.
    if isinstance(err.get("input"), str) and kind in ("too_long", "too_short"):
        kind = "string_" + kind
    if kind == "string_too_long" and length is not None:
        return text.too_long_message(label, length, int(ctx.get("max_length", 0)))
    if kind == "too_long" and length is not None:
        return f"{label} has too many items: {length:,}, at most {int(ctx.get('max_length', 0)):,}."
    if kind == "string_too_short":
        minimum = int(ctx.get("min_length", 1))
        if minimum <= 1:
            return f"{label} must not be empty."
        return f"{label} is too short: {length or 0:,} characters, at least {minimum:,}."
    if kind == "too_short":
        return f"{label} needs at least {int(ctx.get('min_length', 1)):,} items."
    if kind == "missing":
        return f"{label} is required."
    if kind in (text.CONTROL_CHARACTER, text.LINE_BREAK):
        # The validator's own message, named after where the field sits in this request.
        if kind == text.LINE_BREAK:
            return text.line_break_message(label)
        return text.control_message(
            label, chr(int(str(ctx["code_point"])[2:], 16)), int(ctx["position"])
        )
    detail = str(err.get("msg", "")).removeprefix("Value error, ")
    return f"{label}: {detail}" + ("" if detail.endswith((".", "?", "!")) else ".")


async def validation_error(request: Request, exc: Exception) -> Response:
    """Explain what is wrong with the request in words, without echoing its values back."""
    assert isinstance(exc, RequestValidationError)
    problems: list[dict[str, Any]] = []
    for err in exc.errors():
        problem: dict[str, Any] = {
            "loc": [str(part) for part in err.get("loc", ())],
            "type": err.get("type", ""),
            "message": _friendly(err),
        }
        # The limits and the length, so a client can say the same in its own words.
        for key in ("max_length", "min_length", "code_point", "position"):
            if key in (err.get("ctx") or {}):
                problem[key] = err["ctx"][key]
        if problem["type"] in _LENGTH_TYPES and _length(err) is not None:
            problem["length"] = _length(err)
        problems.append(problem)
    message = " ".join(p["message"] for p in problems)
    return _render(
        request, 422, "invalid_request", message or "Invalid request.", {"problems": problems}
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """Log the traceback with a reference; show the user only the reference."""
    reference = secrets.token_hex(6)
    log.exception(
        "unhandled error (reference %s) on %s %s",
        reference,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return _render(
        request, 500, "internal_error", f"Something went wrong on our side (reference {reference})."
    )


async def integrity_error(request: Request, exc: Exception) -> Response:
    """A uniqueness race lost at the database: the same answer as the domain's own check."""
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc)
    return _render(request, 409, "conflict", "This conflicts with something that already exists.")


async def stale_error(request: Request, exc: Exception) -> Response:
    """Another request changed the row between our read and our write."""
    return _render(request, 409, "conflict", "This was changed meanwhile; reload and try again.")


async def out_of_range(request: Request, exc: Exception) -> Response:
    """A number or date beyond what the database or calendar holds: the input's fault."""
    log.info("out-of-range input on %s %s: %s", request.method, request.url.path, exc)
    return _render(
        request, 422, "invalid_request", "A number or date in the request is out of range."
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(errors.ExpertLoopError, domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(StaleDataError, stale_error)
    app.add_exception_handler(OverflowError, out_of_range)
    app.add_exception_handler(DataError, out_of_range)
    app.add_exception_handler(Exception, unexpected_error)
