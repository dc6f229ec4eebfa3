"""Load a generated Dataset into the database (users, posts, follows, interactions, truth)
with binary COPY, in one transaction (`recodb seed`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from recodb import binary_copy
from recodb.bulkload import bulk_load, engagement_suspended
from recodb.data.dataset import INTERACTION_TYPES, Dataset
from recodb.errors import RecodbError
from recodb.training import registry

APP_TABLES = ("users", "posts", "follows", "user_interaction", "recodb.slate")
TRUTH_TABLES = ("recodb.synthetic_user", "recodb.synthetic_post", "recodb.synthetic_dataset")


@dataclass(frozen=True)
class Loaded:
    rows: dict[str, int]
    models_removed: int


class AlreadySeeded(RecodbError):
    """The database holds data and the caller did not ask to replace it."""


def existing_rows(conn: psycopg.Connection) -> dict[str, int]:
    """Tables of the app that hold rows (estimated counts are not enough: any row counts)."""
    found = {}
    for table in ("users", "posts", "user_interaction"):
        name = sql.Identifier(table)
        if conn.execute(sql.SQL("select exists (select from {})").format(name)).fetchone()[0]:
            found[table] = conn.execute(sql.SQL("select count(*) from {}").format(name)).fetchone()[
                0
            ]
    return found


def already_seeded_message(found: dict[str, int]) -> str:
    summary = ", ".join(f"{n:,} {t}" for t, n in found.items())
    return (
        f"the database already holds data ({summary}); nothing was changed. Pass --replace to "
        "delete it and load the new data in its place"
    )


def load(
    conn: psycopg.Connection,
    ds: Dataset,
    *,
    replace: bool = False,
    on_step: Callable[[str], None] | None = None,
    on_rows: Callable[[str, int], None] | None = None,
) -> Loaded:
    """Write `ds` in one transaction; refuse (AlreadySeeded) when data exists unless `replace`.

    Returns the number of rows written per table and of model versions removed.
    """
    step = on_step or (lambda _: None)
    rows = on_rows or (lambda _t, _n: None)
    counts: dict[str, int] = {}
    with conn.transaction():
        # Hold off concurrent writers while deciding; the truncate takes stronger locks anyway.
        conn.execute("lock table users, posts, user_interaction in share row exclusive mode")
        found = existing_rows(conn)
        if found and not replace:
            raise AlreadySeeded(already_seeded_message(found))
        # Models describe the users and posts being replaced: they go too.
        removed = registry.remove_all(conn)
        with (
            engagement_suspended(conn),
            bulk_load(conn, APP_TABLES + TRUTH_TABLES + ("recodb.engagement",), on_step=step),
        ):
            step("users")
            counts["users"] = binary_copy.copy_arrays(
                conn,
                "users",
                {
                    "id": binary_copy.Uuid(ds.user_id),
                    "username": binary_copy.Text(ds.username),
                    "created_at": binary_copy.Timestamp(ds.user_created),
                },
                on_rows=lambda k: rows("users", k),
            )
            step("posts")
            counts["posts"] = binary_copy.copy_arrays(
                conn,
                "posts",
                {
                    "id": binary_copy.Uuid(ds.post_id),
                    "author_id": binary_copy.Uuid(ds.user_id[ds.post_author]),
                    "created_at": binary_copy.Timestamp(ds.post_created),
                    "content": binary_copy.Text(ds.post_text),
                },
                on_rows=lambda k: rows("posts", k),
            )
            step("follows")
            counts["follows"] = binary_copy.copy_arrays(
                conn,
                "follows",
                {
                    "follower_id": binary_copy.Uuid(ds.user_id[ds.follow_src]),
                    "followee_id": binary_copy.Uuid(ds.user_id[ds.follow_dst]),
                    "created_at": binary_copy.Timestamp(ds.follow_created),
                },
                on_rows=lambda k: rows("follows", k),
            )
            step("interactions")
            counts["user_interaction"] = _copy_interactions(conn, ds, rows)
            step("ground truth")
            _copy_truth(conn, ds)
            step("engagement")
            conn.execute("select recodb.rebuild_engagement()")
    return Loaded(counts, removed)


def _copy_interactions(conn, ds: Dataset, rows) -> int:
    # Gather ids per chunk: a full (n, 16) copy of user and post ids would double the memory.
    total = 0
    chunk = 2_000_000
    for start in range(0, ds.n_interactions, chunk):
        part = slice(start, start + chunk)
        total += binary_copy.copy_arrays(
            conn,
            "user_interaction",
            {
                "id": binary_copy.Uuid(ds.interaction_id[part]),
                "user_id": binary_copy.Uuid(ds.user_id[ds.interaction_user[part]]),
                "post_id": binary_copy.Uuid(ds.post_id[ds.interaction_post[part]]),
                "interaction_type": binary_copy.Category(
                    ds.interaction_type[part], INTERACTION_TYPES
                ),
                "created_at": binary_copy.Timestamp(ds.interaction_created[part]),
            },
            on_rows=lambda k: rows("user_interaction", k),
        )
    return total


def _copy_truth(conn, ds: Dataset) -> None:
    binary_copy.copy_arrays(
        conn,
        "recodb.synthetic_user",
        {
            "user_id": binary_copy.Uuid(ds.user_id),
            "topic_weights": binary_copy.RealArray(ds.user_topic_weights),
            "activity": binary_copy.Float(ds.user_activity, 4),
        },
    )
    binary_copy.copy_arrays(
        conn,
        "recodb.synthetic_post",
        {
            "post_id": binary_copy.Uuid(ds.post_id),
            "topic": binary_copy.Int(ds.post_topic, 2),
            "quality": binary_copy.Float(ds.post_quality, 4),
        },
    )
    conn.execute(
        "insert into recodb.synthetic_dataset (params, topics, generated_at) values (%s, %s, %s)",
        (
            json.dumps(ds.params),
            ds.topics,
            datetime.fromtimestamp(ds.end_us / 1e6, UTC),
        ),
    )


def shift_to_now(ds: Dataset) -> int:
    """Move the dataset's timestamps so that its end is now; returns the shift in µs."""
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000)
    delta = now_us - ds.end_us
    ds.shift_time(delta)
    return delta
