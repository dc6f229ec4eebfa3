"""refresh() counts what arrived since it last ran, and its numbers are exactly those of a
full recompute: after new interactions, repeated ones, a bulk insert, new follows, and a
transaction that was still open while a refresh ran."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from recodb.data import load as loading
from recodb.data.generate import generate


def _state(conn: psycopg.Connection) -> dict:
    return {
        "posts": sorted(conn.execute(
            "select post_id, views, clicks, likes, comments, shares, last_interaction_at"
            " from recodb.post_engagement where views + clicks + likes + comments + shares > 0"
        ).fetchall()),
        "authors": sorted(conn.execute(
            "select author_id, followers, round(engagement::numeric, 6),"
            " round(popularity::numeric, 9) from recodb.author_popularity"
            " where followers > 0 or engagement > 0"
        ).fetchall()),
        "likes": sorted((user, tuple(posts)) for user, posts in conn.execute(
            "select user_id, post_ids from recodb.user_recent_likes"
            " where cardinality(post_ids) > 0")),
        # Velocities decay with the clock between two refreshes; their ratios do not.
        "trending": sorted(conn.execute(
            "select post_id, round((velocity / max(velocity) over ())::numeric, 6)"
            " from recodb.trending_post"
        ).fetchall()),
    }  # fmt: skip


def _refresh(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("select step from recodb.refresh()").fetchall()]


def _full(conn: psycopg.Connection) -> dict:
    conn.execute("update recodb.refresh_state set full_needed = true")
    assert _refresh(conn)[0] == "engagement (full)"
    return _state(conn)


@pytest.fixture
def seeded(conn: psycopg.Connection) -> psycopg.Connection:
    loading.load(conn, generate(200, 1500, 15_000, seed=17, topics=5, days=6))
    assert _refresh(conn)[0] == "engagement (full)"
    return conn


def test_incremental_equals_full(seeded: psycopg.Connection, db_url: str) -> None:
    conn = seeded
    users = [r[0] for r in conn.execute("select id from users order by id limit 40")]
    posts = [r[0] for r in conn.execute("select id from posts order by id limit 60")]
    for n, user in enumerate(users):
        for k in range(3):
            post = posts[(n * 7 + k) % len(posts)]
            kind = ("view", "like", "share")[(n + k) % 3]
            conn.execute("select recodb.track_interaction(%s, %s, %s)", (user, post, kind))
    # The same again: each user still counts once per post and type.
    conn.execute("select recodb.track_interaction(%s, %s, 'like')", (users[0], posts[0]))
    conn.execute("select recodb.track_interaction(%s, %s, 'like')", (users[0], posts[0]))
    # A bulk insert in one statement, dated earlier (an import).
    conn.execute(
        "insert into user_interaction (user_id, post_id, interaction_type, created_at)"
        " select u.id, p.id, 'click', now() - interval '3 hours'"
        " from (select id from users order by id desc limit 30) u,"
        "      (select id from posts order by id desc limit 10) p"
    )
    conn.execute(
        "insert into follows (follower_id, followee_id)"
        " select %s, author_id from posts where author_id is not null and author_id <> %s"
        " group by author_id limit 5 on conflict do nothing",
        (users[1], users[1]),
    )
    # A transaction that is still open while the refresh runs: counted by the next one, once.
    with psycopg.connect(db_url) as late:
        late.execute(
            "insert into user_interaction (user_id, post_id, interaction_type)"
            " values (%s, %s, 'share')",
            (users[2], posts[-1]),
        )
        assert _refresh(conn)[0] == "engagement"
        late.commit()
    assert _refresh(conn)[0] == "engagement"
    incremental = _state(conn)
    assert incremental["posts"] and incremental["likes"] and incremental["authors"]
    full = _full(conn)
    for key in incremental:
        assert set(incremental[key]) == set(full[key]), key


def test_a_delete_makes_the_next_refresh_full(seeded: psycopg.Connection) -> None:
    conn = seeded
    post = conn.execute(
        "select post_id from recodb.post_engagement order by views + likes desc limit 1"
    ).fetchone()[0]
    conn.execute("delete from user_interaction where post_id = %s", (post,))
    assert _refresh(conn)[0] == "engagement (full)"
    assert (
        conn.execute(
            "select count(*) from recodb.post_engagement where post_id = %s"
            " and views + clicks + likes + comments + shares > 0",
            (post,),
        ).fetchone()[0]
        == 0
    )
    assert _refresh(conn)[0] == "engagement"


def test_new_weights_recount(seeded: psycopg.Connection) -> None:
    conn = seeded
    conn.execute(
        "update recodb.setting set value = %s where key = 'interaction_weights'",
        ('{"view": 0, "click": 1, "like": 1, "comment": 1, "share": 1}',),
    )
    assert _refresh(conn)[0] == "engagement (full)"
    author = uuid.UUID(int=0)
    assert (
        conn.execute(
            "select count(*) from recodb.author_popularity where author_id = %s", (author,)
        ).fetchone()[0]
        == 0
    )
