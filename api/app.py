"""`create_app()`: the Litestar app over recodb's SQL functions."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from litestar import Litestar, Router
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from api import handlers, logs
from api.errors import EXCEPTION_HANDLERS
from api.metrics import Metrics, metrics_middleware
from api.settings import ApiSettings

# Bodies are a few hundred bytes; metadata is capped at 4 KiB (schemas.MAX_METADATA_BYTES).
MAX_BODY_BYTES = 16 * 1024


def require_token(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """With RECODB_API_TOKEN set, every route but the public ones needs `Bearer <token>`."""
    token = connection.app.state.settings.api_token
    if token is None or handler.opt.get("public"):
        return
    scheme, _, given = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise NotAuthorizedException(
            "a valid bearer token is required: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_json(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A body must say it is JSON: 415 otherwise (Litestar would parse it whatever it says)."""
    if connection.scope["method"] != "POST":
        return
    media_type = connection.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise HTTPException(
            status_code=415,
            detail=f"content-type: expected application/json, got {media_type or 'none'}",
        )


def _pool(url: str, settings: ApiSettings) -> AsyncConnectionPool:
    timeout = sql.SQL("set statement_timeout = {}").format(
        sql.Literal(f"{settings.statement_timeout_ms}ms")
    )

    async def configure(conn: psycopg.AsyncConnection) -> None:
        await conn.execute(timeout)

    return AsyncConnectionPool(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_s,
        reconnect_timeout=settings.reconnect_timeout_s,
        kwargs={"autocommit": True, "application_name": "recodb-api"},
        configure=configure,
        name="recodb-api",
        open=False,
    )


def create_app(settings: ApiSettings | None = None) -> Litestar:
    """The app; settings default to the environment (see api/settings.py)."""
    settings = settings or ApiSettings()
    logs.configure(settings.log_level)
    if settings.database_url:
        url = settings.database_url
    else:
        from recodb import db

        url = db.resolve().url
    pool = _pool(url, settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Don't wait for the database: the app starts (and answers 503) while it is down.
        await pool.open(wait=False)
        try:
            yield
        finally:
            await pool.close()

    tracking_middleware = []
    if settings.track_rate_limit is not None:
        limit = RateLimitConfig(rate_limit=settings.track_rate_limit)  # type: ignore[arg-type]
        tracking_middleware.append(limit.middleware)
    tracking = Router(
        "/", route_handlers=[handlers.track_interaction], middleware=tracking_middleware
    )

    return Litestar(
        route_handlers=[*handlers.HANDLERS, tracking],
        state=State(
            {
                "settings": settings,
                "pool": pool,
                "metrics": Metrics(pool),
                "pool_check": None,
            }
        ),
        lifespan=[lifespan],
        guards=[require_token, require_json],
        middleware=[metrics_middleware],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="recodb",
            version="0.1.0",
            description="A Postgres-native recommender: feeds, tracking, similar and trending "
            "posts, each served by one SQL function of schema recodb.",
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
            security=[{"bearer": []}] if settings.api_token else None,
        ),
        logging_config=None,
    )
