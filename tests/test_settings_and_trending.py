"""The settings store and the first sql/ function, recodb.trending."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict

import psycopg
import pytest
from psycopg.types.json import Jsonb

from recodb.data import load as loading
from recodb.data.generate import generate

DEFAULTS = {
    "interaction_weights": {"view": 1, "click": 2, "like": 5, "comment": 8, "share": 10},
    "blend_weights": {"collaborative": 0.7, "content": 0.2, "recency": 0.1},
    "recency_half_life_hours": 48,
    "keep_model_versions": 3,
}


def test_defaults(conn: psycopg.Connection) -> None:
    for key, value in DEFAULTS.items():
        assert conn.execute("select recodb.setting_value(%s)", (key,)).fetchone()[0] == value


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("interaction_weights", {"view": 1}, "must be a JSON object with exactly the keys"),
        ("interaction_weights", [1, 2], "must be a JSON object"),
        (
            "interaction_weights",
            {"view": -1, "click": 2, "like": 5, "comment": 8, "share": 10},
            "view must be 0 or a number between 0.001 and 1000, got -1",
        ),
        ("blend_weights", {"collaborative": 0, "content": 0, "recency": 0}, "must not all be 0"),
        ("blend_weights", {"collaborative": "high", "content": 0, "recency": 0}, "a number"),
        ("recency_half_life_hours", 0, "must be a number between 0.1 and 87600, got 0"),
        ("recency_half_life_hours", "48", "must be a number"),
        ("keep_model_versions", 1.5, "must be a whole number"),
    ],
)
def test_bad_values_are_refused(conn: psycopg.Connection, key: str, value, message: str) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=message) as info:
        conn.execute("update recodb.setting set value = %s where key = %s", (Jsonb(value), key))
    assert info.value.sqlstate == "22023"
    assert conn.execute("select recodb.setting_value(%s)", (key,)).fetchone()[0] == DEFAULTS[key]


def test_unknown_setting_is_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown setting"):
        conn.execute(
            "insert into recodb.setting (key, value, description) values ('colour', '1', 'x')"
        )
    # Keys come from migrations only, whatever kind and value the insert gives.
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown setting"):
        conn.execute(
            "insert into recodb.setting (key, value, kind, description)"
            " values ('colour_hours', '-1', 'positive', 'x')"
        )


def test_trending_ranks_weighted_decayed_engagement(conn: psycopg.Connection) -> None:
    ds = generate(200, 500, 8000, seed=11, days=10)
    loading.load(conn, ds)
    assert conn.execute("select count(*) from recodb.trending(20)").fetchone()[0] == 0
    with conn.transaction():  # one now() for the refresh and the expectation
        now = conn.execute("select now()").fetchone()[0].timestamp()
        steps = [r[0] for r in conn.execute("select * from recodb.refresh()").fetchall()]
    assert steps == [
        "engagement (full)",  # the first refresh counts everything
        "trending_post",
        "fresh_post",
        "new post vectors",
        "expired slates",
    ]
    rows = conn.execute("select post_id, score from recodb.trending(20)").fetchall()
    weights = DEFAULTS["interaction_weights"]
    # Each user counts once per post and type: their newest interaction of that type.
    newest: dict[tuple, float] = {}
    for user, post, kind, created in zip(
        ds.interaction_user,
        ds.interaction_post,
        ds.interaction_type,
        ds.interaction_created,
        strict=True,
    ):
        age_hours = (now - created / 1e6) / 3600
        if age_hours < 48:  # trending_window_hours
            key = (int(user), int(post), int(kind))
            newest[key] = min(newest.get(key, math.inf), age_hours)
    engagement: dict[uuid.UUID, float] = defaultdict(float)
    for (_, post, kind), age_hours in newest.items():
        name = ("view", "click", "like", "comment", "share")[kind]
        engagement[uuid.UUID(bytes=ds.post_id[post].tobytes())] += weights[name] * math.pow(
            0.5,
            age_hours / 12,  # trending_half_life_hours
        )
    expected = sorted(engagement.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    top = expected[0][1]
    assert [r[0] for r in rows] == [post for post, _ in expected]
    for (_, score), (_, value) in zip(rows, expected, strict=True):
        assert score == pytest.approx(value / top, rel=1e-6)
    assert rows[0][1] == pytest.approx(1.0)
    assert all(0 < s <= 1 for _, s in rows)


def test_trending_pages_do_not_overlap(conn: psycopg.Connection) -> None:
    loading.load(conn, generate(100, 300, 4000, seed=12, days=5))
    conn.execute("select recodb.refresh()")
    first = conn.execute("select post_id from recodb.trending(10, 0)").fetchall()
    second = conn.execute("select post_id from recodb.trending(10, 10)").fetchall()
    both = conn.execute("select post_id from recodb.trending(20, 0)").fetchall()
    assert first + second == both
    assert not set(first) & set(second)


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (501, 0), (None, 0), (10, -1)])
def test_trending_bad_arguments(conn: psycopg.Connection, limit, offset) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
        conn.execute("select * from recodb.trending(%s, %s)", (limit, offset))
    assert info.value.sqlstate == "22023"
    assert "p_limit" in str(info.value) or "p_offset" in str(info.value)
