"""A post written after training competes on the same terms as trained ones: after one
refresh it has a text vector from the model's own text model and a collaborative vector folded
in from its first engagements, and reaches the feeds of the users whose taste it fits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from recodb.training.fit import Params
from recodb.training.train import train

GROUPS = ("a", "b")
WORDS = {"a": "alpine glacier summit ridge crampon", "b": "harbour sailing anchor regatta keel"}
PARAMS = Params(factors=4, regularization=5.0, alpha=10.0, iterations=20, content_dims=4, seed=1)


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "new-posts/" + name)


@pytest.fixture
def trained(conn: psycopg.Connection) -> psycopg.Connection:
    """Two taste groups of 12 users and 20 posts each, trained; no post written after."""
    rng = np.random.default_rng(3)
    now = datetime.now(UTC)
    rows = []
    for g in GROUPS:
        for i in range(12):
            conn.execute(
                "insert into users (id, username) values (%s, %s)", (_id(f"{g}{i}"), f"{g}{i}")
            )
        for i in range(20):
            conn.execute(
                "insert into posts (id, content, created_at) values (%s, %s, %s)",
                (_id(f"p{g}{i}"), " ".join(rng.permutation(WORDS[g].split())),
                 now - timedelta(days=10)),
            )  # fmt: skip
        for u in range(12):
            for p in rng.choice(20, 10, replace=False):
                when = now - timedelta(hours=float(rng.uniform(30, 200)))
                rows.append((_id(f"{g}{u}"), _id(f"p{g}{p}"), "like", when))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into user_interaction (user_id, post_id, interaction_type, created_at)"
            " values (%s, %s, %s, %s)",
            rows,
        )
    train(conn, PARAMS, validate=False)
    conn.execute("select recodb.refresh()")
    return conn


def _rank(conn: psycopg.Connection, user: uuid.UUID, post: uuid.UUID) -> tuple[int, str] | None:
    rows = conn.execute("select post_id, reason from recodb.recommend(%s, 50)", (user,)).fetchall()
    for n, (p, reason) in enumerate(rows):
        if p == post:
            return n, reason
    return None


def test_a_new_post_reaches_its_taste_group(trained: psycopg.Connection) -> None:
    conn = trained
    new = _id("new-a")
    conn.execute(
        "insert into posts (id, content, created_at) values (%s, %s, now())",
        (new, "glacier ridge summit alpine"),
    )
    # Before any engagement and refresh: no vector, so it can't be a collaborative candidate.
    assert (
        conn.execute("select cf from recodb.post_vector_v1 where post_id = %s", (new,)).fetchone()
        is None
    )
    for u in range(6):  # half of group a likes it
        conn.execute("select recodb.track_interaction(%s, %s, 'like')", (_id(f"a{u}"), new))
    steps = dict(conn.execute("select * from recodb.refresh()").fetchall())
    assert "new post vectors" in steps

    cf, content = conn.execute(
        "select cf::real[], content::real[] from recodb.post_vector_v1 where post_id = %s", (new,)
    ).fetchone()
    assert cf is not None and content is not None
    # Its text vector is that of group a's posts.
    nearest = conn.execute(
        "select q.post_id from recodb.post_vector_v1 p, recodb.post_vector_v1 q"
        " where p.post_id = %s and q.post_id <> p.post_id"
        " order by p.content <=> q.content limit 5",
        (new,),
    ).fetchall()
    assert {p for (p,) in nearest} <= {_id(f"pa{i}") for i in range(20)}

    # The other half of group a gets it, as a collaborative candidate; group b ranks it lower.
    ranks_a = [_rank(conn, _id(f"a{u}"), new) for u in range(6, 12)]
    assert all(r is not None and r[1] == "collaborative_filtering" for r in ranks_a), ranks_a
    scores = {}
    for g in GROUPS:
        scores[g] = [
            -conn.execute(
                "select p.cf <#> u.cf from recodb.post_vector_v1 p, recodb.user_vector_v1 u"
                " where p.post_id = %s and u.user_id = %s",
                (new, _id(f"{g}{u}")),
            ).fetchone()[0]
            for u in range(6, 12)
        ]
    assert min(scores["a"]) > max(scores["b"])
