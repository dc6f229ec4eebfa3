"""Seeding: exact row counts, keys and indexes restored, refusal without --replace, atomicity."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest
from helpers import count, dump_schema

from recodb.data import load as loading
from recodb.data.dataset import INTERACTION_TYPES, Dataset
from recodb.data.generate import generate

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def small() -> Dataset:
    return generate(300, 2000, 20_000, seed=3, topics=8, end=END)


def test_seed_writes_every_row(db_url: str, small: Dataset) -> None:
    schema_before = dump_schema(db_url)
    with psycopg.connect(db_url) as conn:
        loaded = loading.load(conn, small)
        assert loaded.models_removed == 0
        assert loaded.rows == {
            "users": 300,
            "posts": 2000,
            "follows": len(small.follow_src),
            "user_interaction": 20_000,
        }
        assert count(conn, "users") == 300
        assert count(conn, "posts") == 2000
        assert count(conn, "follows") == len(small.follow_src)
        assert count(conn, "user_interaction") == 20_000
        assert count(conn, "recodb.synthetic_user") == 300
        assert count(conn, "recodb.synthetic_post") == 2000
        by_type = dict(
            conn.execute(
                "select interaction_type, count(*) from user_interaction group by 1"
            ).fetchall()
        )
        expected = np.bincount(small.interaction_type, minlength=5)
        assert by_type == {t: int(n) for t, n in zip(INTERACTION_TYPES, expected, strict=True)}
        # Rows carry the generator's values: one post, field by field.
        post = conn.execute(
            "select p.id, u.id, p.content, p.created_at from posts p join users u"
            " on u.id = p.author_id where p.id = %s",
            (uuid.UUID(bytes=small.post_id[5].tobytes()),),
        ).fetchone()
        assert post[1] == uuid.UUID(bytes=small.user_id[small.post_author[5]].tobytes())
        assert post[2] == small.post_text[5]
        assert post[3] == datetime.fromtimestamp(small.post_created[5] / 1e6, UTC)
        weights = conn.execute(
            "select topic_weights from recodb.synthetic_user where user_id = %s",
            (uuid.UUID(bytes=small.user_id[0].tobytes()),),
        ).fetchone()[0]
        assert np.allclose(weights, small.user_topic_weights[0])
    # Keys, indexes and foreign keys dropped for the load are all back, exactly.
    assert dump_schema(db_url) == schema_before


def test_seeding_again_is_refused_and_changes_nothing(db_url: str, small: Dataset) -> None:
    other = generate(50, 100, 500, seed=4, end=END)
    with psycopg.connect(db_url) as conn:
        loading.load(conn, small)
        with pytest.raises(loading.AlreadySeeded, match=r"already holds data.*--replace"):
            loading.load(conn, other)
        assert count(conn, "users") == 300
        assert count(conn, "user_interaction") == 20_000


def test_replace_swaps_the_data(db_url: str, small: Dataset) -> None:
    other = generate(50, 100, 500, seed=4, end=END)
    with psycopg.connect(db_url) as conn:
        loading.load(conn, small)
        loading.load(conn, other, replace=True)
        assert count(conn, "users") == 50
        assert count(conn, "posts") == 100
        assert count(conn, "user_interaction") == 500
        assert count(conn, "recodb.synthetic_post") == 100


def test_a_failed_load_leaves_the_previous_data(db_url: str, small: Dataset) -> None:
    broken = generate(50, 100, 500, seed=4, end=END)
    broken.post_id[1] = broken.post_id[0]  # the primary key can't be rebuilt
    schema_before = dump_schema(db_url)
    with psycopg.connect(db_url) as conn:
        loading.load(conn, small)
        with pytest.raises(psycopg.errors.UniqueViolation):
            loading.load(conn, broken, replace=True)
        assert count(conn, "users") == 300
        assert count(conn, "user_interaction") == 20_000
    assert dump_schema(db_url) == schema_before


def test_shift_to_now_moves_every_timestamp(small: Dataset) -> None:
    copy = generate(300, 2000, 20_000, seed=3, topics=8, end=END)
    delta = loading.shift_to_now(copy)
    assert delta > 0
    assert np.array_equal(copy.interaction_created - delta, small.interaction_created)
    assert abs(copy.end_us / 1e6 - datetime.now(UTC).timestamp()) < 60
