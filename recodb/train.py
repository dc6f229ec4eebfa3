"""Training: interactions → confidence matrix → implicit ALS/BPR and TF-IDF/SVD content vectors
→ pgvector tables of a new model version → HNSW indexes → activation.

A version's vectors go to recodb.post_vector_v<N> and recodb.user_vector_v<N>, written and
indexed in one transaction: a failed or interrupted training leaves no half-written tables, its
registry row says `failed`, and the active model keeps serving.
"""

from __future__ import annotations

import resource
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import psycopg
import scipy.sparse as sp
from psycopg import sql
from psycopg.types.json import Jsonb
from threadpoolctl import threadpool_limits

from recodb import pgcopy, registry
from recodb.generate import DAY_US, INTERACTION_TYPES
from recodb.metrics import mean_metrics

Step = Callable[[str], None]
TRAIN_LOCK = "recodb.train"
# Interactions that count as relevant in validation: a plain view is too weak a signal.
RELEVANT_TYPES = (1, 2, 3, 4)  # click, like, comment, share


@dataclass(frozen=True)
class Params:
    """Hyperparameters of one training run."""

    algorithm: str = "als"
    # Defaults from `recodb train --tune --trials 24` on generated data (20k users, 200k
    # posts, 2M interactions): few factors and a gentle confidence scale won (NDCG@10 0.0088
    # against 0.0044 for 64 factors, α 5, λ 1).
    factors: int = 16
    regularization: float = 0.01
    alpha: float = 1.0
    iterations: int = 25
    learning_rate: float = 0.05  # BPR only
    content_dims: int = 32
    seed: int = 42

    def __post_init__(self) -> None:
        if self.algorithm not in ("als", "bpr"):
            raise ValueError(f"algorithm must be als or bpr, got {self.algorithm!r}")
        for name in ("factors", "iterations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("regularization", "alpha", "learning_rate"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.content_dims < 0:
            raise ValueError(f"content_dims must be >= 0, got {self.content_dims}")

    def model_params(self) -> dict:
        """The parameters that shape the collaborative model (what the registry shows)."""
        keys = ["factors", "regularization", "iterations", "seed"]
        keys += ["alpha"] if self.algorithm == "als" else ["learning_rate"]
        return {k: getattr(self, k) for k in keys} | {"content_dims": self.content_dims}


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
        users = pgcopy.copy_out(
            conn, sql.SQL("select id from train_user order by idx"), {"id": "V16"}
        )
        posts = pgcopy.copy_out(
            conn, sql.SQL("select id from train_post order by idx"), {"id": "V16"}
        )
        rows = pgcopy.copy_out(
            conn,
            sql.SQL(
                "select u.idx, p.idx, {}, i.created_at from user_interaction i"
                " join train_user u on u.id = i.user_id join train_post p on p.id = i.post_id"
                " where i.{}"
            ).format(kind_code, window),
            {"user": ">i4", "post": ">i4", "kind": ">i2", "created": ">i8"},
        )
        texts = []
        if with_text:
            with conn.cursor() as cur:
                cur.execute(
                    "select coalesce(p.content, '') from train_post t join posts p using (id)"
                    " order by t.idx"
                )
                texts = [row[0] for row in cur]
    return Interactions(
        user_ids=np.frombuffer(users["id"].tobytes(), np.uint8).reshape(-1, 16),
        post_ids=np.frombuffer(posts["id"].tobytes(), np.uint8).reshape(-1, 16),
        user=rows["user"].astype(np.int32),
        post=rows["post"].astype(np.int32),
        kind=rows["kind"].astype(np.int8),
        created=rows["created"].astype(np.int64) + pgcopy.PG_EPOCH_US,
        since_us=_us(since),
        until_us=_us(until),
        post_texts=texts,
    )


def read_settings(conn: psycopg.Connection) -> dict:
    rows = conn.execute(
        "select key, value from recodb.setting"
        " where key in ('interaction_weights', 'training_half_life_days')"
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


def fit_collaborative(matrix: sp.csr_matrix, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """(user factors, post factors) from implicit; deterministic for a given seed."""
    import implicit.cpu.als
    import implicit.cpu.bpr

    # implicit parallelises itself; a BLAS thread pool on top of it only fights for the cores.
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*OpenBLAS.*")
        if params.algorithm == "als":
            model = implicit.cpu.als.AlternatingLeastSquares(
                factors=params.factors,
                regularization=params.regularization,
                alpha=params.alpha,
                iterations=params.iterations,
                random_state=params.seed,
            )
        else:
            # One thread: BPR's parallel SGD is lock-free and so not reproducible.
            model = implicit.cpu.bpr.BayesianPersonalizedRanking(
                factors=params.factors,
                learning_rate=params.learning_rate,
                regularization=params.regularization,
                iterations=params.iterations,
                random_state=params.seed,
                num_threads=1,
            )
        model.fit(matrix, show_progress=False)
    return np.asarray(model.user_factors, np.float32), np.asarray(model.item_factors, np.float32)


def fold_in_matrix(post_factors: np.ndarray, regularization: float) -> np.ndarray:
    """(YᵀY + λI)⁻¹: a new user's vector is this times Σ confidence × post vector."""
    f = post_factors.shape[1]
    gram = post_factors.T.astype(np.float64) @ post_factors + regularization * np.eye(f)
    return np.linalg.inv(gram).astype(np.float32)


def content_vectors(texts: list[str], dims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised TF-IDF → TruncatedSVD vectors, and a mask of posts without text."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(texts)
    present = np.array([bool(t and t.strip()) for t in texts])
    empty = (np.zeros((n, 0), np.float32), np.ones(n, bool))
    if dims == 0 or present.sum() < 3:
        return empty
    rng = np.random.default_rng(seed)
    index = np.flatnonzero(present)
    # Fit on a sample: the vocabulary and the projection settle long before a million posts.
    sample = np.sort(rng.choice(index, min(len(index), 100_000), replace=False))
    vectorizer = TfidfVectorizer(
        min_df=2 if len(sample) >= 100 else 1,
        max_df=0.5,
        max_features=50_000,
        sublinear_tf=True,
        dtype=np.float32,
    )
    try:
        fitted = vectorizer.fit_transform([texts[i] for i in sample])
    except ValueError:  # no word survives the document-frequency cut
        return empty
    k = min(dims, fitted.shape[1] - 1, len(sample) - 1)
    if k < 2:
        return empty
    svd = TruncatedSVD(n_components=k, random_state=seed).fit(fitted)
    out = np.zeros((n, k), np.float32)
    for start in range(0, len(index), 100_000):
        part = index[start : start + 100_000]
        out[part] = svd.transform(vectorizer.transform([texts[i] for i in part]))
    norms = np.linalg.norm(out, axis=1)
    null = norms == 0
    out[~null] /= norms[~null, None]
    return out, null


def user_profiles(matrix: sp.csr_matrix, post_content: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each user's content profile: the confidence-weighted mean of their posts' vectors."""
    if post_content.shape[1] == 0:
        return np.zeros((matrix.shape[0], 0), np.float32), np.ones(matrix.shape[0], bool)
    profile = np.asarray(matrix @ post_content, dtype=np.float32)
    norms = np.linalg.norm(profile, axis=1)
    null = norms == 0
    profile[~null] /= norms[~null, None]
    return profile, null


def time_split(data: Interactions, fraction: float = 0.1) -> tuple[Interactions, Interactions]:
    """(earlier, later): the last `fraction` of the window's time span is held out."""
    start = data.created.min() if len(data.created) else data.since_us
    cut = int(data.last_us - fraction * (data.last_us - start))
    earlier = data.select(data.created < cut)
    later = data.select(data.created >= cut)
    earlier.until_us = later.since_us = cut
    return earlier, later


@dataclass
class Validation:
    """A held-out split, ready to score any parameters on."""

    train: sp.csr_matrix
    users: np.ndarray  # indices of the scored users
    relevant: dict[int, set[int]]
    split_at: str

    @classmethod
    def build(
        cls, data: Interactions, settings: dict, max_users: int = 10_000, seed: int = 42
    ) -> Validation | None:
        earlier, later = time_split(data)
        train = confidence_matrix(
            earlier, settings["interaction_weights"], settings["training_half_life_days"],
            earlier.last_us,
        )  # fmt: skip
        seen = train.tocsr()
        # Collaborative vectors can only rank posts that had interactions before the split:
        # a post first seen afterwards is the fresh-post sources' job, not this model's.
        known = np.diff(train.tocsc().indptr) > 0
        has_history = np.diff(seen.indptr) > 0
        strong = np.isin(later.kind, RELEVANT_TYPES)
        strong &= known[later.post] & has_history[later.user]
        relevant: dict[int, set[int]] = {}
        for u, p in zip(later.user[strong].tolist(), later.post[strong].tolist(), strict=True):
            relevant.setdefault(u, set()).add(p)
        # Only what the user had not touched before the split can be recommended to them.
        for u in list(relevant):
            relevant[u] -= set(seen.indices[seen.indptr[u] : seen.indptr[u + 1]].tolist())
            if not relevant[u]:
                del relevant[u]
        if len(relevant) < 5:
            return None
        users = np.array(sorted(relevant))
        if len(users) > max_users:
            users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
        split_at = datetime.fromtimestamp(earlier.until_us / 1e6, UTC).isoformat()
        return cls(train, users, {int(u): relevant[int(u)] for u in users}, split_at)

    def score(self, params: Params, k: int = 10) -> dict[str, float]:
        from implicit.cpu.topk import topk

        user_f, post_f = fit_collaborative(self.train, params)
        # Exact top-k by inner product, never recommending what the user already touched.
        ids, _ = topk(post_f, user_f[self.users], k, filter_query_items=self.train[self.users])
        rankings = {
            u: row[row >= 0].tolist() for u, row in zip(self.users.tolist(), ids, strict=True)
        }
        return mean_metrics(rankings, self.relevant, [k])


@dataclass
class TrainResult:
    version: int
    activated: bool
    metrics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


def train(
    conn: psycopg.Connection,
    params: Params,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    tune_trials: int = 0,
    validate: bool = True,
    activate: bool = True,
    on_step: Step | None = None,
) -> TrainResult:
    """Train a new model version from the database's interactions, and activate it.

    `conn` must be in autocommit mode: registry updates commit as they happen, so a crash
    leaves a visible trace, while the vectors are written in one transaction of their own.
    """
    from recodb import tune

    step = on_step or (lambda _: None)
    if not conn.autocommit:
        raise ValueError("train() needs an autocommit connection")
    if not conn.execute("select pg_try_advisory_lock(hashtext(%s))", (TRAIN_LOCK,)).fetchone()[0]:
        raise registry.RegistryError("another training is running on this database")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    version = None
    try:
        registry.fail_stale_trainings(conn)
        version = registry.create_version(conn, params)

        def timed(name: str, fn, *args, **kwargs):
            step(name)
            t = time.perf_counter()
            out = fn(*args, **kwargs)
            timings[name] = round(time.perf_counter() - t, 3)
            return out

        settings = read_settings(conn)
        data = timed("read interactions", read_interactions, conn, since, until, with_text=True)
        if len(data.user) == 0:
            raise registry.RegistryError("there are no interactions to train on")
        tuning = None
        metrics: dict = {}
        if tune_trials or validate:
            validation = timed("validation split", Validation.build, data, settings)
            if validation is None:
                step("too little held-out data to validate; skipping")
            elif tune_trials:
                tuning = timed("tune", tune.search, validation, params, tune_trials, on_trial=step)
                params = Params(**tuning["best"])
                metrics = tuning["best_metrics"]
            else:
                metrics = timed("validate", validation.score, params)
            if validation is not None:
                metrics = {
                    **metrics,
                    "split_at": validation.split_at,
                    "users": len(validation.users),
                }

        matrix = timed(
            "confidence matrix",
            confidence_matrix,
            data,
            settings["interaction_weights"],
            settings["training_half_life_days"],
            data.last_us,
        )
        user_f, post_f = timed("fit " + params.algorithm, fit_collaborative, matrix, params)
        post_content, content_null = timed(
            "content vectors", content_vectors, data.post_texts, params.content_dims, params.seed
        )
        profile, profile_null = user_profiles(matrix, post_content)
        post_has_cf = np.diff(matrix.tocsc().indptr) > 0
        user_has_cf = np.diff(matrix.indptr) > 0

        with conn.transaction():
            timed(
                "write vectors",
                registry.write_vectors,
                conn,
                version,
                post_ids=data.post_ids,
                post_cf=post_f,
                post_cf_null=~post_has_cf,
                post_content=post_content,
                post_content_null=content_null,
                user_ids=data.user_ids[user_has_cf],
                user_cf=user_f[user_has_cf],
                user_content=profile[user_has_cf],
                user_content_null=profile_null[user_has_cf],
            )
            timed("build indexes", registry.build_indexes, conn, version, on_step=step)

        used = data.created
        timings["total"] = round(time.perf_counter() - started, 3)
        timings["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        conn.execute(
            """
            update recodb.model set status = 'ready', algorithm = %(algorithm)s,
                params = %(params)s, factors = %(factors)s, content_dims = %(content_dims)s,
                trained_from = to_timestamp(%(from)s), trained_to = to_timestamp(%(to)s),
                n_users = %(n_users)s, n_posts = %(n_posts)s, n_interactions = %(n_inter)s,
                metrics = %(metrics)s, timings = %(timings)s, fold_in = %(fold_in)s,
                tuning = %(tuning)s
            where version = %(version)s
            """,
            {
                "algorithm": params.algorithm,
                "params": Jsonb(params.model_params()),
                "factors": int(post_f.shape[1]),
                "content_dims": int(post_content.shape[1]),
                "from": used.min() / 1e6,
                "to": used.max() / 1e6,
                "n_users": int(user_has_cf.sum()),
                "n_posts": int(post_has_cf.sum()),
                "n_inter": len(used),
                "metrics": Jsonb(metrics),
                "timings": Jsonb(timings),
                "fold_in": fold_in_matrix(post_f, params.regularization).ravel().tolist()
                if params.algorithm == "als"
                else None,
                "tuning": Jsonb(tuning) if tuning else None,
                "version": version,
            },
        )
        if activate:
            timed("activate", registry.activate, conn, version)
            registry.prune(conn)
        return TrainResult(version, activate, metrics, timings)
    except BaseException as exc:
        if version is not None:
            registry.mark_failed(conn, version, exc)
        raise
    finally:
        conn.execute("select pg_advisory_unlock(hashtext(%s))", (TRAIN_LOCK,))
