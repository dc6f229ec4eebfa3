"""Offline evaluation through the real serving path.

The past (interactions before a split time T) is copied into a scratch database with every
timestamp moved so that T is now; recodb trains there and refreshes its views, then
`recodb.recommend` is asked for each test user's feed. A post is relevant to a user when they
clicked, liked, commented on or shared it after T, it existed at T, and they had not touched it
before T. The same users are scored for the baselines: random, most popular, trending (recent
popularity, as most feeds serve it without a model), collaborative only (the trained vectors
ranked by exact inner product: no blend, no other source), the seed's user-KNN (scikit-learn
NearestNeighbors, cosine, k = 10, on the type-weighted matrix) and, on generated data, an
oracle that knows each user's topic weights and each post's quality. Every metric comes with a
95 % bootstrap interval over users.

Protocols for the database's own data: `time` (the last `test_days` are the test), and
`user-latest` / `random` (each user's latest or random posts are the test, as in training's
validation: the rest of the data is the past, moved so that its newest interaction is now; a
held-out post is relevant when it existed before the user's first held-out interaction).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from recodb import Step, db, schema
from recodb.bulkload import bulk_load, engagement_suspended
from recodb.data import importer
from recodb.data.dataset import FRESHNESS_TAU_US, INTERACTION_TYPES
from recodb.errors import RecodbError
from recodb.evaluation.metrics import (
    bootstrap_interval,
    coverage,
    mean_metrics,
    per_user_metrics,
)
from recodb.training import registry
from recodb.training.fit import Params
from recodb.training.matrix import (
    RELEVANT_TYPES,
    Interactions,
    confidence_matrix,
    read_interactions,
    read_settings,
)
from recodb.training.train import train
from recodb.training.validation import held_out, user_split

# (collaborative, content, recency) blends and recency half-lives tried by --tune-blend.
BLENDS = [
    (0.7, 0.2, 0.1), (0.6, 0.2, 0.2), (0.5, 0.2, 0.3), (0.4, 0.2, 0.4),
    (0.3, 0.2, 0.5), (0.5, 0.1, 0.4), (0.4, 0.3, 0.3), (0.5, 0.0, 0.5),
]  # fmt: skip
HALF_LIVES = [12, 24, 48]


class EvaluationError(RecodbError):
    """An evaluation that can't run on this data (with why)."""


@dataclass(frozen=True)
class Options:
    """How an evaluation runs, whatever the data source."""

    ks: tuple[int, ...] = (5, 10, 20)
    max_users: int = 1000  # test users scored at most (a seeded sample)
    params: Params | None = None  # None: the active model's parameters, else the defaults
    seed: int = 42
    keep_scratch: bool = False
    tune_blend: bool = False
    protocol: str = "time"  # time, user-latest or random (the database's own data)
    learn_blend: bool = True  # train in the scratch database with validation and a blend
    on_step: Step | None = None


@dataclass
class Report:
    split_at: datetime
    users: int
    catalogue: int
    ks: list[int]
    metrics: dict[str, dict[str, float]]  # method -> {"ndcg@10": ...}
    params: dict
    timings: dict[str, float] = field(default_factory=dict)
    scratch_url: str | None = None  # kept with keep_scratch
    blend_search: list[dict] = field(default_factory=list)  # with tune_blend, best first
    # method -> {"ndcg@10": [low, high]}: 95 % bootstrap intervals over users
    intervals: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    protocol: str = "time"
    blend: dict | None = None  # the blend the scratch model learned

    def to_json(self) -> dict:
        return {
            "protocol": self.protocol,
            "split_at": self.split_at.isoformat(),
            "users": self.users,
            "catalogue": self.catalogue,
            "ks": self.ks,
            "metrics": self.metrics,
            "intervals": self.intervals,
            "params": self.params,
            "blend": self.blend,
            "timings": self.timings,
            "blend_search": self.blend_search,
        }


def _scratch_name() -> str:
    return f"recodb_eval_{uuid.uuid4().hex[:10]}"


def _copy_table(src: psycopg.Connection, dst: psycopg.Connection, select: sql.Composable,
                table: str, columns: list[str]) -> None:  # fmt: skip
    """Stream `select` from one database into `table` of another, in binary."""
    target = sql.SQL("copy {} ({}) from stdin (format binary)").format(
        sql.SQL(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with (
        src.cursor().copy(sql.SQL("copy ({}) to stdout (format binary)").format(select)) as out,
        dst.cursor().copy(target) as into,
    ):
        for chunk in out:
            into.write(chunk)


def _load_past(
    src: psycopg.Connection, dst: psycopg.Connection, split: datetime, held: str | None = None
) -> None:
    """Users, posts, follows and interactions before `split`, moved in time so split = now.

    With `held` (a temp table of `src` with user_id, post_id), interactions on those pairs are
    left out too, and the newest interaction is the split (split = the last one, included).
    """
    now = dst.execute("select now()").fetchone()[0]
    shift = sql.Literal(now - split)
    cut = sql.Literal(split)
    keep = sql.SQL("true")
    if held is not None:
        keep = sql.SQL(
            "not exists (select from {} h where h.user_id = i.user_id and h.post_id = i.post_id)"
        ).format(sql.Identifier(held))
        cut = sql.Literal(split + timedelta(microseconds=1))
    tables = ("users", "posts", "follows", "user_interaction", "recodb.engagement")
    with dst.transaction(), engagement_suspended(dst), bulk_load(dst, tables):
        _copy_table(
            src, dst,
            sql.SQL("select id, username, external_id, created_at + {} from users").format(shift),
            "users", ["id", "username", "external_id", "created_at"],
        )  # fmt: skip
        _copy_table(
            src, dst,
            sql.SQL(
                "select id, author_id, content, external_id, created_at + {} from posts"
                " where created_at <= {}"
            ).format(shift, cut),
            "posts", ["id", "author_id", "content", "external_id", "created_at"],
        )  # fmt: skip
        _copy_table(
            src, dst,
            sql.SQL(
                "select f.follower_id, f.followee_id, f.created_at + {} from follows f"
                " where f.created_at <= {}"
            ).format(shift, cut),
            "follows", ["follower_id", "followee_id", "created_at"],
        )  # fmt: skip
        _copy_table(
            src, dst,
            sql.SQL(
                "select i.id, i.user_id, i.post_id, i.interaction_type, i.metadata,"
                " i.created_at + {} from user_interaction i join posts p on p.id = i.post_id"
                " where i.created_at < {} and p.created_at <= {} and {}"
            ).format(shift, cut, cut, keep),
            "user_interaction",
            ["id", "user_id", "post_id", "interaction_type", "metadata", "created_at"],
        )  # fmt: skip
        dst.execute("select recodb.rebuild_engagement()")


def _relevant_after(
    src: psycopg.Connection, split: datetime, until: datetime
) -> dict[uuid.UUID, set[uuid.UUID]]:
    codes = [INTERACTION_TYPES[i] for i in RELEVANT_TYPES]
    rows = src.execute(
        """
        select i.user_id, i.post_id
        from user_interaction i join posts p on p.id = i.post_id
        where i.created_at >= %(split)s and i.created_at <= %(until)s
          and i.interaction_type = any(%(types)s) and p.created_at <= %(split)s
          and not exists (select from user_interaction b where b.user_id = i.user_id
                          and b.post_id = i.post_id and b.created_at < %(split)s)
        """,
        {"split": split, "until": until, "types": codes},
    ).fetchall()
    relevant: dict[uuid.UUID, set[uuid.UUID]] = {}
    for user, post in rows:
        relevant.setdefault(user, set()).add(post)
    return relevant


def _baselines(
    scratch: psycopg.Connection,
    users: list[uuid.UUID],
    kmax: int,
    seed: int,
    truth_conn: psycopg.Connection | None,
) -> dict[str, dict[uuid.UUID, list[uuid.UUID]]]:
    """Rankings of the baselines, from the training data in the scratch database."""
    from sklearn.neighbors import NearestNeighbors

    data = read_interactions(scratch)
    # The seed's matrix: summed type weights, no time decay (an infinite half-life).
    weights = read_settings(scratch)["interaction_weights"]
    matrix = confidence_matrix(data, weights, float("inf"), data.last_us)
    shape = matrix.shape
    post_uuid = [uuid.UUID(bytes=b.tobytes()) for b in data.post_ids]
    user_index = {uuid.UUID(bytes=b.tobytes()): i for i, b in enumerate(data.user_ids)}
    rng = np.random.default_rng(seed)
    popularity = np.asarray(matrix.sum(axis=0)).ravel()
    by_popularity = np.argsort(-popularity, kind="stable")

    # Trending: recent popularity as a feed without a model serves it (the trending view's
    # window and half-life), then the most popular.
    settings = dict(scratch.execute(
        "select key, value from recodb.setting"
        " where key in ('trending_window_hours', 'trending_half_life_hours')"
    ).fetchall())  # fmt: skip
    window_us = float(settings["trending_window_hours"]) * 3600e6
    recent = data.select(data.created >= data.last_us - window_us)
    recent_matrix = confidence_matrix(
        recent, weights, float(settings["trending_half_life_hours"]) / 24, data.last_us
    )
    velocity = np.asarray(recent_matrix.sum(axis=0)).ravel()
    by_trending = np.lexsort((-popularity, -velocity))
    post_cf, has_cf, user_cf = _model_vectors(scratch, post_uuid, users)

    knn = NearestNeighbors(n_neighbors=min(11, shape[0]), metric="cosine", algorithm="brute")
    knn.fit(matrix)
    out: dict[str, dict] = {
        "random": {}, "most popular": {}, "trending": {}, "collaborative only": {}, "user-KNN": {},
    }  # fmt: skip

    def top_unseen(order: np.ndarray, seen: set[int]) -> list[uuid.UUID]:
        picked = []
        for p in order:
            if p not in seen:
                picked.append(post_uuid[p])
                if len(picked) == kmax:
                    break
        return picked

    for user in users:
        u = user_index.get(user)
        seen = set(matrix[u].indices.tolist()) if u is not None else set()
        out["random"][user] = top_unseen(rng.permutation(shape[1]), seen)
        out["most popular"][user] = top_unseen(by_popularity[: kmax + len(seen)], seen)
        out["trending"][user] = top_unseen(by_trending[: kmax + len(seen)], seen)
        if user in user_cf:
            scores = np.where(has_cf, post_cf @ user_cf[user], -np.inf)
            top = np.argpartition(-scores, min(len(scores) - 1, kmax + len(seen)))
            top = top[: kmax + len(seen) + 1]
            out["collaborative only"][user] = top_unseen(top[np.lexsort((top, -scores[top]))], seen)
        else:  # no vector: what collaborative ranking can't serve, popularity does
            out["collaborative only"][user] = out["most popular"][user]
        if u is None or matrix[u].nnz == 0:
            out["user-KNN"][user] = out["most popular"][user]  # no history: no neighbours
            continue
        distances, neighbours = knn.kneighbors(matrix[u], return_distance=True)
        mask = neighbours[0] != u
        sims = 1 - distances[0][mask]
        scores = np.asarray(matrix[neighbours[0][mask]].T @ sims).ravel()
        candidates = np.flatnonzero(scores > 0)
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        ranked = top_unseen(order, seen)
        if len(ranked) < kmax:  # too few neighbour items: fill with the most popular
            extra = [p for p in top_unseen(by_popularity[: 2 * kmax + len(seen)], seen)
                     if p not in ranked]  # fmt: skip
            ranked += extra[: kmax - len(ranked)]
        out["user-KNN"][user] = ranked

    if truth_conn is not None:
        out["oracle"] = _oracle(truth_conn, scratch, users, kmax, matrix, user_index, post_uuid)
    return out


def _model_vectors(
    scratch: psycopg.Connection, post_uuid: list[uuid.UUID], users: list[uuid.UUID]
) -> tuple[np.ndarray, np.ndarray, dict[uuid.UUID, np.ndarray]]:
    """The active model's post cf vectors by post index, which posts have one, and the test
    users' cf vectors (as served: trained plus folded in)."""
    version = registry.active_version(scratch)
    table = registry.model_table(scratch, "post", version)
    rows = scratch.execute(
        sql.SQL("select post_id, cf::real[] from {} where cf is not null").format(table)
    ).fetchall()
    index = {p: i for i, p in enumerate(post_uuid)}
    factors = len(rows[0][1]) if rows else 1
    post_cf = np.zeros((len(post_uuid), factors), np.float32)
    has = np.zeros(len(post_uuid), bool)
    for post, vector in rows:
        if post in index:
            post_cf[index[post]] = vector
            has[index[post]] = True
    weights = scratch.execute(
        "select value from recodb.setting where key = 'interaction_weights'"
    ).fetchone()[0]
    user_cf = {}
    for user in users:
        (vector,) = scratch.execute(
            "select t.cf::real[] from recodb.user_taste(%s, %s, %s) t",
            (user, version, Jsonb(weights)),
        ).fetchone()
        if vector is not None:
            user_cf[user] = np.asarray(vector, np.float32)
    return post_cf, has, user_cf


def _oracle(truth_conn, scratch, users, kmax, matrix, user_index, post_uuid):
    """Rank by the generator's own taste model: topic weight × quality × freshness at T."""
    truth = dict(truth_conn.execute("select user_id, topic_weights from recodb.synthetic_user"))
    post_truth = {
        p: (t, q)
        for p, t, q in truth_conn.execute(
            "select post_id, topic, quality from recodb.synthetic_post"
        )
    }
    ages = dict(scratch.execute("select id, extract(epoch from now() - created_at) from posts"))
    tau = FRESHNESS_TAU_US / 1e6  # the generator's own freshness time constant
    known = [i for i, p in enumerate(post_uuid) if p in post_truth]
    topic = np.array([post_truth[post_uuid[i]][0] for i in known])
    base = np.array(
        [post_truth[post_uuid[i]][1] * np.exp(-float(ages[post_uuid[i]]) / tau) for i in known]
    )
    known = np.array(known)
    ranked = {}
    for user in users:
        weights = truth.get(user)
        if weights is None:
            ranked[user] = []
            continue
        scores = np.asarray(weights)[topic] * base
        u = user_index.get(user)
        if u is not None:
            seen = np.isin(known, matrix[u].indices)
            scores[seen] = -1
        top = np.argpartition(-scores, min(kmax, len(scores) - 1))[:kmax]
        top = top[np.argsort(-scores[top], kind="stable")]
        ranked[user] = [post_uuid[known[i]] for i in top]
    return ranked


def evaluate(
    database: db.Database, *, test_days: float = 2.0, options: Options | None = None
) -> Report:
    """Evaluate the serving path on the database's own data (options.protocol)."""
    options = options or Options()
    if options.protocol not in ("time", "user-latest", "random"):
        raise EvaluationError(
            f"protocol must be time, user-latest or random, got {options.protocol!r}"
        )
    with database.connect(autocommit=True) as src:
        last = src.execute("select max(created_at) from user_interaction").fetchone()[0]
        if last is None:
            raise EvaluationError("there are no interactions to evaluate on")
        if options.params is None:
            options = replace(options, params=_active_params(src, options.seed))
        has_truth = src.execute("select exists (select from recodb.synthetic_user)").fetchone()[0]
    if options.protocol == "time":
        split = last - timedelta(days=test_days)
        with database.connect(autocommit=True) as src:
            relevant = _relevant_after(src, split, last)

        def load(dst: psycopg.Connection) -> None:
            with database.connect(autocommit=True) as src:
                _load_past(src, dst, split)

        held_conn = None
    else:
        # The held-out pairs live in a temporary table of this session, used by the load.
        held_conn = database.connect(autocommit=True)
        split = last
        relevant = _hold_out_per_user(held_conn, options.protocol, options.seed)

        def load(dst: psycopg.Connection) -> None:
            _load_past(held_conn, dst, last, held="held_pair")

    truth = database.connect(autocommit=True) if has_truth else None
    try:
        return _run(database, load, relevant, split, options, truth)
    finally:
        for conn in (truth, held_conn):
            if conn is not None:
                conn.close()


def _hold_out_per_user(
    src: psycopg.Connection, protocol: str, seed: int
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """Hold out each user's latest (or random) posts, as training's validation does, into temp
    table held_pair (user_id, post_id, cut); returns the relevant held-out posts per user."""
    data = read_interactions(src)
    _, held = user_split(data, latest=protocol == "user-latest", seed=seed)
    keys = np.unique(held.user.astype(np.int64) * len(data.post_ids) + held.post)
    users, posts = keys // len(data.post_ids), keys % len(data.post_ids)
    cut = np.full(len(data.user_ids), np.iinfo(np.int64).max)
    np.minimum.at(cut, held.user, held.created)
    src.execute(
        "create temp table held_pair (user_id uuid, post_id uuid, cut timestamptz,"
        " primary key (user_id, post_id))"
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    with src.cursor().copy("copy held_pair from stdin") as copy:
        for u, p in zip(users.tolist(), posts.tolist(), strict=True):
            copy.write_row(
                (
                    uuid.UUID(bytes=data.user_ids[u].tobytes()),
                    uuid.UUID(bytes=data.post_ids[p].tobytes()),
                    epoch + timedelta(microseconds=int(cut[u])),
                )
            )
    src.execute("analyze held_pair")
    codes = [INTERACTION_TYPES[i] for i in RELEVANT_TYPES]
    rows = src.execute(
        """
        select distinct h.user_id, h.post_id
        from held_pair h
        join posts p on p.id = h.post_id
        join user_interaction i on i.user_id = h.user_id and i.post_id = h.post_id
        where i.interaction_type = any(%s) and p.created_at <= h.cut
        """,
        (codes,),
    ).fetchall()
    relevant: dict[uuid.UUID, set[uuid.UUID]] = {}
    for user, post in rows:
        relevant.setdefault(user, set()).add(post)
    return relevant


def split_log(
    log: importer.ParsedLog, protocol: str = "user-latest", seed: int = 42
) -> tuple[importer.ParsedLog, importer.ParsedLog]:
    """(train, test) of a parsed log by the per-user rule `evaluate --protocol` uses: from every
    user with enough history, their latest (or random) posts are the test, with every
    interaction on them (validation.user_split). Titles go with both halves."""
    if protocol not in ("user-latest", "random"):
        raise EvaluationError(f"protocol must be user-latest or random, got {protocol!r}")
    users, user_index = np.unique(np.array(log.users, dtype=object), return_inverse=True)
    posts, post_index = np.unique(np.array(log.items, dtype=object), return_inverse=True)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    created = np.array([(t - epoch) // timedelta(microseconds=1) for t in log.times], np.int64)
    data = Interactions(
        user_ids=np.zeros((len(users), 16), np.uint8),
        post_ids=np.zeros((len(posts), 16), np.uint8),
        user=user_index.astype(np.int32),
        post=post_index.astype(np.int32),
        kind=np.array([INTERACTION_TYPES.index(k) for k in log.types], np.int8),
        created=created,
        since_us=int(created.min()),
        until_us=int(created.max()) + 1,
    )
    held = held_out(data, latest=protocol == "user-latest", seed=seed)

    def part(index: np.ndarray) -> importer.ParsedLog:
        return importer.ParsedLog(
            users=[log.users[i] for i in index],
            items=[log.items[i] for i in index],
            types=[log.types[i] for i in index],
            ratings=[log.ratings[i] for i in index],
            times=[log.times[i] for i in index],
            titles=dict(log.titles),
        )

    return part(np.flatnonzero(~held)), part(np.flatnonzero(held))


def evaluate_files(
    database: db.Database,
    train_path: Path,
    test_path: Path,
    fmt: str,
    *,
    options: Options | None = None,
) -> Report:
    """Evaluate on a split given as two interaction logs (the import formats; the report's
    protocol is "files"). The scratch training uses `options.params`, else the active model's
    parameters (as `evaluate` does), so a tuned model is evaluated with what tuning found."""
    options = options or Options()
    past = importer.parse(train_path, fmt)
    future = importer.parse(test_path, fmt)
    split = max(past.times)
    known_posts = {importer.post_uuid(i) for i in past.items}
    touched = {
        (importer.user_uuid(u), importer.post_uuid(i))
        for u, i in zip(past.users, past.items, strict=True)
    }
    strong = {INTERACTION_TYPES[i] for i in RELEVANT_TYPES}
    relevant: dict[uuid.UUID, set[uuid.UUID]] = {}
    for u, i, kind in zip(future.users, future.items, future.types, strict=True):
        user, post = importer.user_uuid(u), importer.post_uuid(i)
        if kind in strong and post in known_posts and (user, post) not in touched:
            relevant.setdefault(user, set()).add(post)

    def load(dst: psycopg.Connection) -> None:
        now = dst.execute("select now()").fetchone()[0]
        past.times = [t + (now - split) for t in past.times]
        importer.load(dst, past, source=fmt)

    if options.params is None:
        with database.connect(autocommit=True) as conn:
            options = replace(options, params=_active_params(conn, options.seed))
    return _run(database, load, relevant, split, replace(options, protocol="files"), None)


def _run(
    database: db.Database,
    load: Callable[[psycopg.Connection], None],
    relevant: dict[uuid.UUID, set[uuid.UUID]],
    split: datetime,
    options: Options,
    truth_conn: psycopg.Connection | None,
) -> Report:
    """Load the past into a scratch database, train, serve the test users, score everyone."""
    step = options.on_step or (lambda _: None)
    ks, max_users, seed, params = options.ks, options.max_users, options.seed, options.params
    assert params is not None
    timings: dict[str, float] = {}
    started = time.perf_counter()
    users = sorted(relevant)
    if not users:
        raise EvaluationError(f"no user interacted with an existing post after {split}")
    if len(users) > max_users:
        picked = np.random.default_rng(seed).choice(len(users), max_users, replace=False)
        users = sorted(users[i] for i in picked)
    relevant = {u: relevant[u] for u in users}
    kmax = max(ks)
    server = database.url
    name = _scratch_name()
    try:
        db.create_database_if_missing(server, name)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise EvaluationError(
            "evaluation needs to create a scratch database (CREATEDB privilege)"
        ) from exc
    scratch_url = db.with_dbname(server, name)
    try:
        step("scratch database")
        schema.upgrade(scratch_url)
        with psycopg.connect(scratch_url, autocommit=True) as dst:
            _copy_settings(server, dst)
            t = time.perf_counter()
            step("copy the past")
            load(dst)
            timings["copy"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            # The views first: learning the blend serves the validation users through them.
            dst.execute("select recodb.refresh()")
            trained = train(
                dst, params, validate=options.learn_blend, learn_blend=options.learn_blend,
                on_step=lambda s: step(f"train: {s}"),
            )  # fmt: skip
            blend = dst.execute(
                "select blend from recodb.model where version = %s", (trained.version,)
            ).fetchone()[0]
            timings["train"] = round(time.perf_counter() - t, 2)
            dst.execute("select recodb.refresh()")
            catalogue = dst.execute("select count(*) from posts").fetchone()[0]

            step(f"serve {len(users)} users")
            t = time.perf_counter()
            rankings: dict[str, dict] = {"recodb": _serve(dst, users, kmax)}
            timings["serve"] = round(time.perf_counter() - t, 2)
            blend_search = []
            if options.tune_blend:
                t = time.perf_counter()
                blend_search = _search_blend(dst, users, kmax, relevant, ks, step)
                timings["tune blend"] = round(time.perf_counter() - t, 2)

            step("baselines")
            t = time.perf_counter()
            rankings |= _baselines(dst, users, kmax, seed, truth_conn)
            timings["baselines"] = round(time.perf_counter() - t, 2)
    finally:
        if not options.keep_scratch:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
                )

    metrics, intervals = {}, {}
    for method, ranked in rankings.items():
        metrics[method] = mean_metrics(ranked, relevant, ks)
        metrics[method]["coverage@10"] = coverage(ranked, 10, catalogue)
        # The same resamples of users for every method (one seed), so intervals compare.
        intervals[method] = {
            name: list(bootstrap_interval(values, seed=seed))
            for name, values in per_user_metrics(ranked, relevant, ks).items()
        }
    timings["total"] = round(time.perf_counter() - started, 2)
    described = params.model_params() | {"algorithm": params.algorithm}
    return Report(
        split, len(users), catalogue, list(ks), metrics, described, timings,
        scratch_url if options.keep_scratch else None, blend_search, intervals,
        options.protocol, blend,
    )  # fmt: skip


def _serve(conn: psycopg.Connection, users: list, k: int) -> dict:
    """Each user's top k from recodb.recommend(), as a fresh slate."""
    conn.execute("delete from recodb.slate")
    return {
        user: [
            r[0] for r in conn.execute("select post_id from recodb.recommend(%s, %s)", (user, k))
        ]
        for user in users
    }


def _copy_settings(server: str, dst: psycopg.Connection) -> None:
    """Serve the scratch database with this database's settings (candidates per source,
    half-lives, a pinned blend, ...): the evaluation scores what this database would serve."""
    with psycopg.connect(server) as src:
        rows = src.execute("select key, value from recodb.setting").fetchall()
    with dst.transaction():
        for key, value in rows:
            dst.execute("update recodb.setting set value = %s where key = %s", (Jsonb(value), key))


def _set_blend(
    conn: psycopg.Connection, blend_weights: dict, half_life_hours: float, pinned: int = 1
) -> None:
    """Write a blend into the settings, pinned (so that it wins over a learned blend)."""
    with conn.transaction():
        for key, value in (("blend_weights", blend_weights),
                           ("recency_half_life_hours", half_life_hours),
                           ("blend_weights_pinned", pinned)):  # fmt: skip
            conn.execute("update recodb.setting set value = %s where key = %s", (Jsonb(value), key))


def _search_blend(conn, users, kmax, relevant, ks, step) -> list[dict]:
    """Serve the test users under each blend and half-life; results best first by NDCG.
    The settings are restored afterwards, whatever happens."""
    mid = 10 if 10 in ks else ks[len(ks) // 2]
    saved = dict(
        conn.execute(
            "select key, value from recodb.setting"
            " where key in ('blend_weights', 'recency_half_life_hours', 'blend_weights_pinned')"
        ).fetchall()
    )
    results = []
    try:
        for n, ((c, t, r), hours) in enumerate(itertools.product(BLENDS, HALF_LIVES), 1):
            step(f"blend {n}/{len(BLENDS) * len(HALF_LIVES)}")
            weights = {"collaborative": c, "content": t, "recency": r}
            _set_blend(conn, weights, hours)
            metrics = mean_metrics(_serve(conn, users, kmax), relevant, ks)
            results.append(
                {"blend_weights": weights, "recency_half_life_hours": hours, "metrics": metrics}
            )
    finally:
        _set_blend(
            conn, saved["blend_weights"], saved["recency_half_life_hours"],
            saved["blend_weights_pinned"],
        )  # fmt: skip
    return sorted(results, key=lambda r: -r["metrics"][f"ndcg@{mid}"])


def apply_blend(database: db.Database, best: dict) -> None:
    """Write a blend found by the search into the database's settings."""
    with database.connect(autocommit=True) as conn:
        _set_blend(conn, best["blend_weights"], best["recency_half_life_hours"])


def _active_params(conn: psycopg.Connection, seed: int) -> Params:
    """The active model's parameters (a tuned model's tuned ones), else the defaults."""
    active = conn.execute(
        "select algorithm, params from recodb.model where status = 'active'"
    ).fetchone()
    return Params.from_stored(*active) if active else Params(seed=seed)


def store(database: db.Database, report: Report) -> int | None:
    """Keep the evaluation on the active model version (whose configuration was evaluated)."""
    with database.connect(autocommit=True) as conn:
        version = registry.active_version(conn)
        if version is None:
            return None
        conn.execute(
            "update recodb.model"
            " set metrics = metrics || jsonb_build_object('evaluation', %s::jsonb)"
            " where version = %s",
            (json.dumps(report.to_json()), version),
        )
        return version


def chart(report: Report, path: Path) -> Path:
    """Metric vs K per method, one panel per metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ("ndcg", "precision", "recall", "map")
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.6), constrained_layout=True)
    for ax, name in zip(axes, names, strict=True):
        for method, values in report.metrics.items():
            ys = np.array([values[f"{name}@{k}"] for k in report.ks])
            bounds = report.intervals.get(method, {})
            if all(f"{name}@{k}" in bounds for k in report.ks):
                low = np.array([bounds[f"{name}@{k}"][0] for k in report.ks])
                high = np.array([bounds[f"{name}@{k}"][1] for k in report.ks])
                yerr = np.clip(np.vstack([ys - low, high - ys]), 0, None)
                ax.errorbar(report.ks, ys, yerr=yerr, marker="o", capsize=3, label=method)
            else:
                ax.plot(report.ks, ys, marker="o", label=method)
        ax.set_title(f"{name.upper() if name in ('ndcg', 'map') else name.capitalize()}@K")
        ax.set_xlabel("K")
        ax.set_xticks(report.ks)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"recodb evaluate ({report.protocol}): {report.users} users, "
        f"split {report.split_at:%Y-%m-%d %H:%M}; bars: 95 % bootstrap intervals",
        fontsize=10,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
