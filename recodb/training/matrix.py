"""Interactions out of the database and into a users × posts confidence matrix.

Reading is one binary COPY with ids mapped to dense indices in SQL; the confidence of a
(user, post) pair is Σ type weight × 0.5^(age / half-life), both from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import psycopg
import scipy.sparse as sp
from psycopg import sql

from recodb import binary_copy
from recodb.data.dataset import DAY_US, INTERACTION_TYPES

# Interactions that count as relevant in validation and evaluation: a plain view is too weak.
RELEVANT_TYPES = tuple(INTERACTION_TYPES.index(t) for t in ("click", "like", "comment", "share"))


@dataclass
class Interactions:
    """Interactions in a window, with users and posts mapped to dense indices.

    `post_ids` covers every post (content vectors need them all); `user_ids` the users who
    interacted in the window.
    """

    user_ids: np.ndarray  # (n_users, 16) uint8, index -> uuid
    post_ids: np.ndarray  # (n_posts, 16) uint8
    user: np.ndarray  # int32 per interaction
    post: np.ndarray  # int32
    kind: np.ndarray  # int8 index into INTERACTION_TYPES
    created: np.ndarray  # int64 µs since the Unix epoch
    since_us: int
    until_us: int
    post_texts: list[str] = field(default_factory=list)  # by post index, when read
    # By post index, read with the text: who wrote it (null: no author) and when.
    post_author: np.ndarray | None = None  # (n_posts, 16) uint8
    post_author_null: np.ndarray | None = None  # bool
    post_created: np.ndarray | None = None  # int64 µs since the Unix epoch

    @property
    def last_us(self) -> int:
        """The newest interaction: the reference time of decay, so that a frozen dataset
        trains to the same model whenever it runs."""
        return int(self.created.max()) if len(self.created) else self.until_us

    def select(self, mask: np.ndarray) -> Interactions:
        return replace(
            self,
            user=self.user[mask],
            post=self.post[mask],
            kind=self.kind[mask],
            created=self.created[mask],
        )


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def read_interactions(
    conn: psycopg.Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    with_text: bool = False,
) -> Interactions:
    """Read the window [since, until) with binary COPY; ids are mapped to indices in SQL.

    With `with_text`, also every post's text, read in the same snapshot.
    """
    until = until or datetime.now(UTC)
    since = since or datetime(1970, 1, 1, tzinfo=UTC)
    window = sql.SQL("created_at >= {} and created_at < {}").format(
        sql.Literal(since), sql.Literal(until)
    )
    kind_code = sql.SQL("case i.interaction_type {} end::int2").format(
        sql.SQL(" ").join(
            sql.SQL("when {} then {}").format(sql.Literal(t), sql.Literal(n))
            for n, t in enumerate(INTERACTION_TYPES)
        )
    )
    with conn.transaction():
        conn.execute(
            sql.SQL(
                "create temp table train_user on commit drop as"
                " select user_id as id, (row_number() over (order by user_id) - 1)::int4 as idx"
                " from (select distinct user_id from user_interaction where {}) s"
            ).format(window)
        )
        conn.execute(
            "create temp table train_post on commit drop as"
            " select id, (row_number() over (order by id) - 1)::int4 as idx from posts"
        )
        for table in ("train_user", "train_post"):
            conn.execute(sql.SQL("create unique index on {} (id)").format(sql.Identifier(table)))
            conn.execute(sql.SQL("analyze {}").format(sql.Identifier(table)))
        users = binary_copy.copy_out(
            conn, sql.SQL("select id from train_user order by idx"), {"id": "V16"}
        )
        posts = binary_copy.copy_out(
            conn, sql.SQL("select id from train_post order by idx"), {"id": "V16"}
        )
        rows = binary_copy.copy_out(
            conn,
            sql.SQL(
                "select u.idx, p.idx, {}, i.created_at from user_interaction i"
                " join train_user u on u.id = i.user_id join train_post p on p.id = i.post_id"
                " where i.{}"
            ).format(kind_code, window),
            {"user": ">i4", "post": ">i4", "kind": ">i2", "created": ">i8"},
        )
        texts = []
        details = None
        if with_text:
            with conn.cursor() as cur:
                cur.execute(
                    "select coalesce(p.content, '') from train_post t join posts p using (id)"
                    " order by t.idx"
                )
                texts = [row[0] for row in cur]
            details = binary_copy.copy_out(
                conn,
                sql.SQL(
                    "select coalesce(p.author_id, '00000000-0000-0000-0000-000000000000'),"
                    " (p.author_id is null)::int::int2, p.created_at"
                    " from train_post t join posts p using (id) order by t.idx"
                ),
                {"author": "V16", "no_author": ">i2", "created": ">i8"},
            )
    return Interactions(
        user_ids=np.frombuffer(users["id"].tobytes(), np.uint8).reshape(-1, 16),
        post_ids=np.frombuffer(posts["id"].tobytes(), np.uint8).reshape(-1, 16),
        user=rows["user"].astype(np.int32),
        post=rows["post"].astype(np.int32),
        kind=rows["kind"].astype(np.int8),
        created=rows["created"].astype(np.int64) + binary_copy.PG_EPOCH_US,
        since_us=_us(since),
        until_us=_us(until),
        post_texts=texts,
        post_author=None
        if details is None
        else np.frombuffer(details["author"].tobytes(), np.uint8).reshape(-1, 16),
        post_author_null=None if details is None else details["no_author"].astype(bool),
        post_created=None
        if details is None
        else details["created"].astype(np.int64) + binary_copy.PG_EPOCH_US,
    )


def read_settings(conn: psycopg.Connection) -> dict:
    rows = conn.execute(
        "select key, value from recodb.setting"
        " where key in ('interaction_weights', 'training_half_life_days', 'neighbour_count')"
    ).fetchall()
    return dict(rows)


def confidence_matrix(
    data: Interactions, weights: dict[str, float], half_life_days: float, reference_us: int
) -> sp.csr_matrix:
    """users × posts: Σ over interactions of type weight × 0.5^(age / half-life)."""
    type_weight = np.array([float(weights[t]) for t in INTERACTION_TYPES])[data.kind]
    age_days = (reference_us - data.created) / DAY_US
    values = type_weight * np.power(0.5, np.maximum(age_days, 0) / half_life_days)
    shape = (len(data.user_ids), len(data.post_ids))
    matrix = sp.csr_matrix((values.astype(np.float32), (data.user, data.post)), shape=shape)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    return matrix
