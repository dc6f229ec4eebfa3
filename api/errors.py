"""Errors as HTTP answers: bad input is a 4xx naming the field, an unreachable or slow database
a 503 with Retry-After, anything else a logged 500."""

from __future__ import annotations

import asyncio
import logging
import re

import psycopg
from litestar import Request, Response
from litestar.exceptions import HTTPException, TooManyRequestsException
from litestar.openapi import ResponseSpec
from msgspec import Struct
from psycopg_pool import PoolTimeout, TooManyRequests

logger = logging.getLogger("recodb.api")

# The database is down, restarting, unreachable, or refused a connection.
UNAVAILABLE = (psycopg.OperationalError, PoolTimeout, TooManyRequests)

# Arguments of the SQL functions, by the request field that carries them.
_FIELDS = {
    "p_user_id": "user_id",
    "p_post_id": "post_id",
    "p_type": "interaction_type",
    "p_metadata": "metadata",
    "p_limit": "limit",
    "p_offset": "offset",
    "p_exclude_seen": "context.exclude_seen",
}
_ARGUMENT = re.compile(r"\bp_[a-z_]+\b")
_UNKNOWN = re.compile(r"^unknown (user|post)\b")


class FieldError(Struct):
    key: str
    message: str


class ErrorBody(Struct):
    status_code: int
    detail: str
    extra: list[FieldError] | None = None


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(ErrorBody, description=description, generate_examples=False)


ERROR_RESPONSES = {
    401: _spec("A bearer token is required (when configured)."),
    422: _spec("The database refused an argument (named)."),
    503: _spec("The database is unreachable or too slow (with Retry-After)."),
}
BODY_RESPONSES = {
    **ERROR_RESPONSES,
    413: _spec("The body is larger than 16 KiB."),
    415: _spec("The body is not application/json."),
}
TRACK_RESPONSES = {**BODY_RESPONSES, 429: _spec("Past the client's tracking rate limit.")}


def _answer(status: int, detail: str, extra=None, headers=None) -> Response[ErrorBody]:
    return Response(ErrorBody(status, detail, extra), status_code=status, headers=headers)


def invalid_argument(_: Request, exc: psycopg.errors.InvalidParameterValue) -> Response:
    """SQLSTATE 22023 from a recodb function: a 422 naming the request field."""
    message = _ARGUMENT.sub(lambda m: _FIELDS.get(m.group(), m.group()), exc.diag.message_primary)
    match = _ARGUMENT.search(exc.diag.message_primary) or _UNKNOWN.search(message)
    if match and match.group().startswith("p_"):
        key = _FIELDS.get(match.group(), match.group())
    elif match:
        key = f"{match.group(1)}_id"
    else:
        key = "body"
    return _answer(422, message, [FieldError(key, message)])


def unavailable(request: Request, exc: Exception) -> Response:
    """503 + Retry-After; a broken connection also has the pool check the idle ones, so that
    stale connections left by an outage are dropped at once rather than one per request."""
    state = request.app.state
    if isinstance(exc, psycopg.errors.QueryCanceled):
        detail = (
            f"the database did not answer within {state.settings.statement_timeout_ms} ms; "
            "retry later"
        )
    else:
        detail = "the database is unavailable; retry later"
        if isinstance(exc, psycopg.OperationalError) and (
            state.pool_check is None or state.pool_check.done()
        ):
            state.pool_check = asyncio.get_running_loop().create_task(state.pool.check())
    logger.warning(detail, extra={"error": str(exc).strip(), "path": request.url.path})
    return _answer(503, detail, headers={"Retry-After": str(state.settings.retry_after_s)})


def too_many_requests(_: Request, exc: TooManyRequestsException) -> Response:
    """429 from the rate limit, with Retry-After: the seconds until its window resets."""
    headers = dict(exc.headers or {})
    headers["Retry-After"] = str(max(1, int(headers.get("RateLimit-Reset", 1))))
    return _answer(429, "too many tracking requests from this client; retry later", None, headers)


def http_error(_: Request, exc: HTTPException) -> Response:
    """Litestar's own 4xx (validation, auth, size, content type) in the same shape."""
    extra = exc.extra if isinstance(exc.extra, list) else None
    fields = [
        FieldError(str(e.get("key") or "body"), str(e.get("message", ""))) for e in extra or []
    ]
    return _answer(exc.status_code, exc.detail, fields or None, exc.headers)


def server_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return _answer(500, "internal server error")


EXCEPTION_HANDLERS = {
    psycopg.errors.InvalidParameterValue: invalid_argument,
    psycopg.errors.QueryCanceled: unavailable,
    psycopg.OperationalError: unavailable,
    PoolTimeout: unavailable,
    TooManyRequests: unavailable,
    TooManyRequestsException: too_many_requests,
    HTTPException: http_error,
    Exception: server_error,
}
