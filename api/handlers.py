"""One handler per endpoint, each calling one SQL function of schema recodb."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter
from prometheus_client import CONTENT_TYPE_LATEST
from psycopg_pool import AsyncConnectionPool

from api import schemas as s
from api.errors import (
    BODY_RESPONSES,
    ERROR_RESPONSES,
    TRACK_RESPONSES,
    UNAVAILABLE,
    ErrorBody,
)
from api.metrics import Metrics

RECOMMEND = (
    "select post_id, score, reason, (select model_version from recodb.serving_status())"
    " from recodb.recommend(%s, %s, %s, %s)"
)
TRACK = "select recodb.track_interaction(%s, %s, %s, %s::jsonb)"
SIMILAR = "select post_id, similarity from recodb.similar_posts(%s, %s)"
TRENDING = "select post_id, score from recodb.trending(%s, %s)"
STATUS = "select model_version from recodb.serving_status()"
PING = "select 1"

Limit = Annotated[int, Parameter(ge=1, le=500, description="Rows to return, 1..500.")]
Offset = Annotated[int, Parameter(ge=0, le=s.MAX_OFFSET, description="Rows to skip, 0..10000.")]


async def fetch(pool: AsyncConnectionPool, query: str, params: tuple = ()) -> list[tuple]:
    """The rows of one statement, on a pooled autocommit connection (committed on return)."""
    async with pool.connection() as conn:
        return await (await conn.execute(query, params)).fetchall()


def version_name(version: int | None) -> str | None:
    return None if version is None else f"v{version}"


@get("/health", operation_id="health", opt={"public": True}, responses={
    503: ResponseSpec(s.Health, description="The database is unreachable (status degraded).")
})  # fmt: skip
async def health(state: State) -> Response[s.Health]:
    """Liveness and what serves: the active model's version, and whether the database answers."""
    try:
        version = next(iter(await fetch(state.pool, STATUS)), (None,))[0]
    except UNAVAILABLE:
        body = s.Health("degraded", datetime.now(UTC), None, False, "unreachable")
        headers = {"Retry-After": str(state.settings.retry_after_s)}
        return Response(body, status_code=503, headers=headers)
    model = version_name(version)
    return Response(s.Health("healthy", datetime.now(UTC), model, model is not None, "ok"))


@get("/health/ping", operation_id="ping", opt={"public": True}, responses=ERROR_RESPONSES)
async def ping(state: State) -> dict[str, int]:
    """The cheapest database round trip (`select 1`): a probe, and the benchmark's ceiling."""
    return {"ok": (await fetch(state.pool, PING))[0][0]}


@post("/recommendations/generate", operation_id="generateRecommendations", status_code=200,
      responses=BODY_RESPONSES)  # fmt: skip
async def generate_recommendations(
    data: JSONBody[s.RecommendationRequest], state: State
) -> s.RecommendationResponse:
    """A page of the user's feed, best first (offset 0 computes a fresh slate, later pages
    read it); an unknown user gets the cold-start feed."""
    args = (data.user_id, data.limit, data.offset, data.context.exclude_seen)
    return recommendations(state.metrics, data.user_id, await fetch(state.pool, RECOMMEND, args))


def recommendations(metrics: Metrics, user_id: UUID, rows: list[tuple]) -> s.RecommendationResponse:
    metrics.count_sources(r[2] for r in rows)
    return s.RecommendationResponse(
        user_id=user_id,
        recommendations=[s.Recommendation(r[0], r[1], r[2]) for r in rows],
        metadata=s.RecommendationMetadata(
            total=len(rows),
            model_version=version_name(rows[0][3] if rows else None),
            generated_at=datetime.now(UTC),
        ),
    )


@post("/interactions/track", operation_id="trackInteraction", status_code=202,
      responses=TRACK_RESPONSES)  # fmt: skip
async def track_interaction(data: JSONBody[s.InteractionRequest], state: State) -> s.Tracked:
    """Record one interaction; 202 once it is committed."""
    metadata = None if data.metadata is None else s.metadata_json(data.metadata)
    await fetch(state.pool, TRACK, (data.user_id, data.post_id, data.interaction_type, metadata))
    return s.Tracked()


@get("/posts/{post_id:str}/similar", operation_id="similarPosts", responses=ERROR_RESPONSES)
async def similar_posts(
    post_id: FromPath[UUID], state: State, limit: Limit = 20
) -> s.SimilarPostsResponse:
    """Posts most like this one (cosine of their vectors), most similar first."""
    rows = await fetch(state.pool, SIMILAR, (post_id, limit))
    return s.SimilarPostsResponse(post_id, [s.SimilarPost(*r) for r in rows])


@get("/trending", operation_id="trending", responses=ERROR_RESPONSES)
async def trending(state: State, limit: Limit = 50, offset: Offset = 0) -> s.TrendingResponse:
    """Posts by engagement velocity as of the last refresh, best first."""
    rows = await fetch(state.pool, TRENDING, (limit, offset))
    return s.TrendingResponse([s.TrendingPost(*r) for r in rows])


@get("/metrics", operation_id="metrics", media_type=CONTENT_TYPE_LATEST, responses={
    401: ResponseSpec(ErrorBody, description="A bearer token is required.")
})  # fmt: skip
async def metrics(state: State) -> Response[bytes]:
    """Prometheus text: requests and latency per endpoint, feed sources, pool usage."""
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


HANDLERS = [health, ping, generate_recommendations, similar_posts, trending, metrics]
