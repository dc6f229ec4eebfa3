"""Request and response bodies (msgspec structs); their bounds appear in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta, Struct

MAX_METADATA_BYTES = 4096
MAX_OFFSET = 10_000  # a session's slate holds at most 500 posts; far pages are empty anyway

Limit = Annotated[int, Meta(ge=1, le=500, description="Rows to return, 1..500.")]
Offset = Annotated[int, Meta(ge=0, le=MAX_OFFSET, description="Rows to skip, 0..10000.")]
InteractionType = Literal["view", "click", "like", "comment", "share"]
Reason = Literal["collaborative_filtering", "following", "content", "fresh", "trending"]


class FeedContext(Struct, forbid_unknown_fields=True):
    exclude_seen: bool = True
    """Leave out posts the user already interacted with."""


class RecommendationRequest(Struct, forbid_unknown_fields=True):
    user_id: UUID
    limit: Limit = 50
    offset: Offset = 0
    context: FeedContext = msgspec.field(default_factory=FeedContext)


class Recommendation(Struct):
    post_id: UUID
    score: Annotated[float, Meta(ge=0, le=1)]
    reason: Reason


class RecommendationMetadata(Struct):
    total: int
    model_version: str | None
    generated_at: datetime


class RecommendationResponse(Struct):
    user_id: UUID
    recommendations: list[Recommendation]
    metadata: RecommendationMetadata


class InteractionRequest(Struct, forbid_unknown_fields=True):
    user_id: UUID
    post_id: UUID
    interaction_type: InteractionType
    metadata: (
        Annotated[
            dict[str, Any],
            Meta(description=f"A JSON object of at most {MAX_METADATA_BYTES} bytes."),
        ]
        | None
    ) = None

    def __post_init__(self) -> None:
        if self.metadata is None:
            return
        encoded = metadata_json(self.metadata)
        size = len(encoded.encode())
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"metadata: at most {MAX_METADATA_BYTES} bytes of JSON, got {size}")
        if "\\u0000" in encoded:  # PostgreSQL's jsonb can't hold NUL
            raise ValueError("metadata: must not contain the NUL character \\u0000")


def metadata_json(metadata: dict[str, Any]) -> str:
    return msgspec.json.encode(metadata).decode()


class Tracked(Struct):
    status: Literal["tracked"] = "tracked"


class SimilarPost(Struct):
    post_id: UUID
    similarity: Annotated[float, Meta(ge=0, le=1)]


class SimilarPostsResponse(Struct):
    post_id: UUID
    similar: list[SimilarPost]


class TrendingPost(Struct):
    post_id: UUID
    score: Annotated[float, Meta(ge=0, le=1)]


class TrendingResponse(Struct):
    posts: list[TrendingPost]


class Health(Struct):
    status: Literal["healthy", "degraded"]
    timestamp: datetime
    model_version: str | None
    model_loaded: bool
    database: Literal["ok", "unreachable"]
