"""The model registry: versions, their vector tables, activation, rollback and pruning.

Switching models is `recodb.activate_model()` / `recodb.rollback_model()` in SQL: one
transaction updating registry rows. Readers look the active version up in the same snapshot as
they read its vectors, so they see the old model or the new one, never a mixture, and nothing
blocks them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from recodb import pgcopy


class RegistryError(RuntimeError):
    """A registry operation that can't be done (with the reason)."""


def vector_table(kind: str, version: int) -> sql.Identifier:
    """recodb.post_vector_v<N> or recodb.user_vector_v<N>."""
    if kind not in ("post", "user"):
        raise ValueError(kind)
    return sql.Identifier("recodb", f"{kind}_vector_v{int(version)}")


def create_version(conn: psycopg.Connection, params) -> int:
    return conn.execute(
        "insert into recodb.model (algorithm, params, status) values (%s, %s, 'training')"
        " returning version",
        (params.algorithm, Jsonb(params.model_params())),
    ).fetchone()[0]


def fail_stale_trainings(conn: psycopg.Connection) -> int:
    """Mark `training` rows failed: the caller holds the training lock, so nobody runs them."""
    return conn.execute(
        "update recodb.model set status = 'failed',"
        " error = 'interrupted: the training process ended before finishing'"
        " where status = 'training'"
    ).rowcount


def mark_failed(conn: psycopg.Connection, version: int, exc: BaseException) -> None:
    message = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    # If the connection itself is gone, the next training marks the row failed.
    with contextlib.suppress(psycopg.Error):
        conn.execute(
            "update recodb.model set status = 'failed', error = %s"
            " where version = %s and status = 'training'",
            (message[:2000], version),
        )


def write_vectors(
    conn: psycopg.Connection,
    version: int,
    *,
    post_ids: np.ndarray,
    post_cf: np.ndarray,
    post_cf_null: np.ndarray,
    post_content: np.ndarray,
    post_content_null: np.ndarray,
    user_ids: np.ndarray,
    user_cf: np.ndarray,
    user_content: np.ndarray,
    user_content_null: np.ndarray,
) -> None:
    """Create the version's tables and COPY the vectors in (inside the caller's transaction)."""

    def vector_type(dims: int) -> sql.Composable:
        # A column without vectors (no text to learn from) is left untyped and all NULL.
        return sql.SQL("vector({})").format(sql.Literal(dims)) if dims else sql.SQL("vector")

    f, k = post_cf.shape[1], post_content.shape[1]
    conn.execute(
        sql.SQL("create table {} (post_id uuid not null, cf {}, content {})").format(
            vector_table("post", version), vector_type(f), vector_type(k)
        )
    )
    conn.execute(
        sql.SQL("create table {} (user_id uuid not null, cf {} not null, content {})").format(
            vector_table("user", version), vector_type(f), vector_type(k)
        )
    )

    def content(values: np.ndarray, null: np.ndarray) -> pgcopy.Column:
        return pgcopy.Vector(values, null) if values.shape[1] else pgcopy.Null()

    pgcopy.copy_arrays(
        conn,
        f"recodb.post_vector_v{int(version)}",
        {
            "post_id": pgcopy.Uuid(post_ids),
            "cf": pgcopy.Vector(post_cf, post_cf_null),
            "content": content(post_content, post_content_null),
        },
    )
    pgcopy.copy_arrays(
        conn,
        f"recodb.user_vector_v{int(version)}",
        {
            "user_id": pgcopy.Uuid(user_ids),
            "cf": pgcopy.Vector(user_cf),
            "content": content(user_content, user_content_null),
        },
    )


def build_indexes(
    conn: psycopg.Connection, version: int, on_step: Callable[[str], None] | None = None
) -> None:
    """Keys, then HNSW: inner product for user→post, cosine for post↔post, user↔user and
    user profile→post text."""
    step = on_step or (lambda _: None)
    posts, users = vector_table("post", version), vector_table("user", version)
    name = f"v{int(version)}"
    # The graph builds fastest when it fits in memory (pgvector warns when it doesn't).
    conn.execute("set local maintenance_work_mem = '2GB'")
    conn.execute("set local max_parallel_maintenance_workers = 1")
    statements = [
        ("post keys", "alter table {} add primary key (post_id)", posts, None),
        ("user keys", "alter table {} add primary key (user_id)", users, None),
        ("HNSW post inner product", "create index {} on {} using hnsw (cf vector_ip_ops)",
         posts, f"post_vector_{name}_cf_ip"),
        ("HNSW post cosine", "create index {} on {} using hnsw (cf vector_cosine_ops)",
         posts, f"post_vector_{name}_cf_cos"),
        ("HNSW post content", "create index {} on {} using hnsw (content vector_cosine_ops)",
         posts, f"post_vector_{name}_content_cos"),
        ("HNSW user cosine", "create index {} on {} using hnsw (cf vector_cosine_ops)",
         users, f"user_vector_{name}_cf_cos"),
    ]  # fmt: skip
    has_content = conn.execute(
        "select atttypmod > 0 from pg_attribute where attrelid = %s::regclass"
        " and attname = 'content'",
        (posts.as_string(conn),),
    ).fetchone()[0]
    for label, template, table, index in statements:
        if label == "HNSW post content" and not has_content:
            continue  # no text vectors in this version
        step(label)
        if index is None:
            conn.execute(sql.SQL(template).format(table))
        else:
            conn.execute(sql.SQL(template).format(sql.Identifier(index), table))
    for table in (posts, users):
        conn.execute(sql.SQL("analyze {}").format(table))


def _call(conn: psycopg.Connection, query: str, args: tuple = ()):
    try:
        return conn.execute(query, args).fetchone()[0]
    except psycopg.errors.InvalidParameterValue as exc:
        raise RegistryError(exc.diag.message_primary or str(exc)) from exc


def activate(conn: psycopg.Connection, version: int) -> None:
    _call(conn, "select recodb.activate_model(%s)", (version,))


def rollback(conn: psycopg.Connection) -> int:
    """Re-activate the previously active version; returns it."""
    return _call(conn, "select recodb.rollback_model()")


def prune(conn: psycopg.Connection, keep: int | None = None) -> list[int]:
    """Drop versions beyond the newest `keep` (setting keep_model_versions) besides the active."""
    return _call(conn, "select recodb.prune_models(%s)", (keep,)) or []


def remove_all(conn: psycopg.Connection) -> int:
    """Drop every model version (vectors and registry rows), in the caller's transaction."""
    versions = [r[0] for r in conn.execute("select version from recodb.model").fetchall()]
    for version in versions:
        conn.execute(
            sql.SQL("drop table if exists {}, {}").format(
                vector_table("post", version), vector_table("user", version)
            )
        )
    conn.execute("delete from recodb.model")
    return len(versions)


def active_version(conn: psycopg.Connection) -> int | None:
    row = conn.execute("select version from recodb.model where status = 'active'").fetchone()
    return row[0] if row else None


def list_versions(conn: psycopg.Connection) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select version, status, algorithm, params, factors, content_dims, trained_from,"
            " trained_to, n_users, n_posts, n_interactions, metrics, timings, error, created_at,"
            " activated_at, tuning is not null as tuned from recodb.model order by version desc"
        ).fetchall()
