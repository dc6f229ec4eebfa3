"""The model registry: versions, their vector tables, activation, rollback and pruning.

Switching models is `recodb.activate_model()` / `recodb.rollback_model()` in SQL: one
transaction updating registry rows. Readers look the active version up in the same snapshot as
they read its vectors, so they see the old model or the new one, never a mixture, and nothing
blocks them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from recodb import binary_copy
from recodb.errors import RecodbError
from recodb.training.fit import user_profiles

if TYPE_CHECKING:
    import scipy.sparse as sp

    from recodb.training.fit import TextModel
    from recodb.training.matrix import Interactions


class RegistryError(RecodbError):
    """A registry operation that can't be done (with the reason the database gave)."""


def model_table(conn: psycopg.Connection, kind: str, version: int) -> sql.Composable:
    """A version's post or user vector table, to compose into a query; the naming rule is
    `recodb.model_table_name()`'s (which quotes it as an identifier)."""
    name = conn.execute("select recodb.model_table_name(%s, %s)", (kind, version)).fetchone()[0]
    return sql.SQL(name)


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
    data: Interactions,
    matrix: sp.csr_matrix,
    user_f: np.ndarray,
    post_f: np.ndarray,
    post_content: np.ndarray,
    post_content_null: np.ndarray,
    text_model: TextModel | None = None,
    neighbours: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Create the version's tables and COPY the vectors in (inside the caller's transaction):
    every post of `data` (its collaborative vector null when `matrix` has none of it, its text
    vector, author and time), the users `matrix` has interactions of, with their text profile
    and, given `neighbours` (fit.nearest_users() of those users' vectors), their nearest users
    and similarities."""
    profile, profile_null = user_profiles(matrix, post_content)
    post_has_cf = np.diff(matrix.tocsc().indptr) > 0
    user_has_cf = np.diff(matrix.indptr) > 0
    conn.execute(
        "select recodb.create_model_tables(%s, %s, %s)",
        (version, post_f.shape[1], post_content.shape[1]),
    )

    def content(values: np.ndarray, null: np.ndarray) -> binary_copy.Column:
        return binary_copy.Vector(values, null) if values.shape[1] else binary_copy.Null()

    binary_copy.copy_arrays(
        conn,
        model_table(conn, "post", version),
        {
            "post_id": binary_copy.Uuid(data.post_ids),
            "cf": binary_copy.Vector(post_f, ~post_has_cf),
            "content": content(post_content, post_content_null),
            "author_id": binary_copy.Uuid(data.post_author, data.post_author_null),
            "created_at": binary_copy.Timestamp(data.post_created),
        },
    )
    binary_copy.copy_arrays(
        conn,
        model_table(conn, "user", version),
        {
            "user_id": binary_copy.Uuid(data.user_ids[user_has_cf]),
            "cf": binary_copy.Vector(user_f[user_has_cf]),
            "content": content(profile[user_has_cf], profile_null[user_has_cf]),
        }
        | (
            {
                "neighbours": binary_copy.UuidArray(data.user_ids[user_has_cf][neighbours[0]]),
                "neighbour_similarities": binary_copy.RealArray(neighbours[1]),
            }
            if neighbours is not None and neighbours[0].shape[1]
            else {}
        ),
    )
    if text_model is not None and post_content.shape[1]:
        binary_copy.copy_arrays(
            conn,
            model_table(conn, "term", version),
            {
                "term": binary_copy.Text(text_model.terms),
                "idf": binary_copy.Float(text_model.idf, 4),
                "vector": binary_copy.Vector(text_model.components),
            },
        )


def build_indexes(
    conn: psycopg.Connection, version: int, on_step: Callable[[str], None] | None = None
) -> dict[str, float]:
    """Keys, HNSW graphs, text lists and statistics, one `recodb.model_index_steps()` step at
    a time; returns each step's seconds."""
    step = on_step or (lambda _: None)
    seconds = {}
    for (name,) in conn.execute("select step from recodb.model_index_steps()").fetchall():
        step(name)
        started = time.perf_counter()
        conn.execute("select recodb.index_model_table(%s, %s)", (version, name))
        seconds[name] = round(time.perf_counter() - started, 3)
    return seconds


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
        if not conn.execute("select recodb.drop_model_tables(%s, 60)", (version,)).fetchone()[0]:
            raise RegistryError(
                "a session has held the model tables for a minute (a transaction left open?); "
                "nothing was changed"
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
